//! Bad configs and bad command lines: exit 2, one `sitewatch: error: ...` line on stderr naming
//! the file and the place in it, nothing on stdout, nothing started.

use crate::util::{config_text, path, run, within, Finished, Sitewatch};

/// Runs `--once` on a config file holding `text`; returns the run and the file's path.
fn run_config(text: &str, extra: &[&str]) -> (Finished, String) {
    let file = config_text(text);
    let p = path(&file).to_string();
    let mut args: Vec<&str> = vec!["--once", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(&p);
    (run(args, 10.0), p)
}

/// Asserts exit 2, empty stdout, and exactly the one error line `sitewatch: error: {rest}`.
fn assert_usage_error(run: &Finished, expected: &str) {
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stdout.is_empty(), "nothing on stdout\n{run}");
    assert_eq!(
        run.stderr,
        [format!("sitewatch: error: {expected}")],
        "{run}"
    );
}

#[test]
fn malformed_json_names_line_and_column() {
    let text = "[\n  {\"url\": \"http://127.0.0.1:9/a\"\n   \"interval\": 5}\n]\n";
    let (run, p) = run_config(text, &[]);
    assert_usage_error(
        &run,
        &format!("{p}: line 3, column 4: expected `,` or `}}`"),
    );
}

#[test]
fn unknown_field_names_the_entry_and_the_accepted_fields() {
    let (run, p) = run_config(r#"[{"url": "http://127.0.0.1:9/a", "intervall": 5}]"#, &[]);
    assert_usage_error(
        &run,
        &format!(
            "{p}: entry 1 (index 0, \"http://127.0.0.1:9/a\"): unknown field `intervall`, \
             expected one of `url`, `interval`, `timeout`, `method`, `headers`, `name`, `group`, `body`, \
             `user_agent`, `follow_redirects`, `max_redirects`, `insecure`, \
             `allow_http_redirect`, `ca_file`, `expect_status`, `expect_headers`, `body_contains`, `body_not_contains`, `body_matches`, \
             `json`, `max_response_time`, `tls`, `send`, `expect`, `count`, `expect_address`, `retries`, `retry_delay`, `recover_after`, `max_backoff`, `notify`, `depends_on`, \
             `cert_expiry_warn`, `warn_response_time`"
        ),
    );
}

#[test]
fn missing_url_names_the_entry_by_position() {
    let (run, p) = run_config(r#"[{"url": "http://127.0.0.1:9/a"}, {"interval": 5}]"#, &[]);
    assert_usage_error(
        &run,
        &format!("{p}: entry 2 (index 1): missing required field `url`"),
    );
}

#[test]
fn ftp_scheme_is_rejected_naming_entry_and_url() {
    let (run, p) = run_config(r#"[{"url": "ftp://127.0.0.1/file"}]"#, &[]);
    assert_usage_error(
        &run,
        &format!(
            "{p}: entry 1 (index 0, \"ftp://127.0.0.1/file\"): \
             scheme \"ftp\" is not supported; use http, https, tcp, icmp or dns"
        ),
    );
}

#[test]
fn unparsable_url_is_rejected_naming_entry_and_url() {
    let (run, p) = run_config(
        r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://exa mple/"}]"#,
        &[],
    );
    assert_usage_error(
        &run,
        &format!(
            "{p}: entry 2 (index 1, \"http://exa mple/\"): url is not a valid URL: \
             invalid uri character"
        ),
    );
}

#[test]
fn interval_below_one_second_is_rejected() {
    let (run, p) = run_config(
        r#"[{"url": "http://127.0.0.1:9/a", "interval": "500ms"}]"#,
        &[],
    );
    assert_usage_error(
        &run,
        &format!(
            "{p}: entry 1 (index 0, \"http://127.0.0.1:9/a\"): \
             interval 500ms is below the minimum of 1s"
        ),
    );
}

#[test]
fn zero_timeout_is_rejected() {
    let (run, p) = run_config(r#"[{"url": "http://127.0.0.1:9/a", "timeout": 0}]"#, &[]);
    assert_usage_error(
        &run,
        &format!(
            "{p}: entry 1 (index 0, \"http://127.0.0.1:9/a\"): timeout must be greater than zero"
        ),
    );
}

#[test]
fn empty_list_is_rejected_as_nothing_to_monitor() {
    for text in ["[]", r#"{"urls": []}"#, "  \n"] {
        let (run, p) = run_config(text, &[]);
        assert_usage_error(
            &run,
            &format!(
                "{p}: no URLs listed, so there is nothing to monitor; \
                 add at least one entry such as {{\"url\": \"https://example.com\"}}"
            ),
        );
    }
}

#[test]
fn bad_defaults_are_reported_as_defaults() {
    let (run, p) = run_config(
        r#"{"defaults": {"method": "TRACE"}, "urls": [{"url": "http://127.0.0.1:9/a"}]}"#,
        &[],
    );
    assert_usage_error(
        &run,
        &format!(
            "{p}: defaults: method \"TRACE\" is not supported; \
             use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS"
        ),
    );
}

#[test]
fn missing_config_file_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("urls.json");
    let m = missing.to_str().unwrap();
    let run = run(["--once", m], 10.0);
    assert_usage_error(
        &run,
        &format!("{m}: cannot read {m}: No such file or directory (os error 2)"),
    );
}

#[test]
fn default_config_path_is_urls_json_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = Sitewatch::spawn_in(dir.path(), ["--once"]).finish(within(10.0));
    assert_usage_error(
        &run,
        "urls.json: cannot read urls.json: No such file or directory (os error 2)",
    );
}

#[test]
fn zero_workers_is_a_usage_error() {
    let (run, _) = run_config(r#"[{"url": "http://127.0.0.1:9/a"}]"#, &["--workers", "0"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr_text()
            .contains("invalid value '0' for '--workers <N>'"),
        "{run}"
    );
}

#[test]
fn report_every_below_100ms_is_a_usage_error() {
    let (run, _) = run_config(
        r#"[{"url": "http://127.0.0.1:9/a"}]"#,
        &["--report-every", "10ms"],
    );
    assert_usage_error(&run, "--report-every must be at least 100ms");
}

#[test]
fn unknown_size_unit_for_max_body_is_a_usage_error() {
    let (run, _) = run_config(
        r#"[{"url": "http://127.0.0.1:9/a"}]"#,
        &["--max-body", "5parsecs"],
    );
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr_text().contains("unknown size unit \"parsecs\""),
        "{run}"
    );
}

#[test]
fn unopenable_log_file_is_an_error_before_anything_runs() {
    let site = sitewatch::localsite::LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("no-such-dir").join("sitewatch.log");
    let l = log.to_str().unwrap();
    let text = format!(r#"[{{"url": "{}"}}]"#, site.url("/ok"));
    let (run, _) = run_config(&text, &["--log-file", l]);
    assert_usage_error(
        &run,
        &format!("cannot open log file {l} for appending: No such file or directory (os error 2)"),
    );
    assert_eq!(site.requests().len(), 0, "nothing was checked");
}

#[test]
fn two_entries_with_one_name_are_an_error_naming_both() {
    let (run, p) = run_config(
        r#"[{"url": "http://127.0.0.1:9/a", "name": "shop"}, {"url": "http://127.0.0.1:9/b"},
            {"url": "http://127.0.0.1:9/c", "name": "shop"}]"#,
        &[],
    );
    assert_usage_error(
        &run,
        &format!(
            "{p}: entries 1 (index 0) and 3 (index 2) have the same name \"shop\"; a name \
             identifies its monitor (its id, in lines, history, notifications and page \
             addresses), so give each entry its own name"
        ),
    );
}
