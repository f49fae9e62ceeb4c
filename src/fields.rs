//! Reading the fields the rules need from untyped JSON.
//!
//! The object stays a `serde_json::Value` so that mutations keep every
//! field, known or not. A field of the wrong type is a violation (the object
//! cannot be judged, so it is refused) rather than silently skipped.

use serde_json::{Map, Value};

use crate::rules::UNREADABLE;
use crate::violation::{Findings, Violation, render};

/// A field had the wrong type; the violation is already recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// Absent and `null` both mean "not set", as in the Kubernetes API.
pub fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn wrong_type(findings: &mut Findings, path: &str, value: &Value, expected: &str) {
    findings.push(Violation::new(
        path,
        render(value),
        UNREADABLE,
        format!("expected {expected}, found {}", kind_of(value)),
    ));
}

pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `value` as `pick` reads it; `None` when of another type (then reported
/// as not `expected`).
fn typed<'a, T>(
    value: &'a Value,
    expected: &str,
    pick: impl FnOnce(&'a Value) -> Option<T>,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Option<T> {
    let picked = pick(value);
    if picked.is_none() {
        wrong_type(findings, &path(), value, expected);
    }
    picked
}

/// The child `parent[key]` as `pick` reads it: `None` when unset,
/// `Some(None)` when of another type (then reported as not `expected`).
fn child<'a, T>(
    parent: &'a Map<String, Value>,
    key: &str,
    expected: &str,
    pick: impl FnOnce(&'a Value) -> Option<T>,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Option<Option<T>> {
    get(parent, key).map(|value| typed(value, expected, pick, path, findings))
}

/// A child object; `None` when unset or of the wrong type (then reported).
pub fn object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Option<&'a Map<String, Value>> {
    child(parent, key, "an object", Value::as_object, path, findings).flatten()
}

/// A child list; empty when unset or of the wrong type (then reported).
pub fn list<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> &'a [Value] {
    let as_slice = |v: &'a Value| v.as_array().map(Vec::as_slice);
    child(parent, key, "a list", as_slice, path, findings)
        .flatten()
        .unwrap_or(&[])
}

/// A list item that must be an object.
pub fn item<'a>(
    value: &'a Value,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Option<&'a Map<String, Value>> {
    typed(value, "an object", Value::as_object, path, findings)
}

/// A list item that must be a string.
pub fn string_item<'a>(
    value: &'a Value,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Option<&'a str> {
    typed(value, "a string", Value::as_str, path, findings)
}

/// Calls `each` with the index, path and map of every object item of the
/// list `parent[key]` (at `path`), in order; the list and items of the wrong
/// type are reported and skipped. Returns false when an item was skipped.
///
/// Paths are `Display` values rendered only when a finding names them: an
/// object that passes formats none.
pub fn each_object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &dyn std::fmt::Display,
    findings: &mut Findings,
    mut each: impl FnMut(usize, &dyn std::fmt::Display, &'a Map<String, Value>, &mut Findings),
) -> bool {
    let mut all = true;
    for (i, value) in list(parent, key, || path.to_string(), findings)
        .iter()
        .enumerate()
    {
        let item_path = crate::json_path::Entry {
            base: path,
            index: i,
        };
        match item(value, || item_path.to_string(), findings) {
            Some(map) => each(i, &item_path, map, findings),
            None => all = false,
        }
    }
    all
}

/// A string field; `Ok(None)` when unset, `Err(Reported)` when of the wrong type
/// (then reported) so that callers can tell "unset" from "unreadable".
pub fn string<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Result<Option<&'a str>, Reported> {
    child(parent, key, "a string", Value::as_str, path, findings)
        .map(|picked| picked.ok_or(Reported))
        .transpose()
}

/// A boolean field, with the same contract as [`string`].
pub fn boolean(
    parent: &Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Result<Option<bool>, Reported> {
    child(parent, key, "a boolean", Value::as_bool, path, findings)
        .map(|picked| picked.ok_or(Reported))
        .transpose()
}

/// An integer field (`int64` in the API, e.g. `tolerationSeconds`), with
/// the same contract as [`string`].
pub fn integer(
    parent: &Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
    findings: &mut Findings,
) -> Result<Option<i64>, Reported> {
    get(parent, key)
        .map(|v| typed(v, "an integer", Value::as_i64, path, findings).ok_or(Reported))
        .transpose()
}

/// A `map[string]string` field (labels, parameters); entries of the wrong
/// type are reported and skipped.
pub fn string_map<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
    findings: &mut Findings,
) -> Vec<(&'a str, &'a str)> {
    let Some(map) = object(parent, key, || path.to_string(), findings) else {
        return Vec::new();
    };
    let mut entries = Vec::with_capacity(map.len());
    for (k, v) in map {
        match v {
            Value::String(s) => entries.push((k.as_str(), s.as_str())),
            other => wrong_type(findings, &format!("{path}.{k}"), other, "a string"),
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn null_is_unset() {
        let m = map(json!({"a": null}));
        let mut f = Findings::default();
        assert_eq!(string(&m, "a", || "a".into(), &mut f), Ok(None));
        assert!(list(&m, "a", || "a".into(), &mut f).is_empty());
        assert!(f.violations.is_empty());
    }

    #[test]
    fn wrong_types_are_reported_with_their_path() {
        let m = map(json!({"volumes": {"x": 1}, "path": 3, "ro": "yes"}));
        let mut f = Findings::default();
        assert!(list(&m, "volumes", || "spec.volumes".into(), &mut f).is_empty());
        assert_eq!(string(&m, "path", || "p".into(), &mut f), Err(Reported));
        assert_eq!(boolean(&m, "ro", || "r".into(), &mut f), Err(Reported));
        let rendered: Vec<String> = f.violations.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            rendered,
            [
                "spec.volumes={...}: expected a list, found an object [readable object]",
                "p=3: expected a string, found a number [readable object]",
                "r=\"yes\": expected a boolean, found a string [readable object]",
            ]
        );
    }

    #[test]
    fn string_maps_skip_and_report_non_strings() {
        let m = map(json!({"parameters": {"type": "gp3", "iops": 3000}}));
        let mut f = Findings::default();
        let entries = string_map(&m, "parameters", "parameters", &mut f);
        assert_eq!(entries, [("type", "gp3")]);
        assert_eq!(f.violations.len(), 1);
        assert_eq!(f.violations[0].path, "parameters.iops");
    }
}
