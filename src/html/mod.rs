//! sitewatch's HTML: the shared layout, stylesheet and parts of every page it writes, the
//! report file (`report --format html`) and the live pages (`/`, `/monitors/{id}`), so they look
//! like one product.
//!
//! Every page goes through [`maud`] templates, which escape every interpolated value by
//! default: a monitor's name, URL or a server's detail can never become markup. Pages are
//! self-contained: one inline stylesheet (the same bytes on every page, so a Content-Security-
//! Policy can allow it by hash), inline SVG, no scripts, fonts, images or other external
//! assets, and no `style` attributes. Light and dark follow `prefers-color-scheme`.
//!
//! The templates are pure functions over plain view data ([`view`]): they read no clock,
//! database or shared state, so they are tested on hand-made values.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::state::State;

pub mod chart;
pub mod monitor;
pub mod parts;
pub mod status;
pub mod view;

/// The stylesheet of every page. Colours are variables, switched for dark mode; uptime cells
/// use the classes of [`level`], so light and dark share one palette for verdicts.
pub const STYLE: &str = "
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1d232a;--muted:#5b6570;--line:#e1e4e8;--soft:#eef0f2;--head:#f0f2f4;--chart:#fafbfc;--nodata:#e3e6ea;--p50:#2f5fd0;--p95:#5b8def;--link:#2456c5;--up:#1f9d55;--down:#d93b30;--unknown:#7b858f;--upbg:#e7f5ec;--downbg:#fcebea;--unknownbg:#eef0f2}
@media (prefers-color-scheme:dark){:root{--bg:#0f1318;--card:#171c22;--fg:#e4e8ec;--muted:#9aa4ae;--line:#2a313a;--soft:#222930;--head:#1c2228;--chart:#12161b;--nodata:#2b323b;--p50:#8fb0ff;--p95:#5b8def;--link:#8fb0ff;--up:#2fb36a;--down:#ef5a4f;--unknown:#8a949e;--upbg:#14291d;--downbg:#33171a;--unknownbg:#20262d}}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
.wrap{max-width:1240px;margin:0 auto;padding:18px 24px 28px}
header.top{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap;margin-bottom:12px}
.brand{font-weight:700;font-size:18px;letter-spacing:.2px;color:var(--fg)}
.brand svg{vertical-align:-3px;margin-right:6px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:15px;margin:22px 0 8px}
.sub{color:var(--muted);margin-bottom:14px}
.muted{color:var(--muted)}
.legend span{display:inline-block;margin-right:14px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.mon{display:flex;gap:16px;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:7px 12px;margin:7px 0}
.info{width:250px;flex:none;line-height:1.3}
.url{font-weight:600;word-break:break-all;font-size:13px}
.url .name{word-break:normal;white-space:nowrap}
.name{color:var(--muted)}
.big{font-size:17px;font-weight:650;color:var(--fg);margin-right:6px}
.nums{font-size:12px;color:var(--muted)}
.badge{display:inline-block;font-size:11px;font-weight:700;padding:1px 8px;border-radius:9px;color:#fff;vertical-align:1px;margin-left:6px;white-space:nowrap}
.badge.up{background:var(--up)}.badge.down{background:var(--down)}.badge.unknown{background:var(--unknown)}.badge.degraded{background:#b58a00}
.badge.up::before{content:'\\2713  '}.badge.down::before{content:'\\2715  '}.badge.unknown::before{content:'?  '}.badge.degraded::before{content:'!  '}
svg text{font:10px system-ui,sans-serif;fill:var(--muted)}
svg .frame{fill:var(--chart);stroke:var(--soft)}
svg .p50{fill:none;stroke:var(--p50);stroke-width:1.5}
svg .p95{fill:var(--p95);fill-opacity:.22}
svg .dot50{fill:var(--p50)}
svg .downtime{fill:var(--down);fill-opacity:.15}
svg .hit{fill:transparent}
.l5{fill:#1f9d55;background:#1f9d55}.l4{fill:#8cc63f;background:#8cc63f}.l3{fill:#f2c12e;background:#f2c12e}
.l2{fill:#f08a24;background:#f08a24}.l1{fill:#d93b30;background:#d93b30}.nd{fill:var(--nodata);background:var(--nodata)}
table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);margin-top:8px;width:100%}
th,td{padding:5px 10px;border-bottom:1px solid var(--soft);text-align:left;font-size:13px;vertical-align:top}
th{background:var(--head);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
td.detail{word-break:break-word;color:var(--muted)}
.overall{display:flex;align-items:center;gap:14px;border-radius:8px;padding:14px 18px;margin:4px 0 16px;border:1px solid var(--line);background:var(--card)}
.overall .word{font-size:22px;font-weight:700}
.overall.up{background:var(--upbg);border-color:var(--up)}.overall.up .word{color:var(--up)}
.overall.down{background:var(--downbg);border-color:var(--down)}.overall.down .word{color:var(--down)}
.overall.unknown{background:var(--unknownbg)}.overall .counts{margin-left:auto;color:var(--muted);text-align:right}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;flex:none}
.dot.up{background:var(--up)}.dot.down{background:var(--down)}.dot.unknown{background:var(--unknown)}
form.filter{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:6px 0 4px}
form.filter input,form.filter select,form.filter button{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:5px;background:var(--card);color:var(--fg)}
form.filter input[type=search]{min-width:240px}
form.filter button{cursor:pointer;font-weight:600}
.rows{background:var(--card);border:1px solid var(--line);border-radius:6px}
.row{display:grid;grid-template-columns:minmax(180px,1fr) 90px 190px 190px auto;gap:12px;align-items:center;padding:8px 12px;border-top:1px solid var(--soft)}
.row:first-child{border-top:0}
.row.down{box-shadow:inset 3px 0 0 var(--down)}
.row .who{min-width:0}
.row .who a{font-weight:600}
.row .u{font-size:12px;color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row .k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.3px}
.row .v{font-variant-numeric:tabular-nums;font-size:13px}
.strips{display:flex;gap:10px;align-items:flex-start}.strips svg{display:block}
.cap{font-size:10px;color:var(--muted);display:flex;justify-content:space-between}
.group{margin:18px 0 6px;font-size:13px;font-weight:700;color:var(--muted);text-transform:uppercase;letter-spacing:.4px}
.pager{display:flex;gap:12px;align-items:center;margin:12px 0;color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:10px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.card .k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.3px}
.card .v{font-size:17px;font-weight:650;font-variant-numeric:tabular-nums}
.panel{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow-x:auto}
.panel svg{display:block;width:100%;height:auto}
.warn{background:var(--downbg);border:1px solid var(--down);border-radius:6px;padding:8px 12px;margin:0 0 12px}
.ok{color:var(--up);font-weight:600}.bad{color:var(--down);font-weight:600}.odd{color:var(--unknown);font-weight:600}
footer{margin-top:26px;padding-top:10px;border-top:1px solid var(--line);font-size:12px;color:var(--muted)}
footer span{margin-right:16px;white-space:nowrap}
footer b{color:var(--fg);font-weight:600}
@media (max-width:900px){.row{grid-template-columns:1fr 1fr}.strips{grid-column:1/-1}}
";

/// The class of an uptime cell with `pct` percent of its checks up (`nd` without checks):
/// green at 99.9 % and above, then lime, yellow, orange and red below 90 %.
pub fn level(pct: Option<f64>) -> &'static str {
    match pct {
        None => "nd",
        Some(p) if p >= 99.9 => "l5",
        Some(p) if p >= 99.0 => "l4",
        Some(p) if p >= 95.0 => "l3",
        Some(p) if p >= 90.0 => "l2",
        Some(_) => "l1",
    }
}

/// The legend of [`level`]'s colours.
pub fn legend() -> Markup {
    const LEGEND: [(&str, Option<f64>); 6] = [
        ("≥ 99.9 %", Some(100.0)),
        ("≥ 99 %", Some(99.0)),
        ("≥ 95 %", Some(95.0)),
        ("≥ 90 %", Some(90.0)),
        ("< 90 %", Some(0.0)),
        ("no checks", None),
    ];
    html! {
        div.legend {
            @for (text, pct) in LEGEND { span { i class=(level(pct)) {} (text) } }
        }
    }
}

/// A monitor's state in words and colour (never colour alone): a badge saying `up`, `down`
/// or `unknown`.
pub fn badge(state: State) -> Markup {
    html! { span class={ "badge " (state.as_str()) } { (state.as_str()) } }
}

/// A "maintenance" marker, its reason as the title, for a monitor in a maintenance window.
pub fn maintenance_badge(reason: Option<&str>) -> Markup {
    html! { @if let Some(r) = reason { span.badge.unknown title=(r) { "maintenance" } } }
}

/// sitewatch's mark: a small inline SVG pulse.
fn mark() -> Markup {
    html! {
        svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true" {
            rect width="20" height="20" rx="5" class="l5" {}
            path d="M3 11h4l2-5 3 9 2-4h3" fill="none" stroke="#fff" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round" {}
        }
    }
}

/// What frames a page's body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frame<'a> {
    /// The document's title.
    pub title: &'a str,
    /// With it, the page reloads itself every that many seconds (a `<meta>` refresh: no
    /// script, so no Content-Security-Policy exception).
    pub refresh_s: Option<u32>,
    /// The brand links to `/` (a live page; a report file has no `/` to go to).
    pub live: bool,
}

/// A whole page: the brand header with `subtitle`, `body` and `footer`, framed by `frame`.
pub fn page(frame: Frame<'_>, subtitle: Markup, body: Markup, footer: Option<Markup>) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = frame.refresh_s { meta http-equiv="refresh" content=(s); }
                title { (frame.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                div.wrap {
                    header.top {
                        @if frame.live { a.brand href="/" { (mark()) "sitewatch" } }
                        @else { span.brand { (mark()) "sitewatch" } }
                        span.muted { (subtitle) }
                    }
                    main { (body) }
                    @if let Some(f) = footer { footer { (f) } }
                }
            }
        }
    };
    let mut s = page.into_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(level(Some(100.0)), "l5");
        assert_eq!(level(Some(99.5)), "l4");
        assert_eq!(level(Some(93.75)), "l2");
        assert_eq!(level(Some(12.0)), "l1");
        assert_eq!(level(None), "nd");
    }

    #[test]
    fn a_page_escapes_its_title_and_has_no_external_assets() {
        let frame = Frame {
            title: "<script>x</script>",
            refresh_s: Some(30),
            live: true,
        };
        let p = page(frame, html! {}, html! {}, None);
        assert!(p.starts_with("<!DOCTYPE html>"));
        assert!(p.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!p.contains("<script"));
        assert!(p.contains("http-equiv=\"refresh\" content=\"30\""));
        for external in ["<link", "src=", "url(", "@import", "style=\""] {
            assert!(!p.contains(external), "{external}");
        }
    }
}

#[cfg(test)]
mod pages_tests;
