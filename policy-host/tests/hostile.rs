//! The adversarial corpus through the built wasm: every fixture, every fuzz
//! reproducer, a 5 MB object, deeply nested JSON, invalid UTF-8 and broken
//! payloads must get an answer (a valid ValidationResponse), never a trap,
//! an `Err` or a timeout, which policy-server would turn into a 500.

mod common;

use std::path::Path;

use serde_json::{Value, json};

fn policy_yaml_settings() -> Value {
    let text =
        std::fs::read_to_string(common::repo_root().join("policy.yaml")).expect("policy.yaml");
    let policy: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    serde_json::to_value(&policy["spec"]["settings"]).expect("json")
}

/// Every settings variant the corpus runs under.
fn settings_variants() -> Vec<Value> {
    vec![
        json!({}),
        policy_yaml_settings(),
        json!({"daemonSets": {"mode": "warn", "hostPaths": {"mutate": true, "allowed": [{"pathPrefix": "/var/log", "readOnly": true}]},
               "tolerations": {"mutate": true, "required": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}},
               "storageClasses": {"mode": "warn", "volumeBindingMode": {"set": "WaitForFirstConsumer"}}}),
    ]
}

/// Calls `validate` in a fresh instance with raw bytes; the answer must be a
/// ValidationResponse, and a rejection must say why.
fn answer(payload: &[u8]) -> Value {
    let module = common::policy().expect("annotated policy");
    let instance = module.instantiate().expect("instance");
    let bytes = instance
        .call("validate", payload)
        .unwrap_or_else(|e| panic!("guest failure (a 500 in policy-server): {e}"));
    let response: Value = serde_json::from_slice(&bytes).expect("the answer is JSON");
    let accepted = response["accepted"]
        .as_bool()
        .expect("`accepted` is a boolean");
    if !accepted {
        let message = response["message"].as_str().unwrap_or("");
        assert!(
            !message.is_empty(),
            "a rejection without a message: {response}"
        );
    }
    response
}

fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("json")
}

fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
}

#[test]
fn every_fixture_under_every_settings_variant_gets_an_answer() {
    let root = common::repo_root();
    let mut count = 0;
    for dir in ["test_data/requests"] {
        for file in json_files(&root.join(dir)) {
            let request: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
            for settings in settings_variants() {
                answer(&payload(&request, &settings));
                count += 1;
            }
        }
    }
    assert!(count > 100, "only {count} evaluations");
}

#[test]
fn every_fuzz_reproducer_gets_an_answer() {
    let files = json_files(&common::repo_root().join("fuzz/regressions"));
    assert!(!files.is_empty());
    for file in files {
        answer(&std::fs::read(&file).expect("read"));
    }
}

#[test]
fn a_five_megabyte_daemonset_gets_an_answer() {
    let root = common::repo_root();
    let mut request: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("test_data/requests/daemonset-fluent-bit.json"))
            .expect("read"),
    )
    .expect("json");
    let pod = &mut request["object"]["spec"]["template"]["spec"];
    let container = pod["containers"][0].clone();
    let containers: Vec<Value> = (0..5000)
        .map(|i| {
            let mut c = container.clone();
            c["name"] = json!(format!("shipper-{i}"));
            c
        })
        .collect();
    pod["containers"] = Value::Array(containers);
    let size = serde_json::to_vec(&request).expect("json").len();
    assert!(size > 5_000_000, "only {size} bytes");
    let response = answer(&payload(&request, &policy_yaml_settings()));
    assert_eq!(response["accepted"], true, "{response}");
    let response = answer(&payload(&request, &json!({})));
    assert_eq!(response["accepted"], false);
}

#[test]
fn deeply_nested_json_gets_an_answer() {
    let root = common::repo_root();
    let fixture =
        std::fs::read_to_string(root.join("test_data/requests/daemonset-no-hostpath.json"))
            .expect("read");
    for depth in [100, 120, 10_000, 1_000_000] {
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let text = fixture.replacen(
            "\"object\": {",
            &format!("\"object\": {{\"futureField\": {nested},"),
            1,
        );
        assert_ne!(text, fixture, "the fixture changed shape");
        let payload = format!("{{\"request\": {text}, \"settings\": {{}}}}");
        let response = answer(payload.as_bytes());
        if depth > 128 {
            assert_eq!(response["accepted"], false, "depth {depth}: {response}");
        }
    }
}

#[test]
fn invalid_utf8_and_broken_payloads_are_rejected_with_a_reason() {
    let root = common::repo_root();
    let mut bytes =
        std::fs::read(root.join("test_data/requests/daemonset-fluent-bit.json")).expect("read");
    let at = bytes
        .windows(8)
        .position(|w| w == b"/var/log")
        .expect("a path");
    bytes[at + 1] = 0xff;
    let mut invalid = b"{\"request\": ".to_vec();
    invalid.extend_from_slice(&bytes);
    invalid.extend_from_slice(b", \"settings\": {}}");
    for payload in [
        &invalid[..],
        b"",
        b"{",
        b"null",
        b"[]",
        b"{\"request\": null}",
        b"\x00\x01\x02",
    ] {
        let response = answer(payload);
        assert_eq!(
            response["accepted"],
            false,
            "{:?}: {response}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn wrong_types_in_every_field_the_policy_reads_are_rejected() {
    let root = common::repo_root();
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("test_data/requests/daemonset-fluent-bit-rw-varlog.json"),
        )
        .expect("read"),
    )
    .expect("json");
    let pointers = [
        "/object/spec",
        "/object/spec/template",
        "/object/spec/template/spec",
        "/object/spec/template/spec/volumes",
        "/object/spec/template/spec/volumes/1",
        "/object/spec/template/spec/volumes/1/hostPath",
        "/object/spec/template/spec/volumes/1/hostPath/path",
        "/object/spec/template/spec/containers",
        "/object/spec/template/spec/containers/0",
        "/object/spec/template/spec/containers/0/volumeMounts",
        "/object/spec/template/spec/containers/0/volumeMounts/1",
        "/object/spec/template/spec/containers/0/volumeMounts/1/name",
        "/object/spec/template/spec/containers/0/volumeMounts/1/readOnly",
        "/object/spec/template/spec/tolerations",
        "/object/spec/template/spec/tolerations/0/key",
        "/object/spec/template/spec/nodeName",
    ];
    let settings = policy_yaml_settings();
    for pointer in pointers {
        for wrong in [json!(7), json!("text"), json!([true]), json!({"x": 1})] {
            let mut broken = request.clone();
            if broken.pointer(pointer).is_none() {
                let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
                broken
                    .pointer_mut(parent)
                    .and_then(Value::as_object_mut)
                    .expect("parent object")
                    .insert(key.to_string(), Value::Null);
            }
            let slot = broken.pointer_mut(pointer).expect("pointer");
            let same_type = std::mem::discriminant(slot) == std::mem::discriminant(&wrong);
            // A string where the field was unset is a value, not a wrong type.
            if same_type || (slot.is_null() && wrong.is_string()) {
                continue;
            }
            *slot = wrong.clone();
            let response = answer(&payload(&broken, &settings));
            assert_eq!(
                response["accepted"], false,
                "{pointer} = {wrong}: an unreadable field must be refused: {response}"
            );
            let message = response["message"].as_str().unwrap_or("");
            assert!(
                message.contains("[readable object]") || message.contains("cannot be judged"),
                "{pointer} = {wrong}: {message}"
            );
        }
    }
}
