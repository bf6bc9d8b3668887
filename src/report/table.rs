//! The report as aligned text for a terminal: a header line, one row per monitor, then the
//! incidents. Missing values are shown as `-`.

use super::{located, span, time, Report};

/// `99.931%`, or `-`.
pub fn percent(p: Option<f64>) -> String {
    p.map_or("-".to_string(), |p| format!("{p:.3}%"))
}

/// `42.5 ms`, `1.25 s`, or `-`.
pub fn millis(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.1} ms"),
    }
}

/// A monitor's URL with its name in brackets, if it has one, then its id in square brackets
/// (two monitors may share a URL).
pub fn label(url: &str, name: Option<&str>, id: &str) -> String {
    match name {
        Some(name) => format!("{url} ({name}) [{id}]"),
        None => format!("{url} [{id}]"),
    }
}

/// Lays out `rows` (the first is the header) in columns two spaces apart; columns listed in
/// `right` are right-aligned.
fn columns(rows: &[Vec<String>], right: &[usize]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if right.contains(&c) {
                    format!("{s:>w$}", w = widths[c])
                } else if c + 1 == row.len() {
                    s.clone()
                } else {
                    format!("{s:<w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The report as text.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "sitewatch report: {} to {} ({}), {} monitors, {} incidents\n\n",
        time(report.from),
        time(report.to),
        span((report.to - report.from) as f64 / 1000.0),
        report.monitors.len(),
        report.incidents.len()
    );
    if report.monitors.is_empty() {
        out.push_str("no checks in this window\n");
        return out;
    }
    let mut rows = vec![[
        "MONITOR",
        "CHECKS",
        "UPTIME",
        "BY TIME",
        "INCIDENTS",
        "DOWNTIME",
        "LONGEST",
        "P50",
        "P95",
        "MAX",
        "STATE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<String>>()];
    for m in &report.monitors {
        rows.push(vec![
            label(
                &m.url,
                m.name.as_deref(),
                &located(&m.id, m.location.as_deref()),
            ),
            m.checks.to_string(),
            percent(m.uptime_pct),
            percent(m.uptime_time_pct),
            m.incidents.to_string(),
            span(m.downtime_s),
            if m.incidents > 0 {
                span(m.longest_incident_s)
            } else {
                "-".to_string()
            },
            millis(m.p50_ms),
            millis(m.p95_ms),
            millis(m.max_ms),
            m.state.to_string(),
        ]);
    }
    // Degraded time (up, never downtime) gets its own column once some monitor has any.
    if report.monitors.iter().any(|m| m.degraded_s > 0.0) {
        rows[0].insert(6, "DEGRADED".to_string());
        for (row, m) in rows[1..].iter_mut().zip(&report.monitors) {
            row.insert(6, span(m.degraded_s));
        }
        out.push_str(&columns(&rows, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    } else {
        out.push_str(&columns(&rows, &[1, 2, 3, 4, 5, 6, 7, 8, 9]));
    }
    if !report.incidents.is_empty() {
        out.push_str("\nINCIDENTS\n");
        let mut rows = vec![["MONITOR", "START", "END", "DURATION", "REASON"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<String>>()];
        for i in &report.incidents {
            let end = match (i.end, i.ended_by) {
                (None, _) => "ongoing".to_string(),
                (Some(end), Some(crate::state::State::Unknown)) => {
                    format!("{} (monitoring stopped)", time(end))
                }
                (Some(end), _) => time(end),
            };
            let reason = match (&i.reason, &i.detail) {
                (Some(r), Some(d)) => format!("{r}: {d}"),
                (Some(r), None) => r.clone(),
                _ => "-".to_string(),
            };
            rows.push(vec![
                label(
                    &i.url,
                    i.name.as_deref(),
                    &located(&i.id, i.location.as_deref()),
                ),
                time(i.start),
                end,
                span(i.duration_s),
                reason,
            ]);
        }
        out.push_str(&columns(&rows, &[3]));
    }
    // Not verdicts, under their own names: neither up nor down, so not in the columns above.
    let others: Vec<&super::MonitorReport> = report
        .monitors
        .iter()
        .filter(|m| {
            m.local_errors + m.inconclusive > 0 || m.impaired_s > 0.0 || m.maintenance_s > 0.0
        })
        .collect();
    if !others.is_empty() {
        out.push_str("\nNOT VERDICTS (neither up nor down)\n");
        let mut rows = vec![[
            "MONITOR",
            "LOCAL ERRORS",
            "INCONCLUSIVE",
            "IMPAIRED",
            "MAINTENANCE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<String>>()];
        for m in others {
            rows.push(vec![
                label(
                    &m.url,
                    m.name.as_deref(),
                    &located(&m.id, m.location.as_deref()),
                ),
                m.local_errors.to_string(),
                m.inconclusive.to_string(),
                span(m.impaired_s),
                span(m.maintenance_s),
            ]);
        }
        out.push_str(&columns(&rows, &[1, 2, 3, 4]));
    }
    if !report.impairments.is_empty() {
        out.push_str("\nMONITORING IMPAIRED\n");
        let mut rows = vec![["START", "END", "DURATION", "CAUSE"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<String>>()];
        for i in &report.impairments {
            rows.push(vec![
                time(i.start),
                time(i.end),
                span((i.end - i.start) as f64 / 1000.0),
                match &i.detail {
                    Some(d) => format!("{}: {d}", i.cause),
                    None => i.cause.clone(),
                },
            ]);
        }
        out.push_str(&columns(&rows, &[2]));
    }
    if !report.maintenance.is_empty() {
        out.push_str("\nMAINTENANCE\n");
        let mut rows = vec![["ID", "START", "END", "DURATION", "MONITORS", "REASON"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<String>>()];
        for w in &report.maintenance {
            rows.push(vec![
                w.id.to_string(),
                time(w.start),
                time(w.end),
                span((w.end - w.start) as f64 / 1000.0),
                w.monitors.clone(),
                w.reason.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        out.push_str(&columns(&rows, &[0, 3]));
    }
    out
}
