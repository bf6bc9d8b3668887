//! Inline SVG charts over a run of time cells (hours or days): an uptime strip, one cell per
//! hour or day coloured by the share of checks that were up, and a latency chart (p50 line over
//! a p95 band, downtime shaded). Shared by the report file and the live pages.
//!
//! Every cell has a tooltip (`<title>`) with its figures. The latency scale ignores the top 5 %
//! of cells, so one hour with a timeout does not flatten a week of latency; spikes above it are
//! clipped at the top.

use std::fmt::Write;

use maud::{html, Markup, PreEscaped};

use super::level;
use crate::report::table::millis;
use crate::report::{span, time, CellReport, DAY_MS};

/// A run of cells and the downtime over them.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The cells, oldest first.
    pub cells: &'a [CellReport],
    /// Start of the first cell, ms since the epoch.
    pub from: i64,
    /// Width of a cell: an hour or a day, ms.
    pub cell_ms: i64,
    /// Times down: start, end (ms since the epoch) and whole length (seconds).
    pub down: &'a [(i64, i64, f64)],
}

impl Series<'_> {
    /// The cell `i`'s start as `2026-01-01` (day cells) or `2026-01-01 13:00` (hour cells).
    pub fn label(&self, i: usize) -> String {
        let t = time(self.from + i as i64 * self.cell_ms);
        if self.cell_ms == DAY_MS {
            t[..10].to_string()
        } else {
            format!("{} {}", &t[..10], &t[11..16])
        }
    }
}

/// A cell's tooltip: `2026-01-01 13:00: 99.50% up, 199 of 200 checks` or `…: no checks`.
fn tip(s: &Series<'_>, i: usize, c: &CellReport) -> String {
    match c.uptime_pct() {
        Some(p) => format!(
            "{}: {p:.2}% up, {} of {} checks",
            s.label(i),
            c.up,
            c.checks
        ),
        None => format!("{}: no checks", s.label(i)),
    }
}

/// The uptime strip: `width` × `height` px, one rect per cell, described as `label`.
pub fn strip(s: &Series<'_>, width: f64, height: f64, label: &str) -> Markup {
    let n = s.cells.len().max(1);
    let w = width / n as f64;
    // A gap between cells once they are wide enough to keep some colour beside it.
    let gap = if w >= 3.0 { 1.0 } else { 0.0 };
    html! {
        svg width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(label) {
            @for (i, c) in s.cells.iter().enumerate() {
                rect x=(format!("{:.2}", i as f64 * w)) y="0" width=(format!("{:.2}", (w - gap).max(0.5)))
                    height=(height) rx="1" class=(level(c.uptime_pct())) { title { (tip(s, i, c)) } }
            }
        }
    }
}

/// The latency chart: `width` px wide, `height` px of plot and a row of time labels below.
pub fn latency(s: &Series<'_>, width: f64, height: f64) -> Markup {
    let n = s.cells.len().max(1);
    let w = width / n as f64;
    let scale = nice(chart_top(s.cells) * 1.15);
    let y = |ms: f64| height - (ms / scale).min(1.0) * (height - 4.0);
    let span_ms = (n as i64 * s.cell_ms) as f64;
    let shaded: Vec<(f64, f64, f64)> = s
        .down
        .iter()
        .filter_map(|&(start, end, dur)| {
            let x0 = ((start - s.from) as f64 / span_ms * width).clamp(0.0, width);
            let x1 = ((end - s.from) as f64 / span_ms * width).clamp(0.0, width);
            (x1 > x0).then_some((x0, (x1 - x0).max(1.0), dur))
        })
        .collect();
    // The p95 band (from p50 up to p95) and the p50 line, broken where a cell has no checks.
    let mut band = String::new();
    let mut line = String::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let mut flush = |run: &mut Vec<(f64, f64, f64)>| {
        if run.is_empty() {
            return;
        }
        let _ = write!(band, "<path class=\"p95\" d=\"");
        for (k, (x, _, hi)) in run.iter().enumerate() {
            let _ = write!(
                band,
                "{}{x:.1},{:.1} ",
                if k == 0 { "M" } else { "L" },
                y(*hi)
            );
        }
        for (x, lo, _) in run.iter().rev() {
            let _ = write!(band, "L{x:.1},{:.1} ", y(*lo));
        }
        band.push_str("Z\"/>");
        let _ = write!(line, "<path class=\"p50\" d=\"");
        for (k, (x, lo, _)) in run.iter().enumerate() {
            let _ = write!(
                line,
                "{}{x:.1},{:.1} ",
                if k == 0 { "M" } else { "L" },
                y(*lo)
            );
        }
        line.push_str("\"/>");
        // A lone cell between gaps draws no line: a dot shows it.
        if let [(x, lo, _)] = run.as_slice() {
            let _ = write!(
                line,
                "<circle class=\"dot50\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2\"/>",
                y(*lo)
            );
        }
        run.clear();
    };
    for (i, c) in s.cells.iter().enumerate() {
        match (c.p50_ms, c.p95_ms) {
            (Some(p50), Some(p95)) => run.push((i as f64 * w + w / 2.0, p50, p95)),
            _ => flush(&mut run),
        }
    }
    flush(&mut run);
    let total = height + 13.0;
    // Up to 8 evenly spaced time labels; a label needs about 90 px, none runs off the edge.
    let step = s.cells.len().div_ceil(8).max(1);
    let labels = (0..s.cells.len())
        .step_by(step)
        .filter(|&i| i as f64 * w + 90.0 <= width);
    html! {
        svg width=(width) height=(total) viewBox={ "0 0 " (width) " " (total) } role="img" aria-label="latency per cell" {
            rect.frame x="0" y="0" width=(width) height=(height) {}
            @for (x, wd, dur) in &shaded {
                rect.downtime x=(format!("{x:.1}")) y="0" width=(format!("{wd:.1}")) height=(height) {
                    title { "down " (span(*dur)) }
                }
            }
            // Paths built above from numbers only: nothing in them comes from input.
            (PreEscaped(band))
            (PreEscaped(line))
            @for (i, c) in s.cells.iter().enumerate() {
                @if let (Some(p50), Some(p95)) = (c.p50_ms, c.p95_ms) {
                    rect.hit x=(format!("{:.2}", i as f64 * w)) y="0" width=(format!("{w:.2}")) height=(height) {
                        title { (s.label(i)) ": p50 " (millis(Some(p50))) ", p95 " (millis(Some(p95))) }
                    }
                }
            }
            text x="4" y="11" { (millis(Some(scale))) }
            text x="4" y=(height - 3.0) { "0" }
            text x=(width - 4.0) y="11" text-anchor="end" { "latency: p50 line, p95 band" }
            @for i in labels {
                text x=(format!("{:.1}", i as f64 * w + 1.0)) y=(height + 11.0) { (s.label(i)) }
            }
        }
    }
}

/// The top of a latency chart: the cells' p95 at their own 95th percentile (so a few slow
/// hours do not squash the rest), but never below the highest p50.
fn chart_top(cells: &[CellReport]) -> f64 {
    let mut p95s: Vec<f64> = cells.iter().filter_map(|c| c.p95_ms).collect();
    p95s.sort_by(f64::total_cmp);
    let robust = p95s
        .get((p95s.len().saturating_sub(1) * 95) / 100)
        .copied()
        .unwrap_or(1.0);
    let p50_max = cells.iter().filter_map(|c| c.p50_ms).fold(0.0f64, f64::max);
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
    fn a_strip_has_a_cell_and_a_tooltip_per_cell() {
        let cell = |checks, up| CellReport {
            checks,
            up,
            p50_ms: Some(10.0),
            p95_ms: Some(20.0),
        };
        let cells = [cell(60, 60), cell(60, 0), cell(0, 0)];
        let s = Series {
            cells: &cells,
            from: 0,
            cell_ms: crate::store::rollup::HOUR_MS,
            down: &[(3_600_000, 7_200_000, 3600.0)],
        };
        let bar = strip(&s, 300.0, 18.0, "uptime per cell").into_string();
        assert_eq!(bar.matches("<rect").count(), 3);
        assert!(bar.contains("1970-01-01 01:00: 0.00% up, 0 of 60 checks"));
        assert!(bar.contains("class=\"l1\"") && bar.contains("class=\"nd\""));
        let chart = latency(&s, 300.0, 50.0).into_string();
        assert!(chart.contains("down 1h"));
        assert!(chart.contains("class=\"p50\""));
        assert!(!chart.contains("dot50"), "a run of two cells is a line");
        let lone = [cell(60, 60)];
        let s = Series { cells: &lone, ..s };
        assert!(latency(&s, 300.0, 50.0)
            .into_string()
            .contains("<circle class=\"dot50\""));
    }
}
