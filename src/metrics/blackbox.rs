//! `/probe?target=…`: one check on demand, answered with blackbox_exporter's metric names, so a
//! Prometheus scrape config written for blackbox_exporter works against sitewatch unchanged.
//!
//! Guarantees:
//! - by default `target` must be a configured monitor (its URL or id), checked with that
//!   monitor's own settings; any other http(s) URL is checked only when the config allows it
//!   (`"server": {"probe_any_target": true}`), validated exactly like a URL in the config;
//! - the check runs on the thread serving the request and ends within the monitor's timeout
//!   (shortened to the scrape timeout Prometheus announces, less half a second, as
//!   blackbox_exporter does);
//! - at most `limit` probes run at once; one more is refused with 503 at once, so a burst of
//!   requests cannot hold every server thread;
//! - a check sitewatch itself could not make (out of file descriptors, …) is a 503 with the
//!   reason, not `probe_success 0`: it says nothing about the target;
//! - `module` (and any other parameter blackbox_exporter knows) is accepted and ignored; a
//!   missing, repeated or bad `target` is a 400 naming the parameter.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::exposition::{Kind, Value, Writer, CONTENT_TYPE};
use crate::config::{Config, Monitor};
use crate::model::Kind as TargetKind;
use crate::probe::{Observation, Outcome, Phases, Probe};

/// What blackbox_exporter takes off the scrape timeout, for the answer to arrive in time.
const SCRAPE_MARGIN: Duration = Duration::from_millis(500);

/// The answer to one `/probe` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReply {
    /// HTTP status: 200, or 400 / 503 / 500 with a plain-text reason.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The metrics, or the reason.
    pub body: Vec<u8>,
}

impl ProbeReply {
    fn text(status: u16, message: String) -> ProbeReply {
        let mut body = message.into_bytes();
        body.push(b'\n');
        ProbeReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

/// Serves `/probe`; shared by the server threads.
pub struct ProbeEndpoint {
    monitors: Arc<Vec<Monitor>>,
    probe: Arc<dyn Probe>,
    any_target: bool,
    limit: usize,
    running: AtomicUsize,
}

/// A probe slot, given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ProbeEndpoint {
    /// Probes `monitors` (and any URL with `any_target`) through `probe`, at most `limit` at
    /// once (at least one).
    pub fn new(
        monitors: Arc<Vec<Monitor>>,
        probe: Arc<dyn Probe>,
        any_target: bool,
        limit: usize,
    ) -> ProbeEndpoint {
        ProbeEndpoint {
            monitors,
            probe,
            any_target,
            limit: limit.max(1),
            running: AtomicUsize::new(0),
        }
    }

    /// Answers a request whose query string (after `?`) is `query`.
    pub fn handle_query(&self, query: &str, scrape_timeout: Option<Duration>) -> ProbeReply {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        self.handle(&params, scrape_timeout)
    }

    /// Answers a request with query parameters `params` (decoded). `scrape_timeout` is the
    /// `X-Prometheus-Scrape-Timeout-Seconds` header, when sent.
    pub fn handle(
        &self,
        params: &[(String, String)],
        scrape_timeout: Option<Duration>,
    ) -> ProbeReply {
        let mut monitor = match self.target(params) {
            Ok(monitor) => monitor,
            Err(message) => return ProbeReply::text(400, message),
        };
        if let Some(scrape) = scrape_timeout {
            let budget = scrape.saturating_sub(SCRAPE_MARGIN).max(SCRAPE_MARGIN);
            monitor.timeout = monitor.timeout.min(budget);
        }
        let Some(_slot) = self.acquire() else {
            return ProbeReply::text(
                503,
                format!(
                    "{} probes are running already, the most at once; try again later",
                    self.limit
                ),
            );
        };
        let observation = match panic::catch_unwind(AssertUnwindSafe(|| self.probe.check(&monitor)))
        {
            Ok(observation) => observation,
            Err(_) => {
                log::error!("internal error while probing {}", monitor.url);
                return ProbeReply::text(500, "internal error in sitewatch".into());
            }
        };
        if let Outcome::Local { kind, detail } = &observation.outcome {
            return ProbeReply::text(
                503,
                format!(
                    "sitewatch could not make the check ({kind}: {detail}); {}",
                    kind.advice()
                ),
            );
        }
        ProbeReply {
            status: 200,
            content_type: CONTENT_TYPE,
            body: render(monitor.target().kind(), &observation),
        }
    }

    fn acquire(&self) -> Option<Slot<'_>> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(&self.running))
    }

    /// The monitor `target` names, or what is wrong with the query.
    fn target(&self, params: &[(String, String)]) -> Result<Monitor, String> {
        let mut targets = params
            .iter()
            .filter(|(k, _)| k == "target")
            .map(|(_, v)| v.clone());
        let target = match (targets.next(), targets.next()) {
            (None, _) => {
                return Err("missing query parameter `target` (a monitor's URL or id), \
                     as in /probe?target=https://example.com/"
                    .into())
            }
            (Some(_), Some(_)) => return Err("query parameter `target` given twice".into()),
            (Some(t), None) if t.trim().is_empty() => {
                return Err("query parameter `target` is empty".into())
            }
            (Some(t), None) => t,
        };
        // A URL in a scrape config may be spelt differently from the config's (`http://A`
        // vs `http://a/`): compare the normalised form too, without a final slash.
        let normalised = url::Url::parse(&target).ok().map(String::from);
        let normalised = normalised.as_deref().map(bare);
        let found = self.monitors.iter().find(|m| {
            *m.url == *target || m.id() == target || normalised.is_some_and(|n| bare(&m.url) == n)
        });
        if let Some(monitor) = found {
            return Ok(monitor.clone());
        }
        if !self.any_target {
            return Err(format!(
                "query parameter `target`: {} is not a configured monitor (give a monitor's \
                 URL or id; other URLs need \"server\": {{\"probe_any_target\": true}})",
                shown(&target)
            ));
        }
        // Validated exactly like a URL in the config file (its scheme picks the kind, …).
        let entry = serde_json::json!([{ "url": target }]).to_string();
        match Config::parse(&entry) {
            Ok(mut config) if config.monitors.len() == 1 => Ok(config.monitors.remove(0)),
            Ok(_) => Err("query parameter `target`: not one URL".into()),
            Err(e) => Err(format!("query parameter `target`: {e}")),
        }
    }
}

/// A URL without its final slash, if any.
fn bare(url: &str) -> &str {
    url.strip_suffix('/').unwrap_or(url)
}

/// A target as echoed in an error: quoted, capped, control characters escaped.
fn shown(target: &str) -> String {
    format!("\"{}\"", crate::text::capped(target, 200))
}

/// The blackbox_exporter gauges for one check of a target of `kind`: the ones its prober of
/// that kind answers (`http`, `tcp`, `icmp`; a `dns://` check is a lookup through the system
/// resolver, so it answers the gauges every prober has), never an HTTP gauge for a check that
/// made no HTTP request.
fn render(kind: TargetKind, o: &Observation) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut w = Writer::new(&mut out);
    common_gauges(&mut w, o);
    match kind {
        TargetKind::Http => http_gauges(&mut w, o),
        TargetKind::Tcp => {
            if let Some(expiry) = o.cert_expiry {
                cert_expiry(&mut w, expiry);
            }
        }
        TargetKind::Icmp => icmp_durations(&mut w, o),
        TargetKind::Dns => {}
    }
    if let Some(reason) = o.outcome.cause_name() {
        let name = "sitewatch_probe_failure";
        w.family(
            name,
            Kind::Gauge,
            "Why the check failed (sitewatch's reason), when it did; always 1.",
        );
        w.sample(name, "", &[], Some(("reason", reason)), Value::Int(1));
    }
    out
}

/// The gauges every blackbox_exporter prober answers.
fn common_gauges(w: &mut Writer<'_>, o: &Observation) {
    gauge(
        w,
        "probe_success",
        "Whether the check was up (1) or down (0).",
        Value::Int(u64::from(o.outcome.is_up())),
    );
    gauge(
        w,
        "probe_duration_seconds",
        "How long the check took, redirects included.",
        Value::Float(o.elapsed.as_secs_f64()),
    );
    gauge(
        w,
        "probe_dns_lookup_time_seconds",
        "How long the name lookup took (summed over redirects); 0 when there was none.",
        Value::Micros(micros(o.phases.dns)),
    );
}

/// One gauge without labels.
fn gauge(w: &mut Writer<'_>, name: &str, help: &str, value: Value) {
    w.family(name, Kind::Gauge, help);
    w.sample(name, "", &[], None, value);
}

/// `probe_ssl_earliest_cert_expiry`, a Unix time.
fn cert_expiry(w: &mut Writer<'_>, expiry: std::time::SystemTime) {
    let secs = expiry
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    gauge(
        w,
        "probe_ssl_earliest_cert_expiry",
        "Earliest expiry (notAfter, Unix time) of the certificates the final server presented.",
        Value::Int(secs),
    );
}

/// `probe_icmp_duration_seconds{phase}` with blackbox_exporter's phase names: `resolve`, `setup`
/// (not measured by sitewatch: 0) and `rtt`, the average round trip of the replies (0 when none
/// came back).
fn icmp_durations(w: &mut Writer<'_>, o: &Observation) {
    let name = "probe_icmp_duration_seconds";
    w.family(
        name,
        Kind::Gauge,
        "Duration of the check by phase; rtt is the average round trip, 0 without a reply.",
    );
    let replied = o.echoes.as_ref().is_some_and(|e| e.received > 0);
    for (phase, d) in [
        ("resolve", o.phases.dns),
        ("setup", None),
        ("rtt", replied.then_some(o.elapsed)),
    ] {
        w.sample(
            name,
            "",
            &[],
            Some(("phase", phase)),
            Value::Micros(micros(d)),
        );
    }
}

fn micros(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The gauges of blackbox_exporter's HTTP prober.
fn http_gauges(w: &mut Writer<'_>, o: &Observation) {
    let responded = o.status.is_some();
    let ssl = responded
        && o.final_url
            .as_deref()
            .is_some_and(|u| u.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("https:")));
    gauge(
        w,
        "probe_http_status_code",
        "Status code of the final response; 0 when none arrived.",
        Value::Int(o.status.map_or(0, u64::from)),
    );
    gauge(
        w,
        "probe_http_content_length",
        "Length of the final response's body from its headers; -1: not recorded by sitewatch.",
        Value::Signed(-1),
    );
    gauge(
        w,
        "probe_http_uncompressed_body_length",
        "Bytes of the final response's body, decompressed, as read.",
        Value::Int(o.bytes.unwrap_or(0)),
    );
    gauge(
        w,
        "probe_http_redirects",
        "Redirects followed.",
        Value::Int(o.redirects.len() as u64),
    );
    gauge(
        w,
        "probe_http_ssl",
        "1 if the final request used TLS.",
        Value::Int(u64::from(ssl)),
    );
    // As blackbox_exporter: only when the final response came over TLS.
    if let Some(expiry) = o.cert_expiry.filter(|_| ssl) {
        cert_expiry(w, expiry);
    }
    phase_durations(w, &o.phases);
}

/// `probe_http_duration_seconds{phase}` with blackbox_exporter's five phase names, all present
/// as it has them: `resolve` (dns), `connect`, `tls`, `processing` (ttfb: request sent to the
/// first response byte) and `transfer` (first byte to last), summed over redirects. A phase
/// sitewatch did not measure (no lookup for an IP address, no TLS for http, past a failure)
/// is 0, as blackbox_exporter reports it.
fn phase_durations(w: &mut Writer<'_>, phases: &Phases) {
    let name = "probe_http_duration_seconds";
    w.family(
        name,
        Kind::Gauge,
        "Duration of the check by phase, summed over redirects; 0 when not measured.",
    );
    for (phase, d) in [
        ("resolve", phases.dns),
        ("connect", phases.connect),
        ("tls", phases.tls),
        ("processing", phases.ttfb),
        ("transfer", phases.transfer),
    ] {
        w.sample(
            name,
            "",
            &[],
            Some(("phase", phase)),
            Value::Micros(micros(d)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{LocalKind, Reason, Redirect};
    use std::sync::mpsc;
    use std::sync::Mutex;

    struct Fake {
        observation: Observation,
        seen: Mutex<Vec<(String, Duration)>>,
        gate: Option<Mutex<mpsc::Receiver<()>>>,
    }

    impl Probe for Fake {
        fn check(&self, monitor: &Monitor) -> Observation {
            self.seen
                .lock()
                .unwrap()
                .push((monitor.url.to_string(), monitor.timeout));
            if let Some(gate) = &self.gate {
                let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(10));
            }
            self.observation.clone()
        }
    }

    fn observation(outcome: Outcome) -> Observation {
        Observation {
            status: Some(200),
            bytes: Some(42),
            final_url: Some("https://b.example/x".into()),
            redirects: vec![Redirect {
                status: 301,
                url: "https://a.example/".into(),
            }],
            ..Observation::without_response(Duration::from_millis(1500), outcome)
        }
    }

    fn endpoint(outcome: Outcome, any: bool) -> (ProbeEndpoint, Arc<Fake>) {
        let config = Config::parse(
            r#"[{"url": "https://a.example/", "name": "a", "timeout": "5s"},
                {"url": "http://c.example"}]"#,
        )
        .unwrap();
        let fake = Arc::new(Fake {
            observation: observation(outcome),
            seen: Mutex::default(),
            gate: None,
        });
        let probe: Arc<dyn Probe> = fake.clone();
        (
            ProbeEndpoint::new(Arc::new(config.monitors), probe, any, 2),
            fake,
        )
    }

    fn body(reply: &ProbeReply) -> String {
        String::from_utf8(reply.body.clone()).unwrap()
    }

    #[test]
    fn a_configured_target_gets_the_blackbox_gauges() {
        let (e, fake) = endpoint(Outcome::Up, false);
        let reply = e.handle_query("module=http_2xx&target=https%3A%2F%2Fa.example%2F", None);
        assert_eq!((reply.status, reply.content_type), (200, CONTENT_TYPE));
        let text = body(&reply);
        for line in [
            "probe_success 1\n",
            "probe_duration_seconds 1.5\n",
            "probe_http_status_code 200\n",
            "probe_http_content_length -1\n",
            "probe_http_uncompressed_body_length 42\n",
            "probe_http_redirects 1\n",
            "probe_http_ssl 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert!(!text.contains("sitewatch_probe_failure"));
        assert_eq!(fake.seen.lock().unwrap()[0].1, Duration::from_secs(5));
    }

    #[test]
    fn a_target_may_be_an_id_or_a_normalised_url() {
        let (e, fake) = endpoint(Outcome::Up, false);
        assert_eq!(e.handle_query("target=a", None).status, 200);
        assert_eq!(e.handle_query("target=http://c.example/", None).status, 200);
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen[0].0, "https://a.example/");
        assert_eq!(seen[1].0, "http://c.example");
    }

    #[test]
    fn the_scrape_timeout_shortens_the_check() {
        let (e, fake) = endpoint(Outcome::Up, false);
        e.handle_query("target=a", Some(Duration::from_secs(3)));
        assert_eq!(fake.seen.lock().unwrap()[0].1, Duration::from_millis(2500));
    }

    #[test]
    fn bad_targets_are_400s_naming_the_parameter() {
        let (e, fake) = endpoint(Outcome::Up, false);
        for query in ["", "module=http_2xx", "target=", "target=a&target=a"] {
            let reply = e.handle_query(query, None);
            assert_eq!(reply.status, 400, "{query}");
            assert!(
                body(&reply).contains("`target`"),
                "{query}: {}",
                body(&reply)
            );
        }
        let reply = e.handle_query("target=https://elsewhere.example/", None);
        assert_eq!(reply.status, 400);
        assert!(
            body(&reply).contains("probe_any_target"),
            "{}",
            body(&reply)
        );
        assert!(fake.seen.lock().unwrap().is_empty(), "nothing was fetched");
    }

    #[test]
    fn any_target_only_when_allowed_and_validated_like_the_config() {
        let (e, fake) = endpoint(Outcome::Up, true);
        assert_eq!(
            e.handle_query("target=https://elsewhere.example/", None)
                .status,
            200
        );
        let reply = e.handle_query("target=ftp://elsewhere.example/", None);
        assert_eq!(reply.status, 400, "{}", body(&reply));
        assert!(body(&reply).contains("`target`"));
        assert_eq!(fake.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_down_check_says_why() {
        let (e, _) = endpoint(
            Outcome::Down {
                reason: Reason::Status,
                detail: "HTTP 503".into(),
            },
            false,
        );
        let text = body(&e.handle_query("target=a", None));
        assert!(text.contains("probe_success 0\n"));
        assert!(text.contains("sitewatch_probe_failure{reason=\"status\"} 1\n"));
    }

    #[test]
    fn a_local_failure_is_sitewatchs_not_the_targets() {
        let (e, _) = endpoint(
            Outcome::Local {
                kind: LocalKind::FileDescriptors,
                detail: "EMFILE".into(),
            },
            false,
        );
        let reply = e.handle_query("target=a", None);
        assert_eq!(reply.status, 503);
        assert!(
            body(&reply).contains("file_descriptors"),
            "{}",
            body(&reply)
        );
    }

    #[test]
    fn probes_beyond_the_limit_are_refused_at_once() {
        let (gate_tx, gate_rx) = mpsc::channel();
        let config = Config::parse(r#"[{"url": "https://a.example/"}]"#).unwrap();
        let fake = Arc::new(Fake {
            observation: observation(Outcome::Up),
            seen: Mutex::default(),
            gate: Some(Mutex::new(gate_rx)),
        });
        let probe: Arc<dyn Probe> = fake.clone();
        let e = Arc::new(ProbeEndpoint::new(
            Arc::new(config.monitors),
            probe,
            false,
            1,
        ));
        let busy = {
            let e = Arc::clone(&e);
            std::thread::spawn(move || e.handle_query("target=https://a.example/", None).status)
        };
        // Wait (bounded) until the first probe holds the only slot.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while fake.seen.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "first probe never started"
            );
            std::thread::yield_now();
        }
        let refused = e.handle_query("target=https://a.example/", None);
        assert_eq!(refused.status, 503, "{}", body(&refused));
        gate_tx.send(()).unwrap();
        assert_eq!(busy.join().unwrap(), 200);
        gate_tx.send(()).unwrap();
        assert_eq!(
            e.handle_query("target=https://a.example/", None).status,
            200
        );
    }

    #[test]
    fn phases_have_blackbox_exporters_names_and_zero_when_not_measured() {
        let mut o = observation(Outcome::Up);
        o.phases = Phases {
            dns: Some(Duration::from_micros(1500)),
            connect: Some(Duration::from_micros(250)),
            tls: None,
            ttfb: Some(Duration::from_millis(20)),
            transfer: Some(Duration::from_micros(1)),
        };
        let text = String::from_utf8(render(TargetKind::Http, &o)).unwrap();
        for line in [
            "# TYPE probe_http_duration_seconds gauge\n",
            "probe_http_duration_seconds{phase=\"resolve\"} 0.0015\n",
            "probe_http_duration_seconds{phase=\"connect\"} 0.00025\n",
            "probe_http_duration_seconds{phase=\"tls\"} 0\n",
            "probe_http_duration_seconds{phase=\"processing\"} 0.02\n",
            "probe_http_duration_seconds{phase=\"transfer\"} 0.000001\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }

    #[test]
    fn other_kinds_answer_their_probers_gauges_and_no_http_gauge() {
        let expiry = std::time::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let tcp = Observation {
            cert_expiry: Some(expiry),
            ..Observation::without_response(Duration::from_millis(3), Outcome::Up)
        };
        let mut icmp = Observation::without_response(Duration::from_micros(250), Outcome::Up);
        icmp.echoes = Some(crate::probe::Echoes {
            sent: 3,
            received: 2,
        });
        let dns = Observation::without_response(Duration::from_millis(2), Outcome::Up);
        for (kind, o) in [
            (TargetKind::Tcp, &tcp),
            (TargetKind::Icmp, &icmp),
            (TargetKind::Dns, &dns),
        ] {
            let text = String::from_utf8(render(kind, o)).unwrap();
            assert!(!text.contains("probe_http_"), "{kind:?}:\n{text}");
            assert!(text.contains("probe_success 1\n"), "{kind:?}:\n{text}");
            assert!(
                text.contains("probe_dns_lookup_time_seconds 0\n"),
                "{kind:?}:\n{text}"
            );
        }
        let tcp = String::from_utf8(render(TargetKind::Tcp, &tcp)).unwrap();
        assert!(
            tcp.contains("probe_ssl_earliest_cert_expiry 1900000000\n"),
            "{tcp}"
        );
        let icmp = String::from_utf8(render(TargetKind::Icmp, &icmp)).unwrap();
        assert!(
            icmp.contains("probe_icmp_duration_seconds{phase=\"rtt\"} 0.00025\n"),
            "{icmp}"
        );
        assert!(
            icmp.contains("probe_icmp_duration_seconds{phase=\"setup\"} 0\n"),
            "{icmp}"
        );
        // An HTTP check has its gauges and the lookup time every prober has.
        let http = String::from_utf8(render(TargetKind::Http, &observation(Outcome::Up))).unwrap();
        assert!(http.contains("probe_http_status_code 200\n"), "{http}");
        assert!(http.contains("probe_dns_lookup_time_seconds 0\n"), "{http}");
    }
}
