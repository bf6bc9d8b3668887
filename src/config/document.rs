//! Reads the top level of a config file as a stream.
//!
//! Entries are validated one at a time as the parser reaches them and only the resulting
//! [`Monitor`]s are kept, so a list of a million URLs never exists as a JSON tree in memory
//! (the tree took about 500 bytes an entry, more than the monitors it became). An entry is
//! still parsed to a small `Value` first, so its errors can name the field and quote the
//! value. The one case that buffers entries is an object form whose `defaults` come after its
//! `urls`: entries cannot be finished before their defaults are known.
//!
//! Problems are reported in file order: a syntax error with its line and column, anything
//! else as the [`ConfigError`] that says which part of the file it is in.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{entry, kind, parse_defaults, syntax_error, ConfigError, Defaults, Monitor};

/// What the top level holds, entries already validated.
pub(super) struct Document {
    /// One monitor per entry, in file order (possibly none).
    pub monitors: Vec<Monitor>,
    /// The object form's `notify` list, validated by the caller.
    pub notify: Option<Value>,
    /// The object form's `connectivity` object, validated by the caller.
    pub connectivity: Option<Value>,
}

/// Parses `text` (one JSON value, nothing after it) into a [`Document`].
pub(super) fn read(text: &str) -> Result<Document, ConfigError> {
    // A visitor can only fail with a serde error, which has no room for a ConfigError: it
    // leaves the real error here and aborts the parse with a placeholder.
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let read = Top {
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|document| de.end().map(|()| document));
    match (read, failure) {
        (_, Some(e)) => Err(e),
        (Ok(document), None) => Ok(document),
        (Err(e), None) => Err(syntax_error(e)),
    }
}

/// Records `error` as the reason the parse stops, and stops it.
fn fail<T, E: de::Error>(slot: &mut Option<ConfigError>, error: ConfigError) -> Result<T, E> {
    *slot = Some(error);
    Err(E::custom("invalid configuration"))
}

/// Implements the visits of JSON types a visitor does not accept, each failing with
/// `self.wrong(kind)`, where kind is the type with an article ("a number").
macro_rules! reject {
    ($($method:ident($($ty:ty)?) => $kind:literal),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, $(_: $ty)?) -> Result<Self::Value, E> {
                self.wrong($kind)
            }
        )*
    };
}

/// The whole file: an array of entries, or an object with `urls`, `defaults` and `notify`.
struct Top<'f> {
    failure: &'f mut Option<ConfigError>,
}

impl Top<'_> {
    fn wrong<T, E: de::Error>(self, kind: &str) -> Result<T, E> {
        fail(
            self.failure,
            ConfigError::Shape(format!(
                "the top level must be a JSON array of entries, or an object with a \"urls\" array; found {kind}"
            )),
        )
    }
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Document;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries, or an object with a \"urls\" array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        let monitors = Entries {
            defaults: &Defaults::default(),
            failure: self.failure,
        }
        .visit_seq(seq)?;
        Ok(Document {
            monitors,
            notify: None,
            connectivity: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut defaults: Option<Defaults> = None;
        let mut monitors: Option<Vec<Monitor>> = None;
        // Entries met before `defaults`, finished once the whole object is read.
        let mut early: Option<Vec<Value>> = None;
        let mut notify: Option<Value> = None;
        let mut connectivity: Option<Value> = None;
        while let Some(key) = map.next_key::<String>()? {
            let seen = match key.as_str() {
                "defaults" => defaults.is_some(),
                "urls" => monitors.is_some() || early.is_some(),
                "notify" => notify.is_some(),
                "connectivity" => connectivity.is_some(),
                _ => {
                    return fail(
                        self.failure,
                        ConfigError::Shape(format!(
                            "unknown top-level key {key:?}; the accepted keys are \"urls\", \"defaults\", \"notify\" and \"connectivity\""
                        )),
                    )
                }
            };
            if seen {
                return fail(
                    self.failure,
                    ConfigError::Shape(format!(
                        "the top-level key {key:?} is given twice; keep one"
                    )),
                );
            }
            match key.as_str() {
                "defaults" => match parse_defaults(map.next_value()?) {
                    Ok(d) => defaults = Some(d),
                    Err(message) => return fail(self.failure, ConfigError::Defaults(message)),
                },
                "urls" => match &defaults {
                    Some(defaults) => {
                        monitors = Some(map.next_value_seed(Entries {
                            defaults,
                            failure: &mut *self.failure,
                        })?)
                    }
                    None => match map.next_value()? {
                        Value::Array(entries) => early = Some(entries),
                        other => return fail(self.failure, urls_not_an_array(kind(&other))),
                    },
                },
                "connectivity" => connectivity = Some(map.next_value()?),
                _ => notify = Some(map.next_value()?),
            }
        }
        let monitors = match (monitors, early) {
            (Some(monitors), _) => monitors,
            (None, Some(entries)) => {
                let defaults = defaults.unwrap_or_default();
                let finished = entries
                    .into_iter()
                    .enumerate()
                    .map(|(index, value)| entry(index, value, &defaults))
                    .collect::<Result<Vec<_>, _>>();
                match finished {
                    Ok(monitors) => monitors,
                    Err(e) => return fail(self.failure, e),
                }
            }
            (None, None) => {
                return fail(
                    self.failure,
                    ConfigError::Shape(
                        "the top-level object has no \"urls\" key; add \"urls\": [{\"url\": \"https://example.com\"}]"
                            .to_owned(),
                    ),
                )
            }
        };
        Ok(Document {
            monitors,
            notify,
            connectivity,
        })
    }

    reject! {
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    }
}

fn urls_not_an_array(kind: &str) -> ConfigError {
    ConfigError::Shape(format!(
        "\"urls\" must be an array of entries, found {kind}"
    ))
}

/// The list of entries, each turned into a [`Monitor`] as soon as it is read.
struct Entries<'a, 'f> {
    defaults: &'a Defaults,
    failure: &'f mut Option<ConfigError>,
}

impl Entries<'_, '_> {
    fn wrong<T, E: de::Error>(self, kind: &str) -> Result<T, E> {
        fail(self.failure, urls_not_an_array(kind))
    }
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = Vec<Monitor>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Monitor>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = Vec<Monitor>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Monitor>, A::Error> {
        let mut monitors = Vec::new();
        while let Some(value) = seq.next_element::<Value>()? {
            match entry(monitors.len(), value, self.defaults) {
                Ok(monitor) => monitors.push(monitor),
                Err(e) => return fail(self.failure, e),
            }
        }
        // The doubling left up to half the capacity unused; a large block shrinks in place.
        monitors.shrink_to_fit();
        Ok(monitors)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<Monitor>, A::Error> {
        self.wrong("an object")
    }

    reject! {
        visit_bool(bool) => "a boolean",
        visit_i64(i64) => "a number",
        visit_u64(u64) => "a number",
        visit_f64(f64) => "a number",
        visit_str(&str) => "a string",
        visit_unit() => "null",
    }
}
