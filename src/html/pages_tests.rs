//! The live pages on hand-made view data: what they say, that they escape, that links keep
//! filters.

use super::view::*;
use super::{monitor, status};
use crate::report::CellReport;
use crate::state::State;
use crate::store::rollup::HOUR_MS;

const NOW: i64 = 1_767_225_600_000 + 90 * 24 * HOUR_MS; // 2026-03-31T00:00:00Z

fn cells(n: usize, cell_ms: i64, bad: usize) -> Cells {
    Cells {
        from: NOW - n as i64 * cell_ms,
        cell_ms,
        cells: (0..n)
            .map(|i| CellReport {
                checks: 60,
                up: if i == bad { 42 } else { 60 },
                p50_ms: Some(40.0 + (i % 7) as f64),
                p95_ms: Some(90.0 + (i % 5) as f64),
            })
            .collect(),
    }
}

fn row(id: &str, name: Option<&str>, group: Option<&str>, state: State) -> MonitorRow {
    MonitorRow {
        id: id.into(),
        name: name.map(Into::into),
        group: group.map(Into::into),
        url: format!("https://{id}.example/health"),
        state,
        since: Some(NOW - 3_600_000),
        last: Some(Check {
            at: NOW - 12_000,
            outcome: if state == State::Down {
                Outcome::Down
            } else {
                Outcome::Up
            },
            status: Some(if state == State::Down { 503 } else { 200 }),
            latency_ms: Some(48.5),
            reason: (state == State::Down).then(|| "status".into()),
            detail: None,
        }),
        uptime: Uptimes {
            h24: Some(99.95),
            d7: Some(99.991),
            d30: Some(100.0),
            run: Some(99.0),
        },
        p50_ms: Some(45.0),
        p95_ms: Some(92.0),
        days: cells(90, 24 * HOUR_MS, 80),
        hours: cells(24, HOUR_MS, 20),
        incidents: Some(RecentIncidents {
            count: if state == State::Down { 2 } else { 0 },
            last: Some(NOW - 3_600_000),
        }),
        down_because: None,
        maintenance: None,
    }
}

fn context() -> Context {
    Context {
        generated: NOW,
        started: NOW - 86_400_000,
        history: true,
        history_error: None,
        health: Health {
            monitors: 3,
            checks_per_min: 60.0,
            lateness_p99_ms: Some(2.5),
            ..Health::default()
        },
        refresh_s: Some(30),
    }
}

fn hostile() -> MonitorRow {
    let mut m = row(
        "evil",
        Some("<script>alert(1)</script>"),
        Some("<b>g</b>"),
        State::Down,
    );
    m.last.as_mut().unwrap().detail = Some("<img src=x onerror=alert(2)>".into());
    m
}

fn sample() -> StatusPage {
    StatusPage {
        context: context(),
        total: 3,
        up: 2,
        down: 1,
        unknown: 0,
        degraded: 0,
        problems: vec![hostile()],
        filter: Filter::default(),
        groups: vec!["<b>g</b>".into(), "web".into()],
        matched: 3,
        list: vec![
            hostile(),
            row("api", Some("API"), Some("web"), State::Up),
            row("www", None, Some("web"), State::Up),
        ],
        page: 1,
        pages: 1,
    }
}

fn incidents() -> Vec<Incident> {
    vec![Incident {
        monitor: "evil".into(),
        start: NOW - 3_600_000,
        end: None,
        stopped: false,
        duration_s: 3600.0,
        reason: Some("status".into()),
        detail: Some("<svg onload=alert(3)>".into()),
    }]
}

#[test]
fn the_headline_says_the_overall_status_in_words() {
    let mut p = sample();
    assert_eq!(status::headline(&p), ("1 down".into(), State::Down));
    p.unknown = 2;
    assert_eq!(
        status::headline(&p),
        ("1 down, 2 unknown".into(), State::Down)
    );
    p.unknown = 0;
    (p.down, p.up) = (0, 3);
    assert_eq!(
        status::headline(&p),
        ("All 3 monitors up".into(), State::Up)
    );
    (p.unknown, p.up) = (1, 2);
    assert_eq!(
        status::headline(&p),
        ("1 unknown, 2 up".into(), State::Unknown)
    );
}

#[test]
fn hostile_names_and_details_are_escaped() {
    let html = status::render(&sample());
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<svg onload"));
    assert!(!html.contains("<b>g</b>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "problems show the detail"
    );
    let page = MonitorPage {
        context: context(),
        monitor: hostile(),
        chart: cells(168, HOUR_MS, 100),
        checks: vec![hostile().last.unwrap()],
        incidents: incidents(),
    };
    let html = monitor::render(&page);
    assert!(!html.contains("<script>alert") && !html.contains("<img"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("&lt;svg onload=alert(3)&gt;"));
}

#[test]
fn the_status_page_shows_states_in_words_problems_first_and_the_footer() {
    let html = status::render(&sample());
    assert!(html.contains("<title>1 down · sitewatch</title>"));
    let problems = html.find("Problems (1)").unwrap();
    let list = html.find("<h2>Monitors</h2>").unwrap();
    assert!(problems < list);
    assert!(html.contains("class=\"badge down\">down<"));
    assert_eq!(html.matches("class=\"badge up\">up<").count(), 2);
    assert!(html.contains("href=\"/monitors/api\""));
    assert_eq!(
        html.matches("aria-label=\"uptime per day, last 90 days\"")
            .count(),
        3,
        "one per monitor of the list; problems are a table"
    );
    assert!(html.contains("99.95% · 99.99% · 100%"));
    assert!(html.contains("lateness p99 <b>2.5 ms</b>"));
    assert!(
        html.contains(">2 incidents</a> in 30 d, last 1h ago"),
        "{html}"
    );
    assert_eq!(html.matches("no incidents in 30 d").count(), 2);
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    assert!(html.contains("Problems (1) <span class=\"muted\">· ongoing incidents</span>"));
}

#[test]
fn a_history_that_cannot_be_read_is_said_on_the_page() {
    let mut p = sample();
    p.context.history_error = Some("database is locked".into());
    let html = status::render(&p);
    assert!(html.contains("The history could not be read: </b>database is locked"));
    assert!(!status::render(&sample()).contains("could not be read"));
}

#[test]
fn pager_links_keep_the_filters() {
    let mut p = sample();
    p.filter = Filter {
        q: "a&b c".into(),
        state: Some(State::Down),
        group: "web".into(),
    };
    (p.page, p.pages) = (2, 3);
    let html = status::render(&p);
    assert!(html.contains("href=\"/?q=a%26b+c&amp;state=down&amp;group=web&amp;page=3\""));
    assert!(
        html.contains("href=\"/?q=a%26b+c&amp;state=down&amp;group=web\""),
        "page 1"
    );
    assert!(html.contains("value=\"a&amp;b c\""));
    assert!(html.contains("<option value=\"down\" selected>down</option>"));
    assert!(html.contains("page 2 of 3"));
}
