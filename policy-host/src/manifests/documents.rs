//! Reading manifests: files, folders and standard input, split into
//! documents (multi-document YAML with `---` separators, or a stream of JSON
//! values), each parsed twice: as a `serde_yaml::Value` (key order kept, for
//! `--fix`) and as a `serde_json::Value` (what the policy is given).

use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where a manifest's text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The name shown in reports: the path as found, or `<stdin>`.
    pub display: String,
    /// The name relative to the argument it was found through (a folder's
    /// files keep their path inside the folder, a file its file name, stdin
    /// `stdin.yaml`): where `--fix DIR` writes it.
    pub relative: PathBuf,
    /// Whether the text is read as a JSON stream rather than YAML.
    pub json: bool,
    pub text: String,
}

/// An error in the input: a path that cannot be read, or a document that
/// does not parse. Displays as `file: document N: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub document: Option<usize>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(n) => write!(f, "{}: document {n}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// File names read inside folders.
pub const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// The display name of standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Read every argument: `-` is standard input (at most once), a folder is
/// walked recursively for `*.yaml`, `*.yml` and `*.json` (sorted, hidden
/// entries and symbolic links to folders skipped), anything else is read as
/// a file whatever its name. Every problem is returned, not only the first.
pub fn read_sources(args: &[String]) -> Result<Vec<Source>, Vec<InputError>> {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_read = false;
    for arg in args {
        if arg == "-" {
            if stdin_read {
                errors.push(InputError {
                    file: STDIN_NAME.into(),
                    document: None,
                    message: "`-` (standard input) given more than once".into(),
                });
                continue;
            }
            stdin_read = true;
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => {
                    let json = looks_like_json(&text);
                    sources.push(Source {
                        display: STDIN_NAME.into(),
                        relative: PathBuf::from(if json { "stdin.json" } else { "stdin.yaml" }),
                        json,
                        text,
                    });
                }
                Err(e) => errors.push(InputError {
                    file: STDIN_NAME.into(),
                    document: None,
                    message: format!("cannot read standard input: {e}"),
                }),
            }
            continue;
        }
        let path = Path::new(arg);
        match std::fs::metadata(path) {
            Err(e) => errors.push(InputError {
                file: arg.clone(),
                document: None,
                message: format!("cannot read: {e}"),
            }),
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                if let Err(e) = walk(path, &mut files) {
                    errors.push(e);
                    continue;
                }
                if files.is_empty() {
                    errors.push(InputError {
                        file: arg.clone(),
                        document: None,
                        message: "no *.yaml, *.yml or *.json file in this folder".into(),
                    });
                }
                files.sort();
                for file in files {
                    let relative = file.strip_prefix(path).unwrap_or(&file).to_path_buf();
                    match read_file(&file, relative) {
                        Ok(s) => sources.push(s),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Ok(_) => {
                let relative = path
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("manifest.yaml"));
                match read_file(path, relative) {
                    Ok(s) => sources.push(s),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

fn read_file(path: &Path, relative: PathBuf) -> Result<Source, InputError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InputError {
        file: display.clone(),
        document: None,
        message: format!("cannot read: {e}"),
    })?;
    let json = path.extension().is_some_and(|e| e == "json");
    Ok(Source {
        display,
        relative,
        json,
        text,
    })
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let error = |e: std::io::Error| InputError {
        file: dir.display().to_string(),
        document: None,
        message: format!("cannot list the folder: {e}"),
    };
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(error)?;
        if file_type.is_dir() {
            walk(&path, files)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e))
            && std::fs::metadata(&path).is_ok_and(|m| m.is_file())
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Whether text read from standard input is JSON (its first significant
/// character opens an object or an array).
pub fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with(['{', '['])
}

/// How a document is written back by `--fix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// One document of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based number of the document in its file (the Nth `---` section;
    /// comments before the first `---` are not a document).
    pub number: usize,
    /// 1-based line of the file where the document starts.
    pub line: usize,
    /// Byte range of the document's text in the source (separator line
    /// included): concatenating every document's text gives the file back.
    pub range: Range<usize>,
    pub format: Format,
    /// `None` for an empty document (only comments, `---`, `null`).
    pub content: Option<Content>,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// Key order and anchors resolved, merge keys (`<<`) applied.
    pub yaml: serde_yaml::Value,
    pub json: Value,
}

/// A parsed source: every byte of the text belongs to exactly one document
/// or to the preamble (comments before the first `---`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSource {
    pub source: Source,
    /// Text before the first document (comments only), kept by `--fix`.
    pub preamble: Range<usize>,
    pub documents: Vec<Document>,
}

/// Split and parse a source. Every document that does not parse is
/// reported, with its number and file-relative line numbers.
pub fn parse_source(source: Source) -> Result<ParsedSource, Vec<InputError>> {
    if source.json {
        parse_json_stream(source)
    } else {
        parse_yaml_stream(source)
    }
}

/// Split multi-document YAML at `---` lines: `(range, first line, starts
/// with a separator)`. A document marker is `---` at the start of a line,
/// alone or followed by a space or tab.
pub fn split_yaml(text: &str) -> Vec<(Range<usize>, usize)> {
    let mut chunks: Vec<(Range<usize>, usize)> = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let body = if i == 0 {
            body.trim_start_matches('\u{feff}')
        } else {
            body
        };
        let is_marker = body == "---" || body.starts_with("--- ") || body.starts_with("---\t");
        if is_marker && offset > start {
            chunks.push((start..offset, start_line));
            start = offset;
            start_line = i + 1;
        }
        offset += line.len();
    }
    if offset > start || chunks.is_empty() {
        chunks.push((start..offset, start_line));
    }
    chunks
}

/// Whether YAML text holds nothing but separators, comments and blanks.
fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim().trim_start_matches('\u{feff}');
        t.is_empty()
            || t.starts_with('#')
            || t == "---"
            || t == "..."
            || (t.starts_with("---") && t[3..].trim_start().starts_with('#'))
    })
}

fn parse_yaml_stream(source: Source) -> Result<ParsedSource, Vec<InputError>> {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let mut preamble = 0..0;
    let mut number = 0;
    for (index, (range, line)) in split_yaml(&source.text).into_iter().enumerate() {
        let text = &source.text[range.clone()];
        let starts_with_marker = text.trim_start_matches('\u{feff}').starts_with("---");
        if index == 0 && !starts_with_marker && is_blank_yaml(text) {
            preamble = range;
            continue;
        }
        number += 1;
        let content = if is_blank_yaml(text) {
            Ok(None)
        } else {
            parse_yaml_document(text, line)
        };
        match content {
            Ok(content) => documents.push(Document {
                number,
                line,
                range,
                format: Format::Yaml,
                content,
            }),
            Err(message) => errors.push(InputError {
                file: source.display.clone(),
                document: Some(number),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(ParsedSource {
            source,
            preamble,
            documents,
        })
    } else {
        Err(errors)
    }
}

/// Parse one YAML document; `first_line` (1-based) is where it starts in
/// its file, so that line numbers in messages are the file's.
fn parse_yaml_document(text: &str, first_line: usize) -> Result<Option<Content>, String> {
    let text = text.trim_start_matches('\u{feff}');
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| shift_lines(&e.to_string(), first_line.saturating_sub(1)))?;
    yaml.apply_merge()
        .map_err(|e| shift_lines(&e.to_string(), first_line.saturating_sub(1)))?;
    if yaml.is_null() {
        return Ok(None);
    }
    let json = serde_json::to_value(&yaml)
        .map_err(|e| format!("cannot be represented as JSON (as the API server needs it): {e}"))?;
    Ok(Some(Content { yaml, json }))
}

/// Add `offset` to every `line N` of a parser message.
pub fn shift_lines(message: &str, offset: usize) -> String {
    if offset == 0 {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len() + 8);
    let mut rest = message;
    while let Some(pos) = rest.find("line ") {
        out.push_str(&rest[..pos + 5]);
        rest = &rest[pos + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Ok(n) = rest[..digits].parse::<usize>()
        {
            out.push_str(&(n + offset).to_string());
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn parse_json_stream(source: Source) -> Result<ParsedSource, Vec<InputError>> {
    let text = source.text.as_str();
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(&text[bom..]).into_iter::<Value>();
    let mut start = bom;
    let mut number = 0;
    // Newlines before `start`, counted as the stream advances.
    let mut lines_before = 0;
    loop {
        let item = stream.next();
        let end = bom + stream.byte_offset();
        let Some(item) = item else { break };
        number += 1;
        let line = 1
            + lines_before
            + text[start..end]
                .chars()
                .take_while(|c| c.is_whitespace())
                .filter(|c| *c == '\n')
                .count();
        lines_before += text[start..end].matches('\n').count();
        match item {
            Ok(json) => {
                // The same text again, into an order-keeping YAML value.
                let yaml: serde_yaml::Value =
                    serde_json::from_str(&text[start..end]).map_err(|e| {
                        vec![InputError {
                            file: source.display.clone(),
                            document: Some(number),
                            message: e.to_string(),
                        }]
                    })?;
                let content = (!json.is_null()).then_some(Content { yaml, json });
                documents.push(Document {
                    number,
                    line,
                    range: start..end,
                    format: Format::Json,
                    content,
                });
                start = end;
            }
            Err(e) => {
                return Err(vec![InputError {
                    file: source.display.clone(),
                    document: Some(number),
                    message: e.to_string(),
                }]);
            }
        }
    }
    // Trailing whitespace belongs to the last document (or the preamble).
    let preamble = if let Some(last) = documents.last_mut() {
        last.range.end = text.len();
        0..bom
    } else {
        0..text.len()
    };
    Ok(ParsedSource {
        source,
        preamble,
        documents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str, json: bool) -> Source {
        Source {
            display: "m.yaml".into(),
            relative: "m.yaml".into(),
            json,
            text: text.into(),
        }
    }

    #[test]
    fn split_keeps_every_byte() {
        let text = "# preamble\n---\n# Source: a\na: 1\n---\n\n--- # c\nb: 2\n...\n---\n";
        let chunks = split_yaml(text);
        let joined: String = chunks.iter().map(|(r, _)| &text[r.clone()]).collect();
        assert_eq!(joined, text);
        assert_eq!(
            chunks.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
            [1, 2, 5, 7, 10]
        );
    }

    #[test]
    fn documents_are_numbered_by_section() {
        let text = "# preamble\n---\n# Source: a\na: 1\n---\n---\nb: 2\n";
        let parsed = parse_source(source(text, false)).unwrap();
        assert_eq!(&text[parsed.preamble.clone()], "# preamble\n");
        let numbers: Vec<_> = parsed
            .documents
            .iter()
            .map(|d| (d.number, d.line, d.content.is_some()))
            .collect();
        assert_eq!(numbers, [(1, 2, true), (2, 5, false), (3, 6, true)]);
    }

    #[test]
    fn no_leading_separator() {
        let parsed = parse_source(source("a: 1\n---\nb: 2", false)).unwrap();
        assert_eq!(parsed.documents.len(), 2);
        assert_eq!(parsed.documents[0].number, 1);
        assert_eq!(
            parsed.documents[1].content.as_ref().unwrap().json,
            serde_json::json!({"b": 2})
        );
    }

    #[test]
    fn errors_name_the_document_and_file_line() {
        let text = "a: 1\n---\nb: 2\n---\nc: 3\nd: e: f\n";
        let errors = parse_source(source(text, false)).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].document, Some(3));
        let shown = errors[0].to_string();
        assert!(
            shown.starts_with("m.yaml: document 3: mapping values are not allowed"),
            "{shown}"
        );
        assert!(shown.contains("line 6 column"), "{shown}");
    }

    #[test]
    fn merge_keys_and_anchors() {
        let text = "base: &b {x: 1}\nobj:\n  <<: *b\n  y: 2\n";
        let parsed = parse_source(source(text, false)).unwrap();
        let json = &parsed.documents[0].content.as_ref().unwrap().json;
        assert_eq!(json["obj"], serde_json::json!({"x": 1, "y": 2}));
    }

    #[test]
    fn json_stream() {
        let text = "{\"a\": 1}\n\n  {\"b\": [2]}\n";
        let parsed = parse_source(source(text, true)).unwrap();
        assert_eq!(parsed.documents.len(), 2);
        assert_eq!(parsed.documents[1].line, 3);
        let joined: String = std::iter::once(&text[parsed.preamble.clone()])
            .chain(parsed.documents.iter().map(|d| &text[d.range.clone()]))
            .collect();
        assert_eq!(joined, text);
        let errors = parse_source(source("{\"a\": 1}\n{\"b\": }", true)).unwrap_err();
        assert_eq!(errors[0].document, Some(2));
    }

    #[test]
    fn shift_lines_rewrites_every_mark() {
        assert_eq!(
            shift_lines("x at line 2 column 3, y at line 1 column 1", 10),
            "x at line 12 column 3, y at line 11 column 1"
        );
        assert_eq!(shift_lines("no line", 3), "no line");
    }
}
