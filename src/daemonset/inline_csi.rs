//! Inline CSI volumes (`spec.template.spec.volumes[].csi`): their driver must
//! be in the shared allow-list `csiDrivers.allowed`, compiled once for every
//! kind by [`DriverRules::compile`](crate::drivers::DriverRules::compile),
//! and each `csiDrivers.inline` entry whose glob matches the driver judges
//! what the pod author hands the driver.
//!
//! kubelet passes an inline volume to the driver as it is written
//! (`pkg/volume/csi/csi_mounter.go`, `SetUpAt`: for an ephemeral volume
//! `volAttribs = csiSource.VolumeAttributes` becomes the NodePublishVolume
//! `volume_context`, the `nodePublishSecretRef` is read from the pod's own
//! namespace, and `readOnly` (`getReadOnlyFromSpec`, `csiSource.ReadOnly`)
//! becomes the request's `readonly`). Drivers read the attributes as they
//! read StorageClass parameters: csi-driver-nfs (`pkg/nfs/nodeserver.go`,
//! `NodePublishVolume`: `switch strings.ToLower(k)`) and csi-driver-smb
//! (`pkg/smb/nodeserver.go`, `NodeStageVolume`: `switch strings.ToLower(k)`)
//! fold keys, secrets-store-csi-driver (`pkg/secrets-store/nodeserver.go`,
//! `NodePublishVolume`: `attrib[secretProviderClassField]`) reads
//! `secretProviderClass` verbatim. So `volumeAttributes` are judged by the
//! StorageClass parameter engine (`storage/parameters.rs`), which takes the
//! reading that refuses more, and refuses non-ASCII and colliding keys.

use serde_json::{Map, Value};

use super::POD_SPEC;
use crate::drivers::DriverRules;
use crate::fields::{Reported, boolean, get, object, string, string_map};
use crate::glob::DriverGlob;
use crate::json_path::{Entry, Field};
use crate::rules;
use crate::settings::InlineCsiRules;
use crate::settings_errors::SettingErrors;
use crate::storage::parameters::{self, KeyRules, Scope};
use crate::violation::{Findings, Violation, render, render_str};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Required,
    Forbidden,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledInline {
    index: usize,
    driver: DriverGlob,
    namespaces: Option<Vec<String>>,
    attributes: KeyRules,
    secret_ref: Option<Presence>,
    read_only: bool,
}

pub fn compile(entries: &[InlineCsiRules], errors: &mut SettingErrors) -> Vec<CompiledInline> {
    let mut compiled = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let path = Entry {
            base: &"csiDrivers.inline",
            index: i,
        };
        let secret_ref = match entry.node_publish_secret_ref.as_deref() {
            None => None,
            Some("required") => Some(Presence::Required),
            Some("forbidden") => Some(Presence::Forbidden),
            Some(other) => {
                errors.add(
                    format!("{path}.nodePublishSecretRef"),
                    format!("{other:?} is neither \"required\" nor \"forbidden\""),
                );
                None
            }
        };
        for (n, namespace) in entry.namespaces.iter().flatten().enumerate() {
            if namespace.is_empty() {
                errors.add(format!("{path}.namespaces[{n}]"), "empty namespace");
            }
        }
        let rules = &entry.volume_attributes;
        let attributes = KeyRules::compile(
            i,
            &Field {
                base: &path,
                name: "volumeAttributes",
            },
            &rules.required,
            &rules.forbidden,
            &rules.allowed_values,
            errors,
        );
        let Some(driver) = errors.parsed(
            format_args!("{path}.driver"),
            &entry.driver,
            DriverGlob::parse(&entry.driver),
        ) else {
            continue;
        };
        compiled.push(CompiledInline {
            index: i,
            driver,
            namespaces: entry.namespaces.clone(),
            attributes,
            secret_ref,
            read_only: entry.read_only,
        });
    }
    compiled
}

/// Judges the inline CSI volumes of a pod spec in `namespace`.
pub fn check(
    pod_spec: &Map<String, Value>,
    namespace: &str,
    drivers: &DriverRules,
    findings: &mut Findings,
) {
    // An unreadable list was already reported by the hostPath rule.
    let Some(Value::Array(volumes)) = pod_spec.get("volumes") else {
        return;
    };
    for (v, volume) in volumes.iter().enumerate() {
        // Unreadable volumes were already reported by the hostPath rule.
        let Value::Object(volume) = volume else {
            continue;
        };
        // Most volumes are not CSI volumes: no path for them.
        let Some(csi) = object(
            volume,
            "csi",
            || format!("{POD_SPEC}.volumes[{v}].csi"),
            findings,
        ) else {
            continue;
        };
        let path = format!("{POD_SPEC}.volumes[{v}].csi");
        let field = format!("{path}.driver");
        match string(csi, "driver", || field.clone(), findings) {
            Ok(Some(driver)) => {
                if let Some(reason) = drivers.refusal(driver) {
                    findings.push(Violation::new(
                        field,
                        render_str(driver),
                        rules::CSI_DRIVERS_ALLOWED,
                        reason,
                    ));
                }
                check_entries(csi, &path, driver, namespace, &drivers.inline, findings);
            }
            Ok(None) => findings.push(Violation::new(
                field,
                "null",
                rules::CSI_DRIVERS_ALLOWED,
                "inline CSI volume without a driver",
            )),
            Err(Reported) => {}
        }
    }
}

fn check_entries(
    csi: &Map<String, Value>,
    path: &str,
    driver: &str,
    namespace: &str,
    entries: &[CompiledInline],
    findings: &mut Findings,
) {
    let mut matching = entries
        .iter()
        .filter(|e| e.driver.matches(driver))
        .peekable();
    if matching.peek().is_none() {
        return;
    }
    let attributes_path = format!("{path}.volumeAttributes");
    let attributes = string_map(csi, "volumeAttributes", &attributes_path, findings);
    parameters::check_keys(
        &attributes,
        &attributes_path,
        rules::INLINE_VOLUME_ATTRIBUTES,
        findings,
    );
    let secret_path = format!("{path}.nodePublishSecretRef");
    // API validation (`validateCSIVolumeSource`) requires a name in a
    // present reference, and kubelet fetches the secret whenever the
    // reference is not nil: presence is what counts.
    let secret = get(csi, "nodePublishSecretRef");
    let secret_readable = secret.is_none()
        || object(
            csi,
            "nodePublishSecretRef",
            || secret_path.clone(),
            findings,
        )
        .is_some();
    let read_only_path = || format!("{path}.readOnly");
    let read_only = boolean(csi, "readOnly", read_only_path, findings);
    let scope = Scope {
        field: &attributes_path,
        rule: rules::INLINE_VOLUME_ATTRIBUTES,
        entry: "inline",
    };
    for entry in matching {
        let i = entry.index;
        if let Some(allowed) = &entry.namespaces
            && !allowed.iter().any(|n| n == namespace)
        {
            findings.push(Violation::new(
                format!("{path}.driver"),
                render_str(driver),
                rules::INLINE_NAMESPACES,
                format!(
                    "namespace {namespace:?} may not use {driver} inline (csiDrivers.inline[{i}].namespaces)"
                ),
            ));
        }
        entry.attributes.check(driver, &attributes, scope, findings);
        match (entry.secret_ref, secret) {
            (Some(Presence::Required), None) => findings.push(Violation::new(
                secret_path.clone(),
                "unset",
                rules::INLINE_SECRET_REF,
                format!("required for {driver} by csiDrivers.inline[{i}]"),
            )),
            (Some(Presence::Forbidden), Some(value)) if secret_readable => {
                findings.push(Violation::new(
                    secret_path.clone(),
                    render(value),
                    rules::INLINE_SECRET_REF,
                    format!(
                        "forbidden for {driver} by csiDrivers.inline[{i}]: the driver would receive a Secret of the pod's namespace"
                    ),
                ))
            }
            _ => {}
        }
        if entry.read_only && read_only.is_ok_and(|r| r != Some(true)) {
            findings.push(Violation::new(
                read_only_path(),
                get(csi, "readOnly").map_or_else(|| "unset".into(), render),
                rules::INLINE_READ_ONLY,
                format!(
                    "{driver} volumes must be readOnly: true (csiDrivers.inline[{i}].readOnly)"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn inline_csi_volumes_need_an_allowed_driver() {
        let settings =
            json!({"csiDrivers": {"allowed": ["secrets-store.csi.k8s.io", "*.csi.aws.com"]}});
        assert_accepted_untouched(&run("daemonset-inline-csi.json", settings.clone()));
        let response = run("daemonset-inline-csi-unapproved.json", settings);
        assert_violations(
            &response,
            1,
            &[
                "spec.template.spec.volumes[2].csi.driver=\"evil.csi.attacker.io\": CSI driver evil.csi.attacker.io is not in csiDrivers.allowed [csiDrivers.allowed]",
            ],
        );
    }

    #[test]
    fn any_inline_driver_is_allowed_without_an_allow_list() {
        assert_accepted_untouched(&run("daemonset-inline-csi-unapproved.json", json!({})));
    }

    #[test]
    fn an_inline_volume_without_driver_is_refused() {
        let request = edited("daemonset-inline-csi.json", |object| {
            let volumes = &mut object["spec"]["template"]["spec"]["volumes"];
            if let Some(volumes) = volumes.as_array_mut() {
                for volume in volumes {
                    if let Some(csi) = volume.get_mut("csi") {
                        csi["driver"] = json!(null);
                    }
                }
            }
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &["csi.driver=null: inline CSI volume without a driver [csiDrivers.allowed]"],
        );
    }

    fn nfs_settings(entry: serde_json::Value) -> serde_json::Value {
        json!({"csiDrivers": {"inline": [entry]}})
    }

    #[test]
    fn nfs_attributes_are_judged_as_the_driver_folds_them() {
        let settings = nfs_settings(json!({"driver": "nfs.csi.k8s.io",
            "volumeAttributes": {"required": {"server": ["nfs.storage.example.com"]},
                "forbidden": ["mountoptions"]}}));
        let response = run("daemonset-inline-nfs.json", settings);
        assert_violations(
            &response,
            2,
            &[
                "spec.template.spec.volumes[0].csi.volumeAttributes.server=\"nfs-server.default.svc.cluster.local\": must be exactly one of [\"nfs.storage.example.com\"] (inline[0].required) [csiDrivers.inline.volumeAttributes]",
                "spec.template.spec.volumes[0].csi.volumeAttributes.mountOptions=\"nfsvers=4.1,sec=sys\": forbidden for nfs.csi.k8s.io by inline[0] [csiDrivers.inline.volumeAttributes]",
            ],
        );
    }

    #[test]
    fn colliding_and_non_ascii_attribute_keys_are_refused_once_an_entry_applies() {
        let request = edited("daemonset-inline-nfs.json", |o| {
            let attributes =
                &mut o["spec"]["template"]["spec"]["volumes"][0]["csi"]["volumeAttributes"];
            attributes["Server"] = json!("evil.example.com");
            attributes["\u{130}d"] = json!("x");
        });
        assert_accepted_untouched(&evaluate(&request, json!({})));
        let response = evaluate(&request, nfs_settings(json!({"driver": "*.csi.k8s.io"})));
        assert_violations(
            &response,
            2,
            &[
                "parameter keys collide once trimmed and lower-cased (server)",
                "parameter key is not ASCII",
            ],
        );
    }

    #[test]
    fn namespaces_limit_who_uses_a_driver_inline() {
        let settings =
            nfs_settings(json!({"driver": "smb.csi.k8s.io", "namespaces": ["file-shares"]}));
        assert_rejected(
            &run("daemonset-inline-smb.json", settings),
            &[
                "spec.template.spec.volumes[0].csi.driver=\"smb.csi.k8s.io\": namespace \"default\" may not use smb.csi.k8s.io inline (csiDrivers.inline[0].namespaces) [csiDrivers.inline.namespaces]",
            ],
        );
        let settings = nfs_settings(json!({"driver": "smb.csi.k8s.io", "namespaces": ["default"]}));
        assert_accepted_untouched(&run("daemonset-inline-smb.json", settings));
    }

    #[test]
    fn secret_refs_and_read_only() {
        let settings = nfs_settings(json!({"driver": "secrets-store.csi.k8s.io",
            "nodePublishSecretRef": "required", "readOnly": true}));
        assert_rejected(
            &run("daemonset-inline-secrets-store.json", settings.clone()),
            &[
                "spec.template.spec.volumes[0].csi.nodePublishSecretRef=unset: required for secrets-store.csi.k8s.io by csiDrivers.inline[0] [csiDrivers.inline.nodePublishSecretRef]",
            ],
        );
        let request = edited("daemonset-inline-secrets-store.json", |o| {
            let csi = &mut o["spec"]["template"]["spec"]["volumes"][0]["csi"];
            csi["nodePublishSecretRef"] = json!({"name": "secrets-store-creds"});
            csi["readOnly"] = json!(false);
        });
        assert_violations(
            &evaluate(&request, settings),
            1,
            &[
                "spec.template.spec.volumes[0].csi.readOnly=false: secrets-store.csi.k8s.io volumes must be readOnly: true (csiDrivers.inline[0].readOnly) [csiDrivers.inline.readOnly]",
            ],
        );
        let forbidden = nfs_settings(
            json!({"driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": "forbidden"}),
        );
        assert_rejected(
            &evaluate(&request, forbidden.clone()),
            &[
                "csi.nodePublishSecretRef={...}: forbidden for secrets-store.csi.k8s.io by csiDrivers.inline[0]",
            ],
        );
        assert_accepted_untouched(&run("daemonset-inline-secrets-store.json", forbidden));
    }

    #[test]
    fn unreadable_inline_fields_are_refused() {
        let request = edited("daemonset-inline-secrets-store.json", |o| {
            let csi = &mut o["spec"]["template"]["spec"]["volumes"][0]["csi"];
            csi["nodePublishSecretRef"] = json!("creds");
            csi["readOnly"] = json!("true");
        });
        let settings = nfs_settings(
            json!({"driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": "forbidden", "readOnly": true}),
        );
        assert_violations(
            &evaluate(&request, settings),
            2,
            &[
                "nodePublishSecretRef=\"creds\": expected an object",
                "readOnly=\"true\": expected a boolean",
            ],
        );
    }

    #[test]
    fn bad_inline_settings_are_refused_with_their_path() {
        assert_settings_refused(
            &nfs_settings(
                json!({"driver": "*..x", "nodePublishSecretRef": "sometimes", "namespaces": [""],
                "volumeAttributes": {"forbidden": ["server"], "required": {"Server": []}}}),
            ),
            &[
                "csiDrivers.inline[0].driver",
                "csiDrivers.inline[0].nodePublishSecretRef: \"sometimes\" is neither",
                "csiDrivers.inline[0].namespaces[0]: empty namespace",
                "csiDrivers.inline[0].volumeAttributes.forbidden: \"Server\" is both forbidden and required",
            ],
        );
    }
}
