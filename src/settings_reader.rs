//! The settings reader: one pass over the settings JSON, straight into the
//! settings structs, knowing the path of every value as it reads it.
//!
//! Why not serde's derive: policy-server sends the settings with every
//! request, so they are read on every admission, and the derived
//! deserializers of forty settings structs were the largest part of the
//! module (about 185 KB of 483) and of the time of a small request. This
//! reader is one non-generic walker (closures passed as `dyn`), borrows
//! strings from the payload until a setting keeps them, skips what an
//! evaluation does not read (other kinds' sections, profile bodies) by
//! scanning brackets, and needs no second pass to locate an error.
//!
//! Messages follow serde's wording (`unknown field `x`, expected one of
//! ...`, `invalid type: string "x", expected a boolean`), so a setting is
//! refused as it always was, with its path in front.
//!
//! The text is well-formed JSON whenever it is read: `validate_settings`
//! checks the syntax first ([`check_syntax`]), and an evaluation reads the
//! settings policy-server validated when it started (settings that do not
//! read there are read again by serde's general payload path, which names
//! the fault). The reader still bounds every access and reports, never
//! panics, on input that is not.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::words;

/// A setting that could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// `daemonSets.hostPaths.allowed[0].pathPrefix`; empty at top level.
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

pub type Read<T> = Result<T, ReadError>;

/// A value the settings JSON can be read into.
pub trait ReadJson: Sized {
    fn read(reader: &mut Reader<'_>) -> Read<Self>;
}

enum Segment<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

pub struct Reader<'a> {
    /// Text, so slices at quotes (ASCII) are strings without a UTF-8 check.
    text: &'a str,
    json: &'a [u8],
    pos: usize,
    /// The path of `json` itself (`daemonSets.profiles[2].hostPaths` for a
    /// profile body read on its own).
    prefix: &'a str,
    path: Vec<Segment<'a>>,
    /// Fields of the next struct read passed over by their brackets instead
    /// of read (they keep their defaults): parts of a section the request's
    /// kind does not use (`policy::read_csi_drivers`). That struct takes
    /// the list (`object_at`), so a struct inside it with a field of the
    /// same name is read.
    passed_over: &'static [&'static str],
}

/// Reads a whole JSON text as `T`; `prefix` is the text's own path.
pub fn read_all<T: ReadJson>(json: &str, prefix: &str) -> Read<T> {
    let mut reader = Reader::new(json, prefix);
    let value = T::read(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// serde_json's verdict on the syntax alone (the reader assumes it), as
/// `path: reason` with the path of the place it failed.
pub fn check_syntax(json: &[u8]) -> Result<&str, String> {
    match serde_json::from_slice::<serde::de::IgnoredAny>(json) {
        Ok(_) => std::str::from_utf8(json).map_err(|e| format!("settings are not UTF-8: {e}")),
        Err(e) => Err(crate::policy::located(json, "", &e)),
    }
}

/// Bytes that end a run inside a string: the closing quote, an escape.
static STRING_END: [bool; 256] = byte_set(b"\"\\");

/// The position of the first `"` or `\\` at or after `from`. Strings are
/// most of the settings text and every byte of them passes here (those of
/// skipped sections too): eight bytes are tested at a time, with the
/// classic "has a zero byte" test on the word XOR each byte sought. Its
/// lowest flagged byte is always a real match (a false flag can only sit
/// above a real one), and the lowest is the one taken.
#[inline(always)]
fn next_quote_or_escape(json: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = json.get(i..i.saturating_add(8)) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let found = words::quotes_or_backslashes(u64::from_le_bytes(bytes));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = json.get(i..)?;
    rest.iter()
        .position(|b| STRING_END[usize::from(*b)])
        .map(|at| i + at)
}

/// What was left open when the text ended inside a skipped container.
#[derive(Debug, PartialEq)]
pub(crate) enum Unclosed {
    String,
    Value,
}

/// The end (one past the closing bracket) of the object or array opening
/// at `start`. Skipped profile bodies and sections are most of the
/// settings text a request passes over, and in them a string or a bracket
/// comes every few bytes, so finding them one by one cost a hundred
/// instructions or more each. Here a word of eight bytes without a
/// backslash is taken whole: its quotes, found exactly, tell by a prefix
/// XOR which of its bytes lie inside a string; the brackets outside are
/// counted; only a word that could close the container, or holds a
/// backslash, is walked byte by byte (finding in the word where the count
/// returns to zero, by running sums in a multiplication, measured
/// slower). `[`/`{` and `]`/`}` differ only in bit 0x20. Brackets are not paired by kind: the text was checked as JSON
/// (`validate_settings`), as the byte-by-byte skip it replaced assumed.
pub(crate) fn container_end(json: &[u8], start: usize) -> Result<usize, Unclosed> {
    container_end_at(json, start, 0)
}

/// [`container_end`] from inside containers: `depth` of them are open at
/// `start` (not inside a string), and the end is one past the bracket that
/// closes the outermost.
pub(crate) fn container_end_at(json: &[u8], start: usize, depth: usize) -> Result<usize, Unclosed> {
    use crate::words::{ONES, lowest_zero_bytes, zero_bytes};
    let mut depth = depth;
    let mut in_string = false;
    let mut i = start;
    // The opening bracket taken here, so that the first word is not walked
    // byte by byte (at depth 0 any word "could close").
    if depth == 0
        && let Some(b'{' | b'[') = json.get(i)
    {
        depth = 1;
        i += 1;
    }
    let pointer = json.as_ptr();
    loop {
        if i + 8 <= json.len() {
            // SAFETY: bytes `i..i + 8` are inside `json` (checked above);
            // an unaligned read of plain bytes.
            let word = u64::from_le(unsafe { pointer.add(i).cast::<u64>().read_unaligned() });
            // Any backslash at all (exact for "any"): walk the word.
            if lowest_zero_bytes(word ^ (ONES * u64::from(b'\\'))) == 0 {
                let quotes = zero_bytes(word ^ (ONES * u64::from(b'"')));
                // Odd count of quotes up to and including each byte.
                let mut odd = quotes;
                odd ^= odd << 8;
                odd ^= odd << 16;
                odd ^= odd << 32;
                // All ones when the word starts inside a string.
                let inside = odd ^ 0u64.wrapping_sub(u64::from(in_string));
                let folded = word | (ONES * 0x20);
                let opens = zero_bytes(folded ^ (ONES * u64::from(b'{'))) & !inside;
                let closes = zero_bytes(folded ^ (ONES * u64::from(b'}'))) & !inside;
                let closing = closes.count_ones() as usize;
                if closing < depth {
                    depth = depth + opens.count_ones() as usize - closing;
                    in_string ^= quotes.count_ones() & 1 == 1;
                    i += 8;
                    continue;
                }
            }
        }
        // Byte by byte, at most eight, then words again.
        let stop = i.saturating_add(8);
        while i < stop {
            let Some(&byte) = json.get(i) else {
                return Err(if in_string {
                    Unclosed::String
                } else {
                    Unclosed::Value
                });
            };
            i += 1;
            if in_string {
                match byte {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => {}
            }
        }
    }
}

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// How serde names a JSON value it did not expect.
enum Found<'a> {
    Str(Cow<'a, str>),
    Number(&'a str),
    Bool(bool),
    Null,
    Map,
    Seq,
    Nothing,
}

impl std::fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::Str(s) => write!(f, "string {s:?}"),
            Found::Number(n) if n.contains(['.', 'e', 'E']) => {
                write!(f, "floating point `{n}`")
            }
            Found::Number(n) => write!(f, "integer `{n}`"),
            Found::Bool(b) => write!(f, "boolean `{b}`"),
            Found::Null => f.write_str("null"),
            Found::Map => f.write_str("map"),
            Found::Seq => f.write_str("sequence"),
            Found::Nothing => f.write_str("end of input"),
        }
    }
}

/// `a`, `a` or `b`, one of `a`, `b`, `c` (serde's `OneOf`).
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "there are no fields".to_string(),
        [one] => format!("expected `{one}`"),
        [a, b] => format!("expected `{a}` or `{b}`"),
        more => {
            let listed: Vec<String> = more.iter().map(|n| format!("`{n}`")).collect();
            format!("expected one of {}", listed.join(", "))
        }
    }
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str, prefix: &'a str) -> Self {
        Self {
            text,
            json: text.as_bytes(),
            pos: 0,
            prefix,
            path: Vec::new(),
            passed_over: &[],
        }
    }

    /// Reads `read` with the fields named in `fields` of the struct it
    /// reads passed over (not those of the structs inside it).
    pub fn passing_over<T>(
        &mut self,
        fields: &'static [&'static str],
        read: impl FnOnce(&mut Self) -> Read<T>,
    ) -> Read<T> {
        let before = std::mem::replace(&mut self.passed_over, fields);
        let read = read(self);
        self.passed_over = before;
        read
    }

    fn path(&self) -> String {
        let mut path = self.prefix.to_string();
        for segment in &self.path {
            match segment {
                Segment::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Segment::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        path
    }

    /// An error at the current path (built only now, on the error path).
    pub fn error(&self, reason: impl Into<String>) -> ReadError {
        ReadError {
            path: self.path(),
            reason: reason.into(),
        }
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.json.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.json.get(self.pos).copied()
    }

    fn expect_byte(&mut self, byte: u8) -> Read<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", byte as char)))
        }
    }

    /// True when the value at the cursor opens an object.
    pub fn peek_is_object(&mut self) -> bool {
        self.peek() == Some(b'{')
    }

    /// True when the value at the cursor opens a list.
    pub fn peek_is_array(&mut self) -> bool {
        self.peek() == Some(b'[')
    }

    /// The value at the cursor passed over by `walk`, which is given the
    /// text and the value's position and answers where the value ends
    /// (`None`: it could not walk it, and nothing was consumed); the
    /// value's text.
    pub fn walk_with<T>(
        &mut self,
        walk: impl FnOnce(&'a [u8], usize) -> Option<(usize, T)>,
    ) -> Option<(&'a str, T)> {
        let start = self.mark();
        let (end, found) = walk(self.json, start)?;
        let text = self.text.get(start..end)?;
        self.pos = end;
        Some((text, found))
    }

    /// The position of the next value, for [`Reader::since`].
    pub fn mark(&mut self) -> usize {
        self.skip_whitespace();
        self.pos
    }

    /// The text read since `mark`.
    pub fn since(&self, mark: usize) -> &'a str {
        self.text.get(mark..self.pos).unwrap_or("")
    }

    /// Nothing but whitespace may follow the value.
    pub fn end(&mut self) -> Read<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// The value at the cursor, described as serde describes it, and the
    /// message "invalid type: <it>, expected <what>".
    pub fn invalid_type(&mut self, expected: &str) -> ReadError {
        let start = self.pos;
        let found = match self.peek() {
            None => Found::Nothing,
            Some(b'"') => match self.string() {
                Ok(s) => Found::Str(s),
                Err(e) => return e,
            },
            Some(b't') => Found::Bool(true),
            Some(b'f') => Found::Bool(false),
            Some(b'n') => Found::Null,
            Some(b'{') => Found::Map,
            Some(b'[') => Found::Seq,
            Some(_) => Found::Number(self.number_text()),
        };
        self.pos = start;
        self.error(format!("invalid type: {found}, expected {expected}"))
    }

    fn number_text(&mut self) -> &'a str {
        self.skip_whitespace();
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.json.get(self.pos) {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// True (and consumed) when the value at the cursor is `null`.
    pub fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.json[self.pos..].starts_with(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    /// The position of the closing quote of the string opening at
    /// `start`, and whether it holds escapes. Inlined: a call per string
    /// cost more than the scan of most strings.
    #[inline(always)]
    fn string_end(&self, start: usize) -> Option<(usize, bool)> {
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            i = next_quote_or_escape(self.json, i)?;
            if self.json[i] == b'"' {
                return Some((i, escaped));
            }
            escaped = true;
            i += 2;
        }
    }

    /// A string value, borrowed unless it holds escapes.
    pub fn string(&mut self) -> Read<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid_type("a string"));
        }
        let start = self.pos;
        let Some((end, escaped)) = self.string_end(start) else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos = end + 1;
        if escaped {
            // Escapes are rare in settings: serde_json decodes them
            // (`\u` surrogate pairs included).
            crate::json_in::decode_string(self.json.get(start..=end).unwrap_or_default())
                .map(Cow::Owned)
                .map_err(|e| self.error(e.to_string()))
        } else {
            // SAFETY: `start` and `end` hold quotes, ASCII bytes of the
            // UTF-8 `text`, so `start + 1` and `end` are character
            // boundaries and `start < end`. (`get` tested both boundaries
            // again: about 60 instructions a string.)
            Ok(Cow::Borrowed(unsafe {
                self.text.get_unchecked(start + 1..end)
            }))
        }
    }

    pub fn bool(&mut self) -> Read<bool> {
        match self.peek() {
            Some(b't') if self.json[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(true)
            }
            Some(b'f') if self.json[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(false)
            }
            _ => Err(self.invalid_type("a boolean")),
        }
    }

    pub fn i64(&mut self) -> Read<i64> {
        let start = self.pos;
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            _ => return Err(self.invalid_type("i64")),
        }
        let text = self.number_text();
        match text.parse::<i64>() {
            Ok(n) => Ok(n),
            Err(_) if text.contains(['.', 'e', 'E']) => {
                self.pos = start;
                Err(self.invalid_type("i64"))
            }
            Err(_) => Err(self.error(format!("invalid value: integer `{text}`, expected i64"))),
        }
    }

    /// One of `variants`, by index (a unit enum).
    pub fn variant(&mut self, name: &str, variants: &[&str]) -> Read<usize> {
        // serde reads a map `{"variant": ...}` as an externally tagged
        // enum: its key is named as the variant.
        let tagged = self.peek() == Some(b'{');
        if tagged {
            self.pos += 1;
        }
        if self.peek() != Some(b'"') {
            return Err(self.invalid_type(&format!("enum {name}")));
        }
        let text = self.string()?;
        if tagged && variants.contains(&text.as_ref()) {
            return Err(self.error(format!("invalid type: map, expected enum {name}")));
        }
        variants
            .iter()
            .position(|v| *v == text)
            .ok_or_else(|| self.error(format!("unknown variant `{text}`, {}", one_of(variants))))
    }

    /// Skips one value; returns its text (a raw section kept for later).
    /// Inside a container only quotes and brackets matter (the text is
    /// well-formed JSON), so the scan jumps from one to the next.
    pub fn skip(&mut self) -> Read<&'a str> {
        self.skip_whitespace();
        let start = self.pos;
        let end = match self.json.get(start) {
            None => return Err(self.error("EOF while parsing a value")),
            Some(b'"') => match self.string_end(start) {
                Some((end, _)) => end + 1,
                None => return Err(self.error("EOF while parsing a string")),
            },
            Some(b'{' | b'[') => match container_end(self.json, start) {
                Ok(end) => end,
                Err(Unclosed::String) => return Err(self.error("EOF while parsing a string")),
                Err(Unclosed::Value) => return Err(self.error("EOF while parsing a value")),
            },
            Some(b'}' | b']' | b',' | b':') => return Err(self.error("expected a value")),
            Some(_) => {
                // A scalar: up to the next delimiter.
                let rest = &self.json[start..];
                start
                    + rest
                        .iter()
                        .position(|b| {
                            matches!(b, b',' | b':' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                        })
                        .unwrap_or(rest.len())
            }
        };
        self.pos = end;
        self.text
            .get(start..end)
            .ok_or_else(|| self.error("invalid unicode in a value"))
    }

    /// An object with the fields `fields` of the struct `name`: `field` is
    /// called with the field's name (one of `fields`) and the reader at
    /// its value, which it must read or skip. An unknown or repeated field
    /// is refused, as `deny_unknown_fields` did.
    pub fn object(
        &mut self,
        name: &str,
        fields: &'static [&'static str],
        field: &mut dyn FnMut(&mut Self, &'static str) -> Read<()>,
    ) -> Read<()> {
        self.object_at(name, fields, &mut |r, index| field(r, fields[index]))
    }

    /// [`Reader::object`] with the field's index in `fields`: what
    /// `read_struct!` dispatches on, an integer compare per field where
    /// comparing the name again took a `memcmp`.
    pub fn object_at(
        &mut self,
        name: &str,
        fields: &'static [&'static str],
        field: &mut dyn FnMut(&mut Self, usize) -> Read<()>,
    ) -> Read<()> {
        if self.peek() != Some(b'{') {
            return Err(self.invalid_type(&format!("struct {name}")));
        }
        let mut seen = 0u64;
        let passed_over = std::mem::take(&mut self.passed_over);
        // The key is in the path already (an unknown one too, as serde's
        // located error named it).
        self.map(&mut |r, key| {
            let Some(index) = fields.iter().position(|f| *f == key) else {
                return Err(r.error(format!("unknown field `{key}`, {}", one_of(fields))));
            };
            let bit = 1u64.checked_shl(index as u32).unwrap_or(0);
            if seen & bit != 0 {
                return Err(r.error(format!("duplicate field `{}`", fields[index])));
            }
            seen |= bit;
            if !passed_over.is_empty() && passed_over.contains(&fields[index]) {
                return r.skip().map(drop);
            }
            field(r, index)
        })
    }

    /// A list, each element read by `element` with its index in the path.
    pub fn array(&mut self, element: &mut dyn FnMut(&mut Self) -> Read<()>) -> Read<()> {
        if self.peek() != Some(b'[') {
            return Err(self.invalid_type("a sequence"));
        }
        self.pos += 1;
        let mut index = 0;
        loop {
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') if index > 0 => self.pos += 1,
                _ if index == 0 => {}
                _ => return Err(self.error("expected `,` or `]`")),
            }
            self.path.push(Segment::Index(index));
            element(self)?;
            self.path.pop();
            index += 1;
        }
    }

    /// A map with string keys, each value read by `entry`.
    pub fn map(&mut self, entry: &mut dyn FnMut(&mut Self, Cow<'a, str>) -> Read<()>) -> Read<()> {
        if self.peek() != Some(b'{') {
            return Err(self.invalid_type("a map"));
        }
        self.pos += 1;
        let mut first = true;
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') if !first => self.pos += 1,
                _ if first => {}
                _ => return Err(self.error("expected `,` or `}`")),
            }
            first = false;
            let key = self.string()?;
            self.path.push(Segment::Key(key.clone()));
            self.expect_byte(b':')?;
            entry(self, key)?;
            self.path.pop();
        }
    }
}

impl ReadJson for bool {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        reader.bool()
    }
}

impl ReadJson for i64 {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        reader.i64()
    }
}

impl ReadJson for String {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        reader.string().map(Cow::into_owned)
    }
}

impl<T: ReadJson> ReadJson for Option<T> {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        if reader.null() {
            Ok(None)
        } else {
            T::read(reader).map(Some)
        }
    }
}

impl<T: ReadJson> ReadJson for Vec<T> {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        let mut list = Vec::new();
        reader.array(&mut |r| {
            list.push(T::read(r)?);
            Ok(())
        })?;
        Ok(list)
    }
}

impl<T: ReadJson> ReadJson for BTreeMap<String, T> {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        let mut map = BTreeMap::new();
        reader.map(&mut |r, key| {
            // A repeated key: the last one counts, as with serde.
            map.insert(key.into_owned(), T::read(r)?);
            Ok(())
        })?;
        Ok(map)
    }
}

/// `ReadJson` for a settings struct with `Default`: every field optional,
/// unknown fields refused. `read_struct!(Type, "TypeName", { field:
/// "jsonName", ... })`.
#[macro_export]
macro_rules! read_struct {
    ($ty:ty, $name:literal, { $($field:ident : $key:literal),* $(,)? }) => {
        impl $ty {
            /// The JSON names of the fields, in declaration order.
            pub const JSON_FIELDS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::settings_reader::ReadJson for $ty {
            fn read(
                reader: &mut $crate::settings_reader::Reader<'_>,
            ) -> $crate::settings_reader::Read<Self> {
                // The fields' indexes in `JSON_FIELDS`, by name.
                #[allow(non_camel_case_types, dead_code)]
                enum Index { $($field),* }
                let mut value = <$ty>::default();
                reader.object_at($name, Self::JSON_FIELDS, &mut |r, index| {
                    $(
                        if index == Index::$field as usize {
                            // The default it replaces is discarded, not
                            // dropped (`arena::replace`).
                            let read = $crate::settings_reader::ReadJson::read(r)?;
                            $crate::arena::replace(&mut value.$field, read);
                            return Ok(());
                        }
                    )*
                    Ok(())
                })?;
                Ok(value)
            }
        }
    };
}

/// `ReadJson` for a unit enum spelled by its JSON names, in declaration
/// order: `read_enum!(Mode, "Mode", { Enforce: "enforce", Warn: "warn" })`.
#[macro_export]
macro_rules! read_enum {
    ($ty:ty, $name:literal, { $($variant:ident : $key:literal),* $(,)? }) => {
        impl $crate::settings_reader::ReadJson for $ty {
            fn read(
                reader: &mut $crate::settings_reader::Reader<'_>,
            ) -> $crate::settings_reader::Read<Self> {
                const VARIANTS: &[&str] = &[$($key),*];
                const VALUES: &[$ty] = &[$(<$ty>::$variant),*];
                let index = reader.variant($name, VARIANTS)?;
                Ok(VALUES[index])
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Inner {
        path_prefix: String,
        read_only: bool,
        types: Option<Vec<String>>,
    }
    read_struct!(Inner, "Inner", {
        path_prefix: "pathPrefix",
        read_only: "readOnly",
        types: "types",
    });

    #[derive(Default, Debug, PartialEq)]
    struct Outer {
        allowed: Vec<Inner>,
        seconds: Option<i64>,
        values: BTreeMap<String, Vec<String>>,
    }
    read_struct!(Outer, "Outer", {
        allowed: "allowed",
        seconds: "seconds",
        values: "values",
    });

    fn read(json: &str) -> Read<Outer> {
        read_all(json, "top")
    }

    fn error(json: &str) -> String {
        read(json).err().map(|e| e.to_string()).unwrap_or_default()
    }

    /// The passed-over fields are the read struct's own: a struct inside
    /// it with a field of the same name reads that field.
    #[test]
    fn fields_passed_over_are_the_outer_structs_only() {
        #[derive(Default, Debug, PartialEq)]
        struct Wrapper {
            inner: Inner,
            types: Vec<String>,
        }
        read_struct!(Wrapper, "Wrapper", { inner: "inner", types: "types" });
        let text = r#"{"inner": {"pathPrefix": "/x", "types": ["File"]}, "types": ["a"]}"#;
        let mut reader = Reader::new(text, "");
        let read: Wrapper = reader.passing_over(&["types"], ReadJson::read).unwrap();
        assert_eq!(read.types, Vec::<String>::new());
        assert_eq!(read.inner.types, Some(vec!["File".to_string()]));
        assert_eq!(read.inner.path_prefix, "/x");
        assert!(reader.passed_over.is_empty(), "the list outlived the read");
    }

    #[test]
    fn reads_fields_lists_maps_and_escapes() {
        let outer = read(
            r#" { "allowed" : [ {"pathPrefix": "/var/\u006cog", "readOnly": true}, {"types": null} ],
                "seconds": -5, "values": {"a": ["x"], "a": ["y"]} } "#,
        )
        .expect("reads");
        assert_eq!(outer.allowed[0].path_prefix, "/var/log");
        assert!(outer.allowed[0].read_only);
        assert_eq!(outer.allowed[1], Inner::default());
        assert_eq!(outer.seconds, Some(-5));
        assert_eq!(outer.values["a"], vec!["y".to_string()]);
    }

    #[test]
    fn errors_name_the_path_in_serde_words() {
        assert_eq!(
            error(r#"{"allowed": [{}, {"pathPrefx": "/x"}]}"#),
            "top.allowed[1].pathPrefx: unknown field `pathPrefx`, expected one of `pathPrefix`, `readOnly`, `types`"
        );
        assert_eq!(
            error(r#"{"allowed": [{"readOnly": "yes"}]}"#),
            "top.allowed[0].readOnly: invalid type: string \"yes\", expected a boolean"
        );
        assert_eq!(
            error(r#"{"allowed": {}}"#),
            "top.allowed: invalid type: map, expected a sequence"
        );
        assert_eq!(
            error(r#"{"allowed": [3]}"#),
            "top.allowed[0]: invalid type: integer `3`, expected struct Inner"
        );
        assert_eq!(
            error(r#"{"seconds": 1.5}"#),
            "top.seconds: invalid type: floating point `1.5`, expected i64"
        );
        assert_eq!(
            error(r#"{"seconds": 1, "seconds": 2}"#),
            "top.seconds: duplicate field `seconds`"
        );
        assert_eq!(
            error(r#"{"values": {"k": [true]}}"#),
            "top.values.k[0]: invalid type: boolean `true`, expected a string"
        );
        assert_eq!(error(r#"{} x"#), "top: trailing characters");
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Mode {
            On,
            Off,
        }
        read_enum!(Mode, "Mode", { On: "on", Off: "off" });
        let mode = |json: &str| read_all::<Mode>(json, "mode").map_err(|e| e.to_string());
        assert_eq!(mode(r#" "off" "#), Ok(Mode::Off));
        assert_eq!(
            mode(r#""of""#),
            Err("mode: unknown variant `of`, expected `on` or `off`".to_string())
        );
        assert_eq!(
            mode(r#"{"x": 1}"#),
            Err("mode: unknown variant `x`, expected `on` or `off`".to_string())
        );
        assert_eq!(
            mode("1"),
            Err("mode: invalid type: integer `1`, expected enum Mode".to_string())
        );
    }

    /// The word-wise scan finds what a byte-wise one finds: every
    /// position of a quote or backslash in every string of up to 20 bytes
    /// over an alphabet with both, bytes >= 0x80 and their neighbours.
    #[test]
    fn quote_or_escape_is_found_as_a_byte_scan_finds_it() {
        let alphabet = [b'a', b'"', b'\\', 0x80, 0xa2, b'!', b'#', b'[', b']', 0xdc];
        for len in 0..20usize {
            for seed in 0..400usize {
                let text: Vec<u8> = (0..len)
                    .map(|i| alphabet[(seed * 7 + i * i * 3 + seed / (i + 1)) % alphabet.len()])
                    .collect();
                for from in 0..=len {
                    let expected = text[from..]
                        .iter()
                        .position(|b| *b == b'"' || *b == b'\\')
                        .map(|at| from + at);
                    assert_eq!(
                        next_quote_or_escape(&text, from),
                        expected,
                        "{text:?} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn containers_end_where_a_byte_walk_ends_them() {
        // The reference: the walk `container_end` replaced.
        fn walk(json: &[u8], start: usize) -> Result<usize, Unclosed> {
            let (mut depth, mut in_string, mut i) = (0usize, false, start);
            while let Some(&byte) = json.get(i) {
                i += 1;
                if in_string {
                    match byte {
                        b'\\' => i += 1,
                        b'"' => in_string = false,
                        _ => {}
                    }
                } else {
                    match byte {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Err(if in_string {
                Unclosed::String
            } else {
                Unclosed::Value
            })
        }
        // With backslashes (byte walks), without (words), bracket-dense.
        let alphabets: [&[u8]; 3] = [b"{}[]\"\\a:,{[\"", b"{}[]\"a:,{[\"bcd", b"{{[[}]\"aaaaa"];
        let mut seed = 11u64;
        for round in 0..60000 {
            let alphabet = alphabets[round % 3];
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 40) as usize % 80;
            let mut text = vec![b'{'];
            for _ in 1..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            assert_eq!(
                container_end(&text, 0),
                walk(&text, 0),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
        // Real settings: every container of policy.yaml's and the agents'.
        let settings = crate::test_support::policy_yaml_settings().to_string();
        let pretty =
            serde_json::to_string_pretty(&crate::test_support::policy_yaml_settings()).unwrap();
        for text in [settings, pretty] {
            let bytes = text.as_bytes();
            for (start, b) in bytes.iter().enumerate() {
                if matches!(b, b'{' | b'[') {
                    assert_eq!(container_end(bytes, start), walk(bytes, start));
                }
            }
        }
    }

    #[test]
    fn skips_values_whole() {
        let json = r#"{"a": [1, {"b": "]}\"", "c": [true, null]}], "d": -1.5e3}"#;
        let mut reader = Reader::new(json, "");
        let mut raw = Vec::new();
        reader
            .object("T", &["a", "d"], &mut |r, _| {
                raw.push(r.skip()?.to_string());
                Ok(())
            })
            .expect("skips");
        assert_eq!(raw, [r#"[1, {"b": "]}\"", "c": [true, null]}]"#, "-1.5e3"]);
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for json in [
            "",
            "{",
            "{\"allowed\"",
            "{\"allowed\":",
            "{\"allowed\": [",
            "{\"allowed\": [{\"pathPrefix\": \"/x",
            "{\"seconds\": }",
            "{\"allowed\": [,]}",
            "{,}",
            "{\"values\": {\"k\" []}}",
            "\"",
            "nul",
        ] {
            assert!(read(json).is_err(), "{json:?}");
            let mut reader = Reader::new(json, "");
            let _ = reader.skip();
        }
    }
}
