//! Server-chosen text made inert for chat services (Slack, Discord).
//!
//! A failure detail quotes what a site answered (a reason phrase, a header, a piece of the
//! body). In a chat message such text must not become a link, a masked link, a mention or
//! formatting that an attacker chose. [`defanged`] rewrites every detail of a notification:
//!
//! - it goes in an inline code span (`` `…` ``), which Slack's mrkdwn and Discord's markdown
//!   both show verbatim, without formatting, links or mentions; a backtick inside becomes `'`
//!   so the span cannot be closed early;
//! - a WORD JOINER (U+2060, invisible) goes after every `@` and between `:` and `//`, so that
//!   even a client that linkified code text would find no `@everyone`, `@here` or `scheme://`.
//!
//! The channels add their own documented escapes on top: Slack's `&`, `<`, `>` entities over the
//! whole text, Discord's `allowed_mentions: {"parse": []}`; both ask the service not to fetch
//! previews of links (`unfurl_links`/`unfurl_media` false; Discord's SUPPRESS_EMBEDS flag).

use super::{Alert, Notification};

/// Invisible, and not a place a word, a mention or a URL scheme can continue across.
const WORD_JOINER: char = '\u{2060}';

/// `text` as inert chat text (see the module documentation).
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    out.push('`');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => out.push('\''),
            '\n' | '\r' => out.push(' '),
            '@' => {
                out.push('@');
                out.push(WORD_JOINER);
            }
            ':' if chars.peek() == Some(&'/') => {
                out.push(':');
                out.push(WORD_JOINER);
            }
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

fn alert(a: &Alert) -> Alert {
    Alert {
        detail: a.detail.as_deref().map(inert),
        ..a.clone()
    }
}

/// `n` with every failure detail (alerts, and incidents in a digest) made inert.
pub fn defanged(n: &Notification) -> Notification {
    match n {
        Notification::Alert(a) => Notification::Alert(alert(a)),
        Notification::Group(alerts) => Notification::Group(alerts.iter().map(alert).collect()),
        Notification::Digest(d) => {
            let mut d = d.clone();
            for m in &mut d.monitors {
                for i in &mut m.incidents {
                    i.detail = i.detail.as_deref().map(inert);
                }
            }
            Notification::Digest(d)
        }
        Notification::Test { .. } => n.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_mentions_and_code_spans_are_neutralised() {
        assert_eq!(
            inert("HTTP 302 see https://evil.example/x @everyone `x` [a](b)"),
            "`HTTP 302 see https:\u{2060}//evil.example/x @\u{2060}everyone 'x' [a](b)`"
        );
        assert_eq!(inert("a\nb"), "`a b`");
    }
}
