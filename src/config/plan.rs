//! Planned work and dependencies in the config: the top-level `maintenance` list and each
//! monitor's `depends_on`.
//!
//! Both name monitors by id (and windows also by `group:NAME`, or `"all"`), so they are
//! resolved once every monitor has its id, into monitor indices: nothing downstream compares
//! strings. Guarantees: an unknown id or group is an error naming the window or the entry; a
//! window starts at an RFC 3339 time, lasts more than zero and repeats (`every`) no more often
//! than it lasts; `depends_on` has no cycle (an error names one monitor of it).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{parse_duration, shown, ConfigError, Ids, Monitor};

/// Which monitors a window covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Every monitor.
    All,
    /// These monitor indices, sorted, no duplicates.
    Some(Box<[u32]>),
}

impl Targets {
    /// Whether monitor `index` is covered.
    pub fn covers(&self, index: usize) -> bool {
        match self {
            Targets::All => true,
            Targets::Some(list) => {
                u32::try_from(index).is_ok_and(|i| list.binary_search(&i).is_ok())
            }
        }
    }
}

/// One maintenance window of the config, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Which monitors.
    pub targets: Targets,
    /// The selectors as written (`all`, ids, `group:NAME`), for lines and the history.
    pub selectors: String,
    /// First start, ms since the Unix epoch.
    pub start_ms: i64,
    /// Length, ms (> 0).
    pub duration_ms: i64,
    /// Repeats every this many ms (≥ the length), if it repeats.
    pub every_ms: Option<i64>,
    /// Why, as given.
    pub reason: Option<Arc<str>>,
}

impl Window {
    /// The occurrence `[start, end)` covering `now_ms`, if any.
    pub fn occurrence_at(&self, now_ms: i64) -> Option<(i64, i64)> {
        if now_ms < self.start_ms {
            return None;
        }
        let start = match self.every_ms {
            Some(every) => self.start_ms + (now_ms - self.start_ms) / every * every,
            None => self.start_ms,
        };
        let end = start.saturating_add(self.duration_ms);
        (now_ms < end).then_some((start, end))
    }
}

/// Every monitor's parents (`depends_on`), as indices; only monitors that have some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parents(Box<[(u32, Box<[u32]>)]>);

impl Parents {
    /// The parents of monitor `index` (empty for most).
    pub fn of(&self, index: usize) -> &[u32] {
        let Ok(index) = u32::try_from(index) else {
            return &[];
        };
        match self.0.binary_search_by_key(&index, |(m, _)| *m) {
            Ok(i) => &self.0[i].1,
            Err(_) => &[],
        }
    }

    /// Whether no monitor depends on another.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The config's planned work, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The `maintenance` windows, in file order.
    pub windows: Vec<Window>,
    /// Every monitor's `depends_on`.
    pub parents: Parents,
}

/// Validates an entry's `depends_on`: a list of monitor ids (resolved once every id is known).
pub(super) fn depends_on_value(value: &Value) -> Result<Vec<String>, String> {
    const HINT: &str = "a list of monitor ids such as [\"router\", \"db\"]";
    let Value::Array(items) = value else {
        return Err(format!("depends_on must be {HINT}, found {}", shown(value)));
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            other => Err(format!(
                "depends_on must be {HINT}; found {} in it",
                shown(other)
            )),
        })
        .collect()
}

/// Resolves the `maintenance` list and every `depends_on` against `monitors`.
pub(super) fn resolve(
    monitors: &[Monitor],
    maintenance: Option<Value>,
) -> Result<Plan, ConfigError> {
    let needs_index = maintenance.is_some() || monitors.iter().any(|m| m.depends_on().is_some());
    if !needs_index {
        return Ok(Plan::default());
    }
    let ids = Ids::new(monitors);
    let windows = match maintenance {
        None => Vec::new(),
        Some(value) => windows(monitors, &ids, value).map_err(ConfigError::Maintenance)?,
    };
    let parents = parents(monitors, &ids)?;
    Ok(Plan { windows, parents })
}

fn windows(monitors: &[Monitor], ids: &Ids, value: Value) -> Result<Vec<Window>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "must be a list of windows such as [{{\"monitors\": \"all\", \"start\": \
             \"2026-12-24T22:00:00Z\", \"duration\": \"2h\"}}], found {}",
            shown(&value)
        ));
    };
    let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, m) in monitors.iter().enumerate() {
        if let Some(g) = m.group() {
            groups.entry(g).or_default().push(i as u32);
        }
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            window(monitors, ids, &groups, item).map_err(|e| format!("window {}: {e}", i + 1))
        })
        .collect()
}

fn window(
    monitors: &[Monitor],
    ids: &Ids,
    groups: &HashMap<&str, Vec<u32>>,
    item: Value,
) -> Result<Window, String> {
    let Value::Object(mut o) = item else {
        return Err(format!("must be an object, found {}", shown(&item)));
    };
    for key in o.keys() {
        if !["monitors", "start", "duration", "every", "reason"].contains(&key.as_str()) {
            return Err(format!(
                "unknown key {key:?}; a window has \"monitors\", \"start\", \"duration\", \
                 \"every\" and \"reason\""
            ));
        }
    }
    let (targets, selectors) = match o.remove("monitors") {
        None => {
            return Err("missing \"monitors\" (a list of ids and group:NAME, or \"all\")".into())
        }
        Some(v) => targets(monitors, ids, groups, &v)?,
    };
    let start = match o.remove("start") {
        Some(Value::String(s)) => parse_rfc3339(s.trim()).ok_or_else(|| {
            format!("start {s:?} is not an RFC 3339 time such as \"2026-12-24T22:00:00Z\"")
        })?,
        Some(other) => {
            return Err(format!(
                "start must be an RFC 3339 time such as \"2026-12-24T22:00:00Z\", found {}",
                shown(&other)
            ))
        }
        None => return Err("missing \"start\" (an RFC 3339 time)".into()),
    };
    let duration = match o.remove("duration") {
        Some(v) => duration_ms("duration", &v)?,
        None => return Err("missing \"duration\" (such as \"2h\")".into()),
    };
    if duration <= 0 {
        return Err("duration must be more than zero".into());
    }
    let every = o
        .remove("every")
        .map(|v| duration_ms("every", &v))
        .transpose()?;
    if let Some(every) = every {
        if every < duration {
            return Err(format!(
                "every ({}) is shorter than duration ({}); windows would overlap",
                humantime::format_duration(std::time::Duration::from_millis(every as u64)),
                humantime::format_duration(std::time::Duration::from_millis(duration as u64))
            ));
        }
    }
    let reason = match o.remove("reason") {
        None => None,
        Some(Value::String(s)) => Some(Arc::from(crate::text::capped(&s, 200))),
        Some(other) => return Err(format!("reason must be a string, found {}", shown(&other))),
    };
    Ok(Window {
        targets,
        selectors,
        start_ms: start,
        duration_ms: duration,
        every_ms: every,
        reason,
    })
}

/// Milliseconds since the Unix epoch (negative before 1970).
pub fn epoch_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// An RFC 3339 time with an offset (`Z` or `±hh:mm`), as ms since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    // humantime reads only UTC (`Z`); an offset is applied by hand.
    let (base, offset_ms) = match s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        Some(base) => (base.to_owned(), 0),
        None => {
            let at = s.len().checked_sub(6)?;
            let (base, off) = s.split_at(at);
            let sign = match off.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = off[1..].split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            (base.to_owned(), sign * (h * 3600 + m * 60) * 1000)
        }
    };
    let t = humantime::parse_rfc3339(&format!("{base}Z")).ok()?;
    Some(epoch_ms(t) - offset_ms)
}

fn duration_ms(key: &str, value: &Value) -> Result<i64, String> {
    let d = match value {
        Value::String(s) => parse_duration(s).map_err(|e| format!("{key} {s:?}: {e}"))?,
        Value::Number(n) => std::time::Duration::from_secs(
            n.as_u64()
                .ok_or_else(|| format!("{key} must be a duration such as \"2h\", found {n}"))?,
        ),
        other => {
            return Err(format!(
                "{key} must be a duration such as \"2h\", found {}",
                shown(other)
            ))
        }
    };
    i64::try_from(d.as_millis()).map_err(|_| format!("{key} is too long"))
}

fn targets(
    monitors: &[Monitor],
    ids: &Ids,
    groups: &HashMap<&str, Vec<u32>>,
    value: &Value,
) -> Result<(Targets, String), String> {
    const HINT: &str = "\"all\", or a list of monitor ids and group:NAME";
    let items = match value {
        Value::String(s) if s == "all" => return Ok((Targets::All, "all".into())),
        Value::Array(items) if !items.is_empty() => items,
        other => return Err(format!("monitors must be {HINT}, found {}", shown(other))),
    };
    let mut list = Vec::new();
    let mut names = Vec::new();
    for item in items {
        let Value::String(s) = item else {
            return Err(format!(
                "monitors must be {HINT}; found {} in it",
                shown(item)
            ));
        };
        let s = s.trim();
        if let Some(group) = s.strip_prefix("group:") {
            match groups.get(group) {
                Some(members) => list.extend_from_slice(members),
                None => return Err(format!("no monitor is in group {group:?}")),
            }
        } else {
            match ids.find(monitors, s) {
                Some(i) => list.push(i as u32),
                None => return Err(format!("no monitor has the id {s:?}")),
            }
        }
        names.push(s.to_owned());
    }
    list.sort_unstable();
    list.dedup();
    Ok((Targets::Some(list.into()), names.join(" ")))
}

fn parents(monitors: &[Monitor], ids: &Ids) -> Result<Parents, ConfigError> {
    let mut out: Vec<(u32, Box<[u32]>)> = Vec::new();
    for (i, m) in monitors.iter().enumerate() {
        let Some(names) = m.depends_on() else {
            continue;
        };
        let mut list = Vec::with_capacity(names.len());
        for name in names {
            match ids.find(monitors, name) {
                // From `defaults`, the parent itself takes its own id: a monitor never
                // depends on itself.
                Some(p) if p == i => {}
                Some(p) => list.push(p as u32),
                None => {
                    return Err(entry_error(
                        i,
                        m,
                        format!("depends_on names {name:?}, which is no monitor's id"),
                    ))
                }
            }
        }
        list.sort_unstable();
        list.dedup();
        out.push((i as u32, list.into()));
    }
    let parents = Parents(out.into());
    // A cycle would silence its members for ever once one is down: refuse it. Iterative
    // depth-first search, each monitor visited once.
    let mut mark = vec![0u8; monitors.len()]; // 0 new, 1 on the path, 2 done
    for &(root, _) in parents.0.iter() {
        if mark[root as usize] != 0 {
            continue;
        }
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        mark[root as usize] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let children = parents.of(node as usize);
            if let Some(&p) = children.get(*next) {
                *next += 1;
                match mark[p as usize] {
                    0 => {
                        mark[p as usize] = 1;
                        stack.push((p, 0));
                    }
                    1 => {
                        let m = &monitors[p as usize];
                        return Err(entry_error(
                            p as usize,
                            m,
                            format!(
                                "depends_on forms a cycle through {:?}; a dependency must lead \
                                 to a monitor that depends on nothing",
                                m.id()
                            ),
                        ));
                    }
                    _ => {}
                }
            } else {
                mark[node as usize] = 2;
                stack.pop();
            }
        }
    }
    Ok(parents)
}

fn entry_error(index: usize, m: &Monitor, message: String) -> ConfigError {
    ConfigError::Entry {
        index,
        url: Some(m.url.to_string()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn rfc3339_takes_z_and_offsets() {
        let z = parse_rfc3339("2026-12-24T22:00:00Z").unwrap();
        assert_eq!(parse_rfc3339("2026-12-24T23:00:00+01:00"), Some(z));
        assert_eq!(parse_rfc3339("2026-12-24T17:30:00-04:30"), Some(z));
        assert_eq!(parse_rfc3339("2026-12-24 22:00"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }

    #[test]
    fn a_repeating_window_covers_each_occurrence_and_nothing_between() {
        let w = Window {
            targets: Targets::All,
            selectors: "all".into(),
            start_ms: 1_000,
            duration_ms: 100,
            every_ms: Some(1_000),
            reason: None,
        };
        assert_eq!(w.occurrence_at(999), None);
        assert_eq!(w.occurrence_at(1_000), Some((1_000, 1_100)));
        assert_eq!(w.occurrence_at(1_100), None);
        assert_eq!(w.occurrence_at(5_050), Some((5_000, 5_100)));
        let once = Window {
            every_ms: None,
            ..w
        };
        assert_eq!(once.occurrence_at(5_050), None);
    }

    #[test]
    fn groups_ids_and_defaults_resolve_to_indices() {
        let config = Config::parse(
            r#"{"defaults": {"depends_on": ["gw"]},
                "urls": [{"url": "http://127.0.0.1:9/gw", "name": "gw"},
                         {"url": "http://127.0.0.1:9/a", "name": "a", "group": "shop"},
                         {"url": "http://127.0.0.1:9/b", "name": "b", "group": "shop"}],
                "maintenance": [{"monitors": ["group:shop", "a"], "start": "2026-01-01T00:00:00Z",
                                 "duration": "1h", "every": "1d", "reason": "backup"}]}"#,
        )
        .unwrap();
        let w = &config.plan.windows[0];
        assert_eq!(w.targets, Targets::Some(vec![1, 2].into()));
        assert_eq!(w.selectors, "group:shop a");
        assert_eq!(w.every_ms, Some(86_400_000));
        // From defaults: the parent itself depends on nothing.
        assert_eq!(config.plan.parents.of(0), &[] as &[u32]);
        assert_eq!(config.plan.parents.of(2), &[0]);
    }
}
