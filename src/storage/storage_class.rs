//! StorageClasses: provisioner, parameters, secret references and the
//! mutable fields.

use serde_json::{Map, Value};

use super::{class_fields, parameters, secrets};
use crate::drivers::{DriverRules, NO_PROVISIONER, csi_equivalent};
use crate::fields::{Reported, UNREADABLE, string, string_map};
use crate::settings::StorageClassSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StorageClassRules {
    settings: StorageClassSettings,
    parameters: Vec<parameters::CompiledParameterRules>,
}

impl StorageClassRules {
    pub fn compile(settings: &StorageClassSettings, errors: &mut SettingErrors) -> Self {
        let parameters = parameters::compile(&settings.parameters, errors);
        secrets::compile(&settings.secrets, errors);
        class_fields::compile(settings, errors);
        Self {
            settings: settings.clone(),
            parameters,
        }
    }

    pub fn mode(&self) -> crate::settings::Mode {
        self.settings.mode
    }
}

/// Judges a StorageClass. On CREATE everything is judged and the configured
/// values are set; on UPDATE (`old` given) only the fields Kubernetes lets an
/// update change (`allowVolumeExpansion`, `mountOptions`) and nothing is
/// mutated: provisioner, parameters, reclaimPolicy and volumeBindingMode are
/// immutable (`ValidateStorageClassUpdate`).
pub fn evaluate(
    object: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &StorageClassRules,
    drivers: &DriverRules,
) -> Findings {
    let mut findings = Findings::default();
    let settings = &rules.settings;
    if old.is_none() {
        class_fields::enforce(object, settings, &mut findings);
        if let Some(driver) = judge_provisioner(object, settings, drivers, &mut findings) {
            let params = string_map(object, "parameters", "parameters", &mut findings);
            let normalized = parameters::normalized_parameters(&params, &mut findings);
            parameters::check(
                &driver,
                &params,
                &normalized,
                &rules.parameters,
                &mut findings,
            );
            secrets::check(&params, &settings.secrets, &mut findings);
        }
    }
    class_fields::check(object, old, settings, &mut findings);
    findings
}

/// Checks the provisioner; returns the CSI driver name the parameter rules
/// apply to (the in-tree name translated), or `None` when there is none.
fn judge_provisioner(
    object: &Map<String, Value>,
    settings: &StorageClassSettings,
    drivers: &DriverRules,
    findings: &mut Findings,
) -> Option<String> {
    let provisioner = match string(object, "provisioner", || "provisioner".into(), findings) {
        Ok(Some(p)) if !p.is_empty() => p,
        Ok(_) => {
            findings.push(Violation::new(
                "provisioner",
                "null",
                UNREADABLE,
                "a StorageClass needs a provisioner",
            ));
            return None;
        }
        Err(Reported) => return None,
    };
    if provisioner == NO_PROVISIONER {
        if !settings.allow_no_provisioner {
            findings.push(Violation::new(
                "provisioner",
                render_str(provisioner),
                "storageClasses.allowNoProvisioner",
                "statically provisioned local volumes are not allowed",
            ));
        }
        return None;
    }
    let driver = match csi_equivalent(provisioner) {
        Some(csi) => {
            if !settings.allow_in_tree_provisioners {
                findings.push(Violation::new(
                    "provisioner",
                    render_str(provisioner),
                    "storageClasses.allowInTreeProvisioners",
                    format!("in-tree provisioner: use the CSI driver {csi} instead"),
                ));
            }
            csi
        }
        None if provisioner.starts_with("kubernetes.io/") => {
            if !settings.allow_in_tree_provisioners {
                findings.push(Violation::new(
                    "provisioner",
                    render_str(provisioner),
                    "storageClasses.allowInTreeProvisioners",
                    "in-tree provisioner without a CSI replacement",
                ));
            }
            return None;
        }
        None => provisioner,
    };
    if let Some(reason) = drivers.refusal(driver) {
        let reason = if driver == provisioner {
            reason
        } else {
            format!("{reason} (in-tree {provisioner} migrates to it)")
        };
        findings.push(Violation::new(
            "provisioner",
            render_str(provisioner),
            "csiDrivers.allowed",
            reason,
        ));
    }
    Some(driver.to_string())
}
