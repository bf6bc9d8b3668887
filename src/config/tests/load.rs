//! Loading from a file.

use super::*;

#[test]
fn load_reads_and_validates_a_file() {
    let path =
        std::env::temp_dir().join(format!("sitewatch-config-test-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"[{"url": "https://example.com", "interval": "30s"}]"#,
    )
    .unwrap();
    let result = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        result.unwrap().monitors[0].interval,
        Duration::from_secs(30)
    );
}

#[test]
fn load_missing_file_is_read_error_with_source() {
    use std::error::Error as _;
    let path = Path::new("/nonexistent/sitewatch/urls.json");
    let e = Config::load(path).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert_contains(
        &e.to_string(),
        &["cannot read /nonexistent/sitewatch/urls.json: "],
    );
    assert!(e.source().is_some());
    assert!(err("[]").source().is_none());
}
#[test]
fn shipped_configs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = Config::load(&root.join("urls.json")).unwrap();
    assert!(shipped.monitors.len() >= 5);
    let object = Config::load(&root.join("fixtures/object-form.json")).unwrap();
    assert_eq!(object.monitors[1].method, Method::Head);
    assert_eq!(object.monitors[2].interval, Duration::from_secs(300));
    let seed = Config::load(&root.join("fixtures/seed-form.json")).unwrap();
    assert_eq!(seed.monitors.len(), 3);
    assert_eq!(seed.monitors[0].url, seed.monitors[1].url);
}
