//! `make release`'s guard: the version in metadata.yml
//! (`io.kubewarden.policy.version`), the root Cargo.toml (`[package]
//! version`) and policy.yaml (`spec.module` tag `:v<version>`) agree.

use serde::Deserialize;

use crate::oci::artifacthub::ANNOTATION_VERSION;
use crate::oci::error::{Error, Result};

/// The one version all three files declare, or every disagreement.
pub fn check_versions(metadata_yml: &str, cargo_toml: &str, policy_yaml: &str) -> Result<String> {
    let metadata: serde_yaml::Value = serde_yaml::from_str(metadata_yml)
        .map_err(|e| Error::invalid(format!("invalid metadata.yml: {e}")))?;
    let from_metadata = metadata["annotations"][ANNOTATION_VERSION]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            Error::invalid(format!(
                "metadata.yml has no string annotation `{ANNOTATION_VERSION}`"
            ))
        })?;
    let from_cargo = cargo_package_version(cargo_toml)
        .ok_or_else(|| Error::invalid("Cargo.toml has no `version = \"...\"` in `[package]`"))?;

    let mut modules = Vec::new();
    for document in serde_yaml::Deserializer::from_str(policy_yaml) {
        let value = serde_yaml::Value::deserialize(document)
            .map_err(|e| Error::invalid(format!("invalid policy.yaml: {e}")))?;
        if let Some(module) = value["spec"]["module"].as_str() {
            modules.push(module.to_string());
        }
    }
    if modules.is_empty() {
        return Err(Error::invalid("policy.yaml has no `spec.module`"));
    }

    let mut problems = Vec::new();
    if from_cargo != from_metadata {
        problems.push(format!(
            "Cargo.toml says {from_cargo}, metadata.yml `{ANNOTATION_VERSION}` says {from_metadata}"
        ));
    }
    let suffix = format!(":v{from_metadata}");
    for module in &modules {
        if !module.ends_with(&suffix) {
            problems.push(format!(
                "policy.yaml `spec.module: {module}` does not end with `{suffix}`"
            ));
        }
    }
    if problems.is_empty() {
        Ok(from_metadata)
    } else {
        Err(Error::invalid(format!(
            "the versions disagree: {}",
            problems.join("; ")
        )))
    }
}

/// `version` of the `[package]` table (line-based: enough for a Cargo.toml).
fn cargo_package_version(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(rest) = line.strip_prefix("version")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = "annotations:\n  io.kubewarden.policy.version: 1.0.0\n";
    const CARGO: &str =
        "[package]\nname = \"x\"\nversion = \"1.0.0\"\n[dependencies]\nversion = \"9\"\n";

    #[test]
    fn agree() {
        let policy = "spec:\n  module: registry://ghcr.io/o/p:v1.0.0\n";
        assert_eq!(check_versions(META, CARGO, policy).unwrap(), "1.0.0");
    }

    #[test]
    fn disagree() {
        let policy = "spec:\n  module: registry://ghcr.io/o/p:v0.9.0\n";
        let cargo = CARGO.replace("1.0.0", "1.1.0");
        let e = check_versions(META, &cargo, policy).unwrap_err();
        assert!(e.message().contains("Cargo.toml says 1.1.0"), "{e}");
        assert!(e.message().contains(":v1.0.0"), "{e}");
    }
}
