//! Helpers for the native tests: run fixtures from `test_data/` through the
//! same entry point the waPC export uses.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::{Value, json};

use crate::violation::Rejection;

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/test_data/requests/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn evaluate(request: &Value, settings: Value) -> ValidationResponse {
    let payload = json!({"request": request, "settings": settings});
    let bytes = serde_json::to_vec(&payload).expect("serialisable payload");
    crate::evaluate::validate(&bytes)
}

pub fn run(name: &str, settings: Value) -> ValidationResponse {
    evaluate(&fixture(name), settings)
}

/// A fixture with its object edited.
pub fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut request = fixture(name);
    edit(&mut request["object"]);
    request
}

pub fn message(response: &ValidationResponse) -> &str {
    response.message.as_deref().unwrap_or("")
}

pub fn warnings(response: &ValidationResponse) -> Vec<String> {
    response.warnings.clone().unwrap_or_default()
}

/// Every fragment `text` lacks is named, not only the first.
#[track_caller]
pub fn assert_contains_all(text: &str, fragments: &[&str]) {
    let missing: Vec<&str> = fragments
        .iter()
        .copied()
        .filter(|f| !text.contains(f))
        .collect();
    assert!(missing.is_empty(), "message lacks {missing:?}: {text}");
}

#[track_caller]
pub fn assert_rejected(response: &ValidationResponse, fragments: &[&str]) {
    assert!(!response.accepted, "expected a rejection, got {response:?}");
    assert_contains_all(message(response), fragments);
}

/// A rejection listing exactly `count` violations, the fragments among them.
#[track_caller]
pub fn assert_violations(response: &ValidationResponse, count: usize, fragments: &[&str]) {
    assert_rejected(response, fragments);
    assert_eq!(
        violation_count(response),
        count,
        "violations in {}",
        message(response)
    );
}

/// Settings `validate_settings` refuses, with every fragment in its message.
#[track_caller]
pub fn assert_settings_refused(settings: &Value, fragments: &[&str]) {
    let response = crate::evaluate::validate_settings(settings.to_string().as_bytes());
    assert!(!response.valid, "settings accepted: {settings}");
    assert_contains_all(response.message.as_deref().unwrap_or(""), fragments);
}

#[track_caller]
pub fn assert_accepted_untouched(response: &ValidationResponse) {
    assert!(
        response.accepted,
        "expected acceptance, got {:?}",
        response.message
    );
    assert!(response.mutated_object.is_none(), "unexpected mutation");
}

/// Number of violations listed in a rejection.
pub fn violation_count(response: &ValidationResponse) -> usize {
    Rejection::parse(message(response)).map_or(0, |r| r.violations.len())
}

/// Re-evaluates a mutated object, as the API server would store it.
pub fn reevaluate(
    request: &Value,
    response: &ValidationResponse,
    settings: Value,
) -> ValidationResponse {
    let mut again = request.clone();
    again["object"] = response.mutated_object.clone().expect("a mutated object");
    evaluate(&again, settings)
}

/// The `spec.settings` of the `policy.yaml` the README deploys.
pub fn policy_yaml_settings() -> Value {
    let path = format!("{}/policy.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let manifest: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    manifest["spec"]["settings"].clone()
}

/// Every AdmissionRequest of `test_data/requests/`, by file name.
pub fn all_requests() -> Vec<(String, Value)> {
    let dir = format!("{}/test_data/requests", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let request = fixture(&name);
            (name, request)
        })
        .collect()
}

/// Any JSON value, for the tests holding json_in and json_out to
/// serde_json: every number kind, strings with escapes, control bytes and
/// characters beyond ASCII, member names of any text or full of escapes.
pub fn any_json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
        "[\"\\\\\\x00-\\x1f a-é😀]{0,20}".prop_map(Value::String),
    ];
    let name = prop_oneof![any::<String>(), "[a-z\"\\\\é]{0,10}"];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(name.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
