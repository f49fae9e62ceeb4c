//! Generic ephemeral volumes (`volumes[].ephemeral.volumeClaimTemplate`):
//! the ephemeral volume controller creates one PVC per pod from the
//! template (`pkg/controller/volume/ephemeral/controller.go`,
//! `handleVolume`), so a DaemonSet creates one per node, of the class it
//! names.

use serde_json::{Map, Value};

use super::POD_SPEC;
use crate::fields::{Reported, object, string};
use crate::rules;
use crate::settings::EphemeralVolumeSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

/// A StorageClass or VolumeAttributesClass name: a DNS subdomain
/// (`""` for no class is allowed among StorageClass names).
fn valid_class_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Validates the settings (they are used as they are).
pub fn validate_settings(settings: &EphemeralVolumeSettings, errors: &mut SettingErrors) {
    let lists = [
        (
            rules::EPHEMERAL_STORAGE_CLASS_NAMES,
            &settings.storage_class_names,
            true,
        ),
        (
            rules::EPHEMERAL_VOLUME_ATTRIBUTES_CLASS_NAMES,
            &settings.volume_attributes_class_names,
            false,
        ),
    ];
    for (path, list, empty_allowed) in lists {
        for (i, name) in list.iter().flatten().enumerate() {
            if !(valid_class_name(name) || empty_allowed && name.is_empty()) {
                errors.add(
                    format!("{path}[{i}]"),
                    format!("{name:?} is not a class name (DNS subdomain)"),
                );
            }
        }
    }
    if settings.allow_default_class && settings.storage_class_names.is_none() {
        errors.add(
            "daemonSets.ephemeralVolumes.allowDefaultClass",
            "only meaningful with storageClassNames (without it every class is allowed)",
        );
    }
}

pub fn check(
    pod_spec: &Map<String, Value>,
    settings: &EphemeralVolumeSettings,
    findings: &mut Findings,
) {
    if settings.storage_class_names.is_none() && settings.volume_attributes_class_names.is_none() {
        return;
    }
    // An unreadable list or volume was already reported by the hostPath rule.
    let Some(Value::Array(volumes)) = pod_spec.get("volumes") else {
        return;
    };
    for (v, volume) in volumes.iter().enumerate() {
        let Value::Object(volume) = volume else {
            continue;
        };
        let path = format!("{POD_SPEC}.volumes[{v}].ephemeral");
        let Some(ephemeral) = object(volume, "ephemeral", || path.clone(), findings) else {
            continue;
        };
        let template_path = format!("{path}.volumeClaimTemplate");
        let Some(template) = object(
            ephemeral,
            "volumeClaimTemplate",
            || template_path.clone(),
            findings,
        ) else {
            continue;
        };
        let spec_path = format!("{template_path}.spec");
        if let Some(spec) = object(template, "spec", || spec_path.clone(), findings) {
            check_claim(spec, &spec_path, settings, findings);
        }
    }
}

fn check_claim(
    spec: &Map<String, Value>,
    spec_path: &str,
    settings: &EphemeralVolumeSettings,
    findings: &mut Findings,
) {
    if let Some(allowed) = &settings.storage_class_names {
        let field = format!("{spec_path}.storageClassName");
        match string(spec, "storageClassName", || field.clone(), findings) {
            // Unset: the DefaultStorageClass admission plugin picks the
            // default class when each PVC is created (`""` asks for no
            // class and is a name like any other here). That class is not
            // known now and may change: allowed only by `allowDefaultClass`.
            Ok(None) => {
                if !settings.allow_default_class {
                    findings.push(Violation::new(
                        field,
                        "unset",
                        rules::EPHEMERAL_STORAGE_CLASS_NAMES,
                        "no storageClassName: the cluster's default class, unknown here (allowDefaultClass is off)",
                    ));
                }
            }
            Ok(Some(name)) => {
                if !allowed.iter().any(|a| a == name) {
                    findings.push(Violation::new(
                        field,
                        render_str(name),
                        rules::EPHEMERAL_STORAGE_CLASS_NAMES,
                        format!("StorageClass {name:?} is not in {allowed:?}"),
                    ));
                }
            }
            Err(Reported) => {}
        }
    }
    if let Some(allowed) = &settings.volume_attributes_class_names {
        let field = format!("{spec_path}.volumeAttributesClassName");
        if let Ok(Some(name)) = string(
            spec,
            "volumeAttributesClassName",
            || field.clone(),
            findings,
        ) && !name.is_empty()
            && !allowed.iter().any(|a| a == name)
        {
            findings.push(Violation::new(
                field,
                render_str(name),
                rules::EPHEMERAL_VOLUME_ATTRIBUTES_CLASS_NAMES,
                format!("VolumeAttributesClass {name:?} is not in {allowed:?}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn claim_templates_name_allowed_classes() {
        let settings = json!({"daemonSets": {"ephemeralVolumes": {
            "storageClassNames": ["local-nvme"], "volumeAttributesClassNames": ["fast"]}}});
        assert_accepted_untouched(&run("daemonset-ephemeral-volume.json", settings));
        let settings = json!({"daemonSets": {"ephemeralVolumes": {
            "storageClassNames": ["gp3"], "volumeAttributesClassNames": []}}});
        assert_violations(
            &run("daemonset-ephemeral-volume.json", settings),
            2,
            &[
                "spec.template.spec.volumes[1].ephemeral.volumeClaimTemplate.spec.storageClassName=\"local-nvme\": StorageClass \"local-nvme\" is not in [\"gp3\"] [daemonSets.ephemeralVolumes.storageClassNames]",
                "volumeAttributesClassName=\"fast\": VolumeAttributesClass \"fast\" is not in [] [daemonSets.ephemeralVolumes.volumeAttributesClassNames]",
            ],
        );
    }

    #[test]
    fn the_default_class_needs_its_setting() {
        let request = edited("daemonset-ephemeral-volume.json", |ds| {
            let spec = &mut ds["spec"]["template"]["spec"]["volumes"][1]["ephemeral"]["volumeClaimTemplate"]
                ["spec"];
            spec.as_object_mut().map(|s| s.remove("storageClassName"));
        });
        let settings =
            json!({"daemonSets": {"ephemeralVolumes": {"storageClassNames": ["local-nvme"]}}});
        assert_rejected(
            &evaluate(&request, settings),
            &["storageClassName=unset: no storageClassName"],
        );
        let settings = json!({"daemonSets": {"ephemeralVolumes": {
            "storageClassNames": ["local-nvme"], "allowDefaultClass": true}}});
        assert_accepted_untouched(&evaluate(&request, settings));
        assert_accepted_untouched(&evaluate(&request, json!({})));
    }
}
