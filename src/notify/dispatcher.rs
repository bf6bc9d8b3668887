//! The notifier thread: turns state changes into messages, per channel.
//!
//! [`Dispatcher`] is pure policy over time given to it (an `Instant` for windows and reminders,
//! the wall clock for the digest), so every rule below is unit-tested with synthetic time;
//! [`run`] is the thread that feeds it real time and state changes and hands its messages to
//! each channel's delivery thread with `try_send`.
//!
//! Per channel (each has its own settings and state):
//! - **Which events.** `unknown -> down` and `up -> down` are `down`; `down -> up` is
//!   `recovered`, with the downtime. `unknown -> up` (a monitor's first verdict) is not news.
//!   Into `degraded` from `up` or `unknown` is `degraded`, back to `up` is `cleared`: both
//!   only on channels that keep `degraded` on (the default). `down -> degraded` is a
//!   `recovered` (the site answers again) that says it is degraded.
//!   A glitch cleared by the monitor's retries never reaches here: the scheduler publishes no
//!   state change for it.
//! - **Grouping.** An event opens a window of `group_window` (10 s by default); everything that
//!   arrives until it closes goes out as one message when it closes: the single event as itself,
//!   several as one group ("20 monitors down: …"). The window is fixed from its first event, so a
//!   steady trickle cannot postpone a message indefinitely. Waiting before the first message, not
//!   only after it, is what makes a burst (the network dropped) one message rather than two.
//! - **Flapping.** When a monitor changes state more than `flap_threshold` times (4) within
//!   `flap_window` (10 min), one `flapping` alert goes out instead of the change, and the monitor
//!   is silent on that channel (no down, recovered or reminder) until it has gone `flap_window`
//!   without a change; then one `down` or `recovered` says where it settled.
//! - **Reminders.** With `remind_every`, a monitor still down gets a `reminder` every period
//!   after its `down`, until it recovers. Reminders go through the grouping window too.
//! - **Digest.** With `daily_digest`, at that local time the channel gets the last 24 hours of
//!   its monitors, from the [`DigestSource`] (this run's memory unless a history is plugged in).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, Receiver, Sender, TrySendError};

use super::config::{ChannelSpec, Channels};
use super::digest::{next_digest_at, DigestSource, DigestTime, MemoryHistory, DAY};
use super::{render, Alert, Kind, Notification, DELIVERY_BUFFER};
use crate::catalog::Catalog;
use crate::config::Monitor;
use crate::event::StateChange;
use crate::state::State;
use crate::stats::Stats;

/// Longest the thread sleeps without looking at the wall clock (for the digest).
const WALL_CHECK: Duration = Duration::from_secs(60);

/// What one channel remembers about one monitor.
#[derive(Debug, Default)]
struct Watch {
    /// Recent state changes (monotonic, wall), within the flapping window.
    changes: VecDeque<(Instant, SystemTime)>,
    flapping: bool,
    /// The latest change and when it arrived.
    last: Option<(Instant, StateChange)>,
    next_reminder: Option<Instant>,
}

/// One channel's policy and state.
struct Route {
    wants: Vec<bool>,
    group_window: Duration,
    remind_every: Option<Duration>,
    flap_threshold: u32,
    flap_window: Duration,
    /// Told about `degraded` and `cleared` (the channel's `degraded`).
    degraded: bool,
    digest: Option<DigestTime>,
    next_digest: Option<SystemTime>,
    pending: Vec<Alert>,
    window_end: Option<Instant>,
    watches: BTreeMap<usize, Watch>,
}

impl Route {
    fn push(&mut self, alert: Alert, now: Instant) {
        self.pending.push(alert);
        self.window_end.get_or_insert(now + self.group_window);
    }

    fn take_pending(&mut self) -> Option<Notification> {
        self.window_end = None;
        let mut pending = std::mem::take(&mut self.pending);
        match pending.len() {
            0 => None,
            1 => pending.pop().map(Notification::Alert),
            _ => Some(Notification::Group(pending)),
        }
    }
}

/// The notification policy of every channel.
pub struct Dispatcher {
    monitors: Arc<Vec<Monitor>>,
    routes: Vec<Route>,
    memory: MemoryHistory,
    source: Option<Box<dyn DigestSource>>,
    next_sample: SystemTime,
    /// Per monitor, when its current outage began (the `at` of its `down`).
    down_at: Vec<Option<SystemTime>>,
    /// The channels, to route the monitors a reload brings.
    specs: Vec<ChannelSpec>,
    /// Where a reload publishes the monitors; `None` in tests.
    catalog: Option<Arc<Catalog>>,
    /// Maintenance windows: no reminder for a monitor in one.
    quiet: Option<Arc<crate::maintenance::Planned>>,
}

impl Dispatcher {
    /// A dispatcher for `specs` (index = channel) over `monitors`, starting at `wall`.
    pub fn new(
        specs: &[ChannelSpec],
        monitors: Arc<Vec<Monitor>>,
        stats: Arc<Stats>,
        wall: SystemTime,
    ) -> Dispatcher {
        let routes = specs
            .iter()
            .map(|spec| Route {
                wants: monitors.iter().map(|m| Channels::wants(spec, m)).collect(),
                group_window: spec.group_window,
                remind_every: spec.remind_every,
                flap_threshold: spec.flap_threshold,
                flap_window: spec.flap_window,
                degraded: spec.degraded,
                digest: spec.daily_digest,
                next_digest: spec
                    .daily_digest
                    .map(|d| next_digest_at(wall, d.hour, d.minute, d.offset_s)),
                pending: Vec::new(),
                window_end: None,
                watches: BTreeMap::new(),
            })
            .collect();
        Dispatcher {
            memory: MemoryHistory::new(Arc::clone(&monitors), stats, wall),
            down_at: vec![None; monitors.len()],
            monitors,
            routes,
            source: None,
            next_sample: wall,
            specs: specs.to_vec(),
            catalog: None,
            quiet: None,
        }
    }

    /// Follows reloads: routes the monitors `catalog` holds whenever the list changes.
    pub fn with_catalog(mut self, catalog: Arc<Catalog>) -> Dispatcher {
        self.catalog = Some(catalog);
        self
    }

    /// Takes a reload's list: routes every monitor again (a changed one may have changed its
    /// `notify`), makes room for new ones; outages and reminders in progress are kept.
    fn adopt(&mut self) {
        let Some(current) = self.catalog.as_ref().map(|c| c.load()) else {
            return;
        };
        if Arc::ptr_eq(&current, &self.monitors) {
            return;
        }
        for (route, spec) in self.routes.iter_mut().zip(&self.specs) {
            route.wants = current.iter().map(|m| Channels::wants(spec, m)).collect();
        }
        self.down_at.resize(current.len(), None);
        self.memory.adopt(Arc::clone(&current));
        self.monitors = current;
    }

    /// Sends no reminder about a monitor while it is in a maintenance window of `planned`
    /// (its period goes on; the next one outside the window is sent).
    pub fn quiet_during(mut self, planned: Arc<crate::maintenance::Planned>) -> Dispatcher {
        self.quiet = Some(planned);
        self
    }

    /// Takes digests from `source` (say, the history database) instead of this run's memory.
    pub fn with_source(mut self, source: Box<dyn DigestSource>) -> Dispatcher {
        self.source = Some(source);
        self
    }

    fn alert(&self, kind: Kind, c: &StateChange) -> Alert {
        let m = &self.monitors[c.monitor];
        // The outage began at its `down`'s time, to the millisecond the `down` said.
        let since = match c.to {
            State::Down => c.at,
            _ => self.down_at[c.monitor].unwrap_or(c.since),
        };
        Alert {
            kind,
            url: m.url.to_string(),
            id: m.id().to_owned(),
            name: m.name.as_deref().map(str::to_owned),
            group: m.group().map(str::to_owned),
            from: c.from,
            to: c.to,
            at: c.at,
            since,
            down_for: (!matches!(kind, Kind::Degraded | Kind::Cleared))
                .then(|| c.at.duration_since(since).unwrap_or_default()),
            attempts: c.attempts,
            reason: c.reason,
            status: c.status,
            detail: c.detail.clone(),
            changes: None,
            flap_window: None,
            after_flapping: false,
        }
    }

    /// Takes a state change that arrived at `now`.
    pub fn on_change(&mut self, c: &StateChange, now: Instant) {
        self.adopt();
        if c.monitor >= self.down_at.len() {
            return; // not in any list this dispatcher was given (tests)
        }
        self.memory.record(c);
        if c.from == State::Unknown && c.to == State::Up {
            return;
        }
        if c.to == State::Unknown {
            // Removed by a reload: monitoring stopped, which is no recovery.
            self.down_at[c.monitor] = None;
            return;
        }
        let kind = match (c.from, c.to) {
            (_, State::Down) => Kind::Down,
            (State::Down, _) => Kind::Recovered,
            (_, State::Degraded) => Kind::Degraded,
            _ => Kind::Cleared,
        };
        let degraded_only = matches!(kind, Kind::Degraded | Kind::Cleared);
        let normal = self.alert(kind, c);
        self.down_at[c.monitor] = (c.to == State::Down).then_some(c.at);
        for route in &mut self.routes {
            if !route.wants[c.monitor] || (degraded_only && !route.degraded) {
                continue;
            }
            let window = route.flap_window;
            let w = route.watches.entry(c.monitor).or_default();
            w.last = Some((now, c.clone()));
            w.next_reminder = None;
            if route.flap_threshold > 0 {
                w.changes.push_back((now, c.at));
                while w
                    .changes
                    .front()
                    .is_some_and(|(t, _)| now.saturating_duration_since(*t) > window)
                {
                    w.changes.pop_front();
                }
            }
            if w.flapping {
                continue;
            }
            if route.flap_threshold > 0 && w.changes.len() > route.flap_threshold as usize {
                w.flapping = true;
                let alert = Alert {
                    kind: Kind::Flapping,
                    since: w.changes.front().map_or(c.at, |(_, wall)| *wall),
                    down_for: None,
                    changes: Some(w.changes.len() as u32),
                    flap_window: Some(window),
                    ..normal.clone()
                };
                route.push(alert, now);
                continue;
            }
            if c.to == State::Down {
                w.next_reminder = route.remind_every.map(|r| now + r);
            }
            route.push(normal.clone(), now);
        }
    }

    /// Everything due at `now` / `wall`: closed grouping windows, reminders, the end of
    /// flapping, digests. Returns (channel index, message) pairs.
    pub fn poll(&mut self, now: Instant, wall: SystemTime) -> Vec<(usize, Notification)> {
        self.next_sample = self.memory.sample(wall);
        let mut out = Vec::new();
        let quiet = self.quiet.clone();
        let wall_ms = crate::store::epoch_ms(wall);
        for i in 0..self.routes.len() {
            let mut due = Vec::new();
            let route = &mut self.routes[i];
            for (&monitor, w) in route.watches.iter_mut() {
                let Some((last_at, last)) = &w.last else {
                    continue;
                };
                if w.flapping && now.saturating_duration_since(*last_at) >= route.flap_window {
                    w.flapping = false;
                    w.changes.clear();
                    let down = last.to == State::Down;
                    if down {
                        w.next_reminder = route.remind_every.map(|r| now + r);
                    }
                    due.push((monitor, last.clone(), Some(route.flap_window)));
                }
                if let Some(t) = w.next_reminder.filter(|t| now >= *t && !w.flapping) {
                    let every = route.remind_every.unwrap_or(DAY);
                    let mut next = t + every;
                    while next <= now {
                        next += every;
                    }
                    w.next_reminder = Some(next);
                    let planned = quiet
                        .as_ref()
                        .is_some_and(|q| q.in_window(monitor, wall_ms).is_some());
                    if !planned {
                        due.push((monitor, last.clone(), None));
                    }
                }
            }
            for (_, last, after_flapping) in due {
                let alert = match after_flapping {
                    Some(window) => self.settled(&last, window, wall),
                    None => self.reminder(&last, wall),
                };
                self.routes[i].push(alert, now);
            }
            let route = &mut self.routes[i];
            if route.window_end.is_some_and(|end| now >= end) {
                out.extend(route.take_pending().map(|n| (i, n)));
            }
            if let (Some(at), Some(time)) = (route.next_digest, route.digest) {
                if wall >= at {
                    route.next_digest =
                        Some(next_digest_at(wall, time.hour, time.minute, time.offset_s));
                    match self.digest(i, wall, time.offset_s) {
                        Ok(d) => out.push((i, d)),
                        Err(e) => log::warn!("daily digest could not be made: {e}"),
                    }
                }
            }
        }
        out
    }

    fn reminder(&self, last: &StateChange, wall: SystemTime) -> Alert {
        Alert {
            kind: Kind::Reminder,
            from: State::Down,
            at: wall,
            down_for: Some(wall.duration_since(last.at).unwrap_or_default()),
            ..self.alert(Kind::Down, last)
        }
    }

    /// The alert that says where a flapping monitor settled.
    fn settled(&self, last: &StateChange, window: Duration, wall: SystemTime) -> Alert {
        let down = last.to == State::Down;
        let kind = match last.to {
            State::Down => Kind::Down,
            State::Degraded => Kind::Degraded,
            _ => Kind::Recovered,
        };
        let base = self.alert(kind, last);
        Alert {
            at: wall,
            down_for: if down {
                Some(wall.duration_since(last.at).unwrap_or_default())
            } else {
                base.down_for
            },
            flap_window: Some(window),
            after_flapping: true,
            ..base
        }
    }

    fn digest(
        &self,
        route: usize,
        wall: SystemTime,
        offset_s: i32,
    ) -> Result<Notification, String> {
        let source: &dyn DigestSource = match &self.source {
            Some(s) => s.as_ref(),
            None => &self.memory,
        };
        let from = wall.checked_sub(DAY).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut d = source.digest(from, wall)?;
        let wants = &self.routes[route].wants;
        d.monitors
            .retain(|m| wants.get(m.monitor).copied().unwrap_or(false));
        d.offset_s = offset_s;
        Ok(Notification::Digest(d))
    }

    /// What is still waiting for its grouping window, to be sent now (at shutdown).
    pub fn flush(&mut self) -> Vec<(usize, Notification)> {
        let mut out = Vec::new();
        for (i, route) in self.routes.iter_mut().enumerate() {
            out.extend(route.take_pending().map(|n| (i, n)));
        }
        out
    }

    /// When [`poll`](Self::poll) next has work, at the latest a minute from `now`.
    pub fn next_wake(&self, now: Instant, wall: SystemTime) -> Instant {
        let by_wall = |t: SystemTime| now + t.duration_since(wall).unwrap_or_default();
        let mut wake = now + WALL_CHECK;
        wake = wake.min(by_wall(self.next_sample));
        for route in &self.routes {
            wake = route.window_end.map_or(wake, |t| wake.min(t));
            wake = route.next_digest.map_or(wake, |t| wake.min(by_wall(t)));
            for w in route.watches.values() {
                if w.flapping {
                    if let Some((at, _)) = &w.last {
                        wake = wake.min(*at + route.flap_window);
                    }
                } else if let Some(t) = w.next_reminder {
                    wake = wake.min(t);
                }
            }
        }
        wake
    }
}

/// Where the dispatcher's messages go: each channel's delivery queue.
pub struct Outlets {
    /// One bounded queue per channel (index = channel).
    pub queues: Vec<Sender<Notification>>,
    /// Channel names, for log lines.
    pub names: Vec<String>,
    /// Where losses are counted.
    pub stats: Arc<Stats>,
    /// Messages queued or being delivered.
    pub in_delivery: Arc<AtomicUsize>,
}

impl Outlets {
    fn hand(&self, channel: usize, n: Notification) {
        self.in_delivery.fetch_add(1, Ordering::SeqCst);
        let why = match self.queues[channel].try_send(n) {
            Ok(()) => return,
            Err(TrySendError::Full(n)) => (
                n,
                format!(
                    "{DELIVERY_BUFFER} messages are already waiting (the endpoint is slow or down)"
                ),
            ),
            Err(TrySendError::Disconnected(n)) => (n, "its delivery thread has ended".into()),
        };
        self.in_delivery.fetch_sub(1, Ordering::SeqCst);
        log::warn!(
            "notification lost: {} ({}): {}: {}",
            self.names[channel],
            why.0.event(),
            render::title(&why.0),
            why.1
        );
        self.stats.add_lost_notifications(1);
    }
}

/// The notifier thread's body: until every sender of `events` is gone, then sends what is
/// pending at once and returns (dropping the delivery queues, which ends their threads).
pub fn run(mut dispatcher: Dispatcher, events: Receiver<StateChange>, outlets: Outlets) {
    loop {
        let now = Instant::now();
        let wall = SystemTime::now();
        for (channel, n) in dispatcher.poll(now, wall) {
            outlets.hand(channel, n);
        }
        let wait = dispatcher
            .next_wake(now, wall)
            .saturating_duration_since(Instant::now());
        select! {
            recv(events) -> change => match change {
                Ok(c) => {
                    let now = Instant::now();
                    dispatcher.on_change(&c, now);
                    for c in events.try_iter() {
                        dispatcher.on_change(&c, now);
                    }
                }
                Err(_) => break,
            },
            default(wait) => {}
        }
    }
    for (channel, n) in dispatcher.flush() {
        outlets.hand(channel, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::Reason;
    use serde_json::{json, Value};

    const T0: u64 = 1_795_424_400; // 2026-11-23T09:00:00Z

    struct Sim {
        d: Dispatcher,
        start: Instant,
        wall0: SystemTime,
        state: Vec<State>,
        since: Vec<SystemTime>,
        planned: VecDeque<(u64, usize, State)>,
    }

    impl Sim {
        /// `channels`: the notify list; `urls`: the entries.
        fn new(channels: Value, urls: Value) -> Sim {
            let text = json!({"urls": urls, "notify": channels}).to_string();
            let config = Config::parse(&text).unwrap();
            let (monitors, specs) = (config.monitors, config.notify);
            let n = monitors.len();
            let stats = Arc::new(Stats::new(n, 1));
            let start = Instant::now();
            let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(T0);
            Sim {
                d: Dispatcher::new(&specs.specs, monitors.into(), stats, wall0),
                start,
                wall0,
                state: vec![State::Unknown; n],
                since: vec![wall0; n],
                planned: VecDeque::new(),
            }
        }

        fn at(&self, ms: u64) -> (Instant, SystemTime) {
            let d = Duration::from_millis(ms);
            (self.start + d, self.wall0 + d)
        }

        fn change(&mut self, ms: u64, monitor: usize, to: State) {
            let (now, wall) = self.at(ms);
            let c = StateChange {
                monitor,
                at: wall,
                from: self.state[monitor],
                to,
                since: self.since[monitor],
                attempts: if to == State::Down { 3 } else { 0 },
                reason: (to == State::Down).then_some(Reason::Connect),
                status: None,
                detail: (to == State::Down).then(|| "connection refused".into()),
            };
            self.state[monitor] = to;
            self.since[monitor] = wall;
            self.d.on_change(&c, now);
        }

        /// A change that [`run`](Self::run) applies at `ms`, before polling.
        fn plan(&mut self, ms: u64, monitor: usize, to: State) {
            self.planned.push_back((ms, monitor, to));
        }

        fn poll(&mut self, ms: u64) -> Vec<(usize, Notification)> {
            let (now, wall) = self.at(ms);
            self.d.poll(now, wall)
        }

        /// Polls every 100 ms from `from` to `to` (inclusive) and returns (ms, channel, message).
        fn run(&mut self, from: u64, to: u64) -> Vec<(u64, usize, Notification)> {
            let mut out = Vec::new();
            let mut t = from;
            while t <= to {
                while self.planned.front().is_some_and(|p| p.0 <= t) {
                    let (ms, monitor, state) = self.planned.pop_front().unwrap();
                    self.change(ms, monitor, state);
                }
                out.extend(self.poll(t).into_iter().map(|(c, n)| (t, c, n)));
                t += 100;
            }
            out
        }
    }

    fn hook(extra: Value) -> Value {
        let mut v = json!({"type": "webhook", "name": "a", "url": "http://127.0.0.1:9/",
                           "group_window": "1s"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    fn urls(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"url": format!("http://127.0.0.1:9/{i}"), "name": format!("m{i}")}))
                .collect(),
        )
    }

    fn kinds(out: &[(u64, usize, Notification)]) -> Vec<(u64, &'static str)> {
        out.iter().map(|(t, _, n)| (*t, n.event())).collect()
    }

    #[test]
    fn degraded_and_cleared_go_out_once_each_unless_the_channel_opts_out() {
        let quiet = json!({"name": "quiet", "degraded": false});
        let mut s = Sim::new(json!([hook(json!({})), hook(quiet)]), urls(1));
        s.plan(0, 0, State::Degraded);
        s.plan(5000, 0, State::Up);
        s.plan(10_000, 0, State::Down);
        s.plan(15_000, 0, State::Degraded);
        let out = s.run(0, 20_000);
        let on = |channel: usize| -> Vec<(u64, &'static str)> {
            out.iter()
                .filter(|(_, c, _)| *c == channel)
                .map(|(t, _, n)| (*t, n.event()))
                .collect()
        };
        assert_eq!(
            on(0),
            vec![
                (1000, "degraded"),
                (6000, "cleared"),
                (11_000, "down"),
                (16_000, "recovered")
            ]
        );
        assert_eq!(on(1), vec![(11_000, "down"), (16_000, "recovered")]);
        let line = |t: u64| {
            let (_, _, Notification::Alert(a)) = out.iter().find(|o| o.0 == t).unwrap() else {
                panic!()
            };
            render::alert_line(a)
        };
        assert!(line(6000).starts_with("UP m0 (http://127.0.0.1:9/0): no longer degraded after 5s"));
        assert!(
            line(16_000).contains("answering again after 5s down, but degraded"),
            "{}",
            line(16_000)
        );
    }

    #[test]
    fn first_up_is_silent_and_a_down_goes_out_when_its_window_closes() {
        let mut s = Sim::new(json!([hook(json!({}))]), urls(2));
        s.change(0, 0, State::Up);
        s.change(0, 1, State::Down);
        let out = s.run(0, 3000);
        assert_eq!(kinds(&out), vec![(1000, "down")]);
        let Notification::Alert(a) = &out[0].2 else {
            panic!()
        };
        assert_eq!(
            (a.url.as_str(), a.from, a.to),
            ("http://127.0.0.1:9/1", State::Unknown, State::Down)
        );
        assert_eq!(a.reason, Some(Reason::Connect));
    }

    #[test]
    fn down_then_up_gives_one_down_and_one_recovered_with_its_downtime() {
        let mut s = Sim::new(json!([hook(json!({}))]), urls(1));
        s.plan(0, 0, State::Up);
        s.plan(5000, 0, State::Down);
        s.plan(65_000, 0, State::Up);
        let out = s.run(0, 70_000);
        assert_eq!(kinds(&out), vec![(6000, "down"), (66_000, "recovered")]);
        let Notification::Alert(r) = &out[1].2 else {
            panic!()
        };
        assert_eq!(r.down_for, Some(Duration::from_secs(60)));
        assert_eq!(r.since, s.wall0 + Duration::from_secs(5));
    }

    #[test]
    fn a_burst_within_the_window_is_one_group_per_channel() {
        let channels = json!([
            hook(json!({})),
            hook(json!({"name": "b", "group_window": "2s"}))
        ]);
        let mut s = Sim::new(channels, urls(20));
        for m in 0..20 {
            s.plan(10 * m as u64, m, State::Down);
        }
        // After the first window closes, a new event opens a new window.
        s.plan(1500, 0, State::Up);
        let out = s.run(0, 5000);
        let got: Vec<(u64, usize, &str)> =
            out.iter().map(|(t, c, n)| (*t, *c, n.event())).collect();
        assert_eq!(
            got,
            vec![
                (1000, 0, "group"),
                (2000, 1, "group"),
                (2500, 0, "recovered")
            ]
        );
        let Notification::Group(alerts) = &out[0].2 else {
            panic!()
        };
        assert_eq!(alerts.len(), 20);
        assert!(alerts.iter().all(|a| a.kind == Kind::Down));
        assert_eq!(render::title(&out[0].2), "20 monitors down");
        // Channel b's window held the recovery too.
        let Notification::Group(b) = &out[1].2 else {
            panic!()
        };
        assert_eq!(b.len(), 21);
    }

    #[test]
    fn monitors_go_only_to_the_channels_they_name() {
        let channels = json!([hook(json!({})), hook(json!({"name": "b"}))]);
        let urls = json!([{"url": "http://127.0.0.1:9/x", "notify": ["a"]}]);
        let mut s = Sim::new(channels, urls);
        s.change(0, 0, State::Down);
        let out = s.run(0, 2000);
        let channels: Vec<usize> = out.iter().map(|(_, c, _)| *c).collect();
        assert_eq!(channels, vec![0]);
    }

    #[test]
    fn no_reminder_while_the_monitor_is_in_a_maintenance_window() {
        // T0 + 90 s for 60 s: the reminder at 120 s falls in it, the one at 60 s and 180 s not.
        let text = json!({
            "urls": urls(1),
            "notify": [hook(json!({"remind_every": "1m", "group_window": "0s"}))],
            "maintenance": [{"monitors": "all", "start": "2026-11-23T09:01:30Z",
                             "duration": "60s"}],
        })
        .to_string();
        let config = Config::parse(&text).unwrap();
        let planned = Arc::new(crate::maintenance::Planned::new(config.plan));
        let mut s = Sim::new(
            json!([hook(json!({"remind_every": "1m", "group_window": "0s"}))]),
            urls(1),
        );
        s.d = std::mem::replace(
            &mut s.d,
            Dispatcher::new(
                &[],
                Arc::new(Vec::new()),
                Arc::new(Stats::new(0, 1)),
                s.wall0,
            ),
        )
        .quiet_during(planned);
        s.plan(0, 0, State::Down);
        let out = s.run(0, 200_000);
        assert_eq!(
            kinds(&out),
            vec![(0, "down"), (60_000, "reminder"), (180_000, "reminder")]
        );
    }

    #[test]
    fn reminders_come_every_period_while_down_and_stop_on_recovery() {
        let mut s = Sim::new(
            json!([hook(json!({"remind_every": "1m", "group_window": "0s"}))]),
            urls(1),
        );
        s.plan(0, 0, State::Down);
        s.plan(150_000, 0, State::Up);
        let out = s.run(0, 300_000);
        assert_eq!(
            kinds(&out),
            vec![
                (0, "down"),
                (60_000, "reminder"),
                (120_000, "reminder"),
                (150_000, "recovered")
            ]
        );
        let Notification::Alert(r) = &out[2].2 else {
            panic!()
        };
        assert_eq!(r.down_for, Some(Duration::from_secs(120)));
        assert_eq!((r.from, r.to), (State::Down, State::Down));
        assert_eq!(r.since, s.wall0);
        assert_eq!(r.reason, Some(Reason::Connect));
    }

    #[test]
    fn no_reminders_by_default() {
        let mut s = Sim::new(json!([hook(json!({"group_window": "0s"}))]), urls(1));
        s.change(0, 0, State::Down);
        assert_eq!(kinds(&s.run(0, 600_000)), vec![(0, "down")]);
    }

    #[test]
    fn flapping_is_reported_once_then_silence_until_stable() {
        let mut s = Sim::new(
            json!([hook(json!({"group_window": "0s", "remind_every": "1m"}))]),
            urls(1),
        );
        s.change(0, 0, State::Up);
        // Ten changes, 10 s apart: the first four are alerts, the fifth is `flapping`.
        let mut t = 0;
        for k in 0..10 {
            t = 10_000 * (k + 1);
            s.change(t, 0, if k % 2 == 0 { State::Down } else { State::Up });
            let out = s.poll(t);
            let expected: &[&str] = match k {
                0 | 2 => &["down"],
                1 | 3 => &["recovered"],
                4 => &["flapping"],
                _ => &[],
            };
            let got: Vec<&str> = out.iter().map(|(_, n)| n.event()).collect();
            assert_eq!(got, expected, "change {k}");
        }
        // The last change was to up at t; ten minutes later it is reported as settled.
        let out = s.run(t + 100, t + 700_000);
        assert_eq!(kinds(&out), vec![(t + 600_000, "recovered")]);
        let Notification::Alert(a) = &out[0].2 else {
            panic!()
        };
        assert!(a.after_flapping);
        assert!(
            render::alert_line(a).contains("stable again after flapping"),
            "{a:?}"
        );
    }

    #[test]
    fn flapping_alert_counts_the_changes_in_its_window() {
        let mut s = Sim::new(
            json!([hook(
                json!({"group_window": "0s", "flap_threshold": 2, "flap_window": "1m"})
            )]),
            urls(1),
        );
        // Slow changes (more than a window apart) never count as flapping.
        for k in 0..4u64 {
            s.plan(
                k * 70_000,
                0,
                if k % 2 == 0 { State::Down } else { State::Up },
            );
        }
        // Then three within a minute: more than 2.
        s.plan(290_000, 0, State::Down);
        s.plan(295_000, 0, State::Up);
        s.plan(300_000, 0, State::Down);
        let out = s.run(0, 300_000);
        let events: Vec<&str> = out.iter().map(|(_, _, n)| n.event()).collect();
        assert_eq!(
            events,
            [
                "down",
                "recovered",
                "down",
                "recovered",
                "down",
                "recovered",
                "flapping"
            ]
        );
        let Notification::Alert(a) = &out[6].2 else {
            panic!()
        };
        assert_eq!(a.changes, Some(3));
        assert_eq!(a.to, State::Down);
    }

    #[test]
    fn digest_goes_out_at_its_local_time_every_day() {
        // Digest at 10:30 at +01:00 = 09:30 UTC; the simulation starts at 09:00 UTC.
        let mut s = Sim::new(
            json!([
                hook(json!({"daily_digest": "10:30", "utc_offset": "+01:00"})),
                hook(json!({"name": "b"}))
            ]),
            urls(2),
        );
        s.change(0, 1, State::Down);
        let early = s.poll(29 * 60_000 + 59_000);
        assert!(early.iter().all(|(_, n)| n.event() != "digest"));
        let out = s.poll(30 * 60_000);
        let digests: Vec<&(usize, Notification)> =
            out.iter().filter(|(_, n)| n.event() == "digest").collect();
        assert_eq!(digests.len(), 1);
        assert_eq!(digests[0].0, 0, "only the channel that asked");
        let Notification::Digest(d) = &digests[0].1 else {
            panic!()
        };
        assert_eq!(d.offset_s, 3600);
        assert_eq!(d.monitors.len(), 2);
        assert_eq!(d.monitors[1].incidents.len(), 1);
        assert!(d.monitors[1].down_now);
        // Next one a day later, not before.
        assert!(s
            .poll(30 * 60_000 + 1000)
            .iter()
            .all(|(_, n)| n.event() != "digest"));
        let next = s.d.routes[0].next_digest.unwrap();
        assert_eq!(next, s.wall0 + Duration::from_secs(30 * 60) + DAY);
    }

    #[test]
    fn flush_sends_what_waits_for_its_window() {
        let mut s = Sim::new(json!([hook(json!({"group_window": "10m"}))]), urls(2));
        s.change(0, 0, State::Down);
        s.change(0, 1, State::Down);
        assert!(s.poll(1000).is_empty());
        let out = s.d.flush();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.event(), "group");
        assert!(s.d.flush().is_empty());
    }

    #[test]
    fn next_wake_is_the_earliest_deadline() {
        let mut s = Sim::new(json!([hook(json!({"remind_every": "5s"}))]), urls(1));
        let (now, wall) = s.at(0);
        s.poll(0);
        assert_eq!(s.d.next_wake(now, wall), now + WALL_CHECK);
        s.change(0, 0, State::Down);
        assert_eq!(s.d.next_wake(now, wall), now + Duration::from_secs(1));
        s.run(0, 1000);
        let (now, wall) = s.at(1000);
        assert_eq!(s.d.next_wake(now, wall), s.start + Duration::from_secs(5));
    }
}
