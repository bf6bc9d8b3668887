//! A monitor's state over time, rebuilt from its state transitions: observed time, downtime and
//! incidents within a window. Pure maths, no database.
//!
//! The state at an instant is the `to` of the latest transition at or before it (`unknown`
//! before the first). A transition to `down` opens an incident; the next transition away from
//! `down` closes it — to `up` (recovered) or to `unknown` (monitoring stopped: a clean shutdown
//! writes that marker). A transition from `down` to `down` (a new run finding the site still
//! down) continues the incident. After a crash the next run writes the marker, at each monitor's
//! last recorded check (`store::gap`); until then the last state is taken to hold.
//!
//! Within the window `[from, horizon)`: *observed* time is when the state was `up` or `down`,
//! *downtime* when it was `down`; uptime by time is `1 − downtime / observed`. Incidents that
//! overlap the window are listed whole (their real start, and their end even if after the
//! window); one still open is measured to the horizon.
//!
//! Times sitewatch could not measure (it was paused, or its network was impaired) count neither
//! as up nor as down: [`timeline_excluding`] takes them out of observed time and downtime and
//! adds them up as `impaired_ms`.

use crate::state::State;

/// One state transition as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When, ms since the epoch.
    pub ts: i64,
    /// The new state.
    pub to: State,
    /// Failure reason of the deciding check.
    pub reason: Option<String>,
    /// Status code of the deciding check.
    pub status: Option<u16>,
    /// Failure detail of the deciding check.
    pub detail: Option<String>,
}

/// One outage: from a transition to `down` until the next transition away from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// When the monitor was declared down, ms since the epoch.
    pub start: i64,
    /// When it came back up or monitoring stopped; `None` while still down.
    pub end: Option<i64>,
    /// How it ended: `up`, or `unknown` when monitoring stopped; `None` while still down.
    pub ended_by: Option<State>,
    /// Reason of the check that declared it down.
    pub reason: Option<String>,
    /// Status code of that check.
    pub status: Option<u16>,
    /// Detail of that check.
    pub detail: Option<String>,
}

impl Span {
    /// Its length in ms, an open one measured to `horizon`.
    pub fn duration_ms(&self, horizon: i64) -> i64 {
        (self.end.unwrap_or(horizon.max(self.start)) - self.start).max(0)
    }
}

/// What the transitions say about one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Time in the window with a known state (`up` or `down`), ms.
    pub observed_ms: i64,
    /// Time in the window spent `down`, ms.
    pub down_ms: i64,
    /// Time in the window spent `degraded`, ms: up time (never downtime), shown apart.
    pub degraded_ms: i64,
    /// Incidents overlapping the window, in order.
    pub incidents: Vec<Span>,
    /// The last `up`/`down` state at or before the horizon (`unknown` if none).
    pub last_known: State,
    /// Time in the window with a known state that fell in an impairment, ms: counted neither
    /// in `observed_ms` nor in `down_ms`.
    pub impaired_ms: i64,
}

/// Rebuilds the timeline of one monitor over `[from, horizon)`.
///
/// `before` is the latest transition before `from` (if any), `within` the transitions in
/// `[from, horizon)` in time order, `after` the transitions at or after `horizon` in time order
/// (only used to find when an incident open at the horizon ended; the first few suffice).
pub fn timeline(
    before: Option<&Transition>,
    within: &[Transition],
    after: &[Transition],
    from: i64,
    horizon: i64,
) -> Timeline {
    timeline_excluding(before, within, after, from, horizon, &[])
}

/// Like [`timeline`], with `impaired` (sorted, non-overlapping `[start, end)` spans, ms) taken
/// out of observed time and downtime.
pub fn timeline_excluding(
    before: Option<&Transition>,
    within: &[Transition],
    after: &[Transition],
    from: i64,
    horizon: i64,
    impaired: &[(i64, i64)],
) -> Timeline {
    let mut t = Timeline {
        observed_ms: 0,
        down_ms: 0,
        degraded_ms: 0,
        incidents: Vec::new(),
        last_known: State::Unknown,
        impaired_ms: 0,
    };
    let account = |t: &mut Timeline, state: State, start: i64, end: i64| {
        let lost = overlap(impaired, start, end);
        account(t, state, start, end);
        if state != State::Unknown {
            t.impaired_ms += lost;
            t.observed_ms -= lost;
            if state == State::Down {
                t.down_ms -= lost;
            }
            if state == State::Degraded {
                t.degraded_ms -= lost;
            }
        }
    };
    let mut state = State::Unknown;
    let mut open: Option<Span> = None;
    if let Some(b) = before {
        enter(&mut state, &mut open, &mut t, b);
    }
    let mut at = from;
    for tr in within.iter().filter(|tr| tr.ts >= from && tr.ts < horizon) {
        account(&mut t, state, at, tr.ts);
        at = tr.ts;
        enter(&mut state, &mut open, &mut t, tr);
    }
    account(&mut t, state, at, horizon);
    if let Some(mut span) = open {
        if let Some(end) = after.iter().find(|tr| tr.to != State::Down) {
            span.end = Some(end.ts);
            span.ended_by = Some(end.to);
        }
        t.incidents.push(span);
    }
    t
}

/// How much of `[start, end)` the sorted, non-overlapping `spans` cover.
fn overlap(spans: &[(i64, i64)], start: i64, end: i64) -> i64 {
    spans
        .iter()
        .map(|&(a, b)| (b.min(end) - a.max(start)).max(0))
        .sum()
}

/// Sorts `spans` and merges those that overlap or touch.
pub fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn account(t: &mut Timeline, state: State, start: i64, end: i64) {
    let len = (end - start).max(0);
    match state {
        State::Up => t.observed_ms += len,
        State::Degraded => {
            t.observed_ms += len;
            t.degraded_ms += len;
        }
        State::Down => {
            t.observed_ms += len;
            t.down_ms += len;
        }
        State::Unknown => {}
    }
}

fn enter(state: &mut State, open: &mut Option<Span>, t: &mut Timeline, tr: &Transition) {
    match (tr.to, open.take()) {
        (State::Down, None) => {
            *open = Some(Span {
                start: tr.ts,
                end: None,
                ended_by: None,
                reason: tr.reason.clone(),
                status: tr.status,
                detail: tr.detail.clone(),
            })
        }
        (State::Down, Some(span)) => *open = Some(span),
        (to, Some(mut span)) => {
            span.end = Some(tr.ts);
            span.ended_by = Some(to);
            t.incidents.push(span);
        }
        (_, None) => {}
    }
    *state = tr.to;
    if tr.to != State::Unknown {
        t.last_known = tr.to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(ts: i64, to: State) -> Transition {
        Transition {
            ts,
            to,
            reason: (to == State::Down).then(|| "connect".to_string()),
            status: None,
            detail: None,
        }
    }

    #[test]
    fn impaired_time_counts_neither_up_nor_down() {
        // Up 0..500, down 500..1000; impaired 400..600 and 900..1200 (past the horizon).
        let within = [tr(0, State::Up), tr(500, State::Down)];
        let impaired = merge(vec![(900, 1200), (400, 550), (550, 600)]);
        assert_eq!(impaired, vec![(400, 600), (900, 1200)]);
        let t = timeline_excluding(None, &within, &[], 0, 1000, &impaired);
        assert_eq!((t.observed_ms, t.down_ms, t.impaired_ms), (700, 300, 300));
        // Unknown time is not observed, impaired or not.
        let t = timeline_excluding(None, &[tr(500, State::Up)], &[], 0, 1000, &impaired);
        assert_eq!((t.observed_ms, t.impaired_ms), (300, 200));
    }

    #[test]
    fn down_across_the_start_counts_only_inside_but_lists_the_whole_incident() {
        let before = tr(-30, State::Down);
        let t = timeline(Some(&before), &[tr(90, State::Up)], &[], 0, 1000);
        assert_eq!((t.observed_ms, t.down_ms), (1000, 90));
        assert_eq!(t.incidents.len(), 1);
        assert_eq!(t.incidents[0].start, -30);
        assert_eq!(t.incidents[0].end, Some(90));
        assert_eq!(t.incidents[0].duration_ms(1000), 120);
        assert_eq!(t.last_known, State::Up);
    }

    #[test]
    fn open_at_the_horizon_ends_later_or_stays_open() {
        let within = [tr(0, State::Up), tr(900, State::Down)];
        let open = timeline(None, &within, &[], 0, 1000);
        assert_eq!(open.down_ms, 100);
        assert_eq!(open.incidents[0].end, None);
        assert_eq!(open.incidents[0].duration_ms(1000), 100);
        assert_eq!(open.last_known, State::Down);
        let closed_later = timeline(None, &within, &[tr(1500, State::Up)], 0, 1000);
        assert_eq!(closed_later.incidents[0].end, Some(1500));
        assert_eq!(
            closed_later.down_ms, 100,
            "downtime stays inside the window"
        );
    }

    #[test]
    fn a_stop_closes_the_incident_and_stops_the_clock() {
        let within = [
            tr(0, State::Up),
            tr(400, State::Down),
            tr(500, State::Unknown),
            // A new run finds it still down: a new incident, not counted before it.
            tr(800, State::Down),
            tr(850, State::Down),
            tr(900, State::Up),
        ];
        let t = timeline(None, &within, &[], 0, 1000);
        assert_eq!(t.observed_ms, 500 + 200);
        assert_eq!(t.down_ms, 100 + 100);
        let spans: Vec<(i64, Option<i64>, Option<State>)> = t
            .incidents
            .iter()
            .map(|s| (s.start, s.end, s.ended_by))
            .collect();
        assert_eq!(
            spans,
            vec![
                (400, Some(500), Some(State::Unknown)),
                (800, Some(900), Some(State::Up))
            ]
        );
    }

    #[test]
    fn never_decided_observes_nothing() {
        let t = timeline(None, &[], &[], 0, 1000);
        assert_eq!((t.observed_ms, t.down_ms, t.incidents.len()), (0, 0, 0));
        assert_eq!(t.last_known, State::Unknown);
    }
}
