//! The admission request read from the payload without serde: the object
//! becomes the same `serde_json::Value` serde_json would build, the rest
//! of the request is read or skipped member by member.
//!
//! Why: parsing the request into a `Value` was half of an evaluation and
//! the SDK floor's whole cost. Through serde_json every string is found
//! byte by byte (`parse_str`, `skip_to_escape`), checked by `from_utf8`
//! even when it is ASCII, and copied by `String::from`, whose
//! runtime-length copy is a wasm `memory.copy`, in wasmtime a libcall of
//! about 170 instructions; whitespace is looked for before every token.
//! Here strings are scanned eight bytes at a time, UTF-8 is checked only
//! when a byte above 0x7F was seen, and bytes are copied as 8-byte words.
//!
//! Exactness: this reader answers `Some` only for input it reads exactly
//! as serde_json would, and `None` for anything else (an escape sequence
//! in a key of the request, a number that is not a plain integer is read
//! by serde_json itself, depth beyond serde_json's 128, any syntax error):
//! the caller then takes serde's path, which reads or refuses it with
//! serde's words. So it is never laxer than serde_json; the tests hold
//! both to the same `Value` over the fixtures and generated JSON.

use serde_json::{Map, Number, Value};

use crate::words::{HIGHS, string_specials};

/// serde_json's recursion limit: deeper input is left to serde, which
/// refuses it.
const MAX_DEPTH: usize = 128;

/// `Some` the first time `bit` is set in `seen`, `None` when it was set
/// already: a member read twice, which serde's derive and the settings
/// reader refuse, is left to them.
pub fn first_time(seen: &mut u64, bit: u64) -> Option<()> {
    let repeated = *seen & bit != 0;
    *seen |= bit;
    (!repeated).then_some(())
}

/// A quoted JSON string with escapes, decoded by serde_json (surrogate
/// pairs and all) through `Value`, not `String`: a typed deserialisation
/// links serde's "invalid type: floating point" message and with it
/// core's float formatting, about 12 KB of the module.
pub fn decode_string(quoted: &[u8]) -> Result<String, serde_json::Error> {
    match serde_json::from_slice(quoted)? {
        Value::String(text) => Ok(text),
        _ => Err(serde::de::Error::custom("expected a string")),
    }
}

/// A cursor over JSON text (the payload's bytes).
#[derive(Clone)]
pub struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// An object read by `value` repeated a key (the last one wins).
    repeated_key: bool,
}

/// Where a string's content lies and what it holds.
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
    non_ascii: bool,
}

/// `bytes` as an owned `String`; `bytes` must be valid UTF-8 (checked by
/// the caller). Copied as 8-byte words into a buffer rounded up to a
/// multiple of eight, so that no copy is a runtime-length `memory.copy`.
/// The buffer comes straight from the global allocator: at opt-level "z"
/// `Vec::with_capacity` is five calls deep (`RawVec`, `try_allocate_in`,
/// `alloc_impl`, `__rust_alloc`) before the arena's pointer bump, and a
/// request has hundreds of strings.
fn owned(bytes: &[u8]) -> String {
    let capacity = (bytes.len() + 7) & !7;
    let Ok(layout) = std::alloc::Layout::array::<u8>(capacity) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    if capacity == 0 {
        return String::new();
    }
    // SAFETY: `layout` has a non-zero size.
    let buffer = unsafe { std::alloc::alloc(layout) };
    if buffer.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // Index loops, not `chunks_exact`: at opt-level "z" its iterator is a
    // call per word.
    let mut i = 0usize;
    while let Some(chunk) = bytes.get(i..i.saturating_add(8)) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        // SAFETY: `i + 8 <= bytes.len() <= capacity`.
        unsafe { buffer.add(i).cast::<[u8; 8]>().write_unaligned(word) };
        i += 8;
    }
    let rest = bytes.get(i..).unwrap_or_default();
    if !rest.is_empty() {
        // Gathered by shifts: a copy of the bytes would be a `memory.copy`.
        let mut gathered = 0u64;
        let mut shift = 0;
        for &byte in rest {
            gathered |= u64::from(byte) << shift;
            shift += 8;
        }
        let word = gathered.to_le_bytes();
        // SAFETY: `i + 8 <= capacity`: the capacity is `bytes.len()`
        // rounded up to a multiple of eight and `i` is a multiple of eight
        // below `bytes.len()`.
        unsafe { buffer.add(i).cast::<[u8; 8]>().write_unaligned(word) };
    }
    // SAFETY: `buffer` was allocated by the global allocator with
    // alignment 1 and `capacity` bytes, its first `bytes.len()` bytes are
    // `bytes`, which the caller checked to be UTF-8 (ASCII, or
    // `str::from_utf8` said so).
    unsafe { String::from_raw_parts(buffer, bytes.len(), capacity) }
}

impl<'a> Parser<'a> {
    pub fn new(bytes: &'a [u8], pos: usize) -> Self {
        Self {
            bytes,
            pos,
            repeated_key: false,
        }
    }

    /// The position after what was read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The text from `start` to the cursor.
    pub fn text_from(&self, start: usize) -> Option<&'a [u8]> {
        self.bytes.get(start..self.pos)
    }

    /// True when an object read by `value` so far repeated a key.
    pub fn repeated_key(&self) -> bool {
        self.repeated_key
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace, not consumed.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    /// Consumes `byte` (after whitespace), or `None`.
    #[inline(always)]
    pub fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.bytes.get(self.pos..)?.starts_with(word);
        found.then(|| self.pos += word.len())
    }

    /// The string starting at the cursor's `"`, checked as serde_json
    /// checks it: no control byte, valid escapes (UTF-8 is the caller's).
    fn span(&mut self) -> Option<Span> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        let mut non_ascii = 0u64;
        let bytes = self.bytes;
        let mut i = start;
        loop {
            while let Some(chunk) = bytes.get(i..i.saturating_add(8)) {
                let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                    break;
                };
                let word = u64::from_le_bytes(word);
                non_ascii |= word;
                let special = string_specials(word);
                if special != 0 {
                    // The lowest flag is always a real one: go straight to it
                    // (bytes after it may count as non-ASCII: that only
                    // costs a UTF-8 check).
                    i += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let byte = *bytes.get(i)?;
            match byte {
                b'"' => {
                    self.pos = i + 1;
                    return Some(Span {
                        start,
                        end: i,
                        escaped,
                        non_ascii: non_ascii & HIGHS != 0,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match *bytes.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let hex = bytes.get(i + 2..i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1F => return None,
                _ => {
                    non_ascii |= u64::from(byte);
                    i += 1;
                }
            }
        }
    }

    /// A string value as serde_json decodes it.
    pub fn string(&mut self) -> Option<String> {
        let span = self.span()?;
        let content = self.bytes.get(span.start..span.end)?;
        if span.escaped {
            // Escapes (kubectl's last-applied annotation is full of them)
            // are decoded by serde_json itself, surrogates and all.
            let quoted = self.bytes.get(span.start - 1..span.end + 1)?;
            return decode_string(quoted).ok();
        }
        if span.non_ascii {
            std::str::from_utf8(content).ok()?;
        }
        Some(owned(content))
    }

    /// A string without escapes, borrowed (member names of the request).
    fn plain_str(&mut self) -> Option<&'a str> {
        let span = self.span()?;
        if span.escaped {
            return None;
        }
        let content = self.bytes.get(span.start..span.end)?;
        if span.non_ascii {
            return std::str::from_utf8(content).ok();
        }
        // SAFETY: every byte is below 0x80 (the scan saw no high bit), and
        // ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(content) })
    }

    /// A number as serde_json reads it into a `Value`: plain integers here,
    /// anything else (fractions, exponents, `-0`, more than 18 digits) by
    /// serde_json from the number's own text.
    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        let negative = self.bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.bytes.get(self.pos)? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
                    self.pos += 1;
                }
            }
            _ => return None,
        }
        let digits = self.pos - digits_start;
        let mut plain = true;
        if self.bytes.get(self.pos) == Some(&b'.') {
            plain = false;
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            plain = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            self.digits()?;
        }
        let text = self.bytes.get(start..self.pos)?;
        if plain && digits <= 18 {
            let magnitude = text[usize::from(negative)..]
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if !negative {
                return Some(Value::Number(Number::from(magnitude)));
            }
            if magnitude != 0 {
                // 18 digits fit an i64.
                let signed = i64::try_from(magnitude).ok()?;
                return Some(Value::Number(Number::from(-signed)));
            }
        }
        serde_json::from_slice(text).ok()
    }

    fn digits(&mut self) -> Option<()> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }

    /// Any JSON value, as `serde_json::from_slice::<Value>` builds it.
    pub fn value(&mut self) -> Option<Value> {
        self.value_at(0)
    }

    /// [`Parser::value`] and its text, when no object in it repeats a key
    /// (then each member of the text is the one the `Value` holds:
    /// `json_splice` writes a mutated object from that text).
    pub fn value_and_text(&mut self) -> Option<(Value, Option<&'a [u8]>)> {
        self.peek()?;
        let start = self.pos;
        let repeated_before = std::mem::replace(&mut self.repeated_key, false);
        let value = self.value_at(0)?;
        let text = (!self.repeated_key).then(|| self.bytes.get(start..self.pos));
        self.repeated_key |= repeated_before;
        Some((value, text.flatten()))
    }

    fn value_at(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut map = Map::new();
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(Value::Object(map));
                }
                // Inserted one by one: gathering the members and building the
                // map with `from_iter` (sort, bulk build) measured 17 % slower
                // on a DaemonSet and 5.6 KB larger.
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    self.eat(b':')?;
                    let value = self.value_at(depth + 1)?;
                    // A repeated key: the last wins, as in serde_json.
                    if map.insert(key, value).is_some() {
                        self.repeated_key = true;
                    }
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            return Some(Value::Object(map));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value_at(depth + 1)?);
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Some(Value::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Skips one value, checked as a `Value` would read it (syntax,
    /// escapes, control bytes, UTF-8: `skip_string`), and returns its text.
    pub fn skip(&mut self) -> Option<&'a [u8]> {
        self.skip_whitespace();
        let start = self.pos;
        self.skip_at(0)?;
        self.bytes.get(start..self.pos)
    }

    fn skip_at(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            open @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                if self.peek()? == close {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        if self.peek()? != b'"' {
                            return None;
                        }
                        self.skip_string()?;
                        self.eat(b':')?;
                    }
                    self.skip_at(depth + 1)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b if b == close => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// A string passed over, checked as a `Value` would read it: UTF-8
    /// (only when a byte above 0x7F was seen) and its escapes (decoded,
    /// surrogate pairs and all, only when it has some). serde_json checks
    /// neither in what it ignores; `skip` does, because skipped text is
    /// copied into a mutated object's answer (`json_splice`), which the host
    /// reads as a `Value`. A payload it refuses goes to serde's path.
    fn skip_string(&mut self) -> Option<()> {
        let span = self.span()?;
        if span.escaped {
            decode_string(self.bytes.get(span.start - 1..span.end + 1)?).ok()?;
        } else if span.non_ascii {
            std::str::from_utf8(self.bytes.get(span.start..span.end)?).ok()?;
        }
        Some(())
    }

    /// Skips one value of text already checked by [`Parser::skip`] (the
    /// stored object of an UPDATE, read again for a few members): a
    /// container is ended by the settings reader's word-wise
    /// `container_end`, not parsed again.
    pub fn skip_checked(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' => {
                self.pos = crate::settings_reader::container_end(self.bytes, self.pos).ok()?;
                Some(())
            }
            _ => self.skip().map(drop),
        }
    }

    /// Passes over the rest of the object or array the cursor is in (text
    /// already checked, as for [`Parser::skip_checked`]), its closing
    /// bracket included.
    pub fn skip_rest_checked(&mut self) -> Option<()> {
        self.pos = crate::settings_reader::container_end_at(self.bytes, self.pos, 1).ok()?;
        Some(())
    }

    /// A member's name without escapes, borrowed, and its colon.
    pub fn member_name(&mut self) -> Option<&'a str> {
        let name = self.plain_str()?;
        self.eat(b':')?;
        Some(name)
    }

    /// `null` or a string (an `Option<String>` field of the request).
    pub fn optional_string(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            _ => self.string().map(Some),
        }
    }

    /// An object's members: `member` is called with each name and the
    /// cursor at its value, which it must read or skip. Names with escapes
    /// are left to serde.
    pub fn members(
        &mut self,
        member: &mut dyn FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let name = self.plain_str()?;
            self.eat(b':')?;
            member(self, name)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` (as `None`) or an object read by `members`: a struct field
    /// with `#[serde(default)]` and `Option` members.
    pub fn optional_members(
        &mut self,
        member: &mut dyn FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        match self.peek()? {
            b'n' => self.literal(b"null"),
            _ => self.members(member),
        }
    }

    /// An array of strings without escapes, each borrowed and handed to
    /// `each` (glob patterns of the settings).
    pub fn plain_strings(&mut self, each: &mut dyn FnMut(&'a str)) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            each(self.plain_str()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` (as `None`) or an array of strings.
    pub fn optional_strings(&mut self) -> Option<Option<Vec<String>>> {
        match self.peek()? {
            b'n' => return self.literal(b"null").map(|()| None),
            b'[' => self.pos += 1,
            _ => return None,
        }
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(Some(items));
        }
        loop {
            items.push(self.string()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(Some(items));
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::any_json_value;

    fn ours(text: &str) -> Option<Value> {
        let mut parser = Parser::new(text.as_bytes(), 0);
        let value = parser.value()?;
        parser.skip_whitespace();
        (parser.position() == text.len()).then_some(value)
    }

    fn serde(text: &str) -> Option<Value> {
        serde_json::from_str(text).ok()
    }

    /// Ours reads as serde does, or leaves the text to serde.
    fn agrees(text: &str) {
        if let Some(value) = ours(text) {
            let expected = serde(text);
            assert_eq!(Some(&value), expected.as_ref(), "{text:?}");
            // Same number representation (u64, i64, f64), not only value.
            assert_eq!(
                value.to_string(),
                expected.map(|v| v.to_string()).unwrap_or_default(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn fixtures_read_as_serde_reads_them() {
        for (name, request) in crate::test_support::all_requests() {
            let compact = request.to_string();
            assert_eq!(ours(&compact).as_ref(), Some(&request), "{name}");
            let pretty = serde_json::to_string_pretty(&request).unwrap();
            assert_eq!(ours(&pretty).as_ref(), Some(&request), "{name} pretty");
        }
    }

    #[test]
    fn edge_cases_agree_with_serde() {
        let cases = [
            "0",
            "-0",
            "-1",
            "1",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "1.5",
            "-0.0",
            "1e3",
            "1E+3",
            "1e-3",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "0x1",
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "\"\"",
            "\"a\\\"b\"",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\x\"",
            "\"a\u{1}b\"",
            "\"é😀\"",
            "[]",
            "{}",
            "[1,]",
            "{,}",
            "{\"a\":1,}",
            "{\"a\":1,\"a\":2}",
            "{\"a\" : [ 1 , {\"b\":null} ] }",
            "[1 2]",
            "{\"a\"}",
            "{1:2}",
            "\"unterminated",
            "[",
            "{\"a\":",
            "{\"k\\u0041\":1}",
            "\"12345678\\\"\"",
            "\"abcdefgh\"",
            "\"abcdefghi\"",
        ];
        for case in cases {
            agrees(case);
        }
        // Depth: serde refuses beyond 128; ours leaves it to serde.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(ours(&deep), None);
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        agrees(&fine);
        assert!(ours(&fine).is_some());
        // Invalid UTF-8 inside a string is refused.
        let mut parser = Parser::new(b"\"a\xffb\"", 0);
        assert_eq!(parser.value(), None);
    }

    #[test]
    fn skip_checks_what_serde_checks() {
        for text in [
            "{\"a\":[1,2,{\"b\":\"c\\n\"}]}",
            "\"x\"",
            "-1.5e3",
            "null",
            "[]",
        ] {
            let mut parser = Parser::new(text.as_bytes(), 0);
            assert_eq!(parser.skip(), Some(text.as_bytes()), "{text}");
        }
        for text in [
            "{\"a\":}",
            "[1,]",
            "\"\\q\"",
            "{\"a\" 1}",
            "01",
            "\"a\u{1}\"",
        ] {
            let mut parser = Parser::new(text.as_bytes(), 0);
            let skipped = parser.skip().is_some() && parser.position() == text.len();
            assert!(!skipped, "{text}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_err(),
                "{text}"
            );
        }
    }

    proptest! {
        #[test]
        fn generated_json_reads_as_serde_reads_it(value in any_json_value()) {
            // serde_json's own float parsing does not always give back the
            // float it wrote (subnormals): the reference is its reading.
            let compact = value.to_string();
            prop_assert!(ours(&compact).is_some());
            prop_assert_eq!(ours(&compact), serde(&compact));
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(ours(&pretty), serde(&pretty));
        }

        #[test]
        fn damaged_json_is_read_as_serde_reads_it_or_left_to_it(
            value in any_json_value(),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"\"\\{}[],:0-.e \x01a\xc3".to_vec()),
            cut in any::<bool>(),
        ) {
            let mut bytes = value.to_string().into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                if cut { bytes.truncate(i) } else { bytes[i] = byte }
            }
            let mut parser = Parser::new(&bytes, 0);
            if let Some(ours) = parser.value() {
                parser.skip_whitespace();
                if parser.position() == bytes.len() {
                    let theirs: Option<Value> = serde_json::from_slice(&bytes).ok();
                    prop_assert_eq!(Some(ours), theirs);
                }
            }
        }
    }
}
