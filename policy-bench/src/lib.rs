//! Shared parts of the benchmarks (`benches/evaluation.rs`), the report
//! (`src/bin/report.rs`) and the native/latency tools: where the modules and
//! fixtures are, the generated size-scaling DaemonSets, and the case list.
//!
//! Modules are read from `POLICY_WASM` (default `policy.wasm` at the repo
//! root) and `FLOOR_WASM` (default
//! `target/wasm32-wasip1/release/floor_policy.wasm`), so any build (a
//! profile variant, a `wasm-opt` output) can be measured the same way.

pub mod report;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
#[cfg(feature = "engine")]
use policy_host::{HostOptions, PolicyModule};
use serde_json::{Value, json};

/// The repository root (the workspace root).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn env_path(var: &str, default: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root().join(default),
    }
}

/// The policy module measured (`POLICY_WASM`, default `policy.wasm`).
pub fn policy_wasm() -> PathBuf {
    env_path("POLICY_WASM", "policy.wasm")
}

/// The floor module (`FLOOR_WASM`, default the release wasm build).
pub fn floor_wasm() -> PathBuf {
    env_path(
        "FLOOR_WASM",
        "target/wasm32-wasip1/release/floor_policy.wasm",
    )
}

/// Where criterion writes (`CARGO_TARGET_DIR` or `target/`, `/criterion`).
pub fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(p) if !p.is_empty() => PathBuf::from(p).join("criterion"),
            _ => root().join("target/criterion"),
        },
    }
}

#[cfg(feature = "engine")]
/// Host options of the benchmarks: policy-server's default 2 s epoch
/// deadline (epoch interruption costs a little in the generated code, as in
/// policy-server), unannotated modules accepted, logs not printed.
pub fn host_options() -> HostOptions {
    HostOptions {
        require_annotation: false,
        log_to_stderr: false,
        ..HostOptions::default()
    }
}

#[cfg(feature = "engine")]
/// Read and compile a module.
pub fn load_module(path: &Path) -> Result<(Vec<u8>, PolicyModule)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {} (build it first: `make bench` does)",
            path.display()
        )
    })?;
    let module = PolicyModule::from_bytes_with(&bytes, &host_options())
        .with_context(|| format!("cannot load {}", path.display()))?;
    Ok((bytes, module))
}

/// policy.yaml's `spec.settings` (as `policy_host::input::read_settings_file`
/// reads a ClusterAdmissionPolicy).
pub fn settings() -> Result<Value> {
    let path = root().join("policy.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let policy: Value =
        serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    Ok(policy
        .pointer("/spec/settings")
        .cloned()
        .unwrap_or_else(|| json!({})))
}

/// The guest's `validate` payload, byte for byte what the e2e host
/// (`policy_host::host::validate_payload`) sends.
pub fn validate_payload(request: &Value, settings: &Value) -> String {
    json!({"request": request, "settings": settings}).to_string()
}

/// One request of the benchmarks.
pub struct Case {
    /// Benchmark id (no `/`).
    pub name: String,
    /// The bare AdmissionRequest.
    pub request: Value,
    /// What the policy is expected to answer (a sanity check before timing).
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Mutate,
    Reject,
}

impl Case {
    /// Size of the compact AdmissionRequest JSON in bytes.
    pub fn request_bytes(&self) -> usize {
        self.request.to_string().len()
    }

    /// Size of the guest's `validate` payload (request + settings) in bytes.
    pub fn payload_bytes(&self, settings: &Value) -> usize {
        validate_payload(&self.request, settings).len()
    }
}

fn fixture(file: &str) -> Result<Value> {
    let path = root().join("test_data").join("requests").join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The named fixtures: realistic requests of every kind and verdict.
pub fn fixture_cases() -> Result<Vec<Case>> {
    let named = [
        ("ds-fluent-bit", "daemonset-fluent-bit.json", Expect::Accept),
        (
            "ds-fluent-bit-mutate",
            "daemonset-fluent-bit-rw-varlog.json",
            Expect::Mutate,
        ),
        (
            "ds-runtime-socket-reject",
            "daemonset-runtime-socket.json",
            Expect::Reject,
        ),
        // UPDATE: `oldObject` (the previous DaemonSet) is in the payload too.
        (
            "ds-fluent-bit-update",
            "daemonset-update-fluent-bit.json",
            Expect::Accept,
        ),
        ("sc-ebs-gp3", "storageclass-ebs-gp3.json", Expect::Accept),
        ("csidriver-ebs", "csidriver-ebs.json", Expect::Accept),
    ];
    named
        .into_iter()
        .map(|(name, file, expect)| {
            Ok(Case {
                name: name.to_string(),
                request: fixture(file)?,
                expect,
            })
        })
        .collect()
}

/// Target sizes of the scaling DaemonSets, in KiB of compact request JSON.
pub const SCALE_KIB: [usize; 3] = [5, 50, 200];

/// fluent-bit grown to about `kib` KiB of compact request JSON: extra copies
/// of its container, each with its own read-only hostPath volume under
/// `/var/log` (allowed by policy.yaml, so every one is fully judged and the
/// request is accepted unchanged).
pub fn scaled_daemonset(kib: usize) -> Result<Case> {
    let base = fixture("daemonset-fluent-bit.json")?;
    let target = kib * 1024;
    let mut request = base.clone();
    let mut i = 0usize;
    while request.to_string().len() < target {
        let spec = request
            .pointer_mut("/object/spec/template/spec")
            .context("fluent-bit has no pod spec")?;
        let mut container = base
            .pointer("/object/spec/template/spec/containers/0")
            .context("fluent-bit has no container")?
            .clone();
        container["name"] = json!(format!("shipper-{i}"));
        container["volumeMounts"]
            .as_array_mut()
            .context("volumeMounts")?
            .push(json!({
                "name": format!("hostlog-{i}"),
                "mountPath": format!("/host/log-{i}"),
                "readOnly": true
            }));
        spec["containers"]
            .as_array_mut()
            .context("containers")?
            .push(container);
        spec["volumes"]
            .as_array_mut()
            .context("volumes")?
            .push(json!({
                "name": format!("hostlog-{i}"),
                "hostPath": {"path": format!("/var/log/bench-{i}"), "type": ""}
            }));
        i += 1;
    }
    Ok(Case {
        name: format!("ds-scale-{kib}k"),
        request,
        expect: Expect::Accept,
    })
}

/// The scaling cases (5, 50, 200 KiB).
pub fn scale_cases() -> Result<Vec<Case>> {
    SCALE_KIB.iter().map(|&k| scaled_daemonset(k)).collect()
}

/// Every `validate` case, fixtures first.
pub fn all_cases() -> Result<Vec<Case>> {
    let mut cases = fixture_cases()?;
    cases.extend(scale_cases()?);
    Ok(cases)
}

#[cfg(feature = "engine")]
/// What a response looks like, for the sanity check.
pub fn verdict(response: &policy_host::AdmissionResponse) -> Expect {
    if !response.allowed {
        Expect::Reject
    } else if response.patch.is_some() {
        Expect::Mutate
    } else {
        Expect::Accept
    }
}

/// Benchmark group names (criterion directories under `target/criterion`).
pub mod groups {
    /// `validate` through `PolicyInstance::evaluate` on one warm instance.
    pub const WARM: &str = "validate-warm";
    /// `validate` through `PolicyModule::evaluate`: fresh instance per call.
    pub const FRESH: &str = "validate-fresh";
    /// The bare waPC `validate` call on a warm instance (payload prepared
    /// beforehand, response not parsed): the guest's own time.
    pub const GUEST: &str = "guest-call-warm";
    /// `validate_settings` (policy.yaml settings), warm and fresh.
    pub const SETTINGS: &str = "validate-settings";
    /// Module compilation (`PolicyModule::from_bytes_with`).
    pub const COMPILE: &str = "compile";
    /// Fresh instance only (`PolicyModule::instantiate`).
    pub const INSTANTIATE: &str = "instantiate";
}
