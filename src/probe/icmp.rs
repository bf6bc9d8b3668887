//! `icmp://host` checks: `count` ICMP echo requests, up when at least one is answered.
//!
//! Sockets: an unprivileged ICMP datagram socket (`SOCK_DGRAM` + `IPPROTO_ICMP`) where the
//! system allows it (its group within `net.ipv4.ping_group_range`), else a raw socket (root or
//! `CAP_NET_RAW`). [`usable`] says at config time whether either works, naming the sysctl when
//! neither does. Both come from `socket2` and are used through `std::net::UdpSocket`, whose
//! `send_to`/`recv` are plain `sendto`/`recv` on any datagram or raw socket: no `unsafe`.
//!
//! Guarantees:
//! - the echo requests go one after the other, the next as soon as the previous is answered
//!   or its share of the time left has passed, so the whole check ends by its deadline;
//! - a reply is ours only when its sequence number is one this check sent and its payload
//!   carries this check's token (on a datagram socket the kernel rewrites the identifier, so
//!   only the raw socket also compares it); everything else arriving (our own requests seen on
//!   a raw socket to loopback, other programs' replies) is skipped, at most [`MAX_FOREIGN`]
//!   packets per check;
//! - up when at least one reply came; the check's latency is then the average round trip of
//!   the replies, and [`super::Echoes`] says how many were sent and received (the loss). No
//!   reply at all is down with reason `timeout`; an unreachable host (an ICMP error) `connect`;
//!   a name that does not resolve `dns`; no usable socket is sitewatch's own failure
//!   (`icmp_sockets`), not a verdict.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

use super::classify::local_kind;
use super::dns::{resolve, Lookup};
use super::{Echoes, LocalKind, Observation, Outcome, Reason};
use crate::model::target::IcmpTarget;

/// Bytes of payload after the 8-byte ICMP header: a 16-byte token, padded as `ping` does.
const PAYLOAD: usize = 32;
/// Packets not ours that one check reads past before giving up on the rest of its wait.
pub const MAX_FOREIGN: usize = 10_000;
/// Where the sysctl that allows unprivileged ICMP sockets is read.
const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

/// Which socket an echo goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_DGRAM` + `IPPROTO_ICMP`: unprivileged, the kernel owns the identifier.
    Datagram,
    /// `SOCK_RAW`: root or `CAP_NET_RAW`; replies to IPv4 come with their IP header.
    Raw,
}

/// Opens an ICMP socket for `ip`'s family: datagram if allowed, else raw. The error holds both
/// refusals.
fn open(ip: IpAddr) -> Result<(UdpSocket, SocketKind), (io::Error, io::Error)> {
    let (domain, protocol) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let datagram = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => return Ok((s.into(), SocketKind::Datagram)),
        Err(e) => e,
    };
    match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(s) => Ok((s.into(), SocketKind::Raw)),
        Err(raw) => Err((datagram, raw)),
    }
}

/// Whether this process can send ICMP echoes to IPv4 hosts (the config's check for every
/// `icmp://` monitor): the socket kind it will use, or a message naming the sysctl to change.
pub fn usable() -> Result<SocketKind, String> {
    match open(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)) {
        Ok((_, kind)) => Ok(kind),
        Err((datagram, raw)) => Err(unusable_message(
            &datagram,
            &raw,
            std::fs::read_to_string(PING_GROUP_RANGE).ok().as_deref(),
        )),
    }
}

/// The config error when neither socket kind opens.
fn unusable_message(datagram: &io::Error, raw: &io::Error, range: Option<&str>) -> String {
    let range = range.map_or("unreadable".to_owned(), |r| format!("{:?}", r.trim()));
    format!(
        "this system allows neither kind of ICMP socket an icmp:// monitor needs: unprivileged \
         ICMP sockets ({datagram}; sysctl net.ipv4.ping_group_range is {range}, allow sitewatch's \
         group with e.g. sysctl -w net.ipv4.ping_group_range=\"0 2147483647\") nor raw sockets \
         ({raw}; they need root or CAP_NET_RAW)"
    )
}

/// Distinguishes the echoes of concurrent checks in one process.
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(0);

/// Checks `icmp://` targets.
#[derive(Debug, Clone)]
pub struct IcmpProbe {
    lookup: Lookup,
}

impl IcmpProbe {
    pub(crate) fn from_lookup(lookup: Lookup) -> IcmpProbe {
        IcmpProbe { lookup }
    }

    /// Pings `target` once (`count` echoes) before `deadline` (`timeout` is the check's, for
    /// messages).
    pub fn check(&self, target: &IcmpTarget, deadline: Instant, timeout: Duration) -> Observation {
        let started = Instant::now();
        let addr = match resolve(&self.lookup, &target.host, 0, deadline, timeout) {
            Ok(addrs) => addrs[0],
            Err(outcome) => return Observation::without_response(started.elapsed(), outcome),
        };
        let (socket, kind) = match open(addr.ip()) {
            Ok(s) => s,
            Err((datagram, raw)) => {
                let outcome = match local_kind(&datagram).or(local_kind(&raw)) {
                    Some(kind) => Outcome::Local {
                        kind,
                        detail: raw.to_string(),
                    },
                    None => Outcome::Local {
                        kind: LocalKind::IcmpSockets,
                        detail: unusable_message(&datagram, &raw, None),
                    },
                };
                return Observation::without_response(started.elapsed(), outcome);
            }
        };
        let mut ping = Ping {
            socket,
            kind,
            to: addr,
            token: token(),
            id: (std::process::id() as u16) ^ (NEXT_TOKEN.load(Ordering::Relaxed) as u16),
            sent: Vec::new(),
            rtts: Vec::new(),
            received: 0,
            unreachable: None,
        };
        let count = target.count.max(1);
        let failure = ping.run(count, deadline);
        let echoes = Echoes {
            sent: ping.sent.len() as u32,
            received: ping.received,
        };
        let outcome = match failure {
            Some(outcome) if ping.received == 0 => outcome,
            _ if ping.received > 0 => Outcome::Up,
            _ => match &ping.unreachable {
                Some(why) => Outcome::down(
                    Reason::Connect,
                    format!("cannot reach host: {why} ({})", echoes.summary()),
                ),
                None => Outcome::down(
                    Reason::Timeout,
                    format!(
                        "no echo reply within {} ({})",
                        humantime::format_duration(timeout),
                        echoes.summary()
                    ),
                ),
            },
        };
        let elapsed = if ping.rtts.is_empty() {
            started.elapsed()
        } else {
            ping.rtts.iter().sum::<Duration>() / ping.rtts.len() as u32
        };
        let mut observation = Observation::without_response(elapsed, outcome);
        observation.bytes = Some(u64::from(ping.received) * (8 + PAYLOAD) as u64);
        observation.echoes = Some(echoes);
        observation
    }
}

/// A token unique to this check within the process, and unlikely to repeat across processes.
fn token() -> [u8; 16] {
    let n = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&nanos.to_be_bytes());
    t[8..12].copy_from_slice(&n.to_be_bytes());
    t[12..].copy_from_slice(&std::process::id().to_be_bytes());
    t
}

/// One check's echoes as they go.
struct Ping {
    socket: UdpSocket,
    kind: SocketKind,
    to: SocketAddr,
    token: [u8; 16],
    id: u16,
    /// When each echo (by sequence number) was sent, and whether it was answered.
    sent: Vec<(Instant, bool)>,
    rtts: Vec<Duration>,
    received: u32,
    /// What an ICMP error said, if the network reported the host unreachable.
    unreachable: Option<String>,
}

impl Ping {
    /// Sends `count` echoes, each waiting for its reply for its share of the time left.
    /// Returns the outcome of a failure that ends the check early, if any.
    fn run(&mut self, count: u32, deadline: Instant) -> Option<Outcome> {
        for seq in 0..count {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return None;
            }
            let packet = echo_request(self.to.ip(), self.id, seq as u16, &self.token);
            // Timed from before the send: on loopback the reply is queued before it returns.
            let at = Instant::now();
            if let Err(e) = self.socket.send_to(&packet, self.to) {
                return Some(self.send_failure(&e));
            }
            self.sent.push((at, false));
            let share = left / (count - seq);
            if let Some(outcome) = self.wait(seq as u16, now + share) {
                return Some(outcome);
            }
        }
        None
    }

    fn send_failure(&mut self, e: &io::Error) -> Outcome {
        if let Some(kind) = local_kind(e) {
            return Outcome::Local {
                kind,
                detail: e.to_string(),
            };
        }
        Outcome::down(Reason::Connect, format!("cannot send an echo request: {e}"))
    }

    /// Reads replies until echo `seq` is answered or `until`. Late replies to earlier echoes
    /// of this check count too.
    fn wait(&mut self, seq: u16, until: Instant) -> Option<Outcome> {
        let mut buf = [0u8; 1500];
        for _ in 0..MAX_FOREIGN {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Err(e) = self.socket.set_read_timeout(Some(left)) {
                return Some(self.send_failure(&e));
            }
            let n = match self.socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return None,
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::ConnectionRefused => {
                        self.unreachable = Some(e.to_string());
                        return None;
                    }
                    _ => return Some(self.send_failure(&e)),
                },
            };
            if let Some(answered) = self.ours(&buf[..n]) {
                if let Some((sent, seen)) = self.sent.get_mut(usize::from(answered)) {
                    if !*seen {
                        *seen = true;
                        self.rtts.push(sent.elapsed());
                        self.received += 1;
                    }
                }
                if answered == seq {
                    return None;
                }
            }
        }
        None
    }

    /// The sequence number of `packet` when it is a reply to this check.
    fn ours(&self, packet: &[u8]) -> Option<u16> {
        let icmp = match (self.kind, self.to.ip()) {
            // A raw IPv4 socket hands over the IP header too; its length is in its first byte.
            (SocketKind::Raw, IpAddr::V4(_)) => {
                let ihl = usize::from(*packet.first()? & 0x0f) * 4;
                packet.get(ihl..)?
            }
            _ => packet,
        };
        let reply_type = if self.to.is_ipv4() { 0 } else { 129 };
        if icmp.len() < 8 + self.token.len() || icmp[0] != reply_type || icmp[1] != 0 {
            return None;
        }
        let id = u16::from_be_bytes([icmp[4], icmp[5]]);
        if self.kind == SocketKind::Raw && id != self.id {
            return None;
        }
        if icmp[8..8 + self.token.len()] != self.token {
            return None;
        }
        Some(u16::from_be_bytes([icmp[6], icmp[7]]))
    }
}

/// An echo request to `ip`: type 8 (IPv4) or 128 (IPv6), code 0, checksum, `id`, `seq`, the
/// token and padding. The IPv4 checksum is computed here (a raw socket sends it as is); the
/// kernel computes ICMPv6's, which covers a pseudo-header only it knows.
fn echo_request(ip: IpAddr, id: u16, seq: u16, token: &[u8; 16]) -> Vec<u8> {
    let mut p = vec![0u8; 8 + PAYLOAD];
    p[0] = if ip.is_ipv4() { 8 } else { 128 };
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..24].copy_from_slice(token);
    for (i, b) in p[24..].iter_mut().enumerate() {
        *b = i as u8;
    }
    if ip.is_ipv4() {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of the
/// 16-bit words.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_request_verifies_to_zero() {
        let p = echo_request("127.0.0.1".parse().unwrap(), 0x1234, 7, &[9; 16]);
        assert_eq!(
            checksum(&p),
            0,
            "a packet with its checksum sums to all ones"
        );
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        // RFC 1071's example words.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    fn ping(kind: SocketKind) -> Ping {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        Ping {
            socket,
            kind,
            to: "127.0.0.1:0".parse().unwrap(),
            token: [5; 16],
            id: 42,
            sent: Vec::new(),
            rtts: Vec::new(),
            received: 0,
            unreachable: None,
        }
    }

    fn reply(id: u16, seq: u16, token: &[u8; 16]) -> Vec<u8> {
        let mut p = echo_request("127.0.0.1".parse().unwrap(), id, seq, token);
        p[0] = 0;
        p
    }

    #[test]
    fn replies_match_by_token_and_sequence_and_on_raw_sockets_by_id() {
        // Datagram socket: the kernel rewrote the identifier; the token decides.
        let d = ping(SocketKind::Datagram);
        assert_eq!(d.ours(&reply(999, 3, &[5; 16])), Some(3));
        assert_eq!(
            d.ours(&reply(42, 3, &[6; 16])),
            None,
            "another check's token"
        );
        // Raw socket: the IP header comes first, and the identifier must be ours.
        let r = ping(SocketKind::Raw);
        let mut with_header = vec![0x45u8];
        with_header.extend([0u8; 19]);
        with_header.extend(reply(42, 1, &[5; 16]));
        assert_eq!(r.ours(&with_header), Some(1));
        let mut other_id = vec![0x45u8];
        other_id.extend([0u8; 19]);
        other_id.extend(reply(43, 1, &[5; 16]));
        assert_eq!(r.ours(&other_id), None);
        // Our own request, seen on a raw socket pinging loopback, is not a reply.
        let mut request = vec![0x45u8];
        request.extend([0u8; 19]);
        request.extend(echo_request("127.0.0.1".parse().unwrap(), 42, 1, &[5; 16]));
        assert_eq!(r.ours(&request), None);
        assert_eq!(r.ours(&[0x45]), None, "truncated");
    }

    #[test]
    fn loopback_answers_every_echo() {
        let kind = match usable() {
            Ok(kind) => kind,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        };
        let probe =
            IcmpProbe::from_lookup(Lookup::new(super::super::agent::LiteralFirst::default()));
        let target = IcmpTarget {
            host: "127.0.0.1".into(),
            count: 3,
        };
        let timeout = Duration::from_secs(2);
        eprintln!("pinging 127.0.0.1 through a {kind:?} ICMP socket");
        let seen = probe.check(&target, Instant::now() + timeout, timeout);
        assert!(seen.outcome.is_up(), "{kind:?}: {seen:?}");
        assert_eq!(
            seen.echoes,
            Some(Echoes {
                sent: 3,
                received: 3
            })
        );
        assert_eq!(seen.bytes, Some(3 * 40));
        assert!(seen.elapsed < timeout, "{seen:?}");
    }

    #[test]
    fn the_config_error_names_the_sysctl() {
        let denied = io::Error::from_raw_os_error(13);
        let perm = io::Error::from_raw_os_error(1);
        let text = unusable_message(&denied, &perm, Some("1\t0\n"));
        assert!(
            text.contains("net.ipv4.ping_group_range is \"1\\t0\""),
            "{text}"
        );
        assert!(text.contains("CAP_NET_RAW"), "{text}");
    }
}
