//! `GET /` and `GET /monitors/{id}`: the status model ([`status`](super::status)) turned into
//! the pages' view data ([`crate::html::view`]) and rendered by the templates
//! ([`crate::html`]). Only the page's monitors are built and only their strips read.

use std::time::SystemTime;

use super::status::{self, Filter, LastCheckView, MonitorStatus};
use super::strips::Strips;
use super::{strips as store, Ctx, Reply, Request};
use crate::html::view::{
    self, Cells, Check, Context, Incident, MonitorPage, MonitorRow, Outcome, StatusPage, Uptimes,
};
use crate::html::{monitor as monitor_page, status as status_page};
use crate::probe::Nature;
use crate::state::State;
use crate::store::epoch_ms;

/// The pages reload themselves this often (a `<meta>` refresh: no script).
pub const REFRESH_S: u32 = 30;
/// Down monitors shown under "Problems" above the list.
const PROBLEMS: usize = 20;

fn ms(t: SystemTime) -> i64 {
    epoch_ms(t)
}

fn outcome(nature: Nature, failed: bool) -> Outcome {
    match (nature, failed) {
        (Nature::Verdict, false) => Outcome::Up,
        (Nature::Verdict, true) => Outcome::Down,
        (Nature::Local, _) => Outcome::LocalError,
        (Nature::Inconclusive, _) => Outcome::Inconclusive,
    }
}

fn last_check(l: &LastCheckView) -> Check {
    Check {
        at: ms(l.ts),
        outcome: outcome(l.nature, l.reason.is_some()),
        status: l.status,
        latency_ms: Some(l.latency_ms),
        reason: l.reason.map(|r| r.as_str().to_string()),
        detail: l.detail.clone(),
    }
}

fn context(
    ctx: &Ctx,
    health: &status::Health,
    generated: SystemTime,
    history_error: Option<String>,
) -> Context {
    Context {
        generated: ms(generated),
        started: ms(ctx.started),
        history: ctx.history.is_some(),
        history_error,
        health: view::Health {
            monitors: health.monitors,
            checks_per_min: health.checks_per_minute,
            lateness_p99_ms: Some(health.lateness_p99_ms),
            missed: health.missed,
            coalesced: health.coalesced,
            unwritten: health.unwritten,
            lost_notifications: health.lost_notifications,
            last_stall: health.last_stall.map(ms),
        },
        refresh_s: Some(REFRESH_S),
    }
}

fn row(m: &MonitorStatus, strips: Strips) -> MonitorRow {
    MonitorRow {
        id: m.id.clone(),
        name: m.name.clone(),
        group: m.group.clone(),
        url: m.url.clone(),
        state: m.state,
        since: Some(ms(m.since)),
        last: m.last_check.as_ref().map(last_check),
        uptime: Uptimes {
            h24: m.uptime[0],
            d7: m.uptime[1],
            d30: m.uptime[2],
            run: m.uptime_run,
        },
        p50_ms: m.latency[0],
        p95_ms: m.latency[1],
        days: strips.days,
        hours: strips.hours,
        incidents: strips.incidents,
        down_because: None,
        maintenance: m.maintenance.clone(),
    }
}

/// The strips of `monitors` (empty without a history, and when it cannot be read, with why:
/// the page still shows the live state).
fn strips(ctx: &Ctx, monitors: &[&MonitorStatus]) -> (Vec<Strips>, Option<String>) {
    let empty = || vec![Strips::default(); monitors.len()];
    let Some(path) = &ctx.history else {
        return (empty(), None);
    };
    let configs: Vec<crate::config::Monitor> = monitors
        .iter()
        .map(|m| ctx.monitors()[m.index].clone())
        .collect();
    match store::ids_of(path, &configs).and_then(|ids| ctx.strips.strips(path, &ids)) {
        Ok(strips) => (strips, None),
        Err(e) => (empty(), Some(e)),
    }
}

/// `GET /`.
pub fn status(ctx: &Ctx, request: &Request) -> Reply {
    let filter = match Filter::from_request(request) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let overview = status::overview(ctx, &filter);
    // Problems above the list on the unfiltered first page.
    let unfiltered = Filter {
        page: 1,
        per_page: filter.per_page,
        ..Filter::default()
    } == filter;
    let problems = if unfiltered && overview.counts.down > 0 {
        let down = Filter {
            state: Some(State::Down),
            per_page: PROBLEMS,
            ..Filter::default()
        };
        status::overview(ctx, &down).monitors
    } else {
        Vec::new()
    };
    // The page in groups (problems first within each: the model's order is kept).
    let mut list: Vec<&MonitorStatus> = overview.monitors.iter().collect();
    list.sort_by_key(|m| (m.group.is_none(), m.group.clone()));
    // Problems are a table without strips: only the list's strips are read, and for problems
    // why each went down.
    let mut problems: Vec<MonitorRow> =
        problems.iter().map(|m| row(m, Strips::default())).collect();
    let mut declared_error = None;
    if let (Some(path), false) = (&ctx.history, problems.is_empty()) {
        let configs: Vec<crate::config::Monitor> = problems
            .iter()
            .filter_map(|p| ctx.monitor(&p.id).map(|i| ctx.monitors()[i].clone()))
            .collect();
        let declared = store::ids_of(path, &configs).and_then(|ids| {
            let since = problems.iter().map(|p| p.since.unwrap_or(0));
            let pairs: Vec<(Option<i64>, i64)> = ids.into_iter().zip(since).collect();
            store::declared(path, &pairs)
        });
        match declared {
            Ok(why) => {
                for (p, why) in problems.iter_mut().zip(why) {
                    p.down_because = why;
                }
            }
            Err(e) => declared_error = Some(e),
        }
    }
    let (strips, strips_error) = strips(ctx, &list);
    let mut strips = strips.into_iter();
    let list: Vec<MonitorRow> = list
        .iter()
        .map(|m| row(m, strips.next().unwrap_or_default()))
        .collect();
    let removed = ctx.catalog.removed();
    let mut groups: Vec<String> = ctx
        .monitors()
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.get(*i).copied().unwrap_or(false))
        .filter_map(|(_, m)| super::ident::group(m).map(str::to_string))
        .collect();
    groups.sort();
    groups.dedup();
    let page = StatusPage {
        context: context(
            ctx,
            &overview.health,
            overview.generated,
            overview
                .history_error
                .clone()
                .or(strips_error)
                .or(declared_error),
        ),
        total: overview.counts.total,
        up: overview.counts.up,
        down: overview.counts.down,
        unknown: overview.counts.unknown,
        degraded: overview.counts.degraded,
        problems,
        filter: view::Filter {
            q: filter.q.clone().unwrap_or_default(),
            state: filter.state,
            group: filter.group.clone().unwrap_or_default(),
        },
        groups,
        matched: overview.matching,
        list,
        page: filter.page,
        pages: overview.pages,
    };
    Reply::html(status_page::render(&page))
}

/// `GET /monitors/{id}`.
pub fn monitor(ctx: &Ctx, _request: &Request, id: &str) -> Reply {
    let Some(index) = ctx.monitor(id) else {
        return Reply::unknown_monitor(id);
    };
    let detail = status::monitor(ctx, index);
    let generated = SystemTime::now();
    let now = ms(generated);
    let health = status::health(ctx);
    let (mut strips, strips_error) = strips(ctx, &[&detail.status]);
    let strips = strips.pop().unwrap_or_default();
    let chart =
        match &ctx.history {
            Some(path) => store::ids_of(path, std::slice::from_ref(&ctx.monitors()[index]))
                .and_then(|ids| match ids.first().copied().flatten() {
                    Some(db_id) => store::latency_cells(path, db_id, now),
                    None => Ok(Cells::default()),
                }),
            None => Ok(Cells::default()),
        };
    let (chart, chart_error) = match chart {
        Ok(c) => (c, None),
        Err(e) => (Cells::default(), Some(e)),
    };
    let mut checks: Vec<Check> = detail
        .recent
        .iter()
        .map(|c| Check {
            at: c.ts,
            outcome: match c.nature.as_str() {
                "local" => Outcome::LocalError,
                "inconclusive" => Outcome::Inconclusive,
                _ if c.reason.is_some() => Outcome::Down,
                _ => Outcome::Up,
            },
            status: c.status,
            latency_ms: Some(c.ms),
            reason: c.reason.clone(),
            detail: c.detail.clone(),
        })
        .collect();
    // Without a history (--no-db), what this run has seen: its last check.
    if checks.is_empty() {
        checks.extend(detail.status.last_check.as_ref().map(last_check));
    }
    let incidents = detail
        .incidents
        .iter()
        .map(|s| Incident {
            monitor: detail.status.id.clone(),
            start: s.start,
            end: s.end,
            stopped: s.ended_by == Some(State::Unknown),
            duration_s: s.duration_ms(now) as f64 / 1000.0,
            reason: s.reason.clone(),
            detail: s.detail.clone(),
        })
        .collect();
    let page = MonitorPage {
        context: context(
            ctx,
            &health,
            generated,
            detail
                .history_error
                .clone()
                .or(strips_error)
                .or(chart_error),
        ),
        monitor: row(&detail.status, strips),
        chart,
        checks,
        incidents,
    };
    Reply::html(monitor_page::render(&page))
}
