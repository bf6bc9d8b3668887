//! How many bytes of stack one check of a URL touches, below the function that runs it.
//!
//! A worker's stack stays resident as deep as any of its checks reached, so this depth is part
//! of what each worker costs (BENCHMARKS.md, *Memory per check in flight*). The thread's stack is
//! painted with a pattern first; after the check, the lowest byte no longer holding it is the
//! deepest the check went. `scripts/bench/stack.sh` runs it, and with `--frames` runs it under
//! gdb with a watchpoint on that byte to print the frames of the deepest call chain.
//!
//!   stack-depth URL [ENTRY_JSON]      e.g. stack-depth https://127.0.0.1:8443/ '{"ca_file": "ca.pem"}'

use std::hint::black_box;

use sitewatch::config::Config;
use sitewatch::probe::{HttpProbe, Probe, ProbeSettings};

/// Bytes painted below the caller: far more than any check needs, less than the thread's stack.
const PAINT: usize = 400 * 1024;
const PATTERN: u8 = 0xA5;

#[inline(never)]
fn paint() {
    let mut area = [PATTERN; PAINT];
    black_box(&mut area);
}

/// The address of a local of a fresh frame: the caller's stack pointer, near enough.
#[inline(never)]
fn stack_pointer() -> usize {
    let here = 0u8;
    black_box(&here) as *const u8 as usize
}

/// Where gdb stops to set its watchpoint (`scripts/bench/stack.sh --frames`).
#[inline(never)]
#[no_mangle]
pub extern "C" fn stack_depth_painted(base: usize) -> usize {
    black_box(base)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: stack-depth URL [ENTRY_JSON]");
        std::process::exit(2);
    };
    let mut entry = serde_json::json!({"url": url, "timeout": "10s"});
    if let Some(extra) = args.next() {
        let extra: serde_json::Value = serde_json::from_str(&extra).expect("ENTRY_JSON is JSON");
        for (key, value) in extra.as_object().expect("ENTRY_JSON is an object") {
            entry[key] = value.clone();
        }
    }
    let mut config = Config::parse(&serde_json::json!([entry]).to_string()).expect("a valid entry");
    let monitor = config.monitors.remove(0);
    let worker = std::thread::Builder::new()
        .stack_size(sitewatch::worker::STACK_SIZE)
        .spawn(move || {
            paint();
            let base = stack_depth_painted(stack_pointer());
            let probe = HttpProbe::new(&ProbeSettings::default());
            let observation = probe.check(&monitor);
            let mut deepest = base;
            // Scans the painted area from its far end: reading what the check left behind is
            // reading memory Rust considers uninitialised, which is what a measurement needs.
            for address in (base - PAINT + 4096)..base {
                // SAFETY: inside this thread's own stack mapping, below the live frames.
                if unsafe { std::ptr::read_volatile(address as *const u8) } != PATTERN {
                    deepest = address;
                    break;
                }
            }
            (observation, base - deepest, deepest)
        })
        .expect("a thread");
    let (observation, depth, deepest) = worker.join().expect("the check ran");
    println!(
        "{url}: {:?}, status {:?}; stack below the caller: {depth} bytes (deepest byte at {deepest:#x})",
        observation.outcome, observation.status
    );
}
