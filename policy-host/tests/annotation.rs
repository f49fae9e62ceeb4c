//! The `io.kubewarden.metadata` annotation: what annotate writes, that it
//! replaces rather than duplicates, and what the real annotated policy holds.

mod common;

use common::{Behavior, MOCK_METADATA_YML, mock_guest, policy, repo_root};
use policy_host::metadata::{
    ANNOTATION_KWCTL, ANNOTATION_USAGE, METADATA_SECTION, ProtocolVersion, custom_sections,
};
use policy_host::{Metadata, PolicyModule, annotate};
use serde_json::{Value, json};

fn protocol_v1() -> (&'static str, Behavior) {
    ("protocol_version", Behavior::Respond("\"v1\"".into()))
}

fn section_json(module: &[u8]) -> Value {
    let sections = custom_sections(module, METADATA_SECTION).unwrap();
    assert_eq!(sections.len(), 1, "expected exactly one metadata section");
    serde_json::from_slice(&sections[0]).unwrap()
}

#[test]
fn annotate_writes_the_kwctl_metadata_section() {
    let module = mock_guest(&[protocol_v1()]);
    let (annotated, metadata) = annotate(&module, MOCK_METADATA_YML, Some("# Usage\n")).unwrap();
    // Every original byte is kept; the section is appended.
    assert!(annotated.starts_with(&module));
    assert_eq!(
        section_json(&annotated),
        json!({
            "protocolVersion": "v1",
            "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                       "resources": ["daemonsets"], "operations": ["CREATE", "UPDATE"]}],
            "annotations": {
                "io.kubewarden.policy.title": "mock",
                "io.kubewarden.policy.usage": "# Usage\n",
                "io.kubewarden.kwctl": policy_host::annotate::tool_version(),
            },
            "mutating": true,
            "backgroundAudit": true,
            "executionMode": "kubewarden-wapc",
            "policyType": "kubernetes",
            "contextAwareResources": []
        })
    );
    assert_eq!(Metadata::from_wasm(&annotated).unwrap(), Some(metadata));
    // The annotated module loads and the unannotated one does not.
    PolicyModule::from_bytes(&annotated).expect("annotated module loads");
    assert!(PolicyModule::from_bytes(&module).is_err());
}

#[test]
fn annotating_twice_leaves_one_section() {
    let module = mock_guest(&[protocol_v1()]);
    let (once, _) = annotate(&module, MOCK_METADATA_YML, Some("first")).unwrap();
    let (twice, _) = annotate(&once, MOCK_METADATA_YML, Some("second")).unwrap();
    assert_eq!(custom_sections(&twice, METADATA_SECTION).unwrap().len(), 1);
    assert_eq!(
        section_json(&twice)["annotations"][ANNOTATION_USAGE],
        "second"
    );
    // Same input twice gives the same bytes.
    let (again, _) = annotate(&once, MOCK_METADATA_YML, Some("first")).unwrap();
    assert_eq!(again, once);
}

#[test]
fn annotate_refuses_bad_metadata_and_bad_modules() {
    let module = mock_guest(&[protocol_v1()]);
    let err = |yaml: &str| format!("{:#}", annotate(&module, yaml, None).unwrap_err());

    let msg = err("mutating: true\n");
    assert!(msg.contains("rules"), "{msg}");
    let msg = err("rules: []\n");
    assert!(msg.contains("mutating"), "{msg}");
    let msg = err(
        "mutating: false\nrules:\n- {apiGroups: [apps], apiVersions: [v1], resources: [daemonsets], operations: [PATCH]}\n",
    );
    assert!(msg.contains("PATCH"), "{msg}");
    let msg = err(
        "mutating: false\nrules:\n- {apiGroups: [apps], apiVersions: [v1], resources: [daemonsets], operations: ['*', CREATE]}\n",
    );
    assert!(msg.contains("rules[0].operations"), "{msg}");
    let msg = err(
        "mutating: false\nrules:\n- {apiGroups: [apps], apiVersions: [], resources: [daemonsets], operations: [CREATE]}\n",
    );
    assert!(
        msg.contains("rules[0].apiVersions: must not be empty"),
        "{msg}"
    );

    // A module answering an unknown protocol version.
    let unknown = mock_guest(&[("protocol_version", Behavior::Respond("\"Unknown\"".into()))]);
    let msg = format!(
        "{:#}",
        annotate(&unknown, MOCK_METADATA_YML, None).unwrap_err()
    );
    assert!(msg.contains("protocolVersion"), "{msg}");

    // A module without protocol_version.
    let none = mock_guest(&[]);
    let msg = format!(
        "{:#}",
        annotate(&none, MOCK_METADATA_YML, None).unwrap_err()
    );
    assert!(msg.contains("protocol"), "{msg}");

    // Not wasm at all.
    assert!(annotate(b"not wasm", MOCK_METADATA_YML, None).is_err());
}

/// The real annotated policy carries metadata.yml + protocolVersion + usage.
#[test]
fn policy_annotation_matches_metadata_yml_and_readme() {
    let policy = policy().unwrap_or_else(|e| panic!("{e}"));
    let root = repo_root();
    let metadata_yml = std::fs::read_to_string(root.join("metadata.yml")).expect("metadata.yml");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");

    let mut expected = Metadata::from_yaml(&metadata_yml).expect("metadata.yml parses");
    expected.protocol_version = Some(ProtocolVersion::V1);
    let mut annotations = expected.annotations();
    annotations.insert(ANNOTATION_USAGE.into(), readme);
    annotations.insert(
        ANNOTATION_KWCTL.into(),
        policy_host::annotate::tool_version(),
    );
    expected.annotations = Some(annotations);

    assert_eq!(
        policy.metadata(),
        Some(&expected),
        "annotated-policy.wasm is stale or wrong: run `make annotated-policy.wasm`"
    );
    let bytes = std::fs::read(common::policy_path()).unwrap();
    assert_eq!(custom_sections(&bytes, METADATA_SECTION).unwrap().len(), 1);
    assert_eq!(policy.protocol_version().unwrap(), ProtocolVersion::V1);

    // Re-annotating the annotated module replaces the section.
    let options = policy_host::HostOptions {
        cache_dir: Some(common::wasmtime_cache_dir()),
        log_to_stderr: false,
        ..Default::default()
    };
    let (again, _) =
        policy_host::annotate::annotate_with(&bytes, &metadata_yml, None, &options).unwrap();
    assert_eq!(custom_sections(&again, METADATA_SECTION).unwrap().len(), 1);
}

/// policy.wasm (the build output) is not annotated and must be refused.
#[test]
fn unannotated_policy_is_refused() {
    let path = repo_root().join("policy.wasm");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `make policy.wasm`)", path.display()));
    assert!(
        custom_sections(&bytes, METADATA_SECTION)
            .unwrap()
            .is_empty()
    );
    let msg = format!("{:#}", PolicyModule::from_bytes(&bytes).unwrap_err());
    assert!(msg.contains("not annotated"), "{msg}");
}
