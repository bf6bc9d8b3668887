//! The README documents the command line that the binary really has.

use std::process::Command;

fn long_options(help: &str) -> Vec<String> {
    help.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .filter(|w| w != "--help" && w != "--version")
        .collect()
}

#[test]
fn readme_documents_every_option_of_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for args in [
        &["--help"][..],
        &["demo", "--help"][..],
        &["check", "--help"][..],
        &["report", "--help"][..],
        &["maintenance", "add", "--help"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sitewatch"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        let options = long_options(&help);
        assert!(options.len() >= 5, "{options:?}");
        for option in options {
            assert!(
                readme.contains(&option),
                "README does not mention {option} ({args:?})"
            );
        }
    }
}
