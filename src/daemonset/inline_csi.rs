//! Inline CSI volumes (`spec.template.spec.volumes[].csi`): their driver must
//! be in the shared allow-list `csiDrivers.allowed`, compiled once for every
//! kind by [`DriverRules::compile`](crate::drivers::DriverRules::compile).

use serde_json::{Map, Value};

use super::POD_SPEC;
use crate::drivers::DriverRules;
use crate::fields::{Reported, object, string};
use crate::rules;
use crate::violation::{Findings, Violation, render_str};

pub fn check(pod_spec: &Map<String, Value>, drivers: &DriverRules, findings: &mut Findings) {
    // An unreadable list was already reported by the hostPath rule.
    let Some(Value::Array(volumes)) = pod_spec.get("volumes") else {
        return;
    };
    for (v, volume) in volumes.iter().enumerate() {
        // Unreadable volumes were already reported by the hostPath rule.
        let Value::Object(volume) = volume else {
            continue;
        };
        let path = format!("{POD_SPEC}.volumes[{v}].csi");
        let Some(csi) = object(volume, "csi", || path.clone(), findings) else {
            continue;
        };
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
}
