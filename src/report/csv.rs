//! The report as one CSV table (RFC 4180), for spreadsheets and scripts: a `type` column says
//! whether a row is a `monitor`, an `incident`, an `impairment` (a time sitewatch could not
//! measure: `reason` is its cause) or a `maintenance` window (`reason` holds the monitors it
//! covers, `detail` why); columns that do not apply to a row are empty. `maintenance_s` is a
//! monitor's time in maintenance windows, counted neither up nor down.
//! Times are RFC 3339 UTC, durations seconds, latencies milliseconds. The last column, `id`, is
//! the monitor's id (two monitors may share a URL); it comes last so that the columns scripts
//! already read by position keep their places.
//!
//! Text cells (URL, name, reason, detail) may hold what a site or a config author chose; one that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return would run as a formula in a
//! spreadsheet, so it gets a leading `'` (OWASP's advice against CSV injection). Numbers and
//! times never start with those characters and are left as they are.

use super::{time, Report};

const HEADER: [&str; 26] = [
    "type",
    "url",
    "name",
    "checks",
    "up",
    "uptime_pct",
    "uptime_time_pct",
    "incidents",
    "downtime_s",
    "longest_incident_s",
    "p50_ms",
    "p95_ms",
    "max_ms",
    "state",
    "start",
    "end",
    "duration_s",
    "reason",
    "status",
    "detail",
    "local_errors",
    "inconclusive",
    "degraded_s",
    "impaired_s",
    "maintenance_s",
    "id",
];

/// Quotes a field when it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A text cell, neutralised when a spreadsheet would read it as a formula.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// The report as CSV, with a header row.
pub fn render(report: &Report) -> String {
    let mut rows: Vec<Vec<String>> = vec![HEADER.iter().map(|h| h.to_string()).collect()];
    for m in &report.monitors {
        rows.push(vec![
            "monitor".into(),
            text(&m.url),
            opt(m.name.as_deref().map(text)),
            m.checks.to_string(),
            m.up.to_string(),
            opt(m.uptime_pct),
            opt(m.uptime_time_pct),
            m.incidents.to_string(),
            m.downtime_s.to_string(),
            m.longest_incident_s.to_string(),
            opt(m.p50_ms),
            opt(m.p95_ms),
            opt(m.max_ms),
            m.state.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            m.local_errors.to_string(),
            m.inconclusive.to_string(),
            m.degraded_s.to_string(),
            m.impaired_s.to_string(),
            m.maintenance_s.to_string(),
            text(&m.id),
        ]);
    }
    for i in &report.incidents {
        let mut row = vec![String::new(); HEADER.len()];
        row[0] = "incident".into();
        row[1] = text(&i.url);
        row[2] = opt(i.name.as_deref().map(text));
        row[14] = time(i.start);
        row[15] = opt(i.end.map(time));
        row[16] = i.duration_s.to_string();
        row[17] = opt(i.reason.as_deref().map(text));
        row[18] = opt(i.status);
        row[19] = opt(i.detail.as_deref().map(text));
        row[HEADER.len() - 1] = text(&i.id);
        rows.push(row);
    }
    for i in &report.impairments {
        let mut row = vec![String::new(); HEADER.len()];
        row[0] = "impairment".into();
        row[14] = time(i.start);
        row[15] = time(i.end);
        row[16] = ((i.end - i.start) as f64 / 1000.0).to_string();
        row[17] = i.cause.clone();
        row[19] = opt(i.detail.as_deref());
        rows.push(row);
    }
    for w in &report.maintenance {
        let mut row = vec![String::new(); HEADER.len()];
        row[0] = "maintenance".into();
        row[14] = time(w.start);
        row[15] = time(w.end);
        row[16] = ((w.end - w.start) as f64 / 1000.0).to_string();
        row[17] = text(&w.monitors);
        row[19] = opt(w.reason.as_deref().map(text));
        rows.push(row);
    }
    // Reports over several databases say where each row was seen, in a last column.
    if report.monitors.iter().any(|m| m.location.is_some()) {
        let locations = report
            .monitors
            .iter()
            .map(|m| &m.location)
            .chain(report.incidents.iter().map(|i| &i.location));
        rows[0].push("location".into());
        for (row, location) in rows[1..].iter_mut().zip(locations) {
            row.push(opt(location.as_deref().map(text)));
        }
        let n = rows.len();
        for row in &mut rows[1 + report.monitors.len() + report.incidents.len()..n] {
            row.push(String::new());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("plain"), "plain");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_are_neutralised() {
        for (cell, shown) in [
            (
                "=HYPERLINK(\"https://evil.example\")",
                "'=HYPERLINK(\"https://evil.example\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("HTTP 503 = bad", "HTTP 503 = bad"),
            ("https://example.com/", "https://example.com/"),
        ] {
            assert_eq!(super::text(cell), shown);
        }
    }
}
