//! Reports over several histories at once (`sitewatch report --db a.db --db b.db …`): one
//! database per location or per shard.
//!
//! Each database is reported on its own ([`super::build`]), and its rows are marked with its
//! location: the `monitors.location` its runs recorded, else the file's name. Monitor rows and
//! incidents are then listed together, by monitor and location. With a quorum Q, the times when
//! at least Q distinct locations saw a monitor down at once are added as incidents of their own
//! (location `quorum Q/N`), found by counting over the per-location incident spans: what an
//! alert "down from at least Q locations" would have covered; and each monitor seen from two
//! locations or more gets a combined row (location `quorum Q/N`): checks and uptime by checks
//! over all locations, latency from their merged sketches, and the quorum incidents' downtime.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;

use super::{build, pct, quantile, round3, IncidentReport, MonitorReport, Query, Report};
use crate::state::State;

/// The location a database's rows are shown under: the most recent `monitors.location` its
/// runs recorded, else the file name without its extension.
pub fn location_of(conn: &Connection, path: &Path) -> String {
    let recorded: Option<String> = conn
        .query_row(
            "SELECT location FROM monitors WHERE location != '' ORDER BY last_seen DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .ok();
    recorded.unwrap_or_else(|| {
        path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    })
}

/// The report over `sources` (each a database and its location), with the quorum incidents
/// when `quorum` is given.
pub fn build_many(
    sources: &[(&Connection, String)],
    query: &Query,
    quorum: Option<usize>,
) -> rusqlite::Result<Report> {
    let mut merged: Option<Report> = None;
    for (conn, location) in sources {
        let mut r = build(conn, query)?;
        for m in &mut r.monitors {
            m.location = Some(location.clone());
        }
        for i in &mut r.incidents {
            i.location = Some(location.clone());
        }
        match &mut merged {
            None => merged = Some(r),
            Some(all) => {
                all.monitors.extend(r.monitors);
                all.incidents.extend(r.incidents);
                all.impairments.extend(r.impairments);
            }
        }
    }
    let Some(mut report) = merged else {
        return build(&Connection::open_in_memory()?, query);
    };
    // Stable: a monitor's rows stay together, in the order of the databases given.
    report.monitors.sort_by(|a, b| a.id.cmp(&b.id));
    report.impairments.sort_by_key(|i| i.start);
    if let Some(q) = quorum {
        let horizon = query.to.min(query.now).max(query.from);
        let combined = quorum_incidents(&report.incidents, q, sources.len(), horizon);
        let rows = combined_rows(
            &report.monitors,
            &combined,
            q,
            sources.len(),
            query.from,
            horizon,
        );
        report.monitors.extend(rows);
        report.monitors.sort_by(|a, b| a.id.cmp(&b.id));
        report.incidents.extend(combined);
    }
    report
        .incidents
        .sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    Ok(report)
}

/// The spans during which at least `q` distinct locations had an incident of the same monitor,
/// each as an incident located `quorum q/n`. Open incidents run to `horizon`.
pub fn quorum_incidents(
    incidents: &[IncidentReport],
    q: usize,
    n: usize,
    horizon: i64,
) -> Vec<IncidentReport> {
    let mut by_monitor: HashMap<&str, Vec<&IncidentReport>> = HashMap::new();
    for i in incidents.iter().filter(|i| i.location.is_some()) {
        by_monitor.entry(&i.id).or_default().push(i);
    }
    let mut ids: Vec<&str> = by_monitor.keys().copied().collect();
    ids.sort_unstable();
    let mut out = Vec::new();
    for id in ids {
        let spans = &by_monitor[id];
        // (time, +1 start / -1 end, incident): ends sort before starts at one instant, so
        // spans that only touch do not count as overlapping.
        let mut events: Vec<(i64, i32, &IncidentReport)> = Vec::new();
        for i in spans.iter().filter(|i| i.start < horizon) {
            events.push((i.start, 1, i));
            // An incident still open at the horizon never ends here.
            if let Some(end) = i.end.filter(|e| *e < horizon) {
                events.push((end, -1, i));
            }
        }
        events.sort_by_key(|(t, d, _)| (*t, *d));
        let mut depth: HashMap<&str, u32> = HashMap::new();
        let mut open: Option<(i64, Vec<String>)> = None;
        for (t, d, i) in events {
            let location = i.location.as_deref().unwrap_or("");
            let e = depth.entry(location).or_default();
            *e = e.saturating_add_signed(d);
            let down: Vec<&str> = depth
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(l, _)| *l)
                .collect();
            match (&open, down.len() >= q) {
                (None, true) => {
                    let mut seen: Vec<String> = down.iter().map(|l| l.to_string()).collect();
                    seen.sort();
                    open = Some((t, seen));
                }
                (Some(_), false) => {
                    let (start, seen) = open.take().expect("open");
                    out.push(combined(i, q, n, start, Some(t), i.ended_by, &seen));
                }
                _ => {}
            }
        }
        if let Some((start, seen)) = open {
            out.push(combined(spans[0], q, n, start, None, None, &seen));
        }
    }
    for i in &mut out {
        let end = i.end.unwrap_or(horizon);
        i.duration_s = (end - i.start).max(0) as f64 / 1000.0;
    }
    out
}

/// One row per monitor seen from two locations or more: their checks and merged latency, and
/// the quorum incidents (`quorum`, already made) as its incidents and downtime.
fn combined_rows(
    rows: &[MonitorReport],
    quorum: &[IncidentReport],
    q: usize,
    n: usize,
    from: i64,
    horizon: i64,
) -> Vec<MonitorReport> {
    let mut by_id: Vec<(&str, Vec<&MonitorReport>)> = Vec::new();
    for m in rows {
        match by_id.iter_mut().find(|(id, _)| *id == m.id) {
            Some((_, group)) => group.push(m),
            None => by_id.push((&m.id, vec![m])),
        }
    }
    let location = format!("quorum {q}/{n}");
    by_id
        .into_iter()
        .filter(|(_, group)| group.len() >= 2)
        .map(|(id, group)| {
            let mut out = group[0].clone();
            out.location = Some(location.clone());
            let mut total = group[0].total.clone();
            for m in &group[1..] {
                total.merge(&m.total);
                for (c, o) in out.cells.iter_mut().zip(&m.cells) {
                    c.checks += o.checks;
                    c.up += o.up;
                    // Per-cell sketches are not kept: a combined cell has no latency.
                    c.p50_ms = None;
                    c.p95_ms = None;
                }
                out.local_errors += m.local_errors;
                out.inconclusive += m.inconclusive;
                out.observed_s = out.observed_s.max(m.observed_s);
                out.impaired_s = out.impaired_s.max(m.impaired_s);
                out.degraded_s = out.degraded_s.max(m.degraded_s);
            }
            let mine: Vec<&IncidentReport> = quorum.iter().filter(|i| i.id == id).collect();
            let down_ms: i64 = mine
                .iter()
                .map(|i| i.end.unwrap_or(horizon).min(horizon) - i.start.max(from))
                .filter(|d| *d > 0)
                .sum();
            let has_checks = total.checks > 0;
            out.checks = total.checks;
            out.up = total.up;
            out.uptime_pct = pct(total.up, total.checks);
            out.incidents = mine.len();
            out.downtime_s = down_ms as f64 / 1000.0;
            out.longest_incident_s = mine.iter().map(|i| i.duration_s).fold(0.0, f64::max);
            let observed_ms = (out.observed_s * 1000.0) as i64;
            out.uptime_time_pct = pct(
                u64::try_from(observed_ms - down_ms).unwrap_or(0),
                u64::try_from(observed_ms).unwrap_or(0),
            );
            out.p50_ms = quantile(&total, 0.5);
            out.p95_ms = quantile(&total, 0.95);
            out.max_ms = has_checks.then_some(round3(total.ms_max));
            out.mean_ms = has_checks.then(|| round3(total.ms_sum / total.checks as f64));
            // Down when a quorum of locations ended the window down, as the incidents count.
            let down = group.iter().filter(|m| m.state == State::Down).count();
            out.state = if down >= q || mine.iter().any(|i| i.end.is_none()) {
                State::Down
            } else if group.iter().all(|m| m.state == State::Unknown) {
                State::Unknown
            } else if group.iter().any(|m| m.state == State::Degraded) {
                State::Degraded
            } else {
                State::Up
            };
            out.total = total;
            out
        })
        .collect()
}

fn combined(
    like: &IncidentReport,
    q: usize,
    n: usize,
    start: i64,
    end: Option<i64>,
    ended_by: Option<State>,
    seen: &[String],
) -> IncidentReport {
    IncidentReport {
        url: like.url.clone(),
        id: like.id.clone(),
        name: like.name.clone(),
        location: Some(format!("quorum {q}/{n}")),
        start,
        end,
        ended_by: end.and(ended_by),
        duration_s: 0.0,
        reason: None,
        status: None,
        detail: Some(format!("down from {}", seen.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(location: &str, start: i64, end: Option<i64>) -> IncidentReport {
        IncidentReport {
            url: "https://a.example/".into(),
            id: "a".into(),
            name: None,
            location: Some(location.into()),
            start,
            end,
            ended_by: end.map(|_| State::Up),
            duration_s: 0.0,
            reason: Some("status".into()),
            status: Some(503),
            detail: None,
        }
    }

    #[test]
    fn a_quorum_covers_the_times_enough_locations_agree() {
        let spans = [
            incident("eu", 0, Some(100)),
            incident("us", 50, Some(150)),
            incident("ap", 90, None),
        ];
        let two = quorum_incidents(&spans, 2, 3, 1000);
        let got: Vec<(i64, Option<i64>)> = two.iter().map(|i| (i.start, i.end)).collect();
        // eu+us from 50, then us+ap from 90 to 150: one span 50..150.
        assert_eq!(got, [(50, Some(150))]);
        assert_eq!(two[0].location.as_deref(), Some("quorum 2/3"));
        assert_eq!(two[0].duration_s, 0.1);
        let three = quorum_incidents(&spans, 3, 3, 1000);
        assert_eq!(
            three.iter().map(|i| (i.start, i.end)).collect::<Vec<_>>(),
            [(90, Some(100))]
        );
        assert_eq!(three[0].detail.as_deref(), Some("down from ap, eu, us"));
        // One location alone never makes a quorum of 2, and touching spans do not overlap.
        assert!(quorum_incidents(&spans[..1], 2, 3, 1000).is_empty());
        let touching = [incident("eu", 0, Some(10)), incident("us", 10, Some(20))];
        assert!(quorum_incidents(&touching, 2, 2, 1000).is_empty());
        // Still down at the horizon: open.
        let open = quorum_incidents(
            &[incident("eu", 0, None), incident("us", 5, None)],
            2,
            2,
            60,
        );
        assert_eq!(
            (open[0].start, open[0].end, open[0].duration_s),
            (5, None, 0.055)
        );
    }
}
