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
//!
//! Values are read with [`Strict`], which refuses a key given twice in one object (JSON
//! parsers usually keep the last silently: a second `url` would monitor another site than
//! the one the reader of the file sees first).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{entry, kind, parse_defaults, syntax_error, ConfigError, Defaults, Monitor};

/// What the top level holds, entries already validated.
pub(super) struct Document {
    /// One monitor per entry, in file order (possibly none).
    pub monitors: Vec<Monitor>,
    /// The object form's `notify` list, validated by the caller.
    pub notify: Option<Value>,
    /// The object form's `connectivity` object, validated by the caller.
    pub connectivity: Option<Value>,
    /// The object form's `server` object, validated by the caller.
    pub server: Option<Value>,
    /// The object form's `location` name, validated by the caller.
    pub location: Option<Value>,
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
            server: None,
            location: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut defaults: Option<Defaults> = None;
        let mut monitors: Option<Vec<Monitor>> = None;
        // Entries met before `defaults`, finished once the whole object is read.
        let mut early: Option<Vec<Value>> = None;
        let mut notify: Option<Value> = None;
        let mut connectivity: Option<Value> = None;
        let mut server: Option<Value> = None;
        let mut location: Option<Value> = None;
        while let Some(key) = map.next_key::<String>()? {
            let seen = match key.as_str() {
                "defaults" => defaults.is_some(),
                "urls" => monitors.is_some() || early.is_some(),
                "notify" => notify.is_some(),
                "connectivity" => connectivity.is_some(),
                "server" => server.is_some(),
                "location" => location.is_some(),
                _ => {
                    return fail(
                        self.failure,
                        ConfigError::Shape(format!(
                            "unknown top-level key {key:?}; the accepted keys are \"urls\", \"defaults\", \"notify\", \"connectivity\", \"server\" and \"location\""
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
                "defaults" => {
                    match parse_defaults(next_strict(&mut map, self.failure, Part::Defaults)?) {
                        Ok(d) => defaults = Some(d),
                        Err(message) => return fail(self.failure, ConfigError::Defaults(message)),
                    }
                }
                "urls" => match &defaults {
                    Some(defaults) => {
                        monitors = Some(map.next_value_seed(Entries {
                            defaults,
                            failure: &mut *self.failure,
                        })?)
                    }
                    None => match next_strict(&mut map, self.failure, Part::Entries)? {
                        Value::Array(entries) => early = Some(entries),
                        other => return fail(self.failure, urls_not_an_array(kind(&other))),
                    },
                },
                "connectivity" => {
                    connectivity = Some(next_strict(&mut map, self.failure, Part::Connectivity)?)
                }
                "server" => server = Some(next_strict(&mut map, self.failure, Part::Server)?),
                "location" => location = Some(next_strict(&mut map, self.failure, Part::Server)?),
                _ => notify = Some(next_strict(&mut map, self.failure, Part::Notify)?),
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
            server,
            location,
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
        loop {
            let mut duplicate = None;
            let read = seq.next_element_seed(Strict {
                duplicate: &mut duplicate,
                entry: Some(monitors.len()),
                list: false,
            });
            let value = match (read, duplicate) {
                (Ok(Some(value)), _) => value,
                (Ok(None), _) => break,
                (Err(_), Some(d)) => return fail(self.failure, d.error(Part::Entries)),
                (Err(e), None) => return Err(e),
            };
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

/// Which part of the file a value belongs to, for the error about a duplicate key in it.
#[derive(Clone, Copy)]
enum Part {
    Defaults,
    Entries,
    Notify,
    Connectivity,
    Server,
}

/// A key found twice in one object, and the entry (or channel) it is in.
struct Duplicate {
    key: String,
    entry: Option<usize>,
}

impl Duplicate {
    fn error(self, part: Part) -> ConfigError {
        let message = format!(
            "the key {:?} is given twice in one object; keep one (JSON readers disagree on which wins)",
            super::clip(&self.key, super::MAX_QUOTED)
        );
        match (part, self.entry) {
            (Part::Entries, Some(index)) => ConfigError::Entry {
                index,
                url: None,
                message,
            },
            (Part::Entries, None) => ConfigError::Shape(format!("urls: {message}")),
            (Part::Defaults, _) => ConfigError::Defaults(message),
            (Part::Notify, Some(i)) => ConfigError::Notify(format!("channel {}: {message}", i + 1)),
            (Part::Notify, None) => ConfigError::Notify(message),
            (Part::Connectivity, _) => ConfigError::Connectivity(message),
            (Part::Server, _) => ConfigError::Shape(format!("server: {message}")),
        }
    }
}

/// Reads the next map value with [`Strict`]; a duplicate key in it fails the parse with the
/// error for `part`.
fn next_strict<'de, A: MapAccess<'de>>(
    map: &mut A,
    failure: &mut Option<ConfigError>,
    part: Part,
) -> Result<Value, A::Error> {
    let mut duplicate = None;
    let read = map.next_value_seed(Strict {
        duplicate: &mut duplicate,
        entry: None,
        list: !matches!(part, Part::Defaults | Part::Connectivity | Part::Server),
    });
    match (read, duplicate) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(d)) => fail(failure, d.error(part)),
        (Err(e), None) => Err(e),
    }
}

/// Reads a JSON value as `serde_json::Value` does, but fails on a key given twice in an
/// object, recording it in `duplicate`.
struct Strict<'d> {
    duplicate: &'d mut Option<Duplicate>,
    /// The entry (or channel) this value is part of, if known.
    entry: Option<usize>,
    /// This value is the list of entries (or channels): its items are numbered.
    list: bool,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let entry = if self.list {
                Some(items.len())
            } else {
                self.entry
            };
            let item = seq.next_element_seed(Strict {
                duplicate: &mut *self.duplicate,
                entry,
                list: false,
            })?;
            match item {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.duplicate = Some(Duplicate {
                    key,
                    entry: self.entry,
                });
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(Strict {
                duplicate: &mut *self.duplicate,
                entry: self.entry,
                list: false,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
