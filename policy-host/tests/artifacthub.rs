//! artifacthub-pkg.yml is generated from metadata.yml and questions-ui.yml
//! and kept up to date; the release versions agree.

mod common;

use common::repo_root;
use policy_host::oci::artifacthub::{self, ArtifactHubInput};

fn read(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn metadata_version(metadata: &str) -> String {
    let value: serde_yaml::Value = serde_yaml::from_str(metadata).expect("metadata.yml");
    value["annotations"]["io.kubewarden.policy.version"]
        .as_str()
        .expect("io.kubewarden.policy.version")
        .to_string()
}

#[test]
fn the_committed_artifacthub_pkg_is_up_to_date() {
    let committed = read("artifacthub-pkg.yml");
    let metadata = read("metadata.yml");
    let questions = read("questions-ui.yml");
    let created_at = artifacthub::created_at_of(&committed).expect("createdAt");
    let regenerated = artifacthub::generate(&ArtifactHubInput {
        metadata: &metadata,
        questions: Some(&questions),
        version: &metadata_version(&metadata),
        created_at: &created_at,
    })
    .expect("generate");
    assert!(
        regenerated == committed,
        "artifacthub-pkg.yml is out of date: run `make artifacthub-pkg.yml`\n--- regenerated ---\n{regenerated}"
    );

    // What Artifact Hub and the Kubewarden UI read from it.
    let pkg: serde_yaml::Value = serde_yaml::from_str(&committed).expect("YAML");
    assert_eq!(
        pkg["annotations"]["kubewarden/questions-ui"].as_str(),
        Some(questions.as_str())
    );
    assert_eq!(
        pkg["annotations"]["kubewarden/mutation"].as_str(),
        Some("true")
    );
    assert_eq!(
        pkg["annotations"]["kubewarden/resources"].as_str(),
        Some("DaemonSet, StorageClass, CSIDriver, VolumeAttributesClass, PersistentVolume, Pod")
    );
    let rules: serde_yaml::Value = serde_yaml::from_str(
        pkg["annotations"]["kubewarden/rules"]
            .as_str()
            .expect("rules"),
    )
    .expect("rules YAML");
    let declared: serde_yaml::Value = serde_yaml::from_str(&metadata).expect("metadata");
    assert_eq!(rules, declared["rules"]);
    let version = metadata_version(&metadata);
    assert_eq!(
        pkg["containersImages"][0]["image"].as_str(),
        Some(
            format!("ghcr.io/daemonset-csi-policy/policies/daemonset-csi-policy:v{version}")
                .as_str()
        )
    );
}

#[test]
fn the_cli_keeps_created_at_and_detects_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let output = dir.path().join("artifacthub-pkg.yml");
    let metadata = dir.path().join("metadata.yml");
    std::fs::write(&metadata, read("metadata.yml")).expect("copy");
    let questions = repo_root().join("questions-ui.yml");
    let version = metadata_version(&read("metadata.yml"));
    let run = |extra: &[&str]| {
        let mut cmd = common::tool("artifacthub");
        cmd.arg("--metadata")
            .arg(&metadata)
            .arg("--questions")
            .arg(&questions)
            .arg("--version")
            .arg(&version)
            .arg("-o")
            .arg(&output)
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1700000000");
        cmd.output().expect("run daemonset-csi-policy")
    };
    assert!(!run(&["--check"]).status.success(), "no file yet");
    assert!(run(&[]).status.success());
    let first = std::fs::read_to_string(&output).expect("written");
    assert!(first.contains("createdAt: 2023-11-14T22:13:20Z"), "{first}");
    // Nothing changed: the file (and its createdAt) is kept.
    let out = run(&["--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::tool("artifacthub")
        .args(["--version", &version, "--questions"])
        .arg(&questions)
        .arg("--metadata")
        .arg(&metadata)
        .arg("-o")
        .arg(&output)
        .env("SOURCE_DATE_EPOCH", "1800000000")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&output).expect("kept"), first);
    // metadata.yml changed: --check fails, a run rewrites.
    let changed = read("metadata.yml").replace(
        "io.artifacthub.displayName: ",
        "io.artifacthub.displayName: New ",
    );
    std::fs::write(&metadata, changed).expect("edit");
    let out = run(&["--check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of date"));
    assert!(run(&[]).status.success());
    assert!(
        std::fs::read_to_string(&output)
            .expect("rewritten")
            .contains("displayName: New ")
    );
}

#[test]
fn the_release_versions_agree() {
    let version = policy_host::oci::release::check_versions(
        &read("metadata.yml"),
        &read("Cargo.toml"),
        &read("policy.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version, metadata_version(&read("metadata.yml")));
}
