//! The three natures of a finished check: a verdict about the site, a local failure of
//! sitewatch itself, or inconclusive.
//!
//! Only a verdict (up, or down with a [`Reason`](super::Reason)) says something about the site:
//! it alone moves a monitor's state, sends notifications and counts in uptime. A check that
//! failed because sitewatch ran out of something ([`LocalKind`]) or that could not have measured
//! fairly ([`Cause`]) is shown and counted under its own name, and the monitor is simply checked
//! again on its next occurrence. Both sets are closed, with snake_case names used in lines,
//! JSON and the history database.

use serde::Serialize;

/// What a check's result is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    /// About the site: up or down with a reason.
    Verdict,
    /// sitewatch itself failed (no file descriptors, memory, ports or threads).
    Local,
    /// sitewatch could not have measured fairly (it was paused, or its network was down).
    Inconclusive,
}

impl Nature {
    /// `verdict`, `local` or `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::Verdict => "verdict",
            Nature::Local => "local",
            Nature::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for Nature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which resource of sitewatch's own ran out. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalKind {
    /// The process or the system is out of file descriptors (EMFILE, ENFILE).
    FileDescriptors,
    /// Out of memory (ENOMEM).
    Memory,
    /// No local address or ephemeral port is free for a new connection (EADDRNOTAVAIL).
    EphemeralPorts,
    /// A thread could not be started (EAGAIN from the thread limit).
    Threads,
    /// No ICMP socket could be opened for an `icmp://` check: unprivileged ICMP sockets are
    /// not allowed (`net.ipv4.ping_group_range`) and raw sockets need root or `CAP_NET_RAW`.
    IcmpSockets,
}

impl LocalKind {
    /// Every kind, in declaration order.
    pub const ALL: [LocalKind; 5] = [
        LocalKind::FileDescriptors,
        LocalKind::Memory,
        LocalKind::EphemeralPorts,
        LocalKind::Threads,
        LocalKind::IcmpSockets,
    ];

    /// The name used in lines, JSON and the database (`file_descriptors`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            LocalKind::FileDescriptors => "file_descriptors",
            LocalKind::Memory => "memory",
            LocalKind::EphemeralPorts => "ephemeral_ports",
            LocalKind::Threads => "threads",
            LocalKind::IcmpSockets => "icmp_sockets",
        }
    }

    /// What an operator can do about it, as a sentence.
    pub fn advice(self) -> &'static str {
        match self {
            LocalKind::FileDescriptors => {
                "raise the open-files limit (`ulimit -n`, or LimitNOFILE= in a systemd unit) \
                 or lower --workers"
            }
            LocalKind::Memory => "give sitewatch more memory or lower --workers",
            LocalKind::EphemeralPorts => {
                "widen net.ipv4.ip_local_port_range, or lower --workers or the check rate"
            }
            LocalKind::Threads => {
                "raise the thread limit (`ulimit -u`, TasksMax= in a systemd unit) or lower \
                 --workers"
            }
            LocalKind::IcmpSockets => {
                "allow sitewatch's group in net.ipv4.ping_group_range, or run it with \
                 CAP_NET_RAW"
            }
        }
    }
}

impl std::fmt::Display for LocalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a check could not have measured fairly. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// sitewatch was not running during the check (SIGSTOP, a suspended machine, a paused VM).
    Paused,
    /// Every connectivity canary was failing: sitewatch's own network was down.
    NetworkImpaired,
    /// The monitor was in a maintenance window (planned work: failures are expected).
    Maintenance,
    /// A monitor it depends on (`depends_on`) was down: the failure is the parent's.
    ParentDown,
}

impl Cause {
    /// Every cause, in declaration order.
    pub const ALL: [Cause; 4] = [
        Cause::Paused,
        Cause::NetworkImpaired,
        Cause::Maintenance,
        Cause::ParentDown,
    ];

    /// The name used in lines, JSON and the database (`paused`, `network_impaired`,
    /// `maintenance`, `parent_down`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Paused => "paused",
            Cause::NetworkImpaired => "network_impaired",
            Cause::Maintenance => "maintenance",
            Cause::ParentDown => "parent_down",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_and_match_serde() {
        for k in LocalKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
        }
        for c in Cause::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{c}\""));
        }
        assert_eq!(
            serde_json::to_string(&Nature::Inconclusive).unwrap(),
            "\"inconclusive\""
        );
    }
}
