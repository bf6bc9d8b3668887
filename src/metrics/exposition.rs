//! A writer of the Prometheus text exposition format, version 0.0.4.
//!
//! Guarantees, whatever the text given: every line ends with `\n`; `# HELP` text escapes `\`
//! and newlines; label values escape `\`, `"` and newlines; values are written as Prometheus
//! parses them (`+Inf`, `-Inf`, `NaN`, integers without a fraction). It does not check names
//! (they are constants of sitewatch) nor that a family's samples are contiguous: callers write
//! one family at a time ([`Writer::family`] then its samples). Everything is appended to one
//! reused buffer, without an allocation per sample.

use std::io::Write;

/// The `Content-Type` of a scrape in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets when sitewatch restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative buckets, `_sum` and `_count`.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A count or other whole number.
    Int(u64),
    /// A whole number that may be negative (`-1` for unknown, as blackbox_exporter does).
    Signed(i64),
    /// Microseconds, written exactly as seconds (`1500` → `0.0015`).
    Micros(u64),
    /// Anything else.
    Float(f64),
}

/// Appends exposition text to a buffer.
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Writes to the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Writer<'a> {
        Writer { out }
    }

    /// Bytes in the buffer so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.extend_from_slice(b"# HELP ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        for b in help.bytes() {
            match b {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                _ => self.out.push(b),
            }
        }
        self.out.extend_from_slice(b"\n# TYPE ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(kind.as_str().as_bytes());
        self.out.push(b'\n');
    }

    /// Writes one sample: `name{labels} value`. `labels` are (name, value) pairs, written in
    /// order; `extra` is one more pair written last (for `le` or `reason`), if any.
    pub fn sample(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: Value,
    ) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        if !labels.is_empty() || extra.is_some() {
            self.out.push(b'{');
            let mut first = true;
            for (label, v) in labels.iter().chain(extra.as_ref()) {
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.out.extend_from_slice(label.as_bytes());
                self.out.extend_from_slice(b"=\"");
                escape_label(self.out, v);
                self.out.push(b'"');
            }
            self.out.push(b'}');
        }
        self.out.push(b' ');
        write_value(self.out, value);
        self.out.push(b'\n');
    }
}

/// Appends a label value, escaped per the format.
fn escape_label(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // Most values need nothing: copy them in one go.
    if !bytes.iter().any(|&b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Appends a value as Prometheus parses it.
fn write_value(out: &mut Vec<u8>, value: Value) {
    // Writing to a Vec cannot fail.
    let _ = match value {
        Value::Int(n) => write!(out, "{n}"),
        Value::Signed(n) => write!(out, "{n}"),
        Value::Micros(us) => {
            write_seconds(out, us);
            Ok(())
        }
        Value::Float(f) if f.is_nan() => write!(out, "NaN"),
        Value::Float(f) if f == f64::INFINITY => write!(out, "+Inf"),
        Value::Float(f) if f == f64::NEG_INFINITY => write!(out, "-Inf"),
        // Rust prints the shortest text that reads back as the same number, without an
        // exponent: valid for Prometheus's parser.
        Value::Float(f) => write!(out, "{f}"),
    };
}

/// Appends microseconds as seconds (`1500` → `0.0015`), exactly, without floating point.
pub fn write_seconds(out: &mut Vec<u8>, us: u64) {
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    let _ = write!(out, "{s}");
    if frac != 0 {
        let mut digits = [b'0'; 6];
        let mut rest = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let len = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Text of a bucket bound in microseconds as seconds, for an `le` label.
pub fn le(us: u64) -> String {
    let mut out = Vec::new();
    write_seconds(&mut out, us);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Writer<'_>)) -> String {
        let mut buf = Vec::new();
        f(&mut Writer::new(&mut buf));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn help_and_label_values_are_escaped() {
        let t = text(|w| {
            w.family("x_total", Kind::Counter, "a \\ b\nc \"q\"");
            w.sample(
                "x_total",
                "",
                &[("url", "http://a/\"x\"\\y\nz")],
                Some(("reason", "dns")),
                Value::Int(3),
            );
        });
        assert_eq!(
            t,
            "# HELP x_total a \\\\ b\\nc \"q\"\n# TYPE x_total counter\n\
             x_total{url=\"http://a/\\\"x\\\"\\\\y\\nz\",reason=\"dns\"} 3\n"
        );
    }

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        let t = text(|w| {
            w.sample("a", "", &[], None, Value::Float(f64::INFINITY));
            w.sample("a", "", &[], None, Value::Float(f64::NAN));
            w.sample("a", "", &[], None, Value::Float(0.25));
            w.sample("a", "", &[], None, Value::Signed(-1));
            w.sample("a", "_sum", &[], None, Value::Float(1e-7));
        });
        assert_eq!(t, "a +Inf\na NaN\na 0.25\na -1\na_sum 0.0000001\n");
    }

    #[test]
    fn seconds_from_microseconds_are_exact() {
        assert_eq!(le(10_000), "0.01");
        assert_eq!(le(2_500_000), "2.5");
        assert_eq!(le(60_000_000), "60");
        assert_eq!(le(1), "0.000001");
        assert_eq!(le(0), "0");
    }
}
