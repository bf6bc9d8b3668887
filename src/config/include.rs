//! `"include": ["conf.d/*.json"]`: several files make one config.
//!
//! The object form of a config may name other files, relative to the file that names them;
//! a pattern's *file name* may hold `*` and `?` (matched with `wildmatch`, the directory read
//! once, hidden files skipped unless the pattern starts with `.`), its directory may not.
//! Matches are taken in sorted order, patterns in list order, and each file's entries are
//! appended after the including file's own, so the order of monitors does not depend on the
//! order a directory happens to list its files in. A pattern matching nothing is fine (an
//! empty `conf.d/`); a name without `*` must exist.
//!
//! An included file is a list of entries, or an object with `urls` and perhaps an `include`
//! of its own: the `defaults`, `notify` and `connectivity` of a config are its main file's
//! alone, and they apply to every included entry. Errors name the included file, and entry
//! positions count within it. A file including itself, directly or not, is refused, and
//! includes nest at most [`MAX_DEPTH`] files deep and number at most [`MAX_FILES`].

use std::path::{Path, PathBuf};

use serde_json::Value;
use wildmatch::WildMatch;

use super::{
    document, prepare, read_bounded, shown, yaml_or, ConfigError, ConfigErrors, Defaults, Monitor,
};

/// Deepest chain of files including one another.
pub const MAX_DEPTH: usize = 8;
/// Most files one config may include, all levels together.
pub const MAX_FILES: usize = 10_000;

/// What every included file adds to.
struct Merge<'a> {
    defaults: &'a Defaults,
    monitors: &'a mut Vec<Monitor>,
    errors: &'a mut ConfigErrors,
    /// The files including the one being read (canonical paths), the main file first.
    chain: Vec<PathBuf>,
    files: usize,
    /// Where each included file's monitors start in `monitors`, and the file.
    origins: Vec<(usize, PathBuf)>,
}

/// Reads the files `list` (the `include` value of the file at `path`) names, appending their
/// monitors to `monitors` and their problems to `errors`. Returns where each file's monitors
/// start, for [`place`].
pub(super) fn merge(
    path: &Path,
    list: Value,
    defaults: &Defaults,
    monitors: &mut Vec<Monitor>,
    errors: &mut ConfigErrors,
) -> Vec<(usize, PathBuf)> {
    let mut merge = Merge {
        defaults,
        monitors,
        errors,
        chain: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())],
        files: 0,
        origins: Vec::new(),
    };
    merge.list(path, list);
    merge.origins
}

/// An error about the merged list of monitors (a `notify` name unknown, a name given twice)
/// with its positions turned back into positions in the files the entries came from.
pub(super) fn place(error: ConfigError, origins: &[(usize, PathBuf)]) -> ConfigError {
    let locate = |index: usize| {
        origins
            .iter()
            .rev()
            .find(|(start, _)| *start <= index)
            .map(|(start, path)| (index - start, path))
    };
    match error {
        ConfigError::Entry {
            index,
            url,
            message,
        } => match locate(index) {
            Some((local, path)) => ConfigError::Included {
                path: path.clone(),
                source: Box::new(ConfigError::Entry {
                    index: local,
                    url,
                    message,
                }),
            },
            None => ConfigError::Entry {
                index,
                url,
                message,
            },
        },
        ConfigError::DuplicateName {
            first,
            second,
            name,
        } if locate(second).is_some() => {
            let at = |i: usize| match locate(i) {
                Some((local, path)) => {
                    format!("entry {} (index {local}) of {}", local + 1, path.display())
                }
                None => format!("entry {} (index {i}) of the main file", i + 1),
            };
            ConfigError::Include(format!(
                "{} and {} have the same name {:?}; a name identifies its monitor, so give each \
                 entry its own name",
                at(first),
                at(second),
                super::clip(&name, super::MAX_QUOTED)
            ))
        }
        other => other,
    }
}

impl Merge<'_> {
    fn list(&mut self, from: &Path, list: Value) {
        const HINT: &str = "a list of file patterns such as [\"conf.d/*.json\"]";
        let Value::Array(items) = list else {
            let found = shown(&list);
            return self.errors.push(ConfigError::Include(format!(
                "must be {HINT}, found {found}"
            )));
        };
        let dir = from.parent().unwrap_or(Path::new("."));
        for item in items {
            let files = match &item {
                Value::String(pattern) if !pattern.trim().is_empty() => {
                    resolve(dir, pattern.trim())
                }
                other => Err(format!("must be {HINT}; found the item {}", shown(other))),
            };
            match files {
                Ok(files) => {
                    for file in files {
                        self.file(file);
                    }
                }
                Err(message) => self.errors.push(ConfigError::Include(message)),
            }
        }
    }

    fn file(&mut self, file: PathBuf) {
        self.files += 1;
        if self.files > MAX_FILES {
            if self.files == MAX_FILES + 1 {
                self.errors.push(ConfigError::Include(format!(
                    "more than {MAX_FILES} files are included; merge some"
                )));
            }
            return;
        }
        let canonical = match std::fs::canonicalize(&file) {
            Ok(c) => c,
            Err(e) => {
                return self.errors.push(ConfigError::Include(format!(
                    "cannot read {}: {e}",
                    file.display()
                )))
            }
        };
        if self.chain.contains(&canonical) {
            return self.errors.push(ConfigError::Include(format!(
                "{} includes itself (through {}); remove the include that closes the circle",
                file.display(),
                self.chain
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )));
        }
        if self.chain.len() > MAX_DEPTH {
            return self.errors.push(ConfigError::Include(format!(
                "{} is included {} files deep, more than the {MAX_DEPTH} allowed",
                file.display(),
                self.chain.len()
            )));
        }
        let in_file = |source: ConfigError| ConfigError::Included {
            path: file.clone(),
            source: Box::new(source),
        };
        let text = match read_bounded(&file) {
            Ok(text) => text,
            Err(source) => {
                return self.errors.push(ConfigError::Include(format!(
                    "cannot read {}: {source}",
                    file.display()
                )))
            }
        };
        let text = match prepare(text) {
            Ok(text) => text,
            // An empty included file adds nothing, which is what it says.
            Err(ConfigError::Empty) => return,
            Err(e) => return self.errors.push(in_file(e)),
        };
        let mut own = ConfigErrors::default();
        let read = document::read(&text, &mut own, Some(self.defaults));
        self.errors.more += own.more;
        for e in own.errors {
            self.errors.push(in_file(e));
        }
        match read {
            Ok(document) => {
                if !document.monitors.is_empty() {
                    self.origins.push((self.monitors.len(), file.clone()));
                }
                self.monitors.extend(document.monitors);
                if let Some(list) = document.include {
                    drop(text);
                    self.chain.push(canonical);
                    self.list(&file, list);
                    self.chain.pop();
                }
            }
            Err(e) => self.errors.push(in_file(yaml_or(e, &text))),
        }
    }
}

/// The files `pattern` names, relative to `dir`, in sorted order.
fn resolve(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let wild = |s: &str| s.contains(['*', '?']);
    let (Some(parent), Some(name)) = (full.parent(), full.file_name().and_then(|n| n.to_str()))
    else {
        return Err(format!("{pattern:?} names no file"));
    };
    if wild(&parent.to_string_lossy()) {
        return Err(format!(
            "{pattern:?}: only the file name may hold * or ?, as in \"conf.d/*.json\""
        ));
    }
    if !wild(name) {
        return Ok(vec![full]);
    }
    // `dir` is empty for a main file named without a directory (`urls.json`).
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let matcher = WildMatch::new(name);
    let entries = std::fs::read_dir(parent).map_err(|e| {
        format!(
            "{pattern:?}: cannot read the directory {}: {e}",
            parent.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            (name.starts_with('.') || !n.starts_with('.'))
                && matcher.matches(&n)
                && e.path().is_file()
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::config::Config;

    #[test]
    fn included_entries_follow_the_main_file_in_sorted_order_with_its_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf.d");
        fs::create_dir(&conf).unwrap();
        let main = dir.path().join("main.json");
        fs::write(
            &main,
            r#"{"include": ["conf.d/*.json", "extra.json"], "defaults": {"interval": "30s"},
                "urls": [{"url": "https://main.example"}]}"#,
        )
        .unwrap();
        fs::write(conf.join("b.json"), r#"[{"url": "https://b.example"}]"#).unwrap();
        fs::write(
            conf.join("a.json"),
            r#"{"urls": [{"url": "https://a.example"}]}"#,
        )
        .unwrap();
        fs::write(dir.path().join("extra.json"), "// nothing yet\n").unwrap();
        let config = Config::load(&main).unwrap();
        let urls: Vec<&str> = config.monitors.iter().map(|m| &*m.url).collect();
        assert_eq!(
            urls,
            [
                "https://main.example",
                "https://a.example",
                "https://b.example"
            ]
        );
        assert!(config.monitors.iter().all(|m| m.interval.as_secs() == 30));
        // A named file must exist; a pattern may match nothing.
        fs::remove_file(dir.path().join("extra.json")).unwrap();
        let e = Config::load(&main).unwrap_err().to_string();
        assert!(
            e.starts_with("include: cannot read") && e.contains("extra.json"),
            "{e}"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..12 {
            let text = format!(
                r#"{{"include": ["f{}.json"], "urls": [{{"url": "https://h{i}.example"}}]}}"#,
                i + 1
            );
            fs::write(dir.path().join(format!("f{i}.json")), text).unwrap();
        }
        fs::write(dir.path().join("f12.json"), "[]").unwrap();
        let e = Config::load(&dir.path().join("f0.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the 8 allowed"), "{e}");
    }
}
