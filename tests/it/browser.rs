//! The status page in a real browser: headless Chromium loads the demo's page, and the DOM it
//! builds must hold every monitor, their states in words and the overall status; then it saves
//! a screenshot. Chromium is required: without it this test fails (it never skips), saying how
//! to install it. `scripts/test.sh` (the test command) installs Debian's `chromium` when it is missing.
//!
//! `SITEWATCH_SCREENSHOT=PATH` keeps the screenshot there (scripts/screenshot-status.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::pages::{serving, wait_for_page};
use crate::util::{within, Sitewatch};

/// The longest one browser run may take; it is killed past this.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

/// The demo's monitors, as its config names them.
const DEMO: [&str; 13] = [
    "healthy",
    "redirects twice",
    "gzip body",
    "slow (1.5 s)",
    "server error",
    "not found",
    "flaky",
    "hangs past timeout",
    "too big",
    "truncated",
    "not HTTP",
    "redirect loop",
    "dead (refused)",
];

/// Chromium's path, or a failure saying how to get it.
fn chromium() -> PathBuf {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed, and the status page's browser test needs it: \
             install Debian's package (`apt-get install -y chromium`); scripts/test.sh does this"
        )
    })
}

/// Runs headless Chromium with `args` on a fresh profile in `profile`, killed after
/// [`BROWSER_LIMIT`].
fn browse(profile: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read stdout while it runs (a DOM can outgrow a pipe's buffer).
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + BROWSER_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} took over {BROWSER_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = Vec::new();
    let _ = std::io::Read::read_to_end(&mut child.stderr.take().unwrap(), &mut stderr);
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

#[test]
fn the_demo_status_page_renders_in_a_real_browser() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let mut sw = Sitewatch::spawn([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    let addr = serving(&mut sw);
    let url = format!("http://{addr}/");
    // Wait until every demo monitor has a verdict, so the page shows settled states.
    wait_for_page(&addr, "/", within(40.0), |b| {
        b.contains("<span class=\"word\">")
            && !b.contains("not checked yet")
            && b.contains(" down</span>")
    });

    let dom = browse(&dir.path().join("profile"), &["--dump-dom", &url]);
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success() && text.contains("</html>"),
        "{} --dump-dom {url} failed ({}):\n{}",
        browser.display(),
        dom.status,
        String::from_utf8_lossy(&dom.stderr)
    );
    for name in DEMO {
        let shown = maud::html! { (name) }.into_string();
        assert!(
            text.contains(&format!(">{shown}</a>")),
            "{name} in the DOM:\n{text}"
        );
    }
    assert!(text.contains("class=\"badge up\">up</span>"), "{text}");
    assert!(text.contains("class=\"badge down\">down</span>"), "{text}");
    let word = text
        .split("<span class=\"word\">")
        .nth(1)
        .and_then(|t| t.split('<').next());
    assert!(
        word.is_some_and(
            |w| w.ends_with(" down") && w.split(' ').next().unwrap().parse::<u32>().is_ok()
        ),
        "overall status {word:?}"
    );
    assert!(text.contains("sitewatch: <b>13</b> monitors"));

    let png = std::env::var_os("SITEWATCH_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("status-page.png"));
    let shot = browse(
        &dir.path().join("profile"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1600",
            &url,
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    sw.sigint();
}
