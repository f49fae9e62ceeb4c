//! `--fix`: the manifests as the cluster would store them, i.e. every
//! object with the policy's patch applied, in the original document order.
//!
//! Documents the policy did not change are written back byte for byte
//! (comments included). A changed document is written again from its parsed
//! form: the comment lines before its content (`# Source: ...`) and its key
//! order are kept, comments inside it are lost (serde_yaml does not keep
//! them), anchors are expanded.

use std::collections::HashMap;

use json_patch::PatchOperation;
use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::documents::{Format, ParsedSource};
use crate::AdmissionResponse;
use crate::error::{Error, Result};
use crate::response::apply_patch;

/// An [`Error::invalid`] with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => {
        Error::invalid(format!($($arg)*))
    };
}

/// Return an [`Error::invalid`] with a formatted message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(invalid!($($arg)*))
    };
}

/// The object the API server would store: the request's object with the
/// patch applied, without the namespace the check wrote into it.
pub fn patched_object(
    request_object: &Value,
    response: &AdmissionResponse,
    injected_namespace: Option<&str>,
) -> Result<Value> {
    let mut patched = apply_patch(request_object, response)?;
    let Some(ns) = injected_namespace else {
        return Ok(patched);
    };
    let mut drop_metadata = false;
    if let Some(metadata) = patched.get_mut("metadata").and_then(Value::as_object_mut)
        && metadata.get("namespace").and_then(Value::as_str) == Some(ns)
    {
        metadata.remove("namespace");
        // The manifest had no metadata at all when the check's namespace was
        // all there was: leave it out again.
        drop_metadata = metadata.is_empty()
            && request_object
                .get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|m| m.len() == 1);
    }
    if drop_metadata && let Some(map) = patched.as_object_mut() {
        map.remove("metadata");
    }
    Ok(patched)
}

/// One change to write: the patch and the object it gives.
#[derive(Debug, Clone)]
pub struct Change {
    pub patch: Vec<PatchOperation>,
    pub patched: Value,
}

/// Changes of one source, keyed by (index in `documents`, List item).
pub type Changes = HashMap<(usize, Option<usize>), Change>;

fn tokens(pointer: &str) -> Result<Vec<String>> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        bail!("invalid JSON pointer {pointer:?}");
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn child_mut<'a>(value: &'a mut Yaml, token: &str) -> Result<&'a mut Yaml> {
    match value {
        Yaml::Mapping(m) => m.get_mut(token).ok_or_else(|| invalid!("no key {token:?}")),
        Yaml::Sequence(s) => {
            let i: usize = token
                .parse()
                .map_err(|_| invalid!("{token:?} is not an index"))?;
            s.get_mut(i)
                .ok_or_else(|| invalid!("index {i} out of range"))
        }
        Yaml::Tagged(t) => child_mut(&mut t.value, token),
        _ => bail!("cannot descend into a scalar at {token:?}"),
    }
}

fn parent_mut<'a>(root: &'a mut Yaml, path: &[String]) -> Result<&'a mut Yaml> {
    let mut current = root;
    for token in path {
        current = child_mut(current, token)?;
    }
    Ok(current)
}

/// Apply JSON Patch operations (`add`, `remove`, `replace`: what
/// `json_patch::diff` produces) to a YAML value, keeping its key order; new
/// keys go last.
pub fn apply_to_yaml(doc: &mut Yaml, ops: &[PatchOperation]) -> Result<()> {
    for op in ops {
        match op {
            PatchOperation::Add(o) => {
                let path = tokens(&o.path.to_string())?;
                let value =
                    serde_yaml::to_value(&o.value).map_err(|e| Error::parse("patch value", &e))?;
                let Some((last, parent)) = path.split_last() else {
                    *doc = value;
                    continue;
                };
                match parent_mut(doc, parent)? {
                    Yaml::Mapping(m) => {
                        m.insert(Yaml::String(last.clone()), value);
                    }
                    Yaml::Sequence(s) => {
                        if last == "-" {
                            s.push(value);
                        } else {
                            let i: usize = last
                                .parse()
                                .map_err(|_| invalid!("{last:?} is not an index"))?;
                            if i > s.len() {
                                bail!("index {i} out of range");
                            }
                            s.insert(i, value);
                        }
                    }
                    _ => bail!("cannot add {last:?} to a scalar"),
                }
            }
            PatchOperation::Remove(o) => {
                let path = tokens(&o.path.to_string())?;
                let Some((last, parent)) = path.split_last() else {
                    bail!("cannot remove the whole document");
                };
                match parent_mut(doc, parent)? {
                    Yaml::Mapping(m) => {
                        m.shift_remove(last.as_str())
                            .ok_or_else(|| invalid!("no key {last:?}"))?;
                    }
                    Yaml::Sequence(s) => {
                        let i: usize = last
                            .parse()
                            .map_err(|_| invalid!("{last:?} is not an index"))?;
                        if i >= s.len() {
                            bail!("index {i} out of range");
                        }
                        s.remove(i);
                    }
                    _ => bail!("cannot remove {last:?} from a scalar"),
                }
            }
            PatchOperation::Replace(o) => {
                let path = tokens(&o.path.to_string())?;
                let value =
                    serde_yaml::to_value(&o.value).map_err(|e| Error::parse("patch value", &e))?;
                *parent_mut(doc, &path)? = value;
            }
            other => bail!(
                "unsupported patch operation {}",
                crate::response::operation_name(other)
            ),
        }
    }
    Ok(())
}

/// The YAML value to write for a changed object: the original YAML with the
/// patch applied when that gives exactly the patched object, else the
/// patched object itself (keys then sorted).
fn patched_yaml(original: &Yaml, change: &Change) -> Result<Yaml> {
    let mut yaml = original.clone();
    if apply_to_yaml(&mut yaml, &change.patch).is_ok()
        && serde_json::to_value(&yaml).ok().as_ref() == Some(&change.patched)
    {
        return Ok(yaml);
    }
    serde_yaml::to_value(&change.patched)
        .map_err(|e| Error::parse("cannot convert the patched object to YAML", &e))
}

/// The text of a source with its changes applied. With
/// `separate_json_documents`, documents of a JSON stream after the first are
/// preceded by `---` (so that sources can be concatenated into one YAML
/// stream).
pub fn render_fixed(
    parsed: &ParsedSource,
    changes: &Changes,
    separate_json_documents: bool,
) -> Result<String> {
    let text = parsed.source.text.as_str();
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[parsed.preamble.clone()]);
    for (index, doc) in parsed.documents.iter().enumerate() {
        let original = &text[doc.range.clone()];
        if separate_json_documents && doc.format == Format::Json && index > 0 {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("---\n");
        }
        let mine: Vec<(&Option<usize>, &Change)> = changes
            .iter()
            .filter(|((d, _), _)| *d == index)
            .map(|((_, item), c)| (item, c))
            .collect();
        let Some(content) = doc.content.as_ref().filter(|_| !mine.is_empty()) else {
            out.push_str(original);
            continue;
        };
        let mut yaml = content.yaml.clone();
        for (item, change) in mine {
            match item {
                None => yaml = patched_yaml(&yaml, change)?,
                Some(i) => {
                    let slot = yaml
                        .get_mut("items")
                        .and_then(|items| items.get_mut(*i))
                        .ok_or_else(|| invalid!("document {}: no items[{i}]", doc.number))?;
                    *slot = patched_yaml(slot, change)?;
                }
            }
        }
        match doc.format {
            Format::Yaml => {
                out.push_str(&yaml_prefix(original));
                let body = serde_yaml::to_string(&yaml).map_err(|e| {
                    Error::parse(format!("document {}: cannot write YAML", doc.number), &e)
                })?;
                out.push_str(&body);
                if !body.ends_with('\n') {
                    out.push('\n');
                }
            }
            Format::Json => {
                let leading = &original[..original.len() - original.trim_start().len()];
                let trailing = &original[original.trim_end().len()..];
                let body = serde_json::to_string_pretty(&yaml)
                    .or_else(|_| {
                        serde_json::to_value(&yaml).and_then(|v| serde_json::to_string_pretty(&v))
                    })
                    .map_err(|e| {
                        Error::parse(format!("document {}: cannot write JSON", doc.number), &e)
                    })?;
                out.push_str(leading);
                out.push_str(&body);
                // Whitespace between values belongs to the next document.
                out.push_str(trailing);
            }
        }
    }
    Ok(out)
}

/// The separator line and the comment (or blank) lines before the content
/// of a YAML document, kept when it is written again.
fn yaml_prefix(original: &str) -> String {
    let mut prefix = String::new();
    for (i, line) in original.split_inclusive('\n').enumerate() {
        let t = line.trim();
        if i == 0 && t.starts_with("---") {
            let after = t[3..].trim_start();
            if after.is_empty() || after.starts_with('#') {
                prefix.push_str(line);
            } else {
                prefix.push_str("---\n");
                break;
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            prefix.push_str(line);
            if !line.ends_with('\n') {
                prefix.push('\n');
            }
        } else {
            break;
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::documents::{Source, parse_source};
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value::<json_patch::Patch>(v).unwrap().0
    }

    #[test]
    fn yaml_patch_keeps_order() {
        let mut y: Yaml = serde_yaml::from_str("z: 1\na:\n  list: [1, 2]\n  k: v\nm: x\n").unwrap();
        apply_to_yaml(
            &mut y,
            &ops(json!([
                {"op": "add", "path": "/a/list/1", "value": 9},
                {"op": "add", "path": "/a/new~1key", "value": {"b": true}},
                {"op": "replace", "path": "/z", "value": 2},
                {"op": "remove", "path": "/a/k"}
            ])),
        )
        .unwrap();
        assert_eq!(
            serde_yaml::to_string(&y).unwrap(),
            "z: 2\na:\n  list:\n  - 1\n  - 9\n  - 2\n  new/key:\n    b: true\nm: x\n"
        );
        assert!(apply_to_yaml(&mut y, &ops(json!([{"op": "remove", "path": "/nope"}]))).is_err());
    }

    #[test]
    fn unchanged_documents_are_kept_verbatim() {
        let text = "# head\n---\n# Source: a.yaml\nkind: A # trailing\nspec: {x: 1}\n---\n# Source: b.yaml\nkind: B # kept\n";
        let parsed = parse_source(Source {
            display: "m.yaml".into(),
            relative: "m.yaml".into(),
            json: false,
            text: text.into(),
        })
        .unwrap();
        assert_eq!(render_fixed(&parsed, &Changes::new(), false).unwrap(), text);
        let mut changes = Changes::new();
        changes.insert(
            (0, None),
            Change {
                patch: ops(json!([{"op": "add", "path": "/spec/y", "value": 2}])),
                patched: json!({"kind": "A", "spec": {"x": 1, "y": 2}}),
            },
        );
        assert_eq!(
            render_fixed(&parsed, &changes, false).unwrap(),
            "# head\n---\n# Source: a.yaml\nkind: A\nspec:\n  x: 1\n  y: 2\n---\n# Source: b.yaml\nkind: B # kept\n"
        );
    }

    #[test]
    fn list_items_and_json() {
        let text = "{\"kind\": \"List\", \"items\": [{\"b\": 1, \"a\": 2}]}\n";
        let parsed = parse_source(Source {
            display: "m.json".into(),
            relative: "m.json".into(),
            json: true,
            text: text.into(),
        })
        .unwrap();
        let mut changes = Changes::new();
        changes.insert(
            (0, Some(0)),
            Change {
                patch: ops(json!([{"op": "replace", "path": "/b", "value": 3}])),
                patched: json!({"b": 3, "a": 2}),
            },
        );
        let fixed = render_fixed(&parsed, &changes, false).unwrap();
        assert!(
            fixed.find("\"b\": 3").unwrap() < fixed.find("\"a\": 2").unwrap(),
            "{fixed}"
        );
        let back: Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(back, json!({"kind": "List", "items": [{"b": 3, "a": 2}]}));
    }

    #[test]
    fn falls_back_to_the_patched_object() {
        let original: Yaml = serde_yaml::from_str("kind: A\n").unwrap();
        // The patch was computed on an object with metadata.namespace added.
        let change = Change {
            patch: ops(json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])),
            patched: json!({"kind": "A", "metadata": {"labels": {"a": "b"}}}),
        };
        let y = patched_yaml(&original, &change).unwrap();
        assert_eq!(serde_json::to_value(&y).unwrap(), change.patched);
    }
}
