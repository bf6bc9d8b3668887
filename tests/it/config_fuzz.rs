//! Seeded mutations of valid configs (the files in `fixtures/` and the shipped `urls.json`)
//! through the config loader, in process: no input may panic, and every rejection must say where
//! the problem is (a line and column, an entry, the `defaults` block, a notify channel, or the
//! top level), on one line of bounded length. Deterministic (a fixed seed and a small PRNG), so a
//! failure reproduces; it runs in a few seconds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use sitewatch::{Config, ConfigError};

/// Mutated configs tried per seed file.
const ROUNDS: usize = 3000;

/// SplitMix64: a tiny, well-mixed deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces that are likely to reach deep validation paths rather than fail at the first byte.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "\\",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "0.5",
    "\"\"",
    "\"x\"",
    "{}",
    "[]",
    "\"url\"",
    "\"interval\"",
    "\"headers\"",
    "\"name\"",
    "\"notify\"",
    "\"defaults\"",
    "\"urls\"",
    "\"env\"",
    "{\"env\": \"SW_FUZZ_UNSET\"}",
    "{\"env\": \"HOME\"}",
    "\"https://u:p@h/\"",
    "\"ftp://x/\"",
    "\"http://h:99999/\"",
    "\"1ms\"",
    "\"500000000000y\"",
    "\"\\u0000\"",
    "\"\\n\"",
    "\"\\u202e\"",
    "\"é\"",
    "\u{feff}",
    "\"(\"",
    "\"[a-\"",
    "\"3xx\"",
    "\"999\"",
    "\"GET\"",
    "\"BREW\"",
    "\"=1+1\"",
    // Comments, trailing commas and environment references.
    "//",
    "/*",
    "*/",
    "// why\n",
    "/* c */",
    ",]",
    ",}",
    "\"${SW_FUZZ_UNSET}\"",
    "\"$${x}\"",
    "\"${\"",
    "key: value\n",
    "- ",
];

/// One random edit of `text`.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let edits = 1 + rng.below(3);
    for _ in 0..edits {
        let at = rng.below(chars.len() + 1);
        match rng.below(7) {
            // Delete a short run.
            0 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            // Insert a token.
            1 | 2 => {
                let token = rng.pick(TOKENS);
                chars.splice(at..at, token.chars());
            }
            // Replace a run with a token.
            3 if at < chars.len() => {
                let end = (at + 1 + rng.below(12)).min(chars.len());
                let token = rng.pick(TOKENS);
                chars.splice(at..end, token.chars());
            }
            // Duplicate a run (keys given twice, entries repeated).
            4 if at < chars.len() => {
                let end = (at + 1 + rng.below(40)).min(chars.len());
                let run: Vec<char> = chars[at..end].to_vec();
                chars.splice(end..end, run);
            }
            // Truncate.
            5 => chars.truncate(at),
            // Replace one character with a random one (ASCII or not).
            _ if at < chars.len() => {
                chars[at] = char::from_u32(rng.below(0x3000) as u32).unwrap_or('?');
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// Where a rejection says the problem is; `None` when it says nowhere.
fn place(e: &ConfigError) -> Option<&'static str> {
    match e {
        ConfigError::Syntax { line, .. } if *line >= 1 => Some("line and column"),
        ConfigError::Yaml { line } if *line >= 1 => Some("line and column"),
        ConfigError::Entry { .. } => Some("entry"),
        ConfigError::Defaults(_) => Some("defaults"),
        ConfigError::Notify(m) if m.starts_with("channel ") || m.starts_with("must be") => {
            Some("notify channel")
        }
        ConfigError::Shape(_) | ConfigError::Empty | ConfigError::Include(_) => Some("top level"),
        ConfigError::Connectivity(_) => Some("connectivity"),
        _ => None,
    }
}

#[test]
fn mutated_configs_never_panic_and_every_rejection_says_where() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds: Vec<String> = [
        "urls.json",
        "fixtures/object-form.json",
        "fixtures/seed-form.json",
        "fixtures/every-field.json",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
    .collect();
    for seed in &seeds {
        Config::parse(seed).unwrap_or_else(|e| panic!("a seed is invalid: {e}"));
    }
    let mut rng = Rng(0x5173_3A7C_0FF1_CE00);
    let (mut accepted, mut rejected) = (0, 0);
    let mut places = std::collections::BTreeMap::new();
    for seed in &seeds {
        for round in 0..ROUNDS {
            let text = mutate(&mut rng, seed);
            let result = catch_unwind(AssertUnwindSafe(|| Config::parse(&text)));
            let result = result.unwrap_or_else(|_| panic!("panicked (round {round}) on:\n{text}"));
            match result {
                Ok(_) => accepted += 1,
                Err(e) => {
                    rejected += 1;
                    let shown = e.to_string();
                    let Some(place) = place(&e) else {
                        panic!("rejection names no place: {shown}\ninput:\n{text}")
                    };
                    *places.entry(place).or_insert(0) += 1;
                    assert!(!shown.is_empty() && shown.len() < 4096, "{shown}");
                    assert!(!shown.contains('\n'), "one line: {shown:?}\ninput:\n{text}");
                }
            }
        }
    }
    eprintln!("config fuzz: {accepted} accepted, {rejected} rejected, by place {places:?}");
    assert!(
        rejected > ROUNDS,
        "the mutations should mostly break the configs"
    );
    assert!(
        places.len() >= 4,
        "rejections reached few places: {places:?}"
    );
}
