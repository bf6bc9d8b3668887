//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, fonts or other
//! external assets, so it can be mailed, archived or opened offline.
//!
//! Per monitor: its numbers, an uptime bar with one cell per hour (windows up to 7 days) or per
//! day, coloured by the share of checks that were up, and a latency chart of the same cells
//! (p50 line over a p95 band, downtime shaded). Then the incidents table. Every cell has a
//! tooltip with its figures. The chart's scale ignores the top 5 % of cells, so one hour with a
//! timeout does not flatten a week of latency; spikes above it are clipped at the top.

use std::fmt::Write;

use super::table::{label, millis, percent};
use super::{span, time, IncidentReport, MonitorReport, Report};
use crate::state::State;

/// Width of the bar and chart, px.
const W: f64 = 840.0;
/// Height of the uptime bar, px.
const BAR_H: f64 = 18.0;
/// Height of the latency chart, px (time labels go below it).
const CHART_H: f64 = 50.0;

/// Escapes text for HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The colour of a cell with uptime `pct` (grey without checks).
pub fn colour(pct: Option<f64>) -> &'static str {
    match pct {
        None => "#e3e6ea",
        Some(p) if p >= 99.9 => "#1f9d55",
        Some(p) if p >= 99.0 => "#8cc63f",
        Some(p) if p >= 95.0 => "#f2c12e",
        Some(p) if p >= 90.0 => "#f08a24",
        Some(_) => "#d93b30",
    }
}

const LEGEND: [(&str, Option<f64>); 6] = [
    ("≥ 99.9 %", Some(100.0)),
    ("≥ 99 %", Some(99.0)),
    ("≥ 95 %", Some(95.0)),
    ("≥ 90 %", Some(90.0)),
    ("< 90 %", Some(0.0)),
    ("no checks", None),
];

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#1d232a;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#5b6570;margin-bottom:14px}
.legend span{display:inline-block;margin-right:14px;font-size:12px;color:#5b6570}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.mon{display:flex;gap:16px;background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:7px 12px;margin:7px 0}
.info{width:250px;flex:none;line-height:1.3}
.url{font-weight:600;word-break:break-all;font-size:13px}
.name{color:#5b6570}
.big{font-size:17px;font-weight:650;color:#1d232a;margin-right:6px}
.nums{font-size:12px;color:#5b6570}
.badge{display:inline-block;font-size:11px;font-weight:700;padding:1px 7px;border-radius:9px;color:#fff;vertical-align:2px;margin-left:6px}
.up{background:#1f9d55}.down{background:#d93b30}.unknown{background:#8a949e}
svg text{font:10px system-ui,sans-serif;fill:#5b6570}
table{border-collapse:collapse;background:#fff;border:1px solid #e1e4e8;margin-top:8px}
th,td{padding:5px 10px;border-bottom:1px solid #eef0f2;text-align:left;font-size:13px}
th{background:#f0f2f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
";

/// The page.
pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let title = format!(
        "sitewatch report {} to {}",
        time(report.from),
        time(report.to)
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let down_now = report
        .monitors
        .iter()
        .filter(|m| m.state == State::Down)
        .count();
    let _ = writeln!(
        h,
        "<h1>sitewatch report</h1><div class=\"sub\">{} → {} ({}) · {} monitors · {} incidents · \
         {} down at the end · one cell per {} · generated {}</div>",
        time(report.from),
        time(report.to),
        span((report.to - report.from) as f64 / 1000.0),
        report.monitors.len(),
        report.incidents.len(),
        down_now,
        if report.cell_ms == super::DAY_MS {
            "day"
        } else {
            "hour"
        },
        time(report.generated)
    );
    h.push_str("<div class=\"legend\">");
    for (text, pct) in LEGEND {
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{text}</span>",
            colour(pct)
        );
    }
    h.push_str("</div>\n");
    if report.monitors.is_empty() {
        h.push_str("<p>No checks in this window.</p>\n");
    }
    for m in &report.monitors {
        monitor(&mut h, report, m);
    }
    incidents(&mut h, &report.incidents);
    h.push_str("</body></html>\n");
    h
}

fn monitor(h: &mut String, report: &Report, m: &MonitorReport) {
    let _ = write!(
        h,
        "<div class=\"mon\"><div class=\"info\"><div class=\"url\">{} <span class=\"name\">[{}]</span><span class=\"badge {state}\">{state}</span></div>",
        escape(&m.url),
        escape(&m.id),
        state = m.state
    );
    let _ = write!(
        h,
        "<div class=\"name\"><span class=\"big\">{}</span>{}</div>",
        percent(m.uptime_pct),
        escape(m.name.as_deref().unwrap_or(""))
    );
    let _ = write!(
        h,
        "<div class=\"nums\">{} checks · by time {}<br>\
         {} incident(s), {} down, longest {}<br>p50 {} · p95 {} · max {}</div></div>",
        m.checks,
        percent(m.uptime_time_pct),
        m.incidents,
        span(m.downtime_s),
        if m.incidents > 0 {
            span(m.longest_incident_s)
        } else {
            "-".into()
        },
        millis(m.p50_ms),
        millis(m.p95_ms),
        millis(m.max_ms),
    );
    // Not verdicts: neither up nor down, said apart once there are some.
    if m.local_errors + m.inconclusive > 0 || m.impaired_s > 0.0 || m.maintenance_s > 0.0 {
        let _ = write!(
            h,
            "<div class=\"nums\">not verdicts: {} local error(s), {} inconclusive, {} \
             impaired, {} maintenance</div>",
            m.local_errors,
            m.inconclusive,
            span(m.impaired_s),
            span(m.maintenance_s)
        );
    }
    h.push_str("<div>");
    bar(h, report, m);
    chart(h, report, m);
    h.push_str("</div></div>\n");
}

fn cell_label(report: &Report, i: usize) -> String {
    let start = report.cells_from + i as i64 * report.cell_ms;
    let t = time(start);
    if report.cell_ms == super::DAY_MS {
        t[..10].to_string()
    } else {
        format!("{} {}", &t[..10], &t[11..16])
    }
}

fn bar(h: &mut String, report: &Report, m: &MonitorReport) {
    let n = m.cells.len().max(1);
    let w = W / n as f64;
    let gap = if w > 4.0 { 1.0 } else { 0.0 };
    let _ = write!(
        h,
        "<svg width=\"{W}\" height=\"{BAR_H}\" viewBox=\"0 0 {W} {BAR_H}\" role=\"img\" aria-label=\"uptime per cell\" style=\"display:block;margin-bottom:3px\">"
    );
    for (i, c) in m.cells.iter().enumerate() {
        let pct = c.uptime_pct();
        let tip = match pct {
            Some(p) => format!(
                "{}: {p:.2}% up, {} of {} checks",
                cell_label(report, i),
                c.up,
                c.checks
            ),
            None => format!("{}: no checks", cell_label(report, i)),
        };
        let _ = write!(
            h,
            "<rect x=\"{:.2}\" y=\"0\" width=\"{:.2}\" height=\"{BAR_H}\" rx=\"1\" fill=\"{}\"><title>{}</title></rect>",
            i as f64 * w,
            (w - gap).max(0.5),
            colour(pct),
            escape(&tip)
        );
    }
    h.push_str("</svg>");
}

/// Up to 8 evenly spaced time labels under a bar or chart of `n` cells.
fn axis(h: &mut String, report: &Report, n: usize, y: f64) {
    if n == 0 {
        return;
    }
    let step = n.div_ceil(8).max(1);
    let w = W / n as f64;
    // A label needs about 90 px: none that would run off the right edge.
    for i in (0..n).step_by(step).filter(|&i| i as f64 * w + 90.0 <= W) {
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{y}\">{}</text>",
            i as f64 * w + 1.0,
            escape(&cell_label(report, i))
        );
    }
}

fn chart(h: &mut String, report: &Report, m: &MonitorReport) {
    let n = m.cells.len().max(1);
    let w = W / n as f64;
    let scale = nice(chart_top(m) * 1.15);
    let y = |ms: f64| CHART_H - (ms / scale).min(1.0) * (CHART_H - 4.0);
    let _ = write!(
        h,
        "<svg width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"latency per cell\">\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{CHART_H}\" fill=\"#fafbfc\" stroke=\"#eef0f2\"/>",
        CHART_H + 13.0,
        CHART_H + 13.0
    );
    // Downtime, shaded behind the lines.
    let span_ms = (n as i64 * report.cell_ms) as f64;
    for i in report
        .incidents
        .iter()
        .filter(|i| i.url == m.url && i.name == m.name && i.id == m.id)
    {
        let start = (i.start - report.cells_from) as f64 / span_ms * W;
        let end = i.end.unwrap_or(report.to.min(report.generated)) - report.cells_from;
        let end = end as f64 / span_ms * W;
        let (x0, x1) = (start.clamp(0.0, W), end.clamp(0.0, W));
        if x1 > x0 {
            let _ = write!(
                h,
                "<rect x=\"{x0:.1}\" y=\"0\" width=\"{:.1}\" height=\"{CHART_H}\" fill=\"#d93b30\" fill-opacity=\"0.15\"><title>down {}</title></rect>",
                (x1 - x0).max(1.0),
                escape(&span(i.duration_s))
            );
        }
    }
    // p95 band (from p50 up to p95) and p50 line, broken where a cell has no checks.
    let mut band = String::new();
    let mut line = String::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64)>, band: &mut String, line: &mut String| {
        if run.is_empty() {
            return;
        }
        let mut d = String::new();
        for (k, (x, _, hi)) in run.iter().enumerate() {
            let _ = write!(d, "{}{x:.1},{:.1} ", if k == 0 { "M" } else { "L" }, y(*hi));
        }
        for (x, lo, _) in run.iter().rev() {
            let _ = write!(d, "L{x:.1},{:.1} ", y(*lo));
        }
        d.push('Z');
        let _ = write!(
            band,
            "<path d=\"{d}\" fill=\"#5b8def\" fill-opacity=\"0.22\"/>"
        );
        let mut l = String::new();
        for (k, (x, lo, _)) in run.iter().enumerate() {
            let _ = write!(l, "{}{x:.1},{:.1} ", if k == 0 { "M" } else { "L" }, y(*lo));
        }
        let _ = write!(
            line,
            "<path d=\"{l}\" fill=\"none\" stroke=\"#2f5fd0\" stroke-width=\"1.5\"/>"
        );
        run.clear();
    };
    for (i, c) in m.cells.iter().enumerate() {
        match (c.p50_ms, c.p95_ms) {
            (Some(p50), Some(p95)) => run.push((i as f64 * w + w / 2.0, p50, p95)),
            _ => flush(&mut run, &mut band, &mut line),
        }
    }
    flush(&mut run, &mut band, &mut line);
    h.push_str(&band);
    h.push_str(&line);
    for (i, c) in m.cells.iter().enumerate() {
        if let (Some(p50), Some(p95)) = (c.p50_ms, c.p95_ms) {
            let _ = write!(
                h,
                "<rect x=\"{:.2}\" y=\"0\" width=\"{w:.2}\" height=\"{CHART_H}\" fill=\"transparent\"><title>{}: p50 {}, p95 {}</title></rect>",
                i as f64 * w,
                escape(&cell_label(report, i)),
                millis(Some(p50)),
                millis(Some(p95))
            );
        }
    }
    let _ = write!(
        h,
        "<text x=\"4\" y=\"11\">{}</text><text x=\"4\" y=\"{}\">0</text>\
         <text x=\"{}\" y=\"11\" text-anchor=\"end\">latency: p50 line, p95 band</text>",
        escape(&millis(Some(scale))),
        CHART_H - 3.0,
        W - 4.0
    );
    axis(h, report, m.cells.len(), CHART_H + 11.0);
    h.push_str("</svg>");
}

/// The top of a monitor's latency chart: the cells' p95 at their own 95th percentile (so a
/// few slow hours do not squash the rest), but never below the highest p50.
fn chart_top(m: &MonitorReport) -> f64 {
    let mut p95s: Vec<f64> = m.cells.iter().filter_map(|c| c.p95_ms).collect();
    p95s.sort_by(f64::total_cmp);
    let robust = p95s
        .get((p95s.len().saturating_sub(1) * 95) / 100)
        .copied()
        .unwrap_or(1.0);
    let p50_max = m
        .cells
        .iter()
        .filter_map(|c| c.p50_ms)
        .fold(0.0f64, f64::max);
    robust.max(p50_max).max(1.0)
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `x`.
fn nice(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * p)
}

fn incidents(h: &mut String, list: &[IncidentReport]) {
    let _ = write!(
        h,
        "<h2 style=\"font-size:16px;margin:22px 0 0\">Incidents ({})</h2>",
        list.len()
    );
    if list.is_empty() {
        h.push_str("<p>None in this window.</p>");
        return;
    }
    h.push_str(
        "<table><tr><th>monitor</th><th>start</th><th>end</th><th>duration</th><th>reason</th></tr>",
    );
    for i in list {
        let end = match (i.end, i.ended_by) {
            (None, _) => "ongoing".to_string(),
            (Some(e), Some(State::Unknown)) => format!("{} (monitoring stopped)", time(e)),
            (Some(e), _) => time(e),
        };
        let reason = match (&i.reason, &i.detail) {
            (Some(r), Some(d)) => format!("{r}: {d}"),
            (Some(r), None) => r.clone(),
            _ => "-".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&label(&i.url, i.name.as_deref(), &i.id)),
            time(i.start),
            escape(&end),
            span(i.duration_s),
            escape(&reason)
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scales_round_up() {
        assert_eq!(nice(1.1), 2.0);
        assert_eq!(nice(110.0), 200.0);
        assert_eq!(nice(240.0), 250.0);
        assert_eq!(nice(4200.0), 5000.0);
    }

    #[test]
    fn escape_and_colours() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(colour(Some(100.0)), "#1f9d55");
        assert_eq!(colour(Some(93.75)), "#f08a24");
        assert_eq!(colour(None), "#e3e6ea");
    }
}
