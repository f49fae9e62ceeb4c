//! Shared parts of the benchmarks (`benches/evaluation.rs`), the report
//! (`src/bin/report.rs`) and the native/latency tools: where the modules and
//! fixtures are, the generated size-scaling DaemonSets, and the case list.
//!
//! Modules are read from `POLICY_WASM` (default `policy.wasm` at the repo
//! root), `FLOOR_WASM` (default
//! `target/floor/wasm32-wasip1/release/floor_policy.wasm`, `make
//! floor-wasm`) and
//! `POD_PRIVILEGED_WASM` (default `../shared/bench/pod-privileged-policy.wasm`
//! next to the repository, optional), so any build (a profile variant, a
//! `wasm-opt` output) can be measured the same way.

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
        "target/floor/wasm32-wasip1/release/floor_policy.wasm",
    )
}

/// Kubewarden's official `pod-privileged-policy` module, unmodified
/// (`POD_PRIVILEGED_WASM`, default `../shared/bench/pod-privileged-policy.wasm`
/// beside the repository; see the README there). Optional: the benchmarks
/// skip its column when the file is absent.
pub fn pod_privileged_wasm() -> PathBuf {
    env_path(
        "POD_PRIVILEGED_WASM",
        "../shared/bench/pod-privileged-policy.wasm",
    )
}

/// The measured subjects: criterion's `<group>/<subject>/<case>` ids.
pub mod subjects {
    /// policy.wasm with policy.yaml's settings.
    pub const POLICY: &str = "policy";
    /// policy.wasm with settings `{}`: `POLICY` minus this is what the
    /// settings cost.
    pub const NO_SETTINGS: &str = "policy-no-settings";
    /// policy.wasm with policy.yaml's settings plus 20 DaemonSet profiles
    /// (`profiles_settings`), none matching a benchmark request. Measured
    /// only when policy.wasm accepts `daemonSets.profiles`.
    pub const PROFILES: &str = "policy-20-profiles";
    /// The SDK floor (parse, accept) with policy.yaml's settings.
    pub const FLOOR: &str = "floor";
    /// The floor fed the `PROFILES` settings: guest call only. What any
    /// module pays for receiving the longer settings (the host's copies of
    /// the payload, the SDK's parse), beside what this module pays.
    pub const FLOOR_PROFILES: &str = "floor-20-profiles";
    /// Kubewarden's pod-privileged-policy, settings `{}`, DaemonSet cases.
    pub const POD_PRIVILEGED: &str = "pod-privileged";
}

/// The report of the last run, in `criterion_dir()`.
pub const REPORT_FILE: &str = "policy-vs-floor.md";
/// The verdict of each subject on each case in the last run (written by the
/// benchmark's sanity check), in `criterion_dir()`.
pub const VERDICTS_FILE: &str = "policy-bench-verdicts.json";

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

/// The settings `LATENCY_SETTINGS` names, for `latency` and `native-loop`:
/// `policy` (policy.yaml's, the default), `empty` (`{}`) or `profiles20`
/// (policy.yaml's with 20 profiles, as the bench).
pub fn settings_from_env() -> Result<Value> {
    match std::env::var("LATENCY_SETTINGS").as_deref() {
        Ok("empty") => Ok(json!({})),
        Ok("profiles20") => Ok(profiles_settings(&settings()?, 20)),
        Ok("policy") | Err(_) => settings(),
        Ok(other) => anyhow::bail!("LATENCY_SETTINGS={other}: policy, empty or profiles20"),
    }
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
    /// What it is, for the report and the README table.
    pub title: String,
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
    /// A DaemonSet request (pod-privileged judges these; StorageClasses and
    /// CSIDrivers it does not target).
    pub fn is_daemonset(&self) -> bool {
        self.request.pointer("/kind/kind").and_then(Value::as_str) == Some("DaemonSet")
    }

    /// One of the generated size-scaling DaemonSets.
    pub fn is_scale(&self) -> bool {
        self.name.starts_with("ds-scale-")
    }

    /// Size of the compact AdmissionRequest JSON in bytes.
    pub fn request_bytes(&self) -> usize {
        self.request.to_string().len()
    }

    /// Size of the guest's `validate` payload (request + settings) in bytes.
    pub fn payload_bytes(&self, settings: &Value) -> usize {
        validate_payload(&self.request, settings).len()
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn fixture(file: &str) -> Result<Value> {
    read_json(&root().join("test_data/requests").join(file))
}

/// The named fixtures: realistic requests of every kind and verdict, then
/// the agents' DaemonSets as their charts render them
/// (`test_data/agents/requests/`, see the README there).
pub fn fixture_cases() -> Result<Vec<Case>> {
    let named = [
        (
            "ds-fluent-bit",
            "fluent-bit DaemonSet CREATE",
            "daemonset-fluent-bit.json",
            Expect::Accept,
        ),
        (
            "ds-fluent-bit-mutate",
            "same, read-write `/var/log` (mutated)",
            "daemonset-fluent-bit-rw-varlog.json",
            Expect::Mutate,
        ),
        (
            "ds-runtime-socket-reject",
            "DaemonSet rejected (runtime socket, 6 violations)",
            "daemonset-runtime-socket.json",
            Expect::Reject,
        ),
        // UPDATE: `oldObject` (the previous DaemonSet) is in the payload too.
        (
            "ds-fluent-bit-update",
            "fluent-bit DaemonSet UPDATE",
            "daemonset-update-fluent-bit.json",
            Expect::Accept,
        ),
        (
            "sc-ebs-gp3",
            "EBS gp3 StorageClass",
            "storageclass-ebs-gp3.json",
            Expect::Accept,
        ),
        (
            "csidriver-ebs",
            "EBS CSIDriver",
            "csidriver-ebs.json",
            Expect::Accept,
        ),
    ];
    // The charts' defaults, judged by policy.yaml (written for fluent-bit,
    // node-exporter and the EBS driver): fluent-bit's chart mounts
    // `/var/log` read-write (mutated to read-only), Cilium and Datadog
    // reach far beyond policy.yaml's hostPaths (13 and 24 violations).
    let agents = [
        (
            "ds-chart-fluent-bit",
            "fluent-bit DaemonSet from its chart (mutated)",
            "fluent-bit.json",
            Expect::Mutate,
        ),
        (
            "ds-chart-cilium",
            "Cilium DaemonSet from its chart (rejected)",
            "cilium.json",
            Expect::Reject,
        ),
        (
            "ds-chart-datadog",
            "Datadog DaemonSet from its chart (rejected)",
            "datadog.json",
            Expect::Reject,
        ),
    ];
    let agents_dir = root().join("test_data/agents/requests");
    let mut cases = Vec::new();
    for (name, title, file, expect) in named {
        cases.push(Case {
            name: name.to_string(),
            title: title.to_string(),
            request: fixture(file)?,
            expect,
        });
    }
    for (name, title, file, expect) in agents {
        cases.push(Case {
            name: name.to_string(),
            title: title.to_string(),
            request: read_json(&agents_dir.join(file))?,
            expect,
        });
    }
    Ok(cases)
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
        title: format!("DaemonSet, many containers, {kib} KiB"),
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

/// How many profiles the profiles case carries (issue 15: "a settings blob
/// with 20 profiles").
pub const PROFILE_COUNT: usize = 20;

/// HOOK (20-profiles case): policy.yaml's settings plus `count` DaemonSet
/// profiles (`daemonSets.profiles`, issue 12), shaped as platform teams
/// write them for the agents of `test_data/agents/` (match on namespace,
/// name, ServiceAccount and image; their hostPaths and tolerations). None
/// matches a benchmark request (no profile for `logging/fluent-bit`,
/// `kube-system/cilium` or the `datadog` namespace), so every request pays
/// for reading 20 profiles and is judged by the baseline as without them:
/// the verdicts stay those of `POLICY`. The profiles are disjoint (distinct
/// namespace or name), as validation requires. The benchmark measures this
/// subject only when policy.wasm's `validate_settings` accepts the blob
/// (`benches/evaluation.rs`), so it switches itself on once profiles exist.
pub fn profiles_settings(base: &Value, count: usize) -> Value {
    // (profile, namespace, name, ServiceAccount, image repository,
    //  hostPaths [(prefix, readOnly, type)], tolerations section)
    type Agent = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, bool, &'static str)],
        &'static str,
    );
    const AGENTS: [Agent; 10] = [
        (
            "node-exporter",
            "monitoring",
            "prometheus-node-exporter",
            "prometheus-node-exporter",
            "quay.io/prometheus/node-exporter",
            &[("/proc", true, ""), ("/sys", true, "")],
            r#"{"allowedWildcardEffects":["NoSchedule"]}"#,
        ),
        (
            "falco",
            "falco",
            "falco",
            "falco",
            "docker.io/falcosecurity/falco",
            &[
                ("/etc", true, ""),
                ("/boot", true, ""),
                ("/lib/modules", true, ""),
                ("/usr", true, ""),
                ("/dev", true, ""),
            ],
            r#"{"allowedWildcardEffects":["NoSchedule"]}"#,
        ),
        (
            "calico-node",
            "calico-system",
            "calico-node",
            "calico-node",
            "quay.io/calico/node",
            &[
                ("/var/run/calico", false, "DirectoryOrCreate"),
                ("/var/lib/calico", false, "DirectoryOrCreate"),
                ("/opt/cni/bin", false, "DirectoryOrCreate"),
                ("/etc/cni/net.d", false, ""),
                ("/run/xtables.lock", false, "FileOrCreate"),
            ],
            r#"{"allowedWildcardEffects":["NoSchedule","NoExecute"]}"#,
        ),
        (
            "kube-proxy",
            "kube-system",
            "kube-proxy",
            "kube-proxy",
            "registry.k8s.io/kube-proxy",
            &[
                ("/run/xtables.lock", false, "FileOrCreate"),
                ("/lib/modules", true, ""),
            ],
            r#"{"allowWildcard":true}"#,
        ),
        (
            "ebs-csi-node",
            "kube-system",
            "ebs-csi-node",
            "ebs-csi-node-sa",
            "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver",
            &[
                ("/var/lib/kubelet", false, "Directory"),
                ("/var/lib/kubelet/plugins_registry", false, "Directory"),
                ("/dev", false, "Directory"),
            ],
            r#"{"allowWildcard":true}"#,
        ),
        (
            "vector",
            "vector",
            "vector",
            "vector",
            "docker.io/timberio/vector",
            &[
                ("/var/lib/vector", false, ""),
                ("/var/log", true, ""),
                ("/var/lib", true, ""),
                ("/proc", true, ""),
                ("/sys", true, ""),
            ],
            "{}",
        ),
        (
            "longhorn-manager",
            "longhorn-system",
            "longhorn-manager",
            "longhorn-service-account",
            "docker.io/longhornio/longhorn-manager",
            &[
                ("/boot", true, ""),
                ("/dev", false, ""),
                ("/proc", true, ""),
                ("/var/lib/longhorn", false, ""),
            ],
            "{}",
        ),
        (
            "ceph-csi-rbd",
            "ceph-csi-rbd",
            "ceph-csi-rbd-nodeplugin",
            "ceph-csi-rbd-nodeplugin",
            "quay.io/cephcsi/cephcsi",
            &[
                ("/var/lib/kubelet/plugins", false, "DirectoryOrCreate"),
                ("/dev", false, ""),
                ("/sys", false, ""),
                ("/lib/modules", true, ""),
            ],
            "{}",
        ),
        (
            "nvidia-device-plugin",
            "nvidia-device-plugin",
            "nvdp-nvidia-device-plugin",
            "nvdp-nvidia-device-plugin-service-account",
            "nvcr.io/nvidia/k8s-device-plugin",
            &[
                ("/var/lib/kubelet/device-plugins", false, "Directory"),
                ("/run/nvidia/mps", false, "DirectoryOrCreate"),
                ("/var/run/cdi", false, "DirectoryOrCreate"),
            ],
            r#"{"allowed":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]}"#,
        ),
        (
            "secrets-store",
            "kube-system",
            "csi-secrets-store-secrets-store-csi-driver",
            "secrets-store-csi-driver",
            "registry.k8s.io/csi-secrets-store/driver",
            &[
                ("/var/lib/kubelet/pods", false, "DirectoryOrCreate"),
                (
                    "/var/lib/kubelet/plugins/csi-secrets-store",
                    false,
                    "DirectoryOrCreate",
                ),
                (
                    "/var/run/secrets-store-csi-providers",
                    false,
                    "DirectoryOrCreate",
                ),
            ],
            r#"{"allowWildcard":true}"#,
        ),
    ];
    // Beyond the ten agents, each agent again in a per-team copy
    // (`<namespace>-<team>`), as clusters running an agent per tenant do.
    let profiles: Vec<Value> = (0..count)
        .map(|i| {
            let (name, ns, ds, sa, image, paths, tolerations) = AGENTS[i % AGENTS.len()];
            let round = i / AGENTS.len();
            let (name, ns) = if round == 0 {
                (name.to_string(), ns.to_string())
            } else {
                (format!("{name}-team{round}"), format!("{ns}-team{round}"))
            };
            let allowed: Vec<Value> = paths
                .iter()
                .map(|(prefix, read_only, ty)| {
                    json!({"pathPrefix": prefix, "readOnly": read_only, "types": [ty]})
                })
                .collect();
            let tolerations: Value =
                serde_json::from_str(tolerations).unwrap_or_else(|_| json!({}));
            json!({
                "name": name,
                "match": {
                    "namespaces": [ns],
                    "names": [ds],
                    "serviceAccountNames": [sa],
                    "images": [{"repository": image}]
                },
                "hostPaths": {"allowed": allowed},
                "tolerations": tolerations
            })
        })
        .collect();
    let mut settings = base.clone();
    if !settings.is_object() {
        settings = json!({});
    }
    if !settings["daemonSets"].is_object() {
        settings["daemonSets"] = json!({});
    }
    settings["daemonSets"]["profiles"] = Value::Array(profiles);
    settings
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
    /// `validate_settings` (each subject's settings), warm and fresh.
    pub const SETTINGS: &str = "validate-settings";
    /// Module compilation (`PolicyModule::from_bytes_with`).
    pub const COMPILE: &str = "compile";
    /// Fresh instance only (`PolicyModule::instantiate`).
    pub const INSTANTIATE: &str = "instantiate";
}
