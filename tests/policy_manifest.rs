//! `policy.yaml` is what a platform team applies: it must be a valid
//! ClusterAdmissionPolicy, target what `metadata.yml` declares, and carry
//! settings the policy itself accepts.

use daemonset_csi_policy::evaluate::validate_settings;
use kubewarden_policy_sdk::crd::policies::cluster_admission_policy::ClusterAdmissionPolicy;
use serde_json::Value;

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn policy() -> ClusterAdmissionPolicy {
    serde_yaml::from_str(&read("policy.yaml")).expect("policy.yaml is a ClusterAdmissionPolicy")
}

/// Rules as comparable JSON, whatever the source type.
fn rules_json(rules: Value) -> Vec<Value> {
    serde_json::from_value(rules).expect("a list of rules")
}

#[test]
fn policy_yaml_parses_as_a_cluster_admission_policy() {
    let policy = policy();
    let spec = policy.spec.expect("spec");
    assert!(spec.module.starts_with("registry://"), "{}", spec.module);
    assert!(spec.mutating);
    assert!(spec.failure_policy.is_some());
    assert!(spec.timeout_seconds.is_some());
}

#[test]
fn policy_yaml_rules_equal_metadata_rules() {
    let spec = policy().spec.expect("spec");
    let metadata: serde_yaml::Value =
        serde_yaml::from_str(&read("metadata.yml")).expect("metadata.yml");
    let metadata: Value = serde_json::to_value(metadata).expect("json");
    let policy_rules = rules_json(serde_json::to_value(spec.rules).expect("rules"));
    let metadata_rules = rules_json(metadata["rules"].clone());
    assert_eq!(policy_rules, metadata_rules);
    assert_eq!(metadata["mutating"], Value::Bool(spec.mutating));
}

/// The module declares what it reads from the cluster; the policy must
/// grant exactly that (policy-server answers only granted resources).
#[test]
fn policy_yaml_grants_the_context_aware_resources_metadata_declares() {
    let spec = policy().spec.expect("spec");
    let metadata: serde_yaml::Value =
        serde_yaml::from_str(&read("metadata.yml")).expect("metadata.yml");
    let metadata: Value = serde_json::to_value(metadata).expect("json");
    let granted: Vec<Value> = spec
        .context_aware_resources
        .iter()
        .map(|r| serde_json::json!({"apiVersion": r.api_version, "kind": r.kind}))
        .collect();
    let declared: Vec<Value> =
        serde_json::from_value(metadata["contextAwareResources"].clone()).expect("a list");
    assert_eq!(granted, declared);
    assert!(
        declared
            .iter()
            .any(|r| r["apiVersion"] == "storage.k8s.io/v1" && r["kind"] == "StorageClass")
    );
}

#[test]
fn policy_yaml_settings_pass_the_policy_validation() {
    let spec = policy().spec.expect("spec");
    let settings = serde_json::to_vec(&spec.settings.0).expect("settings json");
    let response = validate_settings(&settings);
    assert!(response.valid, "{:?}", response.message);
}

#[test]
fn metadata_version_matches_the_crate_and_the_module_tag() {
    let metadata: serde_yaml::Value =
        serde_yaml::from_str(&read("metadata.yml")).expect("metadata.yml");
    let version = metadata["annotations"]["io.kubewarden.policy.version"]
        .as_str()
        .expect("version annotation");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let module = policy().spec.expect("spec").module;
    assert!(module.ends_with(&format!(":v{version}")), "{module}");
}
