//! Writing configs: `sitewatch validate`, comments and trailing commas, `${VAR}` values,
//! `include`, and a YAML file given by mistake.

use std::fs;

use serde_json::json;
use sitewatch::localsite::LocalSite;

use crate::util::{config, config_text, path, run, within, Sitewatch};

/// Runs sitewatch with `env` added to its environment, to completion.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> crate::util::Finished {
    Sitewatch::spawn_env(args, env).finish(within(20.0))
}

#[test]
fn validate_says_ok_with_counts_and_sends_no_request() {
    let site = LocalSite::start().unwrap();
    let urls: Vec<_> = (0..1200)
        .map(|i| {
            let group = if i % 2 == 0 { "shop" } else { "blog" };
            json!({"url": site.url(&format!("/ok?n={i}")), "name": format!("m{i}"), "group": group})
        })
        .collect();
    let file = config(&json!({
        "notify": [{"type": "command", "name": "script", "command": ["/bin/true"]}],
        "urls": urls,
    }));
    // In an empty directory: validate leaves no file behind (no database, no lock).
    let dir = tempfile::tempdir().unwrap();
    let done = Sitewatch::spawn_in(dir.path(), ["validate", path(&file)]).finish(within(20.0));
    assert_eq!(done.code(), 0, "{done}");
    assert_eq!(
        done.stdout,
        ["ok: 1,200 monitors in 2 groups, 1 notification channel"],
        "{done}"
    );
    assert!(site.requests().is_empty(), "validate sent a request");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "validate made a file"
    );
}

#[test]
fn validate_lists_every_bad_entry_up_to_a_bound_and_start_does_too() {
    let site = LocalSite::start().unwrap();
    let mut urls = vec![
        json!({"url": site.url("/ok")}),
        json!({"url": "ftp://b.example"}),
        json!({"url": site.url("/ok"), "interval": "0s"}),
        json!({"url": site.url("/ok"), "bogus": 1}),
    ];
    let file = config(&json!(urls));
    let one = run(["validate", path(&file)], 20.0);
    assert_eq!(one.code(), 2, "{one}");
    let text = one.stderr_text();
    for needle in [
        "entry 2 (index 1",
        "entry 3 (index 2",
        "entry 4 (index 3",
        "unknown field",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert_eq!(one.stderr.len(), 3, "{one}");
    // Starting lists them the same way, and starts nothing.
    let start = run([path(&file)], 20.0);
    assert_eq!(start.code(), 2, "{start}");
    assert_eq!(start.stderr, one.stderr);
    // Past the bound, a count of the rest.
    urls.extend((0..60).map(|_| json!({"url": 7})));
    let many = run(["validate", path(&config(&json!(urls)))], 20.0);
    assert_eq!(many.code(), 2);
    assert_eq!(many.stderr.len(), 51, "{many}");
    assert!(
        many.stderr.last().unwrap().ends_with("… and 13 more"),
        "{many}"
    );
    assert!(site.requests().is_empty(), "validate sent a request");
}

#[test]
fn comments_and_trailing_commas_are_accepted_and_errors_keep_their_place() {
    let file = config_text(
        "// production monitors\n{\n  \"urls\": [\n    /* the shop, see INC-42 */ {\"url\": \"https://a.example//x\"},\n    {\"url\": \"https://b.example\", \"interval\": \"30s\",}, // trailing\n  ],\n}\n",
    );
    let done = run(["validate", path(&file)], 20.0);
    assert_eq!(done.code(), 0, "{done}");
    assert_eq!(done.stdout, ["ok: 2 monitors, 0 notification channels"]);
    // A syntax error after a comment: the position in the file as written.
    let file = config_text("[ /* one\n two */ {\"url\": \"https://a.example\" \"x\"}]");
    let done = run(["validate", path(&file)], 20.0);
    assert_eq!(done.code(), 2);
    assert!(done.stderr_text().contains("line 2, column 37"), "{done}");
    let file = config_text("[{\"url\": \"https://a.example\"}\n/* never closed");
    let done = run(["validate", path(&file)], 20.0);
    assert!(
        done.stderr_text()
            .contains("line 2, column 1: this /* comment is never closed"),
        "{done}"
    );
}

#[test]
fn environment_values_are_used_and_never_shown() {
    const SECRET: &str = "hunter2-env-value";
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let file = config(&json!({"defaults": {"retries": 0}, "urls": [{
        "url": format!("{}?key=${{SW_IT_TOKEN}}", site.url("/ok")),
        "headers": {"X-Api-Key": "k ${SW_IT_TOKEN}"},
        "name": "api $${literal}",
    }]}));
    let done = run_env(
        &[
            "--once",
            "--format",
            "json",
            "--db",
            db.to_str().unwrap(),
            path(&file),
        ],
        &[("SW_IT_TOKEN", SECRET)],
    );
    assert_eq!(done.code(), 0, "{done}");
    let sent = site.requests();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("X-Api-Key") && v == &format!("k {SECRET}")),
        "{sent:?}"
    );
    let check = &done.checks()[0];
    assert_eq!(
        check["url"],
        format!("{}?key=${{SW_IT_TOKEN}}", site.url("/ok"))
    );
    assert_eq!(check["name"], "api ${literal}");
    let all = format!("{}\n{}", done.stdout.join("\n"), done.stderr_text());
    assert!(!all.contains(SECRET), "the value was printed:\n{all}");
    for entry in fs::read_dir(dir.path()).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the value reached the history"
        );
    }
    // Missing: the entry and the variable are named.
    let file = config(
        &json!([{"url": "https://a.example"}, {"url": "https://b.example/${SW_IT_UNSET_VAR}"}]),
    );
    let done = run(["validate", path(&file)], 20.0);
    assert_eq!(done.code(), 2);
    assert!(
        done.stderr_text().contains("entry 2 (index 1, \"https://b.example/${SW_IT_UNSET_VAR}\"): url: environment variable SW_IT_UNSET_VAR is not set"),
        "{done}"
    );
}

#[test]
fn includes_merge_files_in_order_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    fs::create_dir(&conf).unwrap();
    let main = dir.path().join("main.json");
    fs::write(
        &main,
        r#"{"defaults": {"group": "all"}, "include": ["conf.d/*.json"], "urls": [{"url": "https://main.example"}]}"#,
    )
    .unwrap();
    fs::write(conf.join("b.json"), r#"[{"url": "https://b.example"}]"#).unwrap();
    fs::write(
        conf.join("a.json"),
        r#"{"urls": [{"url": "https://a.example"}, {"url": "https://a2.example"}]}"#,
    )
    .unwrap();
    fs::write(
        conf.join(".hidden.json"),
        r#"[{"url": "https://h.example"}]"#,
    )
    .unwrap();
    fs::write(conf.join("notes.txt"), "not json").unwrap();
    let done = run(["validate", main.to_str().unwrap()], 20.0);
    assert_eq!(done.code(), 0, "{done}");
    assert_eq!(
        done.stdout,
        ["ok: 4 monitors in 1 group, 0 notification channels"]
    );

    // A bad entry in an included file: that file, and its position there.
    fs::write(
        conf.join("b.json"),
        r#"[{"url": "https://b.example"}, {"url": "ftp://x"}]"#,
    )
    .unwrap();
    let done = run(["validate", main.to_str().unwrap()], 20.0);
    assert_eq!(done.code(), 2);
    let text = done.stderr_text();
    assert!(
        text.contains(&format!(
            "included file {}: entry 2 (index 1, \"ftp://x\")",
            conf.join("b.json").display()
        )),
        "{text}"
    );
    // Only urls (and include) in an included file.
    fs::write(conf.join("b.json"), r#"{"defaults": {}, "urls": []}"#).unwrap();
    let done = run(["validate", main.to_str().unwrap()], 20.0);
    assert!(
        done.stderr_text()
            .contains("an included file may hold only"),
        "{done}"
    );

    // A cycle is refused, not followed.
    fs::write(conf.join("b.json"), r#"{"include": ["../main.json"]}"#).unwrap();
    let done = run(["validate", main.to_str().unwrap()], 20.0);
    assert_eq!(done.code(), 2);
    assert!(done.stderr_text().contains("includes itself"), "{done}");
}

#[test]
fn a_yaml_file_is_recognised() {
    let file = config_text("# monitors\nurls:\n  - url: https://a.example\n");
    let done = run(["validate", path(&file)], 20.0);
    assert_eq!(done.code(), 2);
    assert!(
        done.stderr_text()
            .contains("line 2: this looks like YAML; sitewatch reads JSON (with comments)"),
        "{done}"
    );
}
