//! A mutated object written as the request's own text, with only the
//! nodes the mutation changed written anew (`json_out::value`).
//!
//! Why: the host reads `mutated_object` back into a `Value` and diffs it
//! with `request.object` (`json_patch::diff`, `../shared` contract), so
//! any text that parses to the mutated object will do, and all of it but a
//! mount or the tolerations is the request's text, already in the
//! payload. Serialising the whole mutated DaemonSet was the largest cost
//! of a mutating evaluation (fluent-bit: about 90 K of 785 K instructions,
//! every key and string escaped word by word); copying the text is one
//! `memory.copy` per unchanged stretch, and finding the changed nodes
//! passes over the members before them by their brackets.
//!
//! Exactness: the text is the request's `object` exactly as `json_in` read
//! it into the mutated `Value`'s original (`read_request` keeps it only
//! when no object of it repeats a key, so the first member of a name is
//! the one the `Value` holds; what a projected DaemonSet skips is checked
//! as a `Value` would read it, `Parser::skip`). Each changed node is found
//! by its path; a node the text does not hold is added as the last member
//! of its parent object (the host's diff does not see member order).
//! Anything else (a path through an escaped name or a missing parent,
//! nodes that nest) answers `None`, and the caller writes the whole
//! `Value` (a projected DaemonSet is judged again, read whole). The test
//! `spliced_text_reads_as_the_mutated_object`, the property cases and the
//! `validate_bytes` fuzz target hold the answer to the `Value`'s.

use serde_json::Value;

use crate::json_in::Parser;

/// One step from a JSON value to one of its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Member(&'static str),
    Index(usize),
}

/// Where a node lies from the object's root.
pub type NodePath = Vec<Segment>;

/// The request object's text and the nodes the mutation changed in it.
#[derive(Debug, Clone, Copy)]
pub struct Splice<'a> {
    pub text: &'a [u8],
    pub changed: &'a [NodePath],
    /// A node whose value starts at this offset of `text`, found when the
    /// object was read (a DaemonSet's pod spec): paths through it start
    /// there instead of walking down from the root again.
    pub known: Option<(&'a [Segment], usize)>,
}

/// A stretch of the text replaced by a node of the mutated object.
struct Cut<'p> {
    start: usize,
    end: usize,
    path: &'p NodePath,
    /// The node is missing from the text: written as a new last member of
    /// its parent, after a comma when the parent has members.
    added: Option<Added>,
}

#[derive(Clone, Copy)]
struct Added {
    name: &'static str,
    comma: bool,
}

/// Appends `object` as `splice.text` with the changed nodes written from
/// `object`; `None` (and `out` to be truncated by the caller) when the
/// nodes cannot all be found exactly.
pub fn write(out: &mut Vec<u8>, splice: Splice<'_>, object: &Value) -> Option<()> {
    if splice.changed.is_empty() {
        return None;
    }
    // In text order, by insertion: a mutation changes a node or two, and
    // the standard sorts weigh kilobytes of module.
    let mut cuts: Vec<Cut<'_>> = Vec::with_capacity(splice.changed.len());
    for path in splice.changed {
        let cut = locate(splice.text, path, splice.known)?;
        let at = cuts
            .iter()
            .position(|c| c.start > cut.start)
            .unwrap_or(cuts.len());
        cuts.insert(at, cut);
    }
    let mut copied = 0;
    let mut last: Option<&NodePath> = None;
    for cut in &cuts {
        // Several edits of one node (two flags on one mount) find it twice.
        if last == Some(cut.path) {
            continue;
        }
        if cut.start < copied {
            return None;
        }
        let node = node_of(object, cut.path)?;
        out.extend_from_slice(splice.text.get(copied..cut.start)?);
        if let Some(added) = cut.added {
            if added.comma {
                out.push(b',');
            }
            crate::json_out::string(out, added.name);
            out.push(b':');
        }
        crate::json_out::value(out, node);
        copied = cut.end;
        last = Some(cut.path);
    }
    out.extend_from_slice(splice.text.get(copied..)?);
    Some(())
}

fn node_of<'v>(mut value: &'v Value, path: &NodePath) -> Option<&'v Value> {
    for segment in path {
        value = match *segment {
            Segment::Member(name) => value.as_object()?.get(name)?,
            Segment::Index(index) => value.as_array()?.get(index)?,
        };
    }
    Some(value)
}

/// The stretch of `text` holding the node at `path`, or where it is to be
/// added (its parent an object of the text that lacks it).
fn locate<'p>(
    text: &[u8],
    path: &'p NodePath,
    known: Option<(&[Segment], usize)>,
) -> Option<Cut<'p>> {
    let (mut parser, below) = match known {
        Some((prefix, at)) if path.len() > prefix.len() && path.starts_with(prefix) => {
            (Parser::new(text, at), path.get(prefix.len()..)?)
        }
        _ => (Parser::new(text, 0), path.as_slice()),
    };
    let (last, parents) = below.split_last()?;
    for segment in parents {
        if !enter(&mut parser, *segment)? {
            return None;
        }
    }
    if enter(&mut parser, *last)? {
        parser.peek()?;
        let start = parser.position();
        parser.skip_checked()?;
        return Some(Cut {
            start,
            end: parser.position(),
            path,
            added: None,
        });
    }
    // `enter` stopped on the parent object's closing brace.
    let Segment::Member(name) = *last else {
        return None;
    };
    let at = parser.position();
    let comma = text.get(..at)?.trim_ascii_end().last() != Some(&b'{');
    Some(Cut {
        start: at,
        end: at,
        path,
        added: Some(Added { name, comma }),
    })
}

/// Moves the cursor from the start of a container to the value of its
/// child `segment`: `Some(true)`; `Some(false)` with the cursor on the
/// closing brace of an object that has no such member; `None` when the
/// text is not that container, a name before the member has escapes, or
/// an index is past the end.
fn enter(parser: &mut Parser<'_>, segment: Segment) -> Option<bool> {
    match segment {
        Segment::Member(wanted) => {
            parser.eat(b'{')?;
            if parser.peek()? == b'}' {
                return Some(false);
            }
            loop {
                if parser.member_name()? == wanted {
                    return Some(true);
                }
                parser.skip_checked()?;
                match parser.peek()? {
                    b',' => parser.eat(b',')?,
                    b'}' => return Some(false),
                    _ => return None,
                }
            }
        }
        Segment::Index(index) => {
            parser.eat(b'[')?;
            for _ in 0..index {
                parser.skip_checked()?;
                parser.eat(b',')?;
            }
            // An empty array or one `index` items long ends here.
            (parser.peek()? != b']').then_some(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use Segment::{Index, Member};

    fn spliced(text: &str, object: &Value, changed: &[NodePath]) -> Option<Value> {
        let mut out = Vec::new();
        write(
            &mut out,
            Splice {
                text: text.as_bytes(),
                changed,
                known: None,
            },
            object,
        )?;
        Some(serde_json::from_slice(&out).expect("spliced text is JSON"))
    }

    #[test]
    fn a_changed_node_is_written_anew_and_the_rest_copied() {
        let text = r#"{"a": {"x": 1, "list": [{"m": 1}, {"m": 2}]}, "b": "\u00e9"}"#;
        let mut object: Value = serde_json::from_str(text).unwrap();
        object["a"]["list"][1]["readOnly"] = json!(true);
        let path = vec![Member("a"), Member("list"), Index(1)];
        assert_eq!(spliced(text, &object, &[path]), Some(object));
    }

    #[test]
    fn a_missing_member_is_added_to_its_parent() {
        for text in [r#"{"spec": {}}"#, r#"{"spec": {"a": 1 } }"#] {
            let mut object: Value = serde_json::from_str(text).unwrap();
            object["spec"]["tolerations"] = json!([{"operator": "Exists"}]);
            let path = vec![Member("spec"), Member("tolerations")];
            assert_eq!(spliced(text, &object, &[path]), Some(object), "{text}");
        }
    }

    #[test]
    fn one_node_changed_twice_is_written_once() {
        let text = r#"{"m": [{"name": "a"}, {"name": "b"}]}"#;
        let mut object: Value = serde_json::from_str(text).unwrap();
        object["m"][0]["readOnly"] = json!(true);
        object["m"][0]["recursiveReadOnly"] = json!("IfPossible");
        object["m"][1]["readOnly"] = json!(true);
        let paths = [
            vec![Member("m"), Index(1)],
            vec![Member("m"), Index(0)],
            vec![Member("m"), Index(0)],
        ];
        assert_eq!(spliced(text, &object, &paths), Some(object));
    }

    #[test]
    fn what_cannot_be_found_exactly_is_left_to_the_whole_value() {
        let object = json!({"a": [1]});
        for (text, path) in [
            // An escaped name before the node.
            (r#"{"\u0062": 1, "a": [1]}"#, vec![Member("a"), Index(0)]),
            // An index past the end, a parent missing, not a container.
            (r#"{"a": [1]}"#, vec![Member("a"), Index(1)]),
            (r#"{"a": [1]}"#, vec![Member("b"), Member("c")]),
            (r#"{"a": 1}"#, vec![Member("a"), Index(0)]),
        ] {
            assert_eq!(spliced(text, &object, &[path]), None, "{text}");
        }
        // Nodes that nest.
        let paths = [vec![Member("a")], vec![Member("a"), Index(0)]];
        assert_eq!(spliced(r#"{"a": [1]}"#, &object, &paths), None);
        // Nothing changed: the caller's `Value` is the answer.
        assert_eq!(spliced(r#"{"a": [1]}"#, &object, &[]), None);
    }
}
