//! The verdict as JSON, byte for byte what `serde_json::to_vec` writes for
//! the SDK's `ValidationResponse` (field order, `null`s, escapes, the
//! mutated object's keys in its map's order), written without serde.
//!
//! Why not serde: in the module, serialising a mutated fluent-bit
//! DaemonSet (4 KB) through serde_json cost about 820 K instructions, as
//! much as parsing it. Every string went through `format_escaped_str`,
//! whose byte loop hands each unescaped run to `io::Write::write_all`, and
//! each of those copies is a wasm `memory.copy`: in wasmtime a libcall of
//! about 170 instructions with its trap bookkeeping, however short the run.
//! Here a string is checked eight bytes at a time and each clean word is
//! appended as one 8-byte store (`extend_from_slice` of a `[u8; 8]` is a
//! constant-size copy, which the compiler turns into a load and a store);
//! only a word holding a byte that needs an escape is written byte by byte.
//! The test `writes_what_serde_json_writes` holds the output to serde_json's
//! over every fixture's response and generated values.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

use crate::words::{ONES, string_specials};

/// The response as the host reads it.
pub fn response(response: &ValidationResponse) -> Vec<u8> {
    response_with(response, None)
}

/// [`response`], with `mutated_text` (the mutated object already written,
/// by `json_splice`) in place of `mutated_object` when there is one.
pub fn response_with(response: &ValidationResponse, mutated_text: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"accepted\":");
    out.extend_from_slice(if response.accepted {
        b"true".as_slice()
    } else {
        b"false".as_slice()
    });
    out.extend_from_slice(b",\"message\":");
    match &response.message {
        Some(message) => string(&mut out, message),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"code\":");
    match response.code {
        Some(code) => out.extend_from_slice(code.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"mutated_object\":");
    match &response.mutated_object {
        Some(object) => match mutated_text {
            Some(text) => out.extend_from_slice(text),
            None => value(&mut out, object),
        },
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"audit_annotations\":");
    match &response.audit_annotations {
        Some(annotations) => {
            out.push(b'{');
            for (i, (key, text)) in annotations.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(&mut out, key);
                out.push(b':');
                string(&mut out, text);
            }
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"warnings\":");
    match &response.warnings {
        Some(warnings) => {
            out.push(b'[');
            for (i, warning) in warnings.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(&mut out, warning);
            }
            out.push(b']');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

/// A JSON value, compact, as `serde_json::to_vec` writes it.
pub fn value(out: &mut Vec<u8>, value_in: &Value) {
    match value_in {
        Value::Null => put(out, *b"null"),
        Value::Bool(true) => put(out, *b"true"),
        Value::Bool(false) => put(out, *b"false"),
        // Numbers are few in Kubernetes objects; serde_json's own writer
        // keeps its float formatting exact.
        Value::Number(number) => {
            if serde_json::to_writer(&mut *out, number).is_err() {
                put(out, *b"null");
            }
        }
        Value::String(text) => string(out, text),
        Value::Array(items) => {
            put_byte(out, b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    put_byte(out, b',');
                }
                value(out, item);
            }
            put_byte(out, b']');
        }
        Value::Object(map) => {
            put_byte(out, b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    put_byte(out, b',');
                }
                string(out, key);
                put_byte(out, b':');
                value(out, item);
            }
            put_byte(out, b'}');
        }
    }
}

/// Appends `bytes` (a constant length at every call site, so the copy is
/// a few stores): the capacity is checked by hand and the bytes written in
/// place, because `Vec::extend_from_slice` and `Vec::push` are not inlined
/// at opt-level "z" and their runtime-length copy is a `memory.copy`
/// libcall.
#[inline(always)]
fn put<const N: usize>(out: &mut Vec<u8>, bytes: [u8; N]) {
    if out.capacity() - out.len() < N {
        out.reserve(N);
    }
    let len = out.len();
    // SAFETY: the capacity holds N more bytes (checked above), an unaligned
    // write of an [u8; N] needs nothing more, and the N bytes are
    // initialised before the length covers them.
    unsafe {
        out.as_mut_ptr()
            .add(len)
            .cast::<[u8; N]>()
            .write_unaligned(bytes);
        out.set_len(len + N);
    }
}

#[inline(always)]
fn put_byte(out: &mut Vec<u8>, byte: u8) {
    put(out, [byte]);
}

/// True when one of the word's bytes is `"`, `\` or a control byte below
/// 0x20: the bytes serde_json escapes (the word is then written byte by
/// byte).
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    string_specials(word) != 0
}

/// A string with serde_json's escapes: `\"`, `\\`, `\b \t \n \f \r`, and
/// `\u00xx` (lowercase hex) for the other bytes below 0x20.
pub fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if out.capacity() - out.len() < bytes.len() + 2 {
        out.reserve(bytes.len() + 2);
    }
    put_byte(out, b'"');
    // Index loops, not `chunks_exact`: at opt-level "z" its iterator is a
    // call per word.
    let mut i = 0usize;
    while let Some(chunk) = bytes.get(i..i.saturating_add(8)) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        if needs_escape(u64::from_le_bytes(word)) {
            for byte in word {
                escaped_byte(out, byte);
            }
        } else {
            put(out, word);
        }
        i += 8;
    }
    // The last 0 to 7 bytes, gathered into a word padded with spaces (no
    // escape) by shifts (a byte copy loop would become a `memory.copy`):
    // when clean, the whole word is stored and only its bytes counted.
    let rest = bytes.get(i..).unwrap_or_default();
    if !rest.is_empty() {
        let mut word = ONES * u64::from(b' ');
        let mut shift = 0;
        for &byte in rest {
            word = (word & !(0xFF << shift)) | (u64::from(byte) << shift);
            shift += 8;
        }
        if needs_escape(word) {
            for &byte in rest {
                escaped_byte(out, byte);
            }
        } else {
            put(out, word.to_le_bytes());
            // SAFETY: the 8 bytes were just written; the length keeps the
            // first `rest.len()` of them, all initialised.
            unsafe { out.set_len(out.len() - (8 - rest.len())) };
        }
    }
    put_byte(out, b'"');
}

#[inline(always)]
fn escaped_byte(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        0x00..=0x1F => {
            put(
                out,
                [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xF)],
                ],
            );
            return;
        }
        _ => {
            put_byte(out, byte);
            return;
        }
    };
    put(out, [b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::any_json_value;
    use serde_json::json;

    fn serde(response: &ValidationResponse) -> String {
        String::from_utf8(serde_json::to_vec(response).unwrap()).unwrap()
    }

    fn ours(response: &ValidationResponse) -> String {
        String::from_utf8(super::response(response)).unwrap()
    }

    fn with_object(object: Value) -> ValidationResponse {
        ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(object),
            audit_annotations: None,
            warnings: None,
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        // Every fixture's verdict under policy.yaml (mutations, rejections
        // with long messages, warnings, audit annotations), and the fixture
        // objects themselves as mutated objects.
        let settings = crate::test_support::policy_yaml_settings();
        let mut judged = 0;
        for (name, request) in crate::test_support::all_requests() {
            let payload = json!({"request": request, "settings": settings}).to_string();
            let verdict = crate::evaluate::validate(payload.as_bytes());
            assert_eq!(ours(&verdict), serde(&verdict), "{name}");
            let object = with_object(request["object"].clone());
            assert_eq!(ours(&object), serde(&object), "{name} object");
            judged += 1;
        }
        assert!(judged > 40, "only {judged} fixtures");
        let full = ValidationResponse {
            accepted: false,
            message: Some("a \"quoted\" \\ path\n\ttab \u{1} \u{7f} é 😀".into()),
            code: Some(403),
            mutated_object: None,
            audit_annotations: Some([("profile".to_string(), "fluent-bit".to_string())].into()),
            warnings: Some(vec![
                "one".into(),
                String::new(),
                "\u{1f}x\u{8}\u{c}\r".into(),
            ]),
        };
        assert_eq!(ours(&full), serde(&full));
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        for position in 0..17 {
            for byte in 0u8..0x80 {
                let mut text = "a".repeat(16);
                text.insert(position, char::from(byte));
                let mut out = Vec::new();
                string(&mut out, &text);
                assert_eq!(
                    out,
                    serde_json::to_vec(&text).unwrap(),
                    "{byte:#x} at {position}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn generated_values_are_written_as_serde_json_writes_them(v in any_json_value()) {
            let response = with_object(v);
            prop_assert_eq!(ours(&response), serde(&response));
        }
    }
}
