//! Byte tests on eight bytes at once (a `u64` read from the text), shared
//! by the JSON reader and writer and the settings reader: every byte of
//! every string passes through one of them, and in the engine a byte loop
//! costs several times a word step.
//!
//! Two kinds of flags. [`lowest_zero_bytes`] is the classic "has a zero
//! byte" test: a flag can be false only above a true one (a borrow), so
//! the lowest flag is exact and "any flag" is exact; use it to find the
//! first match. [`zero_bytes`] flags exactly the zero bytes (no borrow
//! crosses a byte); use it where every flag counts.

/// 0x01 in every byte: `ONES * b` repeats the byte `b`.
pub const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte, where the flags are.
pub const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bits flagging the zero bytes of `x`; exact up to the lowest flag.
#[inline(always)]
pub fn lowest_zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bits flagging exactly the zero bytes of `x`.
#[inline(always)]
pub fn zero_bytes(x: u64) -> u64 {
    const LOWS: u64 = !HIGHS;
    !(((x & LOWS) + LOWS) | x) & HIGHS
}

/// High bits flagging `"` and `\` (exact up to the lowest flag).
#[inline(always)]
pub fn quotes_or_backslashes(word: u64) -> u64 {
    lowest_zero_bytes(word ^ (ONES * u64::from(b'"')))
        | lowest_zero_bytes(word ^ (ONES * u64::from(b'\\')))
}

/// High bits flagging what ends a clean run in a JSON string, which are
/// also the bytes serde_json escapes: `"`, `\` and control bytes below
/// 0x20 (exact up to the lowest flag).
#[inline(always)]
pub fn string_specials(word: u64) -> u64 {
    quotes_or_backslashes(word) | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
}

/// `bytes` as text: ASCII is recognised eight bytes at a time (the
/// settings sent with every request are ASCII, and `str::from_utf8` cost
/// about 2.4 instructions a byte in the engine); anything else is checked
/// by `str::from_utf8`.
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    let mut high = 0u64;
    let mut i = 0usize;
    let pointer = bytes.as_ptr();
    while i + 32 <= bytes.len() {
        // SAFETY: bytes `i..i + 32` are inside `bytes` (checked above);
        // unaligned reads of plain bytes.
        unsafe {
            high |= pointer.add(i).cast::<u64>().read_unaligned()
                | pointer.add(i + 8).cast::<u64>().read_unaligned()
                | pointer.add(i + 16).cast::<u64>().read_unaligned()
                | pointer.add(i + 24).cast::<u64>().read_unaligned();
        }
        i += 32;
    }
    for &byte in bytes.get(i..).unwrap_or_default() {
        high |= u64::from(byte);
    }
    if high & HIGHS == 0 {
        // SAFETY: no byte has its high bit set: the text is ASCII, which
        // is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// True when `bytes` holds `byte`: eight bytes at a time (`contains` on a
/// byte slice is `memchr`, a few hundred instructions in the engine even on
/// a short text, and a byte loop costs several per byte).
pub fn has_byte(bytes: &[u8], byte: u8) -> bool {
    let pattern = ONES * u64::from(byte);
    let mut i = 0usize;
    let pointer = bytes.as_ptr();
    while i + 8 <= bytes.len() {
        // SAFETY: bytes `i..i + 8` are inside `bytes` (checked above).
        let word = unsafe { pointer.add(i).cast::<u64>().read_unaligned() };
        if lowest_zero_bytes(word ^ pattern) != 0 {
            return true;
        }
        i += 8;
    }
    // A loop, not `contains` (`memchr`, see above) for the last bytes.
    for &tail in bytes.get(i..).unwrap_or_default() {
        if tail == byte {
            return true;
        }
    }
    false
}

/// `str::trim`, answered without decoding a character when neither end is
/// whitespace: `trim` tests every end character for Unicode's White_Space
/// (about 300 instructions a call in the engine), and settings entries and
/// parameter keys almost never have any.
pub fn trim(text: &str) -> &str {
    let plain = |b: &u8| b.is_ascii() && !matches!(b, b'\t'..=b'\r' | b' ');
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if plain(first) && plain(last) => text,
        _ => text.trim(),
    }
}

// Substring search. `str::find` and its kin with a `&str` pattern link
// core's two-way searcher (`StrSearcher`, forward and reverse), about
// 4.4 KB of a module held under 400 KB, to look for needles of two to
// twenty bytes in settings entries and messages. A window compared in
// place is enough there. A match of a UTF-8 needle in UTF-8 text starts
// and ends on character boundaries (its first byte is never a
// continuation byte), so the positions slice the text safely.

/// Where `needle` first occurs in `text` (`str::find`).
pub fn find(text: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(0);
    }
    // The first byte before the window: a slice comparison is a call.
    text.as_bytes()
        .windows(needle.len())
        .position(|w| w[0] == needle[0] && w == needle)
}

/// Where `needle` last occurs in `text` (`str::rfind`).
pub fn rfind(text: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(text.len());
    }
    text.as_bytes()
        .windows(needle.len())
        .rposition(|w| w[0] == needle[0] && w == needle)
}

/// `str::contains` with a `&str` pattern.
pub fn contains(text: &str, needle: &str) -> bool {
    find(text, needle).is_some()
}

/// `str::split_once` with a `&str` separator.
pub fn split_once<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = find(text, separator)?;
    Some((text.get(..at)?, text.get(at + separator.len()..)?))
}

/// `str::rsplit_once` with a `&str` separator.
pub fn rsplit_once<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = rfind(text, separator)?;
    Some((text.get(..at)?, text.get(at + separator.len()..)?))
}

/// `str::replace` with a `&str` pattern (non-empty).
pub fn replace(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = split_once(rest, from).filter(|_| !from.is_empty()) {
        out.push_str(before);
        out.push_str(to);
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_strs_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\tkey\n",
            "\u{b}x\u{c}",
            "\u{a0}x",
            "x\u{2003}",
            "é",
            " é ",
            "\u{1c}x\u{1f}",
            "type",
            "Type ",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    /// The substring helpers answer as `str`'s own methods, on ASCII and
    /// multi-byte text, needles at either end, absent, repeated and empty.
    #[test]
    fn substring_helpers_are_strs_methods() {
        let texts = [
            "",
            "a",
            "**",
            "a**b**",
            "spec: x: y",
            "pfad/é: ü [rule] [x]",
            "${pvc.annotations['a']}${",
            "driver pattern of a driver pattern",
        ];
        let needles = ["", "*", "**", ": ", " [", "${", "é", "driver pattern", "zz"];
        for text in texts {
            for needle in needles {
                assert_eq!(find(text, needle), text.find(needle), "{text:?} {needle:?}");
                assert_eq!(
                    rfind(text, needle),
                    text.rfind(needle),
                    "{text:?} {needle:?}"
                );
                assert_eq!(contains(text, needle), text.contains(needle));
                assert_eq!(split_once(text, needle), text.split_once(needle));
                assert_eq!(rsplit_once(text, needle), text.rsplit_once(needle));
                if !needle.is_empty() {
                    assert_eq!(replace(text, needle, "<>"), text.replace(needle, "<>"));
                }
            }
        }
    }

    #[test]
    fn has_byte_is_contains() {
        let text = b"monitoring-*-team.example/x";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let bytes = &text[start..end];
                for byte in [b'*', b'm', b'x', b'/', b'.', b'q', 0] {
                    assert_eq!(
                        has_byte(bytes, byte),
                        bytes.contains(&byte),
                        "{bytes:?} {byte}"
                    );
                }
            }
        }
    }

    #[test]
    fn utf8_is_str_from_utf8() {
        let samples: [&[u8]; 9] = [
            b"",
            b"{}",
            b"{\"daemonSets\":{\"mode\":\"protect\"}}",
            "{\"n\":\"caf\u{e9}\"}".as_bytes(),
            b"abcdefg\x80",
            b"abcdefgh\xc3",
            b"\xff",
            "\u{1F600} and a long ASCII tail past one word".as_bytes(),
            b"exactly 16 bytes",
        ];
        for sample in samples {
            for start in 0..sample.len().min(9) {
                let bytes = &sample[start..];
                assert_eq!(utf8(bytes), std::str::from_utf8(bytes).ok(), "{bytes:?}");
            }
        }
    }

    /// Every flag test against its byte-by-byte definition, over words
    /// built from the bytes that matter and their neighbours.
    #[test]
    fn flags_are_the_bytes_they_name() {
        let bytes = [
            0u8,
            1,
            0x1f,
            0x20,
            b'"',
            b'\\',
            b'a',
            0x7f,
            0x80,
            0xff,
            0x5c ^ 1,
        ];
        let mut seed = 3u64;
        for _ in 0..50_000 {
            let mut word = [0u8; 8];
            for byte in &mut word {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *byte = bytes[(seed >> 33) as usize % bytes.len()];
            }
            let x = u64::from_le_bytes(word);
            let exact = |test: fn(u8) -> bool| {
                word.iter()
                    .enumerate()
                    .filter(|(_, b)| test(**b))
                    .fold(0u64, |m, (i, _)| m | (0x80 << (8 * i)))
            };
            assert_eq!(zero_bytes(x), exact(|b| b == 0), "{word:?}");
            let lowest = |flags: u64| flags & flags.wrapping_neg();
            for (flags, test) in [
                (lowest_zero_bytes(x), (|b| b == 0) as fn(u8) -> bool),
                (quotes_or_backslashes(x), |b| b == b'"' || b == b'\\'),
                (string_specials(x), |b| b == b'"' || b == b'\\' || b < 0x20),
            ] {
                assert_eq!(flags != 0, exact(test) != 0, "{word:?}");
                assert_eq!(lowest(flags), lowest(exact(test)), "{word:?}");
            }
        }
    }
}
