//! `GET /healthz`: is sitewatch itself working? For a load balancer or a supervisor.
//!
//! `200 ok` when the scheduler is running and has woken when it said it would, and the
//! heartbeat is beating; `503` with the reason otherwise (plain text): the scheduler has
//! ended (the run is stopping), it is late by more than [`LATE`] (stuck or starved of CPU),
//! or the heartbeat has been silent for more than [`LATE`] (the process is stalled).
//!
//! A failed config reload is reported in the body of a `200`: `ok; reload failed at <time>:
//! <why>; still running the previous config`. Monitoring goes on (with the previous config), so
//! it is not a failure of sitewatch; and a supervisor restarting sitewatch on a `503` would
//! only meet the same invalid file at start-up.

use std::time::{Duration, Instant};

use super::{Ctx, Reply, Request};
use crate::stats::SchedulerWake;

/// How late the scheduler or the heartbeat may be before sitewatch is unhealthy.
pub const LATE: Duration = Duration::from_secs(5);

/// The health check.
pub fn healthz(ctx: &Ctx, _req: &Request) -> Reply {
    match problem(ctx, Instant::now()) {
        None => match ctx.reload.failed() {
            None => Reply::text(200, "ok"),
            Some((at, why)) => Reply::text(
                200,
                format!(
                    "ok; reload failed at {}: {why}; still running the previous config",
                    crate::output::timestamp(at)
                ),
            ),
        },
        Some(why) => Reply::text(503, why),
    }
}

fn problem(ctx: &Ctx, now: Instant) -> Option<String> {
    match ctx.stats.scheduler_wake() {
        SchedulerWake::Ended => return Some("scheduler stopped: the run is ending".into()),
        SchedulerWake::NotStarted if now.saturating_duration_since(ctx.started_at) > LATE => {
            return Some("scheduler not started".into())
        }
        SchedulerWake::By(by) if now.saturating_duration_since(by) > LATE => {
            return Some(format!(
                "scheduler late by {:.1} s (stuck or starved of CPU)",
                now.saturating_duration_since(by).as_secs_f64()
            ))
        }
        _ => {}
    }
    let silence = ctx.pauses.silence(now);
    if silence > LATE {
        return Some(format!(
            "stalled: the heartbeat has been silent for {:.1} s",
            silence.as_secs_f64()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selfwatch::pause::Pauses;
    use crate::stats::Stats;
    use std::sync::Arc;

    fn ctx(started_at: Instant) -> Ctx {
        let monitors = crate::config::Config::parse(r#"[{"url": "http://127.0.0.1:9/"}]"#)
            .unwrap()
            .monitors;
        Ctx::new(
            Arc::new(Stats::new(1, 1)),
            Arc::new(monitors),
            Arc::new(Pauses::new(started_at)),
            None,
            started_at,
        )
    }

    #[test]
    fn checks_per_minute_follow_the_last_minute() {
        let t0 = Instant::now();
        let c = ctx(t0);
        let obs = crate::probe::Observation {
            status: Some(200),
            bytes: Some(1),
            ttfb: None,
            phases: Default::default(),
            elapsed: Duration::from_millis(1),
            final_url: None,
            retry_after: None,
            redirects: Vec::new(),
            outcome: crate::probe::Outcome::Up,
            echoes: None,
            cert_expiry: None,
            degraded: None,
        };
        for _ in 0..30 {
            c.stats.record(0, &obs, Duration::ZERO);
        }
        assert_eq!(
            c.checks_per_minute(t0 + Duration::from_secs(30)),
            60.0,
            "over the run"
        );
        assert_eq!(c.checks_per_minute(t0 + Duration::from_secs(60)), 30.0);
        // A quiet minute after a busy one: the rate falls once a new minute is measured.
        assert_eq!(c.checks_per_minute(t0 + Duration::from_secs(90)), 30.0);
        assert_eq!(c.checks_per_minute(t0 + Duration::from_secs(120)), 0.0);
    }

    #[test]
    fn unhealthy_when_the_scheduler_is_late_or_ended() {
        let now = Instant::now();
        let c = ctx(now);
        assert_eq!(problem(&c, now), None, "starting up");
        assert!(problem(&c, now + LATE * 2).unwrap().contains("not started"));
        c.stats.set_scheduler_wake(now + Duration::from_secs(1));
        assert_eq!(problem(&c, now + Duration::from_secs(2)), None);
        let late = problem(&c, now + Duration::from_secs(1) + LATE * 2).unwrap();
        assert!(late.starts_with("scheduler late by"), "{late}");
        c.stats.set_scheduler_ended();
        assert!(problem(&c, now).unwrap().contains("stopped"));
        assert_eq!(
            healthz(
                &c,
                &Request::new(super::super::request::Method::Get, "/healthz")
            )
            .status,
            503
        );
    }
}
