//! Turns the text of a config file into plain JSON: comments and trailing commas removed.
//!
//! A config may say why a monitor exists (`// checkout, see INC-42`, `/* … */`) and may end a
//! list or object with a comma. Both are blanked *in place*, byte for byte, with spaces (a
//! newline inside a block comment stays a newline), so the JSON parser that reads the result
//! reports every syntax error at the line and column of the original file, and the load stays
//! one pass over one buffer: no second copy of a file of a million entries. (The
//! `json_comments` crate strips comments as a stream too, but not trailing commas, and a
//! second pass for those would need the same string-aware scan again.)
//!
//! Text inside JSON strings is never touched: `"https://example.com/a//b"` stays as it is.
//!
//! [`looks_like_yaml`] recognises the other format people reach for, so its reader gets a
//! sentence rather than a JSON syntax error on line 1.

/// Where the scan is.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    Str,
    Escape,
    LineComment,
    BlockComment,
}

/// A `/*` comment that never ends: its 1-based line and column.
#[derive(Debug, PartialEq)]
pub(super) struct Unclosed {
    pub line: usize,
    pub column: usize,
}

/// Blanks comments and trailing commas of `text` in place (see the module doc).
pub(super) fn strip(text: String) -> Result<String, Unclosed> {
    let mut bytes = text.into_bytes();
    let mut state = State::Code;
    // The comma that may turn out to be trailing.
    let mut comma: Option<usize> = None;
    let mut opened = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match state {
            // Most of a config is string text: jump to its next quote or backslash.
            State::Str => match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                Some(skip) => {
                    i += skip;
                    state = if bytes[i] == b'"' {
                        State::Code
                    } else {
                        State::Escape
                    };
                }
                None => i = bytes.len(),
            },
            State::Escape => state = State::Str,
            State::LineComment => {
                if b == b'\n' {
                    state = State::Code;
                } else {
                    bytes[i] = b' ';
                }
            }
            State::BlockComment => {
                if b == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    bytes[i] = b' ';
                    bytes[i + 1] = b' ';
                    i += 1;
                    state = State::Code;
                } else if b != b'\n' && b != b'\r' {
                    bytes[i] = b' ';
                }
            }
            State::Code => {
                if comma.is_none() {
                    // Outside strings only a quote, a slash or a comma can matter (the
                    // brackets only after a comma): jump to the next of those.
                    match memchr::memchr3(b'"', b'/', b',', &bytes[i..]) {
                        Some(skip) => i += skip,
                        None => break,
                    }
                }
                match bytes[i] {
                    b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => {
                        state = if bytes[i + 1] == b'/' {
                            State::LineComment
                        } else {
                            opened = i;
                            State::BlockComment
                        };
                        bytes[i] = b' ';
                        bytes[i + 1] = b' ';
                        i += 1;
                    }
                    b' ' | b'\t' | b'\n' | b'\r' => {}
                    b => {
                        if let Some(at) = comma.take() {
                            // A comma after a value and before a closing bracket is trailing;
                            // one after `[`, `{`, `,` or `:` (comments before it are blanked
                            // already) is an error the parser reports.
                            let before = bytes[..at].iter().rev().find(|c| !is_blank(**c));
                            if matches!(b, b']' | b'}')
                                && !matches!(before, None | Some(b'[' | b'{' | b',' | b':'))
                            {
                                bytes[at] = b' ';
                            }
                        }
                        if b == b',' {
                            comma = Some(i);
                        } else if b == b'"' {
                            state = State::Str;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    if state == State::BlockComment {
        let before = &bytes[..opened];
        let line = 1 + memchr::memchr_iter(b'\n', before).count();
        let column = 1 + opened - memchr::memrchr(b'\n', before).map_or(0, |n| n + 1);
        return Err(Unclosed { line, column });
    }
    // Only whole comments were blanked, byte by byte, with ASCII spaces: still UTF-8.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// JSON's whitespace.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether `text` (comments already blanked) looks like YAML rather than JSON: its first line
/// that is neither blank nor a `#` comment is `---`, a `- ` list item, or an unquoted
/// `key: value`. Returns that line's 1-based number.
pub(super) fn looks_like_yaml(text: &str) -> Option<usize> {
    let (number, line) = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))?;
    let key = line.split_once(':').is_some_and(|(key, rest)| {
        !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' ' | b'.'))
            && key.as_bytes()[0].is_ascii_alphabetic()
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
    });
    (line == "---" || line.starts_with("--- ") || line.starts_with("- ") || line == "-" || key)
        .then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        strip(text.to_owned()).unwrap()
    }

    #[test]
    fn comments_become_spaces_of_the_same_length() {
        let text = "[ // why\n {\"url\": \"http://a//b\" /* x\n y */ }\n]";
        let out = s(text);
        assert_eq!(out.len(), text.len());
        assert_eq!(out.lines().count(), text.lines().count());
        assert_eq!(out, "[       \n {\"url\": \"http://a//b\"     \n      }\n]");
    }

    #[test]
    fn trailing_commas_go_others_stay() {
        assert_eq!(s("[1,2,]"), "[1,2 ]");
        assert_eq!(s("{\"a\":1, // c\n}"), "{\"a\":1      \n}");
        assert_eq!(s("[\"a,\" , ]"), "[\"a,\"   ]");
        // Not trailing: left for the parser to refuse.
        assert_eq!(s("[,]"), "[,]");
        assert_eq!(s("[1,,]"), "[1,,]");
        assert_eq!(s("{\"a\":,}"), "{\"a\":,}");
    }

    #[test]
    fn escapes_in_strings_do_not_end_them() {
        assert_eq!(s(r#"["a\"//b",]"#), r#"["a\"//b" ]"#);
    }

    #[test]
    fn plain_json_is_left_exactly_as_it_is() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "urls.json",
            "fixtures/object-form.json",
            "fixtures/every-field.json",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            assert_eq!(s(&text), text, "{file}");
        }
    }

    #[test]
    fn any_input_keeps_its_length_and_lines() {
        let pieces = ["/", "*", "\"", "\\", ",", "]", "}", "\n", "é", "a", " "];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            let mut text = String::new();
            for _ in 0..12 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            if let Ok(out) = strip(text.clone()) {
                assert_eq!(out.len(), text.len(), "{text:?}");
                assert_eq!(
                    out.matches('\n').count(),
                    text.matches('\n').count(),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn an_unclosed_block_comment_is_placed() {
        assert_eq!(
            strip("[\n  /* no end".to_owned()),
            Err(Unclosed { line: 2, column: 3 })
        );
    }

    #[test]
    fn yaml_is_recognised_json_is_not() {
        assert_eq!(looks_like_yaml("# c\n\nurls:\n  - url: x"), Some(3));
        assert_eq!(looks_like_yaml("- url: https://a"), Some(1));
        assert_eq!(looks_like_yaml("---\n"), Some(1));
        assert_eq!(looks_like_yaml("[{\"url\": \"x\"}]"), None);
        assert_eq!(looks_like_yaml("{\"urls\": []}"), None);
        assert_eq!(looks_like_yaml("https://a.example"), None);
    }
}
