//! PersistentVolumes (core/v1): the volume source a PVC hands a pod. A
//! `hostPath` or `local` PV gives host access without a hostPath volume in
//! any pod spec; a static CSI PV names a driver and secret namespaces no
//! StorageClass rule saw.
//!
//! Paths are judged by the DaemonSet path engine
//! ([`HostPathRules::compile_at`]: same normaliser, prefixes and forbidden
//! paths), drivers by `csiDrivers.allowed`, in-tree sources as the CSI
//! driver csi-translation-lib migrates them to, secret namespaces by
//! `storageClasses.secrets`.

use serde_json::{Map, Value};

use super::secrets::pv_namespace_refusal;
use crate::daemonset::host_paths::HostPathRules;
use crate::drivers::{DriverRules, csi_equivalent};
use crate::fields::{Reported, object, string};
use crate::paths::normalize_absolute;
use crate::rules;
use crate::settings::{
    AllowedHostPath, HostPathSettings, Mode, PersistentVolumeSettings, StorageClassSettings,
};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

const BASE: &str = "persistentVolumes.hostPaths";

/// The in-tree sources csi-translation-lib translates (`translate.go`,
/// `inTreePlugins`; `plugins/*.go`, `TranslateInTreePVToCSI`), by field,
/// with their in-tree plugin name ([`csi_equivalent`] gives the driver).
/// `rbd` is not among them: its plugin and translation were removed in
/// Kubernetes 1.31.
const TRANSLATED: &[(&str, &str)] = &[
    ("awsElasticBlockStore", "kubernetes.io/aws-ebs"),
    ("gcePersistentDisk", "kubernetes.io/gce-pd"),
    ("azureDisk", "kubernetes.io/azure-disk"),
    ("azureFile", "kubernetes.io/azure-file"),
    ("cinder", "kubernetes.io/cinder"),
    ("vsphereVolume", "kubernetes.io/vsphere-volume"),
    ("portworxVolume", "kubernetes.io/portworx-volume"),
];

/// The other sources of `core/v1` `PersistentVolumeSource`: kubelet (or a
/// FlexVolume binary) mounts them itself, no CSI driver is involved, so
/// only `persistentVolumes.allowedSources` allows them.
pub const UNTRANSLATED: &[&str] = &[
    "nfs",
    "iscsi",
    "rbd",
    "cephfs",
    "fc",
    "flexVolume",
    "glusterfs",
    "flocker",
    "quobyte",
    "photonPersistentDisk",
    "scaleIO",
    "storageos",
];

/// The CSI secret references of `CSIPersistentVolumeSource`; each carries
/// its own namespace (validation requires it: `validateCSIPersistentVolumeSource`).
const CSI_SECRET_REFS: &[&str] = &[
    "controllerPublishSecretRef",
    "nodeStageSecretRef",
    "nodePublishSecretRef",
    "controllerExpandSecretRef",
    "nodeExpandSecretRef",
];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PersistentVolumeRules {
    pub mode: Mode,
    paths: HostPathRules,
    /// Normalised prefixes only some ServiceAccounts (`namespace/name`) may use.
    restricted: Vec<(String, Vec<String>)>,
    allowed_sources: Vec<String>,
}

fn is_service_account(entry: &str) -> bool {
    matches!(entry.split_once('/'), Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/'))
}

impl PersistentVolumeRules {
    pub fn compile(settings: PersistentVolumeSettings, errors: &mut SettingErrors) -> Self {
        let mut restricted = Vec::new();
        let mut allowed = Vec::with_capacity(settings.host_paths.allowed.len());
        for (i, entry) in settings.host_paths.allowed.into_iter().enumerate() {
            if let Some(accounts) = &entry.service_accounts {
                for (j, sa) in accounts.iter().enumerate() {
                    if !is_service_account(sa) {
                        errors.add(
                            format!("{BASE}.allowed[{i}].serviceAccounts[{j}]"),
                            format!("{sa:?} must be namespace/name"),
                        );
                    }
                }
                if let Ok(prefix) = normalize_absolute(&entry.path_prefix) {
                    restricted.push((prefix, accounts.clone()));
                }
            }
            allowed.push(AllowedHostPath {
                path_prefix: entry.path_prefix,
                types: entry.types,
                ..AllowedHostPath::default()
            });
        }
        let paths = HostPathRules::compile_at(
            HostPathSettings {
                allowed,
                forbidden: settings.host_paths.forbidden,
                mutate: false,
            },
            BASE,
            false,
            errors,
        );
        for (i, source) in settings.allowed_sources.iter().enumerate() {
            if UNTRANSLATED.contains(&source.as_str()) {
                continue;
            }
            let reason = if let Some(csi) = translation(source) {
                format!(
                    "{source} is translated to {csi}: judged by csiDrivers.allowed and storageClasses.allowInTreeProvisioners"
                )
            } else if matches!(source.as_str(), "hostPath" | "local") {
                format!("{source} is judged by {BASE}")
            } else if source == "csi" {
                "csi is judged by csiDrivers.allowed".to_string()
            } else {
                format!(
                    "{source:?} is not a volume source without CSI translation (one of {})",
                    UNTRANSLATED.join(", ")
                )
            };
            errors.add(format!("{}[{i}]", rules::PV_ALLOWED_SOURCES), reason);
        }
        Self {
            mode: settings.mode,
            paths,
            restricted,
            allowed_sources: settings.allowed_sources,
        }
    }

    /// True when `username` may use the prefix `prefix`.
    fn admits(&self, prefix: &str, username: &str) -> bool {
        let Some((_, accounts)) = self.restricted.iter().find(|(p, _)| p == prefix) else {
            return true;
        };
        let who = username
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'));
        accounts
            .iter()
            .any(|sa| who.is_some() && sa.split_once('/') == who)
    }
}

fn translation(source: &str) -> Option<&'static str> {
    TRANSLATED
        .iter()
        .find(|(field, _)| *field == source)
        .and_then(|(_, in_tree)| csi_equivalent(in_tree))
}

/// What the PV rules read besides their own section.
pub struct Context<'a> {
    pub drivers: &'a DriverRules,
    pub storage: &'a StorageClassSettings,
    /// `userInfo.username`: a ServiceAccount may be granted a prefix.
    pub username: &'a str,
}

/// Judges a PersistentVolume. On UPDATE with a readable `old` only what an
/// update can change in the volume source is judged: the API server keeps
/// `spec.persistentvolumesource` immutable except for adding
/// `csi.controllerExpandSecretRef` where there was none
/// (`pkg/apis/core/validation/validation.go`, `ValidatePersistentVolumeUpdate`);
/// binding (`claimRef`), capacity, reclaim policy and status pass untouched.
pub fn evaluate(
    pv: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &PersistentVolumeRules,
    context: &Context<'_>,
) -> Findings {
    let mut findings = Findings::default();
    let Some(spec) = object(pv, "spec", || "spec".into(), &mut findings) else {
        if findings.violations.is_empty() {
            findings.push(Violation::new(
                "spec",
                "null",
                rules::UNREADABLE,
                "a PersistentVolume needs a spec to be judged",
            ));
        }
        return findings;
    };
    let claim_namespace = spec
        .get("claimRef")
        .and_then(|c| c.get("namespace"))
        .and_then(Value::as_str);
    let secrets = Secrets {
        claim_namespace,
        storage: context.storage,
    };
    let old_spec = old.and_then(|o| o.get("spec")).and_then(Value::as_object);
    if let Some(old_spec) = old_spec {
        let had_expand_secret = old_spec
            .get("csi")
            .and_then(|c| c.get("controllerExpandSecretRef"))
            .is_some_and(|r| !r.is_null());
        if !had_expand_secret
            && let Some(csi) = object(spec, "csi", || "spec.csi".into(), &mut findings)
        {
            secrets.judge_ref(csi, "controllerExpandSecretRef", "spec.csi", &mut findings);
        }
        return findings;
    }
    judge_host_path(spec, rules, context.username, &mut findings);
    judge_local(spec, rules, context.username, &mut findings);
    if let Some(csi) = object(spec, "csi", || "spec.csi".into(), &mut findings) {
        judge_csi(csi, context.drivers, &secrets, &mut findings);
    }
    for &(source, in_tree) in TRANSLATED {
        let field = format!("spec.{source}");
        let Some(volume) = object(spec, source, || field.clone(), &mut findings) else {
            continue;
        };
        judge_translated(source, in_tree, &field, context, &mut findings);
        if source == "azureFile" {
            // csi-translation-lib `plugins/azure_file.go`,
            // `TranslateInTreePVToCSI`: the node-stage secret lives in
            // `secretNamespace`, "default" when unset.
            let path = format!("{field}.secretNamespace");
            if let Ok(namespace) = string(volume, "secretNamespace", || path.clone(), &mut findings)
            {
                secrets.judge(namespace.unwrap_or("default"), &path, &mut findings);
            }
        } else {
            secrets.judge_ref(volume, "secretRef", &field, &mut findings);
        }
    }
    for &source in UNTRANSLATED {
        let field = format!("spec.{source}");
        let Some(volume) = object(spec, source, || field.clone(), &mut findings) else {
            continue;
        };
        if !rules.allowed_sources.iter().any(|s| s == source) {
            findings.push(Violation::new(
                field.clone(),
                "{...}",
                rules::PV_ALLOWED_SOURCES,
                format!("{source} volumes have no CSI driver to judge and are mounted by kubelet itself: not in persistentVolumes.allowedSources"),
            ));
        }
        // rbd, cephfs, iscsi, flexVolume, scaleIO and storageos take a
        // `secretRef` with its own namespace (core/v1 `SecretReference`).
        secrets.judge_ref(volume, "secretRef", &field, &mut findings);
    }
    findings
}

/// `spec.hostPath`: the path and type, as the DaemonSet rule judges a
/// hostPath volume (kubelet's hostPath plugin mounts a PV's path exactly
/// as a pod's: `pkg/volume/hostpath/host_path.go`, `getVolumeSource`).
fn judge_host_path(
    spec: &Map<String, Value>,
    rules: &PersistentVolumeRules,
    username: &str,
    findings: &mut Findings,
) {
    let Some(host_path) = object(spec, "hostPath", || "spec.hostPath".into(), findings) else {
        return;
    };
    let Some(prefix) = judge_path(host_path, "spec.hostPath", rules, username, findings) else {
        return;
    };
    let Some(types) = rules
        .paths
        .covering(&prefix)
        .find(|a| a.prefix == prefix)
        .and_then(|a| a.types())
    else {
        return;
    };
    let field = "spec.hostPath.type";
    if let Ok(ty) = string(host_path, "type", || field.into(), findings) {
        let ty = ty.unwrap_or("");
        if !types.iter().any(|t| t == ty) {
            findings.push(Violation::new(
                field,
                render_str(ty),
                rules::PV_HOST_PATHS_ALLOWED,
                format!("type not allowed under {prefix} (allowed: {types:?})"),
            ));
        }
    }
}

/// `spec.local`: kubelet's local plugin bind-mounts `path` from the node
/// (`pkg/volume/local/local.go`, `SetUpAt`), a hostPath by another name.
fn judge_local(
    spec: &Map<String, Value>,
    rules: &PersistentVolumeRules,
    username: &str,
    findings: &mut Findings,
) {
    if let Some(local) = object(spec, "local", || "spec.local".into(), findings) {
        judge_path(local, "spec.local", rules, username, findings);
    }
}

/// Normalises `source.path` and checks it; returns the most specific allowed
/// prefix the requester may use.
fn judge_path(
    source: &Map<String, Value>,
    source_path: &str,
    rules: &PersistentVolumeRules,
    username: &str,
    findings: &mut Findings,
) -> Option<String> {
    let field = format!("{source_path}.path");
    let raw = match string(source, "path", || field.clone(), findings) {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            findings.push(Violation::new(
                field,
                "null",
                rules::PV_HOST_PATHS_ALLOWED,
                "volume source without a path",
            ));
            return None;
        }
        Err(Reported) => return None,
    };
    let refuse = |findings: &mut Findings, rule: &'static str, reason: String| {
        findings.push(Violation::new(field.clone(), render_str(raw), rule, reason));
    };
    let normalized = match normalize_absolute(raw) {
        Ok(n) => n,
        Err(e) => {
            refuse(findings, rules::PV_HOST_PATHS_ALLOWED, e.to_string());
            return None;
        }
    };
    if let Some(forbidden) = rules.paths.forbidden_overlap(&normalized) {
        refuse(
            findings,
            rules::PV_HOST_PATHS_FORBIDDEN,
            format!("exposes forbidden host path {forbidden}"),
        );
        return None;
    }
    let usable = rules
        .paths
        .covering(&normalized)
        .filter(|a| rules.admits(&a.prefix, username))
        .max_by_key(|a| a.prefix.len())
        .map(|a| a.prefix.clone());
    if usable.is_none() {
        let reason = if rules.paths.no_prefix_allowed() {
            "hostPath and local PersistentVolumes are not allowed (no allowed prefix configured)"
                .to_string()
        } else if let Some(a) = rules.paths.covering(&normalized).next() {
            format!(
                "only the ServiceAccounts listed for {} may create PersistentVolumes under it",
                a.prefix
            )
        } else {
            format!("{normalized} is not under an allowed PersistentVolume path prefix")
        };
        refuse(findings, rules::PV_HOST_PATHS_ALLOWED, reason);
    }
    usable
}

fn judge_csi(
    csi: &Map<String, Value>,
    drivers: &DriverRules,
    secrets: &Secrets<'_>,
    findings: &mut Findings,
) {
    let field = "spec.csi.driver";
    match string(csi, "driver", || field.into(), findings) {
        Ok(Some(driver)) => {
            if let Some(reason) = drivers.refusal(driver) {
                findings.push(Violation::new(
                    field,
                    render_str(driver),
                    rules::CSI_DRIVERS_ALLOWED,
                    reason,
                ));
            }
        }
        Ok(None) => findings.push(Violation::new(
            field,
            "null",
            rules::CSI_DRIVERS_ALLOWED,
            "CSI PersistentVolume without a driver",
        )),
        Err(Reported) => {}
    }
    for key in CSI_SECRET_REFS {
        secrets.judge_ref(csi, key, "spec.csi", findings);
    }
}

/// An in-tree source, judged as the in-tree provisioner of its plugin is
/// (`storageClasses.allowInTreeProvisioners`, then the CSI driver it
/// migrates to against `csiDrivers.allowed`): with CSI migration on (GA
/// for all of these) the node mounts it through that driver.
fn judge_translated(
    source: &str,
    in_tree: &str,
    field: &str,
    context: &Context<'_>,
    findings: &mut Findings,
) {
    let Some(csi) = csi_equivalent(in_tree) else {
        return;
    };
    if !context.storage.allow_in_tree_provisioners {
        findings.push(Violation::new(
            field,
            "{...}",
            rules::ALLOW_IN_TREE_PROVISIONERS,
            format!("in-tree {source} volume: use the CSI driver {csi} instead"),
        ));
    }
    if let Some(reason) = context.drivers.refusal(csi) {
        findings.push(Violation::new(
            field,
            "{...}",
            rules::CSI_DRIVERS_ALLOWED,
            format!("{reason} (in-tree {source} migrates to it)"),
        ));
    }
}

struct Secrets<'a> {
    claim_namespace: Option<&'a str>,
    storage: &'a StorageClassSettings,
}

impl Secrets<'_> {
    /// `parent[key]`, a secret reference, by its `namespace`. An unset
    /// namespace is the claim's own (kubelet reads it from the pod's).
    fn judge_ref(
        &self,
        parent: &Map<String, Value>,
        key: &str,
        parent_path: &str,
        findings: &mut Findings,
    ) {
        let path = format!("{parent_path}.{key}");
        let Some(reference) = object(parent, key, || path.clone(), findings) else {
            return;
        };
        let field = format!("{path}.namespace");
        if let Ok(Some(namespace)) = string(reference, "namespace", || field.clone(), findings)
            && !namespace.is_empty()
        {
            self.judge(namespace, &field, findings);
        }
    }

    fn judge(&self, namespace: &str, field: &str, findings: &mut Findings) {
        if let Some(reason) =
            pv_namespace_refusal(namespace, self.claim_namespace, &self.storage.secrets)
        {
            findings.push(Violation::new(
                field,
                render_str(namespace),
                rules::SECRETS,
                reason,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    fn local_path() -> serde_json::Value {
        json!({"persistentVolumes": {"hostPaths": {"allowed": [{
            "pathPrefix": "/opt/local-path-provisioner",
            "types": ["DirectoryOrCreate"],
            "serviceAccounts": ["local-path-storage/local-path-provisioner-service-account"]
        }]}}})
    }

    #[test]
    fn host_path_pvs_are_refused_by_default() {
        assert_violations(
            &run("persistentvolume-local-path.json", json!({})),
            1,
            &[
                "spec.hostPath.path=\"/opt/local-path-provisioner/pvc-",
                ": hostPath and local PersistentVolumes are not allowed (no allowed prefix configured) [persistentVolumes.hostPaths.allowed]",
            ],
        );
    }

    #[test]
    fn the_provisioner_may_create_under_its_prefix_and_nobody_else() {
        assert_accepted_untouched(&run("persistentvolume-local-path.json", local_path()));
        let mut request = fixture("persistentvolume-local-path.json");
        request["userInfo"]["username"] = json!("alice@example.com");
        assert_rejected(
            &evaluate(&request, local_path()),
            &[
                "only the ServiceAccounts listed for /opt/local-path-provisioner may create PersistentVolumes under it [persistentVolumes.hostPaths.allowed]",
            ],
        );
        let request = edited("persistentvolume-local-path.json", |pv| {
            pv["spec"]["hostPath"]["type"] = json!("Socket");
        });
        assert_rejected(
            &evaluate(&request, local_path()),
            &["spec.hostPath.type=\"Socket\": type not allowed under /opt/local-path-provisioner"],
        );
    }

    #[test]
    fn local_pvs_use_the_same_paths_and_forbidden_list() {
        let request = edited("persistentvolume-local-path.json", |pv| {
            let spec = &mut pv["spec"];
            spec.as_object_mut().map(|s| s.remove("hostPath"));
            spec["local"] = json!({"path": "/opt/local-path-provisioner/../../run/containerd"});
        });
        assert_rejected(
            &evaluate(&request, local_path()),
            &[
                "spec.local.path=\"/opt/local-path-provisioner/../../run/containerd\": path contains a '..' segment [persistentVolumes.hostPaths.allowed]",
            ],
        );
        let request = edited("persistentvolume-local-path.json", |pv| {
            pv["spec"]["hostPath"]["path"] = json!("/run");
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &[
                "spec.hostPath.path=\"/run\": exposes forbidden host path /run/containerd [persistentVolumes.hostPaths.forbidden]",
            ],
        );
    }

    #[test]
    fn static_csi_pvs_judge_driver_and_secret_namespaces() {
        let settings = json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com"]},
            "storageClasses": {"secrets": {"allowedNamespaces": ["kube-system"]}}});
        assert_accepted_untouched(&run("persistentvolume-ebs-static.json", settings));
        let settings = json!({"csiDrivers": {"allowed": ["efs.csi.aws.com"]},
            "storageClasses": {"secrets": {"allowedNamespaces": ["aws-secrets"]}}});
        assert_violations(
            &run("persistentvolume-ebs-static.json", settings),
            3,
            &[
                "spec.csi.driver=\"ebs.csi.aws.com\": CSI driver ebs.csi.aws.com is not in csiDrivers.allowed [csiDrivers.allowed]",
                "spec.csi.nodeStageSecretRef.namespace=\"kube-system\"",
                "spec.csi.controllerPublishSecretRef.namespace=\"kube-system\"",
            ],
        );
    }

    #[test]
    fn in_tree_sources_are_judged_as_their_csi_driver() {
        let request = edited("persistentvolume-ebs-static.json", |pv| {
            let spec = &mut pv["spec"];
            spec.as_object_mut().map(|s| s.remove("csi"));
            spec["awsElasticBlockStore"] =
                json!({"volumeID": "vol-0a1b2c3d4e5f60718", "fsType": "ext4"});
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &[
                "spec.awsElasticBlockStore={...}: in-tree awsElasticBlockStore volume: use the CSI driver ebs.csi.aws.com instead [storageClasses.allowInTreeProvisioners]",
            ],
        );
        let settings = json!({"storageClasses": {"allowInTreeProvisioners": true},
            "csiDrivers": {"allowed": ["pd.csi.storage.gke.io"]}});
        assert_violations(
            &evaluate(&request, settings),
            1,
            &[
                "CSI driver ebs.csi.aws.com is not in csiDrivers.allowed (in-tree awsElasticBlockStore migrates to it) [csiDrivers.allowed]",
            ],
        );
    }

    #[test]
    fn nfs_needs_allowed_sources() {
        assert_rejected(
            &run("persistentvolume-nfs.json", json!({})),
            &[
                "spec.nfs={...}: nfs volumes have no CSI driver to judge and are mounted by kubelet itself: not in persistentVolumes.allowedSources [persistentVolumes.allowedSources]",
            ],
        );
        assert_accepted_untouched(&run(
            "persistentvolume-nfs.json",
            json!({"persistentVolumes": {"allowedSources": ["nfs"]}}),
        ));
    }

    #[test]
    fn updates_judge_only_an_added_expand_secret() {
        let mut request = fixture("persistentvolume-ebs-static.json");
        let settings = json!({"csiDrivers": {"allowed": []},
            "storageClasses": {"secrets": {"allowedNamespaces": ["aws-secrets"]}}});
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["object"]["spec"]["claimRef"] =
            json!({"kind": "PersistentVolumeClaim", "namespace": "default", "name": "ebs-claim"});
        assert_accepted_untouched(&evaluate(&request, settings.clone()));
        request["object"]["spec"]["csi"]["controllerExpandSecretRef"] =
            json!({"name": "x", "namespace": "kube-system"});
        assert_violations(
            &evaluate(&request, settings),
            1,
            &["spec.csi.controllerExpandSecretRef.namespace=\"kube-system\""],
        );
    }

    #[test]
    fn settings_are_refused_with_their_path() {
        for (settings, expected) in [
            (
                json!({"hostPaths": {"allowed": [{"pathPrefix": "opt"}]}}),
                "persistentVolumes.hostPaths.allowed[0].pathPrefix: \"opt\": path is not absolute",
            ),
            (
                json!({"hostPaths": {"allowed": [{"pathPrefix": "/opt", "serviceAccounts": ["x"]}]}}),
                "persistentVolumes.hostPaths.allowed[0].serviceAccounts[0]: \"x\" must be namespace/name",
            ),
            (
                json!({"allowedSources": ["awsElasticBlockStore"]}),
                "persistentVolumes.allowedSources[0]: awsElasticBlockStore is translated to ebs.csi.aws.com",
            ),
            (
                json!({"hostPaths": {"allowed": [{"pathPrefix": "/opt", "readOnly": true}]}}),
                "persistentVolumes.hostPaths.allowed[0].readOnly: unknown field",
            ),
        ] {
            let response = crate::evaluate::validate_settings(
                json!({"persistentVolumes": settings})
                    .to_string()
                    .as_bytes(),
            );
            let message = response.message.unwrap_or_default();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn an_unreadable_pv_is_refused_and_delete_accepted() {
        let request = edited("persistentvolume-nfs.json", |pv| {
            pv["spec"]["nfs"] = json!("server:/export");
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &["spec.nfs=\"server:/export\": expected an object, found a string [readable object]"],
        );
        let mut request = fixture("persistentvolume-nfs.json");
        request["operation"] = json!("DELETE");
        assert_accepted_untouched(&evaluate(&request, json!({})));
    }
}
