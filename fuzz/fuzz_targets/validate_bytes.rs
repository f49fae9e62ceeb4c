//! Arbitrary bytes as the whole waPC `validate` payload. Oracle: no panic,
//! a response the host can serialise, a rejection always says why and never
//! mutates, and only a CREATE or UPDATE of a judged kind is mutated. The
//! module's own JSON reader and writer agree with serde_json: what
//! `json_in` reads from the bytes is what serde_json reads (same numbers,
//! same strings), and `json_out` writes serde_json's bytes. What the module
//! hands the host (`validate_to_json`: a mutated DaemonSet or Pod written
//! as the request's own text with the changed nodes spliced in) reads as
//! the same response.

#![no_main]

use daemonset_csi_policy::evaluate::{validate, validate_to_json};
use daemonset_csi_policy::storage::default_class::NoCluster;
use daemonset_csi_policy::{json_in, json_out};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut parser = json_in::Parser::new(data, 0);
    if let Some(ours) = parser.value() {
        let rest = data.get(parser.position()..).unwrap_or_default();
        // JSON's whitespace, not `is_ascii_whitespace` (which takes a
        // form feed too, which serde refuses as trailing text).
        if rest.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            let theirs: Value =
                serde_json::from_slice(data).expect("json_in read what serde refuses");
            assert_eq!(
                ours.to_string(),
                theirs.to_string(),
                "json_in reads otherwise"
            );
        }
    }
    let response = validate(data);
    let serialised = serde_json::to_vec(&response);
    assert!(serialised.is_ok(), "response does not serialise");
    assert_eq!(
        serialised.ok(),
        Some(json_out::response(&response)),
        "json_out writes otherwise than serde_json"
    );
    let written: Value = serde_json::from_slice(&validate_to_json(data, &NoCluster))
        .expect("the verdict written for the host is not JSON");
    assert_eq!(
        Some(written),
        serde_json::to_value(&response).ok(),
        "the verdict written for the host reads otherwise"
    );
    if !response.accepted {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "rejection without a message"
        );
        assert!(
            response.mutated_object.is_none(),
            "rejection with a mutation"
        );
    }
    if let Some(mutated) = &response.mutated_object {
        assert!(mutated.is_object(), "mutated object is not an object");
        // serde_json does not check UTF-8 in the fields it skips: read the
        // payload the same way (invalid bytes only ever sit in strings).
        let text = String::from_utf8_lossy(data);
        let request = match serde_json::from_str::<Value>(&text) {
            Ok(payload) => payload.get("request").cloned().unwrap_or(Value::Null),
            // The host's shape `{"request": R, "settings": S}` is read by
            // parsing R alone (evaluate::split_payload) and leaving S to the
            // settings reader, which skips the sections it does not read:
            // such a payload is judged even where S is not strict JSON
            // (policy-server validated the settings at start). Read R so.
            Err(_) => request_of_split(&text),
        };
        let request = &request;
        let operation = request.get("operation").and_then(Value::as_str);
        assert!(
            matches!(operation, Some("CREATE" | "UPDATE")),
            "mutation on {operation:?}"
        );
        let kind = request.pointer("/kind/kind").and_then(Value::as_str);
        // A Pod only through its ephemeralcontainers subresource.
        let sub_resource = request.get("subResource").and_then(Value::as_str);
        assert!(
            matches!(kind, Some("DaemonSet" | "StorageClass"))
                || (kind == Some("Pod") && sub_resource == Some("ephemeralcontainers")),
            "mutation of {kind:?} ({sub_resource:?})"
        );
    }
});

/// The request of a payload `{"request": R, ...}`, R parsed alone.
fn request_of_split(text: &str) -> Value {
    let rest = text
        .trim_start_matches([' ', '\n', '\r', '\t'])
        .strip_prefix('{')
        .map(|r| r.trim_start_matches([' ', '\n', '\r', '\t']))
        .and_then(|r| r.strip_prefix("\"request\""))
        .map(|r| r.trim_start_matches([' ', '\n', '\r', '\t']))
        .and_then(|r| r.strip_prefix(':'));
    rest.and_then(|r| {
        serde_json::Deserializer::from_str(r)
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
    })
    .unwrap_or(Value::Null)
}
