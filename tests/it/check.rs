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
