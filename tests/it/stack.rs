//! Worker threads run with a small stack (`sitewatch::worker::STACK_SIZE`). These checks take
//! the deepest paths a check has, through the real probe, on a thread with half that stack: a
//! stack overflow aborts the whole test binary, so passing proves the workers have at least
//! twice what they need.

use std::io::Write;
use std::thread;

use serde_json::json;
use sitewatch::config::Config;
use sitewatch::localsite::LocalSite;
use sitewatch::probe::{HttpProbe, Probe, ProbeSettings};
use sitewatch::worker::STACK_SIZE;
use sitewatch::Outcome;

use crate::tls_server::TlsSite;

/// Arrays around the JSON body's object: with it, 127 levels, the most serde_json parses.
const DEPTH: usize = 126;

/// CRC-32 (IEEE), bit by bit: enough for a test body.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// `data` in gzip framing, as deflate stored blocks (decoding takes the same decoder state
/// as compressed data does).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65_535).peekable();
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(chunk);
    }
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// A JSON document nested [`DEPTH`] arrays deep around `{"ok": "é"}`, and the pointer to it.
fn deep_json() -> (String, String) {
    let body = format!(
        "{}{{\"ok\": \"\u{e9}\"}}{}",
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    );
    (body, format!("{}/ok", "/0".repeat(DEPTH)))
}

fn monitor(entry: serde_json::Value) -> sitewatch::config::Monitor {
    let text = json!([entry]).to_string();
    let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("config {text}: {e}"));
    config.monitors.remove(0)
}

#[test]
fn the_deepest_checks_run_on_half_a_worker_stack() {
    let (body, pointer) = deep_json();
    let packed = gzip(body.as_bytes());
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        packed.len()
    )
    .into_bytes();
    response.extend(&packed);
    let tls = TlsSite::answering(response);
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(tls.cert_pem().as_bytes()).unwrap();
    let site = LocalSite::start().expect("local site");
    let expected_json = json!({ pointer.clone(): "\u{e9}" });
    let monitors = [
        // TLS handshake and certificate check, a gzip body decoded, the JSON parsed to its
        // deepest, a Unicode regex over the body.
        monitor(json!({
            "url": tls.url("/deep"), "timeout": "20s",
            "ca_file": ca.path().to_str().unwrap(),
            "json": expected_json,
            "body_matches": r"(?i)\[\s*\{\s*\x22OK\x22\s*:\s*\x22\w\x22\s*\}\s*\]",
        })),
        // Redirects followed hop by hop, then a large gzip body streamed and counted.
        monitor(json!({
            "url": site.url("/redirect/5"), "timeout": "20s",
            "body_matches": r"^ok\s*$",
        })),
        monitor(json!({"url": site.url("/gzip/300000"), "timeout": "20s"})),
    ];
    let outcomes = thread::Builder::new()
        .name("half-a-worker-stack".into())
        .stack_size(STACK_SIZE / 2)
        .spawn(move || {
            let probe = HttpProbe::new(&ProbeSettings::default());
            monitors.iter().map(|m| probe.check(m)).collect::<Vec<_>>()
        })
        .unwrap()
        .join()
        .expect("the checks ran to the end");
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.outcome, Outcome::Up, "check {i}: {o:?}");
    }
    assert_eq!(outcomes[0].bytes, Some(body.len() as u64));
    assert_eq!(outcomes[2].bytes, Some(300_000));
    assert_eq!(tls.hits(), 1);
}
