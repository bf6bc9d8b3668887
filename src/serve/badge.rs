//! Badges: `/badge/{id}/status.svg` and `/badge/{id}/uptime/{24h|7d|30d}.svg`, and the same
//! paths ending in `.json` for the shields.io endpoint document
//! (`{"schemaVersion":1,"label":…,"message":…,"color":…}`).
//!
//! The SVG is the shields "flat" style: 20 px high, Verdana/DejaVu Sans 11 px, the label on
//! `#555`, the message on its colour (uptime: Gatus's thresholds). Text is XML-escaped. Badges
//! are never cached (`no-cache, no-store, must-revalidate`), so a README shows the state now.

use serde_json::json;

use super::reply::{JSON, SVG};
use super::status;
use super::{Ctx, Reply, Request};
use crate::state::State;

const NO_CACHE: &str = "no-cache, no-store, must-revalidate";

/// A badge's words and colour: (SVG colour, shields colour name).
struct Badge {
    label: String,
    message: String,
    colour: (&'static str, &'static str),
}

/// `svg` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Svg,
    Json,
}

fn form(file: &str, stem: &str) -> Option<Form> {
    match file.strip_prefix(stem)? {
        ".svg" => Some(Form::Svg),
        ".json" => Some(Form::Json),
        _ => None,
    }
}

const GREY: (&str, &str) = ("#9f9f9f", "lightgrey");

/// `GET /badge/{id}/status.svg|json`.
pub fn status(ctx: &Ctx, _request: &Request, id: &str, file: &str) -> Reply {
    let Some(form) = form(file, "status") else {
        return Reply::not_found(&format!("/badge/{id}/{file}"));
    };
    let Some(index) = ctx.monitor(id) else {
        return Reply::unknown_monitor(id);
    };
    let state = ctx.stats.state(index);
    let colour = match state {
        State::Up => ("#40cc11", "brightgreen"),
        State::Down => ("#c7130a", "red"),
        State::Degraded => ("#dfb317", "yellow"),
        State::Unknown => GREY,
    };
    render(
        &Badge {
            label: "status".into(),
            message: state.as_str().into(),
            colour,
        },
        form,
    )
}

/// `GET /badge/{id}/uptime/{24h|7d|30d}.svg|json`.
pub fn uptime(ctx: &Ctx, _request: &Request, id: &str, file: &str) -> Reply {
    let parsed = ["24h", "7d", "30d"]
        .iter()
        .enumerate()
        .find_map(|(w, stem)| form(file, stem).map(|f| (w, *stem, f)));
    let Some((window, name, form)) = parsed else {
        return Reply::not_found(&format!(
            "/badge/{id}/uptime/{file} (use 24h, 7d or 30d, with .svg or .json)"
        ));
    };
    let Some(index) = ctx.monitor(id) else {
        return Reply::unknown_monitor(id);
    };
    let m = status::monitor_summary(ctx, index);
    // Without a history, what this run has seen, and the label says so.
    let (label, pct) = if ctx.history.is_some() {
        (format!("uptime {name}"), m.uptime[window])
    } else {
        ("uptime (this run)".to_string(), m.uptime_run)
    };
    let (message, colour) = match pct {
        None => ("no data".to_string(), GREY),
        Some(p) => (percent(p), uptime_colour(p)),
    };
    render(
        &Badge {
            label,
            message,
            colour,
        },
        form,
    )
}

/// `99.95%`: at most two decimals, no trailing zeros, never rounded up to 100.
fn percent(p: f64) -> String {
    let floored = (p * 100.0).floor() / 100.0;
    let s = format!("{floored:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Gatus's uptime colours, and the nearest shields colour names.
fn uptime_colour(p: f64) -> (&'static str, &'static str) {
    if p >= 97.5 {
        ("#40cc11", "brightgreen")
    } else if p >= 95.0 {
        ("#94cc11", "green")
    } else if p >= 90.0 {
        ("#ccd311", "yellowgreen")
    } else if p >= 80.0 {
        ("#ccb311", "yellow")
    } else if p >= 65.0 {
        ("#cc8111", "orange")
    } else {
        ("#c7130a", "red")
    }
}

fn render(b: &Badge, form: Form) -> Reply {
    match form {
        Form::Json => {
            let doc = json!({
                "schemaVersion": 1,
                "label": b.label,
                "message": b.message,
                "color": b.colour.1,
            });
            let mut body = serde_json::to_vec(&doc).unwrap_or_default();
            body.push(b'\n');
            Reply::new(200, JSON, body).cache(NO_CACHE)
        }
        Form::Svg => Reply::new(200, SVG, svg(&b.label, &b.message, b.colour.0)).cache(NO_CACHE),
    }
}

/// Approximate width of `text` in Verdana 11 px (shields measures the same font).
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 3.5,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' | '/' => 5.0,
            'm' | 'w' | 'M' | 'W' | '%' => 11.0,
            c if c.is_ascii_uppercase() => 8.0,
            _ => 7.0,
        })
        .sum()
}

/// Escapes text for SVG (XML) content and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn svg(label: &str, message: &str, colour: &str) -> String {
    let lw = (text_width(label) + 10.0).round();
    let mw = (text_width(message) + 10.0).round();
    let w = lw + mw;
    let (lx, mx) = (lw / 2.0, lw + mw / 2.0);
    let (l, m) = (escape(label), escape(message));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{l}: {m}"><title>{l}: {m}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{l}</text><text x="{lx}" y="14">{l}</text><text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{m}</text><text x="{mx}" y="14">{m}</text></g></svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_never_rounds_up_to_100() {
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(99.999), "99.99%");
        assert_eq!(percent(99.5), "99.5%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn gatus_thresholds() {
        assert_eq!(uptime_colour(97.5).0, "#40cc11");
        assert_eq!(uptime_colour(97.4).0, "#94cc11");
        assert_eq!(uptime_colour(90.0).0, "#ccd311");
        assert_eq!(uptime_colour(80.0).0, "#ccb311");
        assert_eq!(uptime_colour(65.0).0, "#cc8111");
        assert_eq!(uptime_colour(64.9).0, "#c7130a");
    }

    #[test]
    fn svg_is_flat_20px_and_escapes_text() {
        let s = svg("a<b", "\"x\" & y", "#555");
        assert!(s.contains(r#"height="20""#));
        assert!(s.contains("a&lt;b") && s.contains("&quot;x&quot; &amp; y"));
        assert!(!s.contains("a<b"));
        assert!(s.contains(r##"fill="#555""##));
    }
}
