//! JSON paths: the path of the field at a byte offset of a JSON text, so
//! that a settings syntax error names its setting
//! (`daemonSets.hostPaths.allowed[0]`) without tracking paths while parsing;
//! and paths kept as `Display` values ([`Entry`], [`Field`]), rendered only
//! when a message names them.

enum Frame {
    Object {
        key: Option<String>,
        awaiting_key: bool,
    },
    Array {
        index: usize,
    },
}

/// The path of the innermost field open at `offset` (`""` at top level).
pub fn path_at(json: &[u8], offset: usize) -> String {
    let end = offset.min(json.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match json[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                awaiting_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { key, awaiting_key }) => {
                    *key = None;
                    *awaiting_key = true;
                }
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { awaiting_key, .. }) = stack.last_mut() {
                    *awaiting_key = false;
                }
            }
            b'"' => {
                let (text, next) = read_string(json, i + 1, end);
                if let Some(Frame::Object {
                    key,
                    awaiting_key: true,
                }) = stack.last_mut()
                {
                    *key = Some(text);
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    render(&stack)
}

/// Reads a string body from `start` (after the opening quote); returns its
/// text and the position after the closing quote (or `end`).
fn read_string(json: &[u8], start: usize, end: usize) -> (String, usize) {
    let mut i = start;
    let mut bytes = Vec::new();
    while i < end {
        match json[i] {
            b'"' => return (String::from_utf8_lossy(&bytes).into_owned(), i + 1),
            b'\\' if i + 1 < end => {
                bytes.push(json[i + 1]);
                i += 2;
            }
            b => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&bytes).into_owned(), end)
}

fn render(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Object { key: Some(key), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

/// Byte offset of a 1-based line and column as serde_json reports them.
pub fn offset_of(json: &[u8], line: usize, column: usize) -> usize {
    let line_start = json
        .split_inclusive(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum::<usize>();
    line_start + column
}

/// The path `base[index]` of a list entry, rendered only when a message
/// names it: compiling valid settings or judging an object that passes, as
/// most evaluations do, formats no path at all.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    pub base: &'a dyn std::fmt::Display,
    pub index: usize,
}

impl std::fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.base, self.index)
    }
}

/// The path `base.name`, rendered only when a message names it.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub base: &'a dyn std::fmt::Display,
    pub name: &'a str,
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.base, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_before(json: &str, marker: &str) -> String {
        let offset = json.find(marker).expect("marker") + marker.len();
        path_at(json.as_bytes(), offset)
    }

    #[test]
    fn names_keys_and_indexes() {
        let json = r#"{"daemonSets": {"hostPaths": {"allowed": [{"pathPrefix": "/a"}, {"pathPrefx": "/b"}]}}}"#;
        assert_eq!(
            path_before(json, r#""pathPrefx""#),
            "daemonSets.hostPaths.allowed[1].pathPrefx"
        );
        assert_eq!(
            path_before(json, r#""/a""#),
            "daemonSets.hostPaths.allowed[0].pathPrefix"
        );
        assert_eq!(path_before(json, "{"), "");
    }

    #[test]
    fn closed_containers_and_escaped_quotes_do_not_leak() {
        let json = r#"{"a": {"b\"]": [1, [2, 3]], "c": "x,]}"}, "d": [true, false]}"#;
        assert_eq!(path_before(json, "false"), "d[1]");
        assert_eq!(path_before(json, r#""x,]}""#), "a.c");
    }

    #[test]
    fn offsets_follow_lines() {
        let json = b"{\n  \"a\": 1\n}";
        assert_eq!(offset_of(json, 2, 5), 7);
        assert_eq!(path_at(json, offset_of(json, 2, 6)), "a");
    }
}
