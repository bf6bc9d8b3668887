//! `${VAR}` in config strings: replaced by the environment variable's value at load.
//!
//! `$${` stands for a literal `${` (and is the only escape: a `$` not followed by `{` is kept
//! as it is). A variable that is not set, or empty, is an error naming it, never an empty
//! string: a
//! monitor silently checking `https:///health` helps nobody.
//!
//! What a value read this way may contain is a secret as much as `{"env": "VAR"}` is: the
//! callers for `url` and `headers` keep the reference (`${TOKEN}`) as what is shown and mark
//! the value sensitive; messages here name the variable, never its value.

use std::borrow::Cow;

use serde_json::Value;

/// `text` with every `${VAR}` replaced through `env`, and whether it had any (as opposed to
/// only `$${` escapes, or nothing).
pub(super) fn expand<'t>(
    text: &'t str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Cow<'t, str>, bool), String> {
    // Most strings hold no `$` at all: one memchr says so (cheaper than a substring search,
    // and this runs for every URL of a million-entry list).
    if memchr::memchr(b'$', text.as_bytes()).is_none() || !text.contains("${") {
        return Ok((Cow::Borrowed(text), false));
    }
    let mut out = String::with_capacity(text.len());
    let mut referenced = false;
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..at]);
            out.push('{');
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` is not closed by `}`; write `$${` for a literal `${`".to_owned());
        };
        let var = &after[..end];
        let valid = var
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(format!(
                "`${{{}}}` is not a variable reference (a name of letters, digits and _); \
                 write `$${{` for a literal `${{`",
                super::clip(var, 40)
            ));
        }
        let Some(value) = env(var).filter(|v| !v.is_empty()) else {
            return Err(format!(
                "environment variable {var} is not set, or empty (used as ${{{var}}})"
            ));
        };
        out.push_str(&value);
        referenced = true;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((Cow::Owned(out), referenced))
}

/// Expands `${VAR}` in every string inside `value` (object keys excepted), in place. The
/// top-level keys in `skip` are left alone: their callers expand them and keep the value
/// secret. An error names the top-level key it is under.
pub(super) fn expand_all(
    value: &mut Value,
    skip: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Ok(());
    };
    for (key, item) in map.iter_mut() {
        if skip.contains(&key.as_str()) {
            continue;
        }
        expand_value(item, env).map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(())
}

fn expand_value(value: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match value {
        Value::String(text) => {
            if let (Cow::Owned(new), _) = expand(text, env)? {
                *text = new;
            }
        }
        Value::Array(items) => {
            for item in items {
                expand_value(item, env)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                expand_value(item, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        (var == "TOKEN").then(|| "s3cret".to_owned())
    }

    #[test]
    fn references_are_replaced_and_escapes_kept_literal() {
        assert_eq!(
            expand("a${TOKEN}b", &env).unwrap(),
            ("as3cretb".into(), true)
        );
        assert_eq!(
            expand("$${TOKEN}", &env).unwrap(),
            ("${TOKEN}".into(), false)
        );
        assert_eq!(expand("cost $5", &env).unwrap(), ("cost $5".into(), false));
        assert_eq!(expand("${TOKEN}${TOKEN}", &env).unwrap().0, "s3crets3cret");
    }

    #[test]
    fn a_missing_variable_is_named_never_replaced_by_nothing() {
        let e = expand("https://h/${NOPE}", &env).unwrap_err();
        assert!(e.contains("NOPE is not set"), "{e}");
        assert!(expand("${", &env).unwrap_err().contains("not closed"));
        assert!(expand("${a b}", &env)
            .unwrap_err()
            .contains("not a variable"));
    }

    #[test]
    fn nested_strings_expand_skipped_keys_do_not() {
        let mut v: Value =
            serde_json::json!({"url": "${TOKEN}", "name": "n-${TOKEN}", "x": ["${TOKEN}"]});
        expand_all(&mut v, &["url"], &env).unwrap();
        assert_eq!(v["url"], "${TOKEN}");
        assert_eq!(v["name"], "n-s3cret");
        assert_eq!(v["x"][0], "s3cret");
        let mut v = serde_json::json!({"body": "${NOPE}"});
        let e = expand_all(&mut v, &[], &env).unwrap_err();
        assert!(e.starts_with("body: environment variable NOPE"), "{e}");
    }
}
