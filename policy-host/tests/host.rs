//! Behaviour of the host itself, against tiny WAT guests: failures become
//! 500s like in policy-server, deadlines, fresh instances, host calls.

mod common;

use std::time::{Duration, Instant};

use common::{Behavior, annotated_mock, daemonset_request, mock_guest, quiet_options};
use policy_host::response::MUTATION_ON_DELETE_MESSAGE;
use policy_host::{HostOptions, PolicyModule, apply_patch};
use serde_json::{Value, json};

fn load(operations: &[(&str, Behavior)]) -> PolicyModule {
    PolicyModule::from_bytes_with(&annotated_mock(operations), &quiet_options())
        .expect("mock loads")
}

fn accept() -> Behavior {
    Behavior::Respond(r#"{"accepted":true}"#.into())
}

#[test]
fn unannotated_module_is_refused() {
    let module = mock_guest(&[("validate", accept())]);
    let err = PolicyModule::from_bytes(&module).expect_err("must be refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("not annotated"), "{msg}");
    assert!(msg.contains("io.kubewarden.metadata"), "{msg}");
}

#[test]
fn module_without_protocol_v1_is_refused() {
    // Annotated by hand with a section lacking protocolVersion.
    let module = mock_guest(&[("validate", accept())]);
    let mut metadata = policy_host::Metadata::from_yaml(common::MOCK_METADATA_YML).unwrap();
    metadata.protocol_version = None;
    let annotated = policy_host::metadata::write_metadata_section(&module, &metadata).unwrap();
    let msg = format!("{:#}", PolicyModule::from_bytes(&annotated).unwrap_err());
    assert!(msg.contains("protocolVersion: v1"), "{msg}");

    metadata.protocol_version = Some(policy_host::metadata::ProtocolVersion::Unknown);
    let annotated = policy_host::metadata::write_metadata_section(&module, &metadata).unwrap();
    let msg = format!("{:#}", PolicyModule::from_bytes(&annotated).unwrap_err());
    assert!(msg.contains("protocolVersion: v1"), "{msg}");
}

#[test]
fn trap_becomes_internal_server_error() {
    let policy = load(&[
        ("validate", Behavior::Trap),
        (
            "validate_settings",
            Behavior::Respond(r#"{"valid":true}"#.into()),
        ),
    ]);
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .unwrap();
    assert!(!response.allowed);
    assert_eq!(response.code(), Some(500));
    let message = response.message().unwrap_or_default();
    assert!(
        message.starts_with("internal server error: Guest call failure: "),
        "{message}"
    );
    assert_eq!(response.uid, "mock-uid");
    assert!(response.patch.is_none());
    // The trap does not poison the module: the next call works.
    assert!(policy.validate_settings(&json!({})).unwrap().valid);
}

#[test]
fn guest_error_becomes_internal_server_error() {
    let policy = load(&[("validate", Behavior::GuestError("kaputt".into()))]);
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .unwrap();
    assert!(!response.allowed);
    assert_eq!(response.code(), Some(500));
    assert_eq!(
        response.message(),
        Some("internal server error: Guest call failure: kaputt")
    );
}

#[test]
fn invalid_json_answer_becomes_internal_server_error() {
    let policy = load(&[("validate", Behavior::Respond("not json".into()))]);
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .unwrap();
    assert!(!response.allowed);
    assert_eq!(response.code(), Some(500));
    let message = response.message().unwrap_or_default();
    assert!(
        message.starts_with("internal server error: cannot deserialize policy validation response"),
        "{message}"
    );
}

#[test]
fn endless_loop_hits_the_deadline() {
    let module = annotated_mock(&[("validate", Behavior::Loop)]);
    let options = HostOptions {
        timeout: Some(Duration::from_millis(300)),
        ..quiet_options()
    };
    let policy = PolicyModule::from_bytes_with(&module, &options).unwrap();
    let started = Instant::now();
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(!response.allowed);
    assert_eq!(response.code(), Some(500));
    assert_eq!(
        response.message(),
        Some(
            "internal server error: Guest call failure: guest code interrupted, execution deadline exceeded"
        )
    );
}

#[test]
fn rejection_is_passed_through() {
    let policy = load(&[(
        "validate",
        Behavior::Respond(
            r#"{"accepted":false,"message":"no way","code":403,"warnings":["careful"],"audit_annotations":{"a":"b"}}"#
                .into(),
        ),
    )]);
    let response = policy
        .evaluate(&daemonset_request("CREATE"), &json!({}))
        .unwrap();
    assert_eq!(
        response.to_json_line().unwrap(),
        r#"{"uid":"mock-uid","allowed":false,"status":{"message":"no way","code":403},"auditAnnotations":{"a":"b"},"warnings":["careful"]}"#
    );
}

#[test]
fn mutation_becomes_a_json_patch() {
    let request = daemonset_request("CREATE");
    let mut mutated = request["object"].clone();
    mutated["metadata"]["labels"] = json!({"added": "yes"});
    let answer = json!({"accepted": true, "mutated_object": mutated}).to_string();
    let policy = load(&[("validate", Behavior::Respond(answer))]);
    let response = policy.evaluate(&request, &json!({})).unwrap();
    assert!(response.allowed);
    let line = response.to_json_line().unwrap();
    assert!(line.contains(r#""patchType":"JSONPatch""#), "{line}");
    let patch = response.decoded_patch().unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&patch).unwrap(),
        json!([{"op": "add", "path": "/metadata/labels", "value": {"added": "yes"}}])
    );
    assert_eq!(apply_patch(&request["object"], &response).unwrap(), mutated);
}

#[test]
fn mutation_on_delete_is_rejected() {
    let answer = json!({"accepted": true, "mutated_object": {"kind": "DaemonSet"}}).to_string();
    let policy = load(&[("validate", Behavior::Respond(answer))]);
    let response = policy
        .evaluate(&daemonset_request("DELETE"), &json!({}))
        .unwrap();
    assert!(!response.allowed);
    assert_eq!(response.message(), Some(MUTATION_ON_DELETE_MESSAGE));
}

#[test]
fn admission_review_input_is_accepted() {
    let policy = load(&[("validate", accept())]);
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": daemonset_request("CREATE"),
    });
    let response = policy.evaluate(&review, &json!({})).unwrap();
    assert!(response.allowed);
    assert_eq!(response.uid, "mock-uid");
}

#[test]
fn validate_payload_wraps_request_and_settings() {
    let request = daemonset_request("CREATE");
    let payload: Value = serde_json::from_str(&policy_host::host::validate_payload(
        &request,
        &json!({"a": 1}),
    ))
    .unwrap();
    assert_eq!(payload, json!({"request": request, "settings": {"a": 1}}));
    // And that is what the guest receives.
    let policy = load(&[("validate", Behavior::Echo)]);
    let instance = policy.instantiate().unwrap();
    let echoed = instance
        .call(
            "validate",
            policy_host::host::validate_payload(&request, &json!({})).as_bytes(),
        )
        .unwrap();
    let echoed: Value = serde_json::from_slice(&echoed).unwrap();
    assert_eq!(echoed["request"], request);
}

#[test]
fn settings_are_sent_alone_and_failures_reported() {
    let policy = load(&[("validate_settings", Behavior::Echo)]);
    let instance = policy.instantiate().unwrap();
    // Echoing {"valid": false, ...} back shows the payload is the bare settings.
    let verdict = instance.validate_settings(&json!({"valid": false, "message": "echoed"}));
    assert!(!verdict.valid);
    assert_eq!(verdict.message.as_deref(), Some("echoed"));

    let policy = load(&[(
        "validate_settings",
        Behavior::GuestError("unknown field `bogus`".into()),
    )]);
    let verdict = policy.validate_settings(&json!({"bogus": 1})).unwrap();
    assert!(!verdict.valid);
    let message = verdict.message.unwrap_or_default();
    assert!(
        message.starts_with("Error invoking settings validation callback: GuestCallFailure("),
        "{message}"
    );
    assert!(message.contains("bogus"), "{message}");

    // Settings must be a map.
    let verdict = policy.validate_settings(&json!([1])).unwrap();
    assert!(!verdict.valid);
}

#[test]
fn each_evaluation_gets_a_fresh_instance() {
    let policy = load(&[(
        "validate",
        Behavior::RespondOnceThenTrap(r#"{"accepted":true}"#.into()),
    )]);
    let request = daemonset_request("CREATE");
    for _ in 0..3 {
        let response = policy.evaluate(&request, &json!({})).unwrap();
        assert!(response.allowed, "{response:?}");
    }
    // Reusing one instance shows the difference.
    let instance = policy.instantiate().unwrap();
    assert!(instance.evaluate(&request, &json!({})).unwrap().allowed);
    let second = instance.evaluate(&request, &json!({})).unwrap();
    assert_eq!(second.code(), Some(500));
}

#[test]
fn log_host_call_is_answered_and_recorded() {
    let event = r#"{"level":"info","message":"hello from the guest","policy":"mock"}"#;
    let policy = load(&[(
        "validate",
        Behavior::LogThenRespond {
            event: event.into(),
            respond: r#"{"accepted":true}"#.into(),
        },
    )]);
    let instance = policy.instantiate().unwrap();
    assert!(
        instance
            .evaluate(&daemonset_request("CREATE"), &json!({}))
            .unwrap()
            .allowed
    );
    let logs = instance.logs();
    assert_eq!(logs, vec![serde_json::from_str::<Value>(event).unwrap()]);
    assert_eq!(
        policy_host::host::format_log_event(&logs[0]),
        r#"policy INFO hello from the guest policy="mock""#
    );
}

#[test]
fn other_host_calls_answer_an_error() {
    let policy = load(&[
        (
            "validate",
            Behavior::HostCall {
                binding: "kubewarden".into(),
                namespace: "kubernetes".into(),
                operation: "list_resources_by_namespace".into(),
            },
        ),
        (
            "validate_settings",
            Behavior::HostCall {
                binding: "kubewarden".into(),
                namespace: "tracing".into(),
                operation: "log".into(),
            },
        ),
    ]);
    let instance = policy.instantiate().unwrap();
    assert_eq!(instance.call("validate", b"{}").unwrap(), b"false");
    assert_eq!(instance.call("validate_settings", b"{}").unwrap(), b"true");
}

#[test]
fn compiled_module_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let policy = load(&[("validate", accept())]);
    assert_send_sync(&policy);
    let request = daemonset_request("CREATE");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    assert!(policy.evaluate(&request, &json!({})).unwrap().allowed);
                }
            });
        }
    });
}
