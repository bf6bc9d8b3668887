//! Text that came from a server, made safe to show, store and send on.
//!
//! A site sitewatch watches chooses its reason phrase, header values, `Location`, body and, in
//! part, its TLS error text. Any of it can reach a terminal, a log file, the history database, a
//! report or a notification, so the probe passes every such text through [`server_text`] before
//! it leaves the probe. What comes out:
//!
//! - holds no C0 or C1 control character, no DEL and no Unicode bidi control (U+202A–U+202E,
//!   U+2066–U+2069): each is written as a visible escape (`\n`, `\t`, `\u{1b}`, `\u{202e}`), so
//!   a server can neither forge a line, drive a terminal (ANSI, OSC 8) nor reorder what a reader
//!   sees;
//! - is at most [`MAX_SERVER_TEXT`] bytes plus a short marker `…[+N bytes]` saying about how
//!   many bytes were left out, cut on a character boundary, so a hostile 60 KB header costs a
//!   few hundred bytes in every line, row and message that repeats it.
//!
//! Everything else (printable ASCII and Unicode, quotes, backslashes) is kept as is: the text is
//! for people, and JSON and SQL writers do their own escaping.

use std::fmt::Write;

/// Most bytes of server text kept, before the marker; a few hundred, enough to recognise a URL,
/// a header value or an error.
pub const MAX_SERVER_TEXT: usize = 300;

/// `text`, escaped and capped at [`MAX_SERVER_TEXT`] bytes (see the module docs).
pub fn server_text(text: &str) -> String {
    capped(text, MAX_SERVER_TEXT)
}

/// Like [`server_text`] for bytes that may not be UTF-8: invalid sequences become U+FFFD.
/// Only the first bytes are decoded; the rest are counted in the marker.
pub fn server_bytes(bytes: &[u8]) -> String {
    // Every kept byte comes from at most this many input bytes (a character is 4 at most).
    let look = bytes.len().min(MAX_SERVER_TEXT + 4);
    let text = String::from_utf8_lossy(&bytes[..look]);
    capped_with(&text, MAX_SERVER_TEXT, bytes.len() - look)
}

/// `text` escaped, keeping at most `max` bytes of the escaped form, then the marker.
pub fn capped(text: &str, max: usize) -> String {
    capped_with(text, max, 0)
}

/// [`capped`], with `more` bytes beyond `text` that were never looked at counted as left out.
fn capped_with(text: &str, max: usize, more: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 16);
    let mut left_out = 0usize;
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        if needs_escape(c) {
            let _ = write!(piece, "{}", c.escape_default());
        } else {
            piece.push(c);
        }
        if left_out > 0 || out.len() + piece.len() > max {
            left_out += piece.len();
        } else {
            out.push_str(&piece);
        }
    }
    left_out += more;
    if left_out > 0 {
        let _ = write!(out, "…[+{left_out} bytes]");
    }
    out
}

/// Whether `c` is shown as an escape: C0 and C1 controls, DEL, and the bidi embedding,
/// override and isolate controls.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(server_text("Moved Permanently"), "Moved Permanently");
        assert_eq!(server_text("café \"ok\" \\ 東京"), "café \"ok\" \\ 東京");
        assert_eq!(server_text(""), "");
    }

    #[test]
    fn controls_del_and_bidi_are_escaped() {
        assert_eq!(server_text("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(server_text("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(server_text("x\u{7f}y"), "x\\u{7f}y");
        assert_eq!(server_text("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(
            server_text("a\u{202e}b\u{2066}c\u{2069}"),
            "a\\u{202e}b\\u{2066}c\\u{2069}"
        );
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2067}', '\u{2068}',
        ] {
            assert!(needs_escape(c), "{c:?}");
        }
        // Neighbours of the bidi ranges are ordinary text.
        assert!(
            !needs_escape('\u{2029}') && !needs_escape('\u{206a}') && !needs_escape('\u{202f}')
        );
        let out = server_text("\u{0}\u{1f}\u{7f}\u{80}\u{9f}\u{202a}\u{2069}");
        assert!(!out.chars().any(needs_escape), "{out}");
    }

    #[test]
    fn long_text_is_capped_with_a_marker() {
        let long = "x".repeat(60_000);
        let out = server_text(&long);
        assert_eq!(
            out,
            format!("{}…[+{} bytes]", "x".repeat(300), 60_000 - 300)
        );
        // Exactly the cap: no marker.
        assert_eq!(server_text(&"y".repeat(300)), "y".repeat(300));
    }

    #[test]
    fn the_cut_falls_on_a_character_boundary() {
        // 299 ASCII bytes then a 3-byte character: it does not fit, and is not split.
        let text = format!("{}東京", "a".repeat(299));
        let out = capped(&text, 300);
        assert_eq!(out, format!("{}…[+6 bytes]", "a".repeat(299)));
        // Multi-byte characters all the way: every cut is whole.
        for max in 0..20 {
            let out = capped(&"é東😀".repeat(10), max);
            let kept = out.split('…').next().unwrap();
            assert!(kept.len() <= max, "{max}: {out}");
        }
        // An escape is kept whole or not at all.
        let out = capped("ab\u{1b}", 5);
        assert_eq!(out, "ab…[+6 bytes]");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced() {
        assert_eq!(server_bytes(b"ok\xff\n"), "ok\u{fffd}\\n");
        let big = vec![b'z'; 10_000];
        let out = server_bytes(&big);
        assert_eq!(
            out,
            format!("{}…[+{} bytes]", "z".repeat(300), 10_000 - 300)
        );
        // A character cut by the look-ahead window is not half-decoded into the kept text.
        let mut mixed = vec![b'a'; 303];
        mixed.extend_from_slice("東".as_bytes());
        let out = server_bytes(&mixed);
        assert!(
            out.starts_with(&"a".repeat(300)) && out.ends_with(" bytes]"),
            "{out}"
        );
    }
}
