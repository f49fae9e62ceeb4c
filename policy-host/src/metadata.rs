//! Policy metadata: the `metadata.yml` of the policy and the
//! `io.kubewarden.metadata` custom section that `kwctl annotate` writes into
//! the wasm module and policy-server reads back.
//!
//! The data model, its defaults and its validation rules follow Kubewarden's
//! policy-evaluator (`policy_metadata.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

/// Name of the wasm custom section holding the JSON metadata.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
/// Annotation holding the policy's README (usage).
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";
/// Annotation naming the tool (and its version) that annotated the module.
pub const ANNOTATION_KWCTL: &str = "io.kubewarden.kwctl";

/// Protocol spoken by a `kubewarden-wapc` policy.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolVersion {
    /// An invalid protocol version.
    #[serde(rename = "Unknown")]
    #[default]
    Unknown,
    /// The only protocol version there is.
    #[serde(rename = "v1")]
    V1,
}

/// An admission operation a rule matches.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "UPDATE")]
    Update,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "*")]
    All,
}

/// A webhook rule (what the policy is registered for).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<Operation>,
}

/// Execution mode of a policy.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    #[serde(rename = "kubewarden-wapc")]
    #[default]
    KubewardenWapc,
    #[serde(rename = "opa")]
    Opa,
    #[serde(rename = "gatekeeper")]
    Gatekeeper,
    #[serde(rename = "wasi")]
    Wasi,
}

impl fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ExecutionMode::KubewardenWapc => "kubewarden-wapc",
            ExecutionMode::Opa => "opa",
            ExecutionMode::Gatekeeper => "gatekeeper",
            ExecutionMode::Wasi => "wasi",
        };
        f.write_str(s)
    }
}

/// Kind of objects a policy evaluates.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyType {
    #[serde(rename = "kubernetes")]
    #[default]
    Kubernetes,
    #[serde(rename = "raw")]
    Raw,
}

/// A resource a context-aware policy may read from the cluster.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// The policy metadata, serialized camelCase exactly like policy-evaluator's
/// `Metadata` (same field order).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub protocol_version: Option<ProtocolVersion>,
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub policy_type: PolicyType,
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
}

const fn default_true() -> bool {
    true
}

impl Metadata {
    /// Parse a `metadata.yml` (YAML, or JSON which is YAML too).
    /// `rules` and `mutating` are required; the other fields take the
    /// Kubewarden defaults.
    pub fn from_yaml(text: &str) -> Result<Metadata> {
        serde_yaml::from_str(text)
            .map_err(|e| Error::invalid(format!("invalid policy metadata: {e}")))
    }

    /// Read the metadata from the `io.kubewarden.metadata` custom section of a
    /// wasm module. `Ok(None)` when the module has no such section.
    pub fn from_wasm(module: &[u8]) -> Result<Option<Metadata>> {
        match read_metadata_section(module)? {
            None => Ok(None),
            Some(data) => serde_json::from_slice(&data).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidModule,
                    format!("cannot parse the `{METADATA_SECTION}` custom section: {e}"),
                )
            }),
        }
    }

    /// The annotations (empty map when none).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.annotations.clone().unwrap_or_default()
    }

    /// Validate like policy-evaluator does: every rule has non-empty
    /// apiGroups/apiVersions/resources/operations, `*` is never mixed with
    /// other values, resources follow Kubernetes' wildcard rules, a
    /// `kubewarden-wapc` policy declares protocol `v1`, context-aware
    /// resources are complete and `minimumKubewardenVersion` is semver.
    /// All problems are reported together.
    pub fn validate(&self) -> Result<()> {
        let mut errors: Vec<String> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            check_list(&mut errors, &at, "apiGroups", &rule.api_groups);
            check_list(&mut errors, &at, "apiVersions", &rule.api_versions);
            // resources follow Kubernetes' own wildcard rules instead.
            if rule.resources.is_empty() {
                errors.push(format!("{at}.resources: must not be empty"));
            } else if let Err(e) = validate_resources(&rule.resources) {
                errors.push(format!("{at}.resources: {e}"));
            }
            if rule.operations.is_empty() {
                errors.push(format!("{at}.operations: must not be empty"));
            } else if rule.operations.contains(&Operation::All) && rule.operations.len() > 1 {
                errors.push(format!(
                    "{at}.operations: no other elements can be defined when '*' is used"
                ));
            }
        }
        if self.execution_mode == ExecutionMode::KubewardenWapc {
            match self.protocol_version {
                Some(ProtocolVersion::V1) => {}
                Some(ProtocolVersion::Unknown) => {
                    errors.push("protocolVersion: must specify a valid protocol version".into())
                }
                None => errors.push("protocolVersion: must be set (v1)".into()),
            }
        }
        for (i, r) in self.context_aware_resources.iter().enumerate() {
            if r.api_version.is_empty() {
                errors.push(format!(
                    "contextAwareResources[{i}].apiVersion: must not be empty"
                ));
            }
            if r.kind.is_empty() {
                errors.push(format!(
                    "contextAwareResources[{i}].kind: must not be empty"
                ));
            }
        }
        if let Some(v) = &self.minimum_kubewarden_version
            && let Err(e) = semver::Version::parse(v.trim_start_matches('v'))
        {
            errors.push(format!(
                "minimumKubewardenVersion: `{v}` is not a semantic version: {e}"
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "invalid policy metadata: {}",
                errors.join("; ")
            )))
        }
    }

    /// Serialize to the JSON stored in the custom section.
    pub fn to_section_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::internal(format!("cannot serialize the policy metadata: {e}")))
    }
}

fn check_list(errors: &mut Vec<String>, at: &str, field: &str, values: &[String]) {
    if values.is_empty() {
        errors.push(format!("{at}.{field}: must not be empty"));
        return;
    }
    if values.iter().any(|v| v == "*") && values.len() > 1 {
        errors.push(format!(
            "{at}.{field}: no other elements can be defined when '*' is used"
        ));
    }
}

/// Kubernetes' admissionregistration resource-list check (as transposed by
/// policy-evaluator).
fn validate_resources(data: &[String]) -> std::result::Result<(), String> {
    let mut resources_with_wildcard_subresources: HashSet<&str> = HashSet::new();
    let mut subresources_with_wildcard_resource: HashSet<&str> = HashSet::new();
    let mut has_double_wildcard = false;
    let mut has_single_wildcard = false;
    let mut has_resource_without_subresource = false;

    for resource in data {
        if resource.is_empty() {
            return Err("empty resource is not allowed".into());
        }
        match resource.as_str() {
            "*/*" => has_double_wildcard = true,
            "*" => has_single_wildcard = true,
            _ => {}
        }
        let Some((res, sub)) = resource.split_once('/') else {
            if resource != "*" {
                has_resource_without_subresource = true;
            }
            continue;
        };
        if resources_with_wildcard_subresources.contains(res) {
            return Err(format!(
                "if '{res}/*' is present, must not specify {resource}"
            ));
        }
        if subresources_with_wildcard_resource.contains(sub) {
            return Err(format!(
                "if '*/{sub}' is present, must not specify {resource}"
            ));
        }
        if sub == "*" {
            resources_with_wildcard_subresources.insert(res);
        }
        if res == "*" {
            subresources_with_wildcard_resource.insert(sub);
        }
    }
    if data.len() > 1 && has_double_wildcard {
        return Err("if '*/*' is present, must not specify other resources".into());
    }
    if has_single_wildcard && has_resource_without_subresource {
        return Err(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    Ok(())
}

fn not_wasm(e: wasmparser::BinaryReaderError) -> Error {
    Error::new(
        ErrorKind::InvalidModule,
        format!("the file is not a valid wasm module: {e}"),
    )
}

/// Return the payload of the first `io.kubewarden.metadata` custom section.
pub fn read_metadata_section(module: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(custom_sections(module, METADATA_SECTION)?
        .into_iter()
        .next())
}

/// Return the payloads of every custom section called `name`, in order.
pub fn custom_sections(module: &[u8], name: &str) -> Result<Vec<Vec<u8>>> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::CustomSection(reader) = payload.map_err(not_wasm)?
            && reader.name() == name
        {
            found.push(reader.data().to_vec());
        }
    }
    Ok(found)
}

/// Return `module` with every `io.kubewarden.metadata` custom section removed
/// and one new section holding `metadata` appended. Every other section is
/// copied byte for byte.
pub fn write_metadata_section(module: &[u8], metadata: &Metadata) -> Result<Vec<u8>> {
    let data = metadata.to_section_json()?;
    let mut out = wasm_encoder::Module::new();
    let mut saw_header = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.map_err(not_wasm)?;
        match &payload {
            wasmparser::Payload::Version { encoding, .. } => {
                if *encoding != wasmparser::Encoding::Module {
                    return Err(Error::new(
                        ErrorKind::InvalidModule,
                        "only core wasm modules can be annotated, not components",
                    ));
                }
                saw_header = true;
            }
            wasmparser::Payload::CustomSection(reader) if reader.name() == METADATA_SECTION => {}
            wasmparser::Payload::End(_) => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    out.section(&wasm_encoder::RawSection {
                        id,
                        data: &module[range],
                    });
                }
            }
        }
    }
    if !saw_header {
        return Err(Error::new(
            ErrorKind::InvalidModule,
            "the file is not a valid wasm module",
        ));
    }
    out.section(&wasm_encoder::CustomSection {
        name: METADATA_SECTION.into(),
        data: data.as_slice().into(),
    });
    Ok(out.finish())
}

/// A human-readable summary of a module's metadata, as `kwctl inspect`
/// prints it: the annotations (but the multi-line usage), the rules, the
/// flags.
pub fn summary(metadata: &Metadata) -> String {
    use std::fmt::Write as _;
    let annotations = metadata.annotations();
    let mut out = String::new();
    let field = |out: &mut String, label: &str, value: &str| {
        let _ = writeln!(out, "{label:<22}{value}");
    };
    for (label, key) in [
        ("title:", "io.kubewarden.policy.title"),
        ("description:", "io.kubewarden.policy.description"),
        ("version:", "io.kubewarden.policy.version"),
        ("author:", "io.kubewarden.policy.author"),
        ("url:", "io.kubewarden.policy.url"),
        ("source:", "io.kubewarden.policy.source"),
        ("license:", "io.kubewarden.policy.license"),
    ] {
        if let Some(value) = annotations.get(key) {
            field(&mut out, label, value);
        }
    }
    let protocol = match metadata.protocol_version {
        Some(ProtocolVersion::V1) => "v1",
        _ => "unknown",
    };
    field(&mut out, "protocol version:", protocol);
    field(
        &mut out,
        "execution mode:",
        &metadata.execution_mode.to_string(),
    );
    field(&mut out, "mutating:", &metadata.mutating.to_string());
    field(
        &mut out,
        "background audit:",
        &metadata.background_audit.to_string(),
    );
    field(
        &mut out,
        "context aware:",
        &if metadata.context_aware_resources.is_empty() {
            "no".to_string()
        } else {
            metadata
                .context_aware_resources
                .iter()
                .map(|r| format!("{} {}", r.api_version, r.kind))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    if let Some(version) = &metadata.minimum_kubewarden_version {
        field(&mut out, "minimum Kubewarden:", version);
    }
    let _ = writeln!(out, "\nrules:");
    for rule in &metadata.rules {
        let _ = writeln!(
            out,
            "  {} {} {} {}",
            rule.api_groups
                .iter()
                .map(|g| if g.is_empty() { "core" } else { g })
                .collect::<Vec<_>>()
                .join(","),
            rule.api_versions.join(","),
            rule.resources.join(","),
            rule.operations
                .iter()
                .map(|o| serde_json::to_value(o)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    let others: Vec<_> = annotations
        .iter()
        .filter(|(k, v)| k.as_str() != ANNOTATION_USAGE && !v.contains('\n'))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "\nannotations:");
        for (key, value) in others {
            let _ = writeln!(out, "  {key}: {value}");
        }
    }
    if annotations.contains_key(ANNOTATION_USAGE) {
        let _ = writeln!(
            out,
            "\nusage: annotated ({} bytes; --show-usage prints it)",
            annotations[ANNOTATION_USAGE].len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
rules:
  - apiGroups: ["apps"]
    apiVersions: ["v1"]
    resources: ["daemonsets"]
    operations: ["CREATE", "UPDATE"]
mutating: true
annotations:
  io.kubewarden.policy.title: t
"#;

    #[test]
    fn defaults_apply() {
        let m = Metadata::from_yaml(GOOD).expect("parses");
        assert!(m.background_audit);
        assert_eq!(m.execution_mode, ExecutionMode::KubewardenWapc);
        assert_eq!(m.policy_type, PolicyType::Kubernetes);
        assert!(m.context_aware_resources.is_empty());
        assert_eq!(m.protocol_version, None);
        // protocolVersion is not set yet: invalid until annotate sets it.
        assert!(m.validate().is_err());
        let m = Metadata {
            protocol_version: Some(ProtocolVersion::V1),
            ..m
        };
        m.validate().expect("valid");
        let json: serde_json::Value =
            serde_json::from_slice(&m.to_section_json().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "protocolVersion": "v1",
                "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                           "resources": ["daemonsets"], "operations": ["CREATE", "UPDATE"]}],
                "annotations": {"io.kubewarden.policy.title": "t"},
                "mutating": true,
                "backgroundAudit": true,
                "executionMode": "kubewarden-wapc",
                "policyType": "kubernetes",
                "contextAwareResources": []
            })
        );
    }

    #[test]
    fn required_fields() {
        let e = Metadata::from_yaml("mutating: true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules"), "{e}");
        let e = Metadata::from_yaml("rules: []").unwrap_err().to_string();
        assert!(e.contains("mutating"), "{e}");
    }

    #[test]
    fn rule_checks() {
        let bad = r#"
protocolVersion: v1
mutating: false
rules:
  - apiGroups: []
    apiVersions: ["v1", "*"]
    resources: ["pods"]
    operations: ["*", "CREATE"]
"#;
        let e = Metadata::from_yaml(bad)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules[0].apiGroups: must not be empty"), "{e}");
        assert!(e.contains("rules[0].apiVersions: no other elements"), "{e}");
        assert!(e.contains("rules[0].operations: no other elements"), "{e}");

        let bad_op = "mutating: false\nrules:\n- {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [PATCH]}\n";
        let e = Metadata::from_yaml(bad_op).unwrap_err().to_string();
        assert!(e.contains("PATCH"), "{e}");

        let bad_res = "protocolVersion: v1\nmutating: false\nrules:\n- {apiGroups: [''], apiVersions: [v1], resources: ['*', pods], operations: [CREATE]}\n";
        let e = Metadata::from_yaml(bad_res)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("if '*' is present"), "{e}");

        let ok_res = "protocolVersion: v1\nmutating: false\nrules:\n- {apiGroups: [''], apiVersions: [v1], resources: ['*', 'a/b', 'a/*', '*/b'], operations: [CREATE]}\n";
        Metadata::from_yaml(ok_res)
            .unwrap()
            .validate()
            .expect("valid");
    }
}
