//! The kinds of `policy_host::Error`: what a caller can match on, with
//! messages that keep their context.

mod common;

use common::{Behavior, Scratch, annotated_mock, daemonset_request, mock_guest, quiet_options};
use policy_host::input::{admission_request, parse_settings, read_request, read_settings_file};
use policy_host::manifests::{self, CheckError, OperationMode, RequestOptions, UserInfo};
use policy_host::{
    AdmissionResponse, ErrorKind, HostOptions, Metadata, PolicyModule, annotate, apply_patch,
};
use serde_json::json;

fn unannotated_options() -> HostOptions {
    HostOptions {
        require_annotation: false,
        ..quiet_options()
    }
}

#[test]
fn missing_file_is_io_and_names_the_path() {
    let scratch = Scratch::new("errors-io");
    let path = scratch.0.join("no-such-module.wasm");
    let err = PolicyModule::load(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("cannot read wasm module"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");

    let err = read_request(&scratch.0.join("r.json").to_string_lossy()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("r.json"), "{err}");
    let err = read_settings_file(&scratch.0.join("s.yaml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("s.yaml"), "{err}");
}

#[test]
fn non_wasm_file_is_invalid_module() {
    let scratch = Scratch::new("errors-not-wasm");
    let path = scratch.write("policy.wasm", "this is not wasm");
    let err = PolicyModule::load(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidModule, "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("module {}: ", path.display())),
        "{msg}"
    );
    assert!(msg.contains("not a valid wasm module"), "{msg}");

    let err = annotate(b"\0asm garbage", common::MOCK_METADATA_YML, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidModule, "{err}");
}

#[test]
fn module_that_does_not_compile_or_link_is_invalid_module() {
    // Valid structure, invalid body: an i32 result never produced.
    let bad_body = wat::parse_str("(module (func (result i32)))").unwrap();
    let err = PolicyModule::from_bytes_with(&bad_body, &unannotated_options()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidModule, "{err}");
    assert!(
        err.to_string().contains("cannot compile the wasm module"),
        "{err}"
    );

    // An import neither waPC nor WASI provides.
    let unlinkable = wat::parse_str(r#"(module (import "nowhere" "nothing" (func)))"#).unwrap();
    let err = PolicyModule::from_bytes_with(&unlinkable, &unannotated_options()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidModule, "{err}");
    assert!(
        err.to_string().contains("cannot link the wasm module"),
        "{err}"
    );
}

#[test]
fn unannotated_module_is_not_annotated() {
    let module = mock_guest(&[]);
    let err = PolicyModule::from_bytes(&module).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAnnotated, "{err}");
    assert!(err.to_string().contains("not annotated"), "{err}");

    let mut metadata = Metadata::from_yaml(common::MOCK_METADATA_YML).unwrap();
    metadata.protocol_version = None;
    let annotated = policy_host::metadata::write_metadata_section(&module, &metadata).unwrap();
    let err = PolicyModule::from_bytes(&annotated).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAnnotated, "{err}");

    // A check needs the rules of the metadata.
    let module = PolicyModule::from_bytes_with(&module, &unannotated_options()).unwrap();
    let options = RequestOptions {
        default_namespace: "default".into(),
        user: UserInfo::user(None, &[]),
        operation: OperationMode::Create,
    };
    match manifests::check(&module, &json!({}), &[], &[], &options, 1) {
        Err(CheckError::Host(e)) => assert_eq!(e.kind(), ErrorKind::NotAnnotated, "{e}"),
        other => panic!("expected a host error, got {other:?}"),
    }
}

#[test]
fn other_execution_mode_is_invalid_module() {
    let module = mock_guest(&[]);
    let mut metadata = Metadata::from_yaml(common::MOCK_METADATA_YML).unwrap();
    metadata.protocol_version = Some(policy_host::metadata::ProtocolVersion::V1);
    metadata.execution_mode = policy_host::metadata::ExecutionMode::Wasi;
    let annotated = policy_host::metadata::write_metadata_section(&module, &metadata).unwrap();
    let err = PolicyModule::from_bytes(&annotated).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidModule, "{err}");
    assert!(err.to_string().contains("execution mode"), "{err}");
}

#[test]
fn guest_failure_outside_an_evaluation_is_guest() {
    let module = mock_guest(&[("protocol_version", Behavior::Trap)]);
    let err = annotate(&module, common::MOCK_METADATA_YML, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest, "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot read the protocol version of the module: "),
        "{err}"
    );

    // In an evaluation the same failure is a 500 response, not an error.
    let policy = PolicyModule::from_bytes_with(
        &annotated_mock(&[("validate", Behavior::Trap)]),
        &quiet_options(),
    )
    .unwrap();
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .expect("a response");
    assert_eq!(response.code(), Some(500));
}

#[test]
fn bad_input_is_invalid_input() {
    let policy = PolicyModule::from_bytes_with(
        &annotated_mock(&[("validate", Behavior::Respond(r#"{"accepted":true}"#.into()))]),
        &quiet_options(),
    )
    .unwrap();
    let err = policy
        .evaluate(&json!({"kind": "Pod"}), &json!({}))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = policy
        .evaluate(&daemonset_request("CREATE"), &json!([1]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("settings must be a map"), "{err}");

    assert_eq!(
        admission_request(json!(1)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        parse_settings("a: [").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let err = Metadata::from_yaml("rules: 1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("invalid policy metadata"), "{err}");

    let scratch = Scratch::new("errors-input");
    let path = scratch.write("request.json", "{not json");
    let err = read_request(&path.to_string_lossy()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("is not valid JSON"), "{err}");
    let path = scratch.write("settings.yaml", "- 1\n");
    let err = read_settings_file(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("settings file {}: ", path.display())),
        "{err}"
    );

    let response: AdmissionResponse = serde_json::from_value(json!({
        "uid": "u", "allowed": true, "patchType": "JSONPatch", "patch": "not base64!"
    }))
    .unwrap();
    let err = apply_patch(&json!({}), &response).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("not valid base64"), "{err}");

    let err = UserInfo::service_account("no-slash", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}
