//! VolumeAttributesClasses (storage.k8s.io/v1, GA in Kubernetes 1.34): a
//! `driverName` and opaque `parameters` the external-resizer hands to the
//! driver's ControllerModifyVolume to change a live volume (IOPS,
//! throughput, type).
//!
//! Their parameters get their own rules (`volumeAttributesClasses.parameters`,
//! the schema and engine of `storageClasses.parameters`) rather than the
//! StorageClass entries: drivers read them with other code and accept other
//! keys (aws-ebs-csi-driver `pkg/driver/controller_modify_volume.go`,
//! `parseModifyVolumeParameters`: `switch key`, verbatim, `type`, `iops`,
//! `throughput`, `tagSpecification_*`; gcp-compute-persistent-disk-csi-driver
//! `pkg/parameters/parameters.go`, `ExtractModifyVolumeParameters`: `switch
//! strings.ToLower(key)`, only `iops` and `throughput`), so a StorageClass
//! rule such as a required `encrypted` would refuse every class.
//!
//! `driverName` and `parameters` are immutable (`ValidateVolumeAttributesClassUpdate`
//! in `pkg/apis/storage/validation/validation.go`), so an UPDATE with a
//! readable old object changes nothing judged and is accepted.

use serde_json::{Map, Value};

use super::parameters::{self, CompiledParameterRules};
use crate::drivers::DriverRules;
use crate::fields::{Reported, string, string_map};
use crate::rules;
use crate::settings::{Mode, VolumeAttributesClassSettings};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeAttributesClassRules {
    pub mode: Mode,
    parameters: Vec<CompiledParameterRules>,
}

impl VolumeAttributesClassRules {
    pub fn compile(settings: &VolumeAttributesClassSettings, errors: &mut SettingErrors) -> Self {
        Self {
            mode: settings.mode,
            parameters: parameters::compile(&settings.parameters, rules::VAC_PARAMETERS, errors),
        }
    }
}

pub fn evaluate(
    class: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &VolumeAttributesClassRules,
    drivers: &DriverRules,
) -> Findings {
    let mut findings = Findings::default();
    if old.is_some() {
        return findings;
    }
    let driver = match string(class, "driverName", || "driverName".into(), &mut findings) {
        Ok(Some(d)) if !d.is_empty() => d,
        Ok(_) => {
            findings.push(Violation::new(
                "driverName",
                "null",
                rules::UNREADABLE,
                "a VolumeAttributesClass needs a driverName",
            ));
            return findings;
        }
        Err(Reported) => return findings,
    };
    if let Some(reason) = drivers.refusal(driver) {
        findings.push(Violation::new(
            "driverName",
            render_str(driver),
            rules::CSI_DRIVERS_ALLOWED,
            reason,
        ));
    }
    let params = string_map(class, "parameters", "parameters", &mut findings);
    parameters::check_keys(&params, "parameters", rules::VAC_PARAMETERS, &mut findings);
    parameters::check(
        driver,
        &params,
        &rules.parameters,
        rules::VAC_PARAMETERS,
        &mut findings,
    );
    findings
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::test_support::*;

    fn settings(parameters: Value) -> Value {
        json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com", "pd.csi.storage.gke.io"]},
            "volumeAttributesClasses": {"parameters": parameters}})
    }

    #[test]
    fn driver_and_parameters_are_judged() {
        let rules = json!([{"provisioner": "ebs.csi.aws.com", "allowedValues": {"type": ["gp3", "io2"]},
            "forbidden": ["iopsPerGB"]},
            {"provisioner": "pd.csi.storage.gke.io", "required": {"iops": []}}]);
        assert_accepted_untouched(&run("vac-ebs-io2.json", settings(rules.clone())));
        assert_accepted_untouched(&run("vac-gce-pd-silver.json", settings(rules.clone())));
        let request = edited("vac-ebs-io2.json", |o| {
            o["parameters"]["type"] = json!("gp2");
            o["parameters"]["IopsPerGB"] = json!("50");
        });
        assert_violations(
            &evaluate(&request, settings(rules)),
            2,
            &[
                "parameters.type=\"gp2\": must be exactly one of [\"gp3\", \"io2\"] (parameters[0].allowedValues) [volumeAttributesClasses.parameters]",
                "parameters.IopsPerGB=\"50\": forbidden for ebs.csi.aws.com by parameters[0] [volumeAttributesClasses.parameters]",
            ],
        );
        let other = json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}});
        assert_rejected(
            &run("vac-gce-pd-silver.json", other),
            &[
                "driverName=\"pd.csi.storage.gke.io\": CSI driver pd.csi.storage.gke.io is not in csiDrivers.allowed [csiDrivers.allowed]",
            ],
        );
    }

    #[test]
    fn an_update_changes_nothing_judged() {
        let strict = json!({"csiDrivers": {"allowed": []}});
        assert!(!run("vac-ebs-io2.json", strict.clone()).accepted);
        assert_accepted_untouched(&run("vac-ebs-io2-relabel.json", strict.clone()));
        let mut delete = fixture("vac-ebs-io2.json");
        delete["operation"] = json!("DELETE");
        delete["oldObject"] = delete["object"].take();
        assert_accepted_untouched(&evaluate(&delete, strict));
    }

    #[test]
    fn unreadable_classes_are_refused() {
        let request = edited("vac-ebs-io2.json", |o| o["driverName"] = json!(null));
        assert_rejected(
            &evaluate(&request, json!({})),
            &["driverName=null: a VolumeAttributesClass needs a driverName [readable object]"],
        );
        let request = edited("vac-ebs-io2.json", |o| {
            o["parameters"]["iops"] = json!(3000)
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &["parameters.iops=3000: expected a string, found a number [readable object]"],
        );
        let request = edited("vac-ebs-io2.json", |o| {
            o["parameters"]["Type"] = json!("gp3")
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &[
                "parameter keys collide once trimmed and lower-cased (type) [volumeAttributesClasses.parameters]",
            ],
        );
    }

    #[test]
    fn bad_parameter_settings_are_refused_with_their_path() {
        assert_settings_refused(
            &settings(json!([{"provisioner": "ebs.csi.*.com.", "allowedValues": {"type": []}}])),
            &[
                "volumeAttributesClasses.parameters[0].provisioner",
                "volumeAttributesClasses.parameters[0].allowedValues.type: empty list",
            ],
        );
        assert_settings_refused(
            &json!({"volumeAttributesClasses": {"mode": "audit"}}),
            &["volumeAttributesClasses.mode"],
        );
    }
}
