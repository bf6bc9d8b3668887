//! `sitewatch check TARGET…`: ping for HTTP, against local sites.

use serde_json::Value;
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{run, within, Sitewatch};

/// The value after `label` in a text statistics line: `3 checks, 2 up, 33.3% loss…`.
fn stat<'a>(line: &'a str, label: &str) -> &'a str {
    line.split(", ")
        .find_map(|part| part.strip_suffix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"))
        .trim()
}

#[test]
fn count_3_against_an_up_site_and_a_refusing_one() {
    let site = LocalSite::start().unwrap();
    let (up, refused) = (site.url("/ok"), refused_url());
    let r = run(["check", "-c", "3", "-i", "100ms", &up, &refused], 20.0);
    assert_eq!(r.code(), 1, "{r}");
    let lines_of = |url: &str| {
        r.stdout
            .iter()
            .filter(|l| l.contains(&format!("  {url}")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let ups = lines_of(&up);
    assert_eq!(ups.len(), 3, "{r}");
    assert!(
        ups.iter()
            .all(|l| l.contains("UP") && l.contains(" 200 ") && l.contains("3 B")),
        "{r}"
    );
    let downs = lines_of(&refused);
    assert_eq!(downs.len(), 3, "{r}");
    assert!(
        downs
            .iter()
            .all(|l| l.contains("DOWN") && l.contains("connect:")),
        "{r}"
    );
    let stats = |url: &str| {
        let at = r
            .stdout
            .iter()
            .position(|l| *l == format!("--- {url} statistics ---"))
            .unwrap_or_else(|| panic!("no statistics for {url}\n{r}"));
        r.stdout[at + 1].clone()
    };
    let s = stats(&up);
    assert_eq!(stat(&s, " checks"), "3", "{s}");
    assert_eq!(stat(&s, " up"), "3", "{s}");
    assert_eq!(stat(&s, "% loss"), "0", "{s}");
    assert!(s.contains("latency min/avg/max/mdev = "), "{s}");
    let s = stats(&refused);
    assert_eq!(s, "3 checks, 0 up, 100% loss", "{s}");
    assert_eq!(site.hits("/ok"), 3);
}

#[test]
fn every_target_up_exits_0() {
    let site = LocalSite::start().unwrap();
    let r = run(["check", "-c", "2", "-i", "100ms", &site.url("/ok")], 20.0);
    assert_eq!(r.code(), 0, "{r}");
}

#[test]
fn json_output_has_check_lines_and_statistics() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/status/503");
    let r = run(
        ["check", "-c", "2", "-i", "100ms", "--format", "json", &url],
        20.0,
    );
    assert_eq!(r.code(), 1, "{r}");
    let lines = r.json();
    let checks: Vec<&Value> = lines.iter().filter(|l| l["type"] == "check").collect();
    assert_eq!(checks.len(), 2, "{r}");
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == 503 && c["reason"] == "status"),
        "{r}"
    );
    let stats = lines.last().unwrap();
    assert_eq!(stats["type"], "statistics", "{r}");
    assert_eq!(stats["url"], url.as_str());
    assert_eq!(stats["checks"], 2);
    assert_eq!(stats["up"], 0);
    assert_eq!(stats["loss_pct"], 100.0);
    assert!(stats["avg_ms"].is_null(), "{r}");
}

#[test]
fn ctrl_c_prints_the_statistics() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/ok");
    let mut sw = Sitewatch::spawn(["check", "-i", "100ms", &url]);
    let deadline = within(20.0);
    let first = sw.next_line(deadline, "a first check line").unwrap();
    assert!(first.contains("UP"), "{first}");
    sw.sigint();
    let r = sw.finish(deadline);
    assert_eq!(r.code(), 0, "{r}");
    let at = r
        .stdout
        .iter()
        .position(|l| *l == format!("--- {url} statistics ---"))
        .unwrap_or_else(|| panic!("no statistics\n{r}"));
    let s = &r.stdout[at + 1];
    let checks: u64 = stat(s, " checks").parse().unwrap();
    assert!(checks >= 1, "{s}");
    assert_eq!(stat(s, " up"), checks.to_string(), "{s}");
    assert_eq!(stat(s, "% loss"), "0", "{s}");
}

#[test]
fn bad_targets_and_intervals_are_usage_errors() {
    for args in [
        vec!["check", "ftp://example.com"],
        vec!["check", "-i", "10ms", "127.0.0.1:1"],
        vec!["check", "-c", "0", "127.0.0.1:1"],
        vec!["check"],
    ] {
        let r = run(&args, 20.0);
        assert_eq!(r.code(), 2, "{args:?}\n{r}");
        assert!(r.stdout.is_empty(), "{r}");
    }
}

// --- `sitewatch [OPTIONS] URL…`: URLs to monitor on the command line ---------------------------

#[test]
fn urls_alone_on_the_command_line_are_monitored_without_a_config_file() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (site.url("/ok"), site.url("/status/503"));
    // In an empty directory: with URLs alone, no urls.json is looked for.
    let r = Sitewatch::spawn_in(dir.path(), ["--once", "--format", "json", &a, &b])
        .finish(within(20.0));
    assert_eq!(r.code(), 1, "{r}");
    let checks = r.checks();
    let url_up: Vec<(String, bool)> = checks
        .iter()
        .map(|c| (c["url"].as_str().unwrap().to_owned(), c["up"] == true))
        .collect();
    assert!(url_up.contains(&(a.clone(), true)), "{r}");
    assert!(url_up.contains(&(b.clone(), false)), "{r}");
    assert!(r.stderr_text().contains("from the command line"), "{r}");
}

#[test]
fn urls_beside_a_config_file_are_both_used() {
    let site = LocalSite::start().unwrap();
    let file = crate::util::config(&serde_json::json!([
        {"url": site.url("/text/file"), "interval": "5s"}
    ]));
    let extra = site.url("/text/cli");
    let r = run(
        [
            "--once",
            "--format",
            "json",
            "--interval",
            "30s",
            &extra,
            crate::util::path(&file),
        ],
        20.0,
    );
    assert_eq!(r.code(), 0, "{r}");
    let mut urls: Vec<String> = r
        .checks()
        .iter()
        .map(|c| c["url"].as_str().unwrap().to_owned())
        .collect();
    urls.sort();
    assert_eq!(urls, [site.url("/text/cli"), site.url("/text/file")], "{r}");
    assert!(
        r.stderr_text().contains("and 1 URL(s) on the command line"),
        "{r}"
    );
}

#[test]
fn two_config_paths_or_interval_without_urls_are_usage_errors() {
    for args in [
        vec!["--once", "a.json", "b.json"],
        vec!["--once", "--interval", "5s", "a.json"],
        vec!["--once", "--interval", "5ms", "http://127.0.0.1:1/"],
    ] {
        let r = run(&args, 20.0);
        assert_eq!(r.code(), 2, "{args:?}\n{r}");
    }
}

#[test]
fn a_bad_url_on_the_command_line_is_named_by_itself_not_as_an_entry() {
    let r = run(
        [
            "--once",
            "http://127.0.0.1:1/ok",
            "http://user:pw@exa mple.com/",
        ],
        20.0,
    );
    assert_eq!(r.code(), 2, "{r}");
    let err = r.stderr_text();
    assert!(
        err.contains("the URL \"http://user:***@exa mple.com/\" given on the command line: url is not a valid URL"),
        "{r}"
    );
    assert!(!err.contains("entry "), "{r}");
    assert!(!err.contains("pw"), "{r}");
}

#[test]
fn a_reload_keeps_the_urls_of_the_command_line() {
    let site = LocalSite::start().unwrap();
    let named =
        |name: &str| serde_json::json!({"url": site.url("/ok"), "name": name, "interval": "1s"});
    let file = crate::util::config(&serde_json::json!([named("a")]));
    let extra = site.url("/text/cli");
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--interval",
        "1s",
        &extra,
        crate::util::path(&file),
    ]);
    let check_of = |sw: &mut Sitewatch, url: &str| {
        sw.wait_for_json(within(10.0), &format!("a check of {url}"), |v| {
            v["type"] == "check" && v["url"] == url
        })
    };
    check_of(&mut sw, &extra);
    std::fs::write(
        file.path(),
        serde_json::json!([named("a"), named("b")]).to_string(),
    )
    .unwrap();
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 1 added, 0 removed, 0 changed, 2 unchanged",
    );
    // Checked again after the reload: still monitored.
    check_of(&mut sw, &extra);
    sw.signal("TERM");
    let r = sw.finish(within(10.0));
    assert_eq!(r.code(), 0, "{r}");
}
