//! Fleets: `--shard K/N` splits one list between instances, each monitor checked by exactly one.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, path, run};

/// The ids of the monitors a `--once` run checked.
fn checked_ids(done: &crate::util::Finished) -> BTreeSet<String> {
    done.checks()
        .iter()
        .map(|c| c["id"].as_str().expect("id is a string").to_owned())
        .collect()
}

#[test]
fn three_shards_check_every_monitor_exactly_once() {
    let site = LocalSite::start().unwrap();
    let urls: Vec<Value> = (0..30)
        .map(|i| json!({"url": site.url(&format!("/ok?n={i}")), "name": format!("page {i}")}))
        .collect();
    let file = config(&json!({"defaults": {"retries": 0}, "urls": urls}));
    let mut union = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let done = run(
            ["--once", "--format", "json", "--shard", &shard, path(&file)],
            20.0,
        );
        assert_eq!(done.code(), 0, "{done}");
        let ids = checked_ids(&done);
        assert!(!ids.is_empty(), "shard {shard} checked nothing\n{done}");
        let stderr = done.stderr_text();
        assert!(
            stderr.contains(&format!("shard {shard}: {} of 30 monitors", ids.len())),
            "{stderr}"
        );
        total += ids.len();
        union.extend(ids);
    }
    assert_eq!(total, 30, "the shards overlap");
    assert_eq!(union.len(), 30, "a monitor was left unchecked");
}

#[test]
fn bad_shards_are_usage_errors() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/ok")}]));
    for bad in ["0/3", "4/3", "x", "1/0"] {
        let done = run(["--once", "--shard", bad, path(&file)], 10.0);
        assert_eq!(done.code(), 2, "{bad}\n{done}");
        assert!(done.stderr_text().contains("shard"), "{done}");
    }
    // One monitor in two shards: one of them holds nothing, which is said, not run silently.
    let codes: Vec<i32> = ["1/2", "2/2"]
        .iter()
        .map(|s| run(["--once", "--shard", s, path(&file)], 10.0).code())
        .collect();
    assert!(codes.contains(&0) && codes.contains(&2), "{codes:?}");
}
