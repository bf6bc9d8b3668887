//! sitewatch's own trouble is never a site's outage: running out of file descriptors, being
//! paused, losing its own network (the connectivity guard).

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, path, within, Finished, Sitewatch};

/// The state lines that put a monitor down.
fn downs(run: &Finished) -> Vec<Value> {
    run.of_type("state")
        .into_iter()
        .filter(|s| s["to"] == "down")
        .collect()
}

#[test]
fn running_out_of_file_descriptors_is_a_local_error_not_an_outage() {
    let site = LocalSite::start().unwrap();
    // 150 healthy monitors whose checks each hold a socket for 300 ms, 100 workers, and room
    // for about 40 sockets: most checks find no file descriptor left.
    let urls: Vec<Value> = (0..150)
        .map(|i| json!({"url": site.url(&format!("/slow-headers/300?{i}")), "interval": "1s"}))
        .collect();
    let file = config(&json!({"defaults": {"retries": 0}, "urls": urls}));
    let mut sw = Sitewatch::spawn_with_open_files(
        48,
        [
            "--format",
            "json",
            "--workers",
            "100",
            "--duration",
            "4s",
            path(&file),
        ],
    );
    let warned = sw.wait_for_stderr(within(20.0), "ran out of file descriptors");
    assert!(warned.contains("not site failures"), "{warned}");
    assert!(warned.contains("ulimit -n"), "{warned}");
    let run = sw.finish(within(20.0));
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        downs(&run),
        Vec::<Value>::new(),
        "no monitor goes down\n{run}"
    );
    let local: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["nature"] == "local")
        .collect();
    assert!(!local.is_empty(), "{run}");
    assert_eq!(local[0]["cause"], "file_descriptors", "{run}");
    assert!(local[0]["up"].is_null(), "{run}");
    let summary = run.summary();
    assert_eq!(summary["local_errors"].as_u64(), Some(local.len() as u64));
    assert_eq!(summary["down_total"], 0, "{run}");
    assert_eq!(summary["failing"], json!([]), "{run}");
    // The start-up warning: 100 workers do not fit in 48 open files.
    let stderr = run.stderr_text();
    assert!(
        stderr.contains("--workers 100 may need up to 232 open files"),
        "{run}"
    );
    // At most one local-failure warning a minute.
    assert_eq!(
        stderr.matches("ran out of file descriptors").count(),
        1,
        "{run}"
    );
}
