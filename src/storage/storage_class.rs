//! StorageClasses: provisioner, parameters, secret references and the
//! mutable fields.

use serde_json::{Map, Value};

use super::{class_fields, parameters, secrets};
use crate::drivers::{DriverRules, IN_TREE_PREFIX, NO_PROVISIONER, csi_equivalent};
use crate::fields::{Reported, string, string_map};
use crate::operation::Operation;
use crate::rules;
use crate::settings::StorageClassSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StorageClassRules {
    settings: StorageClassSettings,
    parameters: Vec<parameters::CompiledParameterRules>,
}

impl StorageClassRules {
    pub fn compile(settings: StorageClassSettings, errors: &mut SettingErrors) -> Self {
        let parameters = parameters::compile(&settings.parameters, rules::PARAMETERS, errors);
        secrets::validate_settings(&settings.secrets, errors);
        class_fields::validate_settings(&settings, errors);
        Self {
            settings,
            parameters,
        }
    }

    pub fn mode(&self) -> crate::settings::Mode {
        self.settings.mode
    }

    /// Read by the PersistentVolume rules too (in-tree sources, secrets).
    pub fn settings(&self) -> &StorageClassSettings {
        &self.settings
    }

    pub fn default_class(&self) -> &crate::settings::DefaultClassSettings {
        &self.settings.default_class
    }
}

/// Judges a StorageClass. On CREATE everything is judged and the configured
/// values are set; on UPDATE (`old` when readable) only the fields Kubernetes
/// lets an update change (`allowVolumeExpansion`, `mountOptions`) and nothing is
/// mutated: provisioner, parameters, reclaimPolicy and volumeBindingMode are
/// immutable (`ValidateStorageClassUpdate`).
pub fn evaluate(
    object: &mut Map<String, Value>,
    operation: Operation,
    old: Option<&Map<String, Value>>,
    rules: &StorageClassRules,
    drivers: &DriverRules,
) -> Findings {
    let mut findings = Findings::default();
    let settings = &rules.settings;
    if operation == Operation::Create {
        class_fields::enforce(object, settings, &mut findings);
    }
    // Without a readable old object nothing is known to be unchanged, so
    // everything is judged (but an UPDATE is still never mutated).
    if old.is_none()
        && let Some(driver) = judge_provisioner(object, settings, drivers, &mut findings)
    {
        let params = string_map(object, "parameters", "parameters", &mut findings);
        parameters::check_keys(&params, "parameters", rules::PARAMETERS, &mut findings);
        parameters::check(
            &driver,
            &params,
            &rules.parameters,
            rules::PARAMETERS,
            &mut findings,
        );
        secrets::check(&params, &settings.secrets, &mut findings);
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
                rules::UNREADABLE,
                "a StorageClass needs a provisioner",
            ));
            return None;
        }
        Err(Reported) => return None,
    };
    let mut refuse = |rule: &'static str, reason: String| {
        findings.push(Violation::new(
            "provisioner",
            render_str(provisioner),
            rule,
            reason,
        ));
    };
    if provisioner == NO_PROVISIONER {
        if !settings.allow_no_provisioner {
            refuse(
                rules::ALLOW_NO_PROVISIONER,
                "statically provisioned local volumes are not allowed".into(),
            );
        }
        return None;
    }
    // In-tree: with the CSI driver it migrates to, if there is one.
    let in_tree = match csi_equivalent(provisioner) {
        Some(csi) => Some(Some(csi)),
        None => provisioner.starts_with(IN_TREE_PREFIX).then_some(None),
    };
    if let Some(csi) = in_tree
        && !settings.allow_in_tree_provisioners
    {
        refuse(
            rules::ALLOW_IN_TREE_PROVISIONERS,
            match csi {
                Some(csi) => format!("in-tree provisioner: use the CSI driver {csi} instead"),
                None => "in-tree provisioner without a CSI replacement".into(),
            },
        );
    }
    // A `kubernetes.io/<x>` name without a translation is judged as itself:
    // only an exact entry of `csiDrivers.allowed` allows it
    // (`DriverRules::refusal`), and the parameter rules see that name.
    let driver = match in_tree {
        Some(Some(csi)) => csi,
        Some(None) | None => provisioner,
    };
    if let Some(reason) = drivers.refusal(driver) {
        let reason = if driver == provisioner {
            reason
        } else {
            format!("{reason} (in-tree {provisioner} migrates to it)")
        };
        refuse(rules::CSI_DRIVERS_ALLOWED, reason);
    }
    Some(driver.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::test_support::*;

    fn ebs_only() -> Value {
        json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com", "*.rbd.csi.ceph.com"]}})
    }

    #[test]
    fn approved_driver_is_accepted_untouched() {
        assert_accepted_untouched(&run("storageclass-ebs-gp3.json", ebs_only()));
    }

    #[test]
    fn suffix_tricks_do_not_match_the_allow_list() {
        let response = run("storageclass-suffix-trick.json", ebs_only());
        assert_rejected(
            &response,
            &[
                "provisioner=\"evil-ebs.csi.aws.com.attacker.io\": CSI driver evil-ebs.csi.aws.com.attacker.io is not in csiDrivers.allowed",
            ],
        );
        let globbed = json!({"csiDrivers": {"allowed": ["*.csi.aws.com"]}});
        assert!(!run("storageclass-suffix-trick.json", globbed).accepted);
    }

    #[test]
    fn glob_star_stays_within_one_label() {
        assert_accepted_untouched(&run("storageclass-rook-ceph-block.json", ebs_only()));
        let response = run("storageclass-ceph-rbd-secrets.json", ebs_only());
        assert_rejected(
            &response,
            &["CSI driver rbd.csi.ceph.com is not in csiDrivers.allowed"],
        );
    }

    #[test]
    fn in_tree_provisioners_name_their_csi_driver() {
        let response = run("storageclass-gce-pd-intree.json", json!({}));
        assert_rejected(
            &response,
            &[
                "provisioner=\"kubernetes.io/gce-pd\": in-tree provisioner: use the CSI driver pd.csi.storage.gke.io instead [storageClasses.allowInTreeProvisioners]",
            ],
        );
        let allowed = json!({"storageClasses": {"allowInTreeProvisioners": true}, "csiDrivers": {"allowed": ["pd.csi.storage.gke.io"]}});
        assert_accepted_untouched(&run("storageclass-gce-pd-intree.json", allowed));
    }

    #[test]
    fn in_tree_alias_of_a_forbidden_driver_is_caught() {
        let settings = json!({"storageClasses": {"allowInTreeProvisioners": true}, "csiDrivers": {"allowed": ["ebs.csi.aws.com"]}});
        let response = run("storageclass-gce-pd-intree.json", settings);
        assert_rejected(
            &response,
            &[
                "CSI driver pd.csi.storage.gke.io is not in csiDrivers.allowed (in-tree kubernetes.io/gce-pd migrates to it)",
            ],
        );
    }

    #[test]
    fn parameter_rules_see_through_case_and_whitespace() {
        let settings = json!({"storageClasses": {"parameters": [{
            "provisioner": "ebs.csi.aws.com",
            "required": {"encrypted": ["true"]},
            "forbidden": ["iopsPerGB"],
            "allowedValues": {"type": ["gp3", "io2"]}
        }]}});
        assert_accepted_untouched(&run("storageclass-ebs-gp3.json", settings.clone()));
        let response = run("storageclass-parameters-case.json", settings);
        assert_violations(
            &response,
            3,
            &[
                "parameters.encrypted=missing: required for ebs.csi.aws.com by parameters[0] (\" Encrypted \" is not the same key)",
                "parameters.IopsPerGB=\"50\": forbidden for ebs.csi.aws.com by parameters[0]",
                "parameters.Type=\"io1\": must be exactly one of [\"gp3\", \"io2\"] (parameters[0].allowedValues)",
            ],
        );
    }

    #[test]
    fn required_values_match_exactly() {
        let settings = json!({"storageClasses": {"parameters": [{"provisioner": "ebs.csi.aws.com", "required": {"encrypted": ["true"]}}]}});
        let request = edited("storageclass-ebs-gp3.json", |object| {
            object["parameters"]["encrypted"] = json!("TRUE");
        });
        assert_rejected(
            &evaluate(&request, settings),
            &[
                "parameters.encrypted=\"TRUE\": must be exactly one of [\"true\"] (parameters[0].required)",
            ],
        );
    }

    #[test]
    fn missing_required_parameter_is_reported() {
        let settings = json!({"storageClasses": {"parameters": [{"provisioner": "*.csi.aws.com", "required": {"kmsKeyId": []}}]}});
        let response = run("storageclass-ebs-gp3.json", settings);
        assert_rejected(
            &response,
            &["parameters.kmsKeyId=missing: required for ebs.csi.aws.com by parameters[0]"],
        );
    }

    #[test]
    fn colliding_parameter_keys_are_refused() {
        let request = edited("storageclass-ebs-gp3.json", |object| {
            object["parameters"]["Encrypted"] = json!("false");
        });
        let response = evaluate(&request, json!({}));
        assert_rejected(
            &response,
            &["parameter keys collide once trimmed and lower-cased (encrypted)"],
        );
    }

    #[test]
    fn secret_namespaces_must_be_allowed() {
        let settings = json!({"storageClasses": {"secrets": {"allowedNamespaces": ["rook-ceph"]}}});
        assert_accepted_untouched(&run("storageclass-ceph-rbd-secrets.json", settings));
        let settings =
            json!({"storageClasses": {"secrets": {"allowedNamespaces": ["kube-system"]}}});
        let response = run("storageclass-ceph-rbd-secrets.json", settings);
        assert_violations(
            &response,
            3,
            &[
                "parameters.csi.storage.k8s.io/node-stage-secret-namespace=\"rook-ceph\": secret namespace \"rook-ceph\" is not in allowedNamespaces [\"kube-system\"] [storageClasses.secrets]",
            ],
        );
    }

    #[test]
    fn templated_secret_references_need_explicit_permission() {
        let response = run("storageclass-templated-secrets.json", json!({}));
        assert_violations(
            &response,
            5,
            &[
                "parameters.csi.storage.k8s.io/node-stage-secret-name=\"${pvc.annotations['team.example.com/smb-secret']}\": a PVC annotation template lets the PVC author choose the Secret",
                "parameters.csi.storage.k8s.io/node-publish-secret-namespace=\"${pvc.namespace}\": ${pvc.namespace} is not allowed",
            ],
        );
        let settings = json!({"storageClasses": {"secrets": {"allowPvcNamespaceTemplate": true}}});
        assert_eq!(
            violation_count(&run("storageclass-templated-secrets.json", settings)),
            2
        );
        let settings = json!({"storageClasses": {"secrets": {"allowPvcNamespaceTemplate": true, "allowPvcAnnotationTemplates": true, "allowedNamespaces": ["kube-system"]}}});
        assert_accepted_untouched(&run("storageclass-templated-secrets.json", settings));
    }

    #[test]
    fn no_provisioner_is_its_own_case() {
        let settings = json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}});
        assert_accepted_untouched(&run("storageclass-local-no-provisioner.json", settings));
        let settings = json!({"storageClasses": {"allowNoProvisioner": false}});
        assert_rejected(
            &run("storageclass-local-no-provisioner.json", settings),
            &["[storageClasses.allowNoProvisioner]"],
        );
    }

    #[test]
    fn values_are_enforced_on_create_keeping_unknown_fields() {
        let settings = json!({"storageClasses": {
            "volumeBindingMode": {"allowed": ["WaitForFirstConsumer"], "set": "WaitForFirstConsumer"},
            "allowVolumeExpansion": {"allowed": [true], "set": true},
            "reclaimPolicy": {"allowed": ["Delete", "Retain"]},
            // A default class: without a cluster to ask, defaultClass
            // would add its "not checked" warning.
            "defaultClass": {"unique": false}
        }});
        let request = fixture("storageclass-default-annotated.json");
        let response = evaluate(&request, settings.clone());
        assert!(response.accepted, "{:?}", response.message);
        let mut expected = request["object"].clone();
        expected["volumeBindingMode"] = json!("WaitForFirstConsumer");
        expected["allowVolumeExpansion"] = json!(true);
        assert_eq!(response.mutated_object, Some(expected));
        assert_eq!(
            warnings(&response),
            [
                "mutated: volumeBindingMode set to WaitForFirstConsumer (was Immediate)",
                "mutated: allowVolumeExpansion set to true (was false)",
            ]
        );
        assert_accepted_untouched(&reevaluate(&request, &response, settings));
    }

    /// `set` replaces the API server's default and values outside
    /// `allowed`, never another allowed value the author wrote.
    #[rstest::rstest]
    #[case::retain_stays(json!({"reclaimPolicy": {"allowed": ["Delete", "Retain"], "set": "Delete"}}), "reclaimPolicy", json!("Retain"), json!("Retain"))]
    #[case::default_replaced(json!({"reclaimPolicy": {"allowed": ["Delete", "Retain"], "set": "Retain"}}), "reclaimPolicy", json!("Delete"), json!("Retain"))]
    #[case::outside_allowed_replaced(json!({"reclaimPolicy": {"allowed": ["Retain"], "set": "Retain"}}), "reclaimPolicy", json!("Delete"), json!("Retain"))]
    #[case::binding_mode_chosen_stays(json!({"volumeBindingMode": {"set": "Immediate"}}), "volumeBindingMode", json!("WaitForFirstConsumer"), json!("WaitForFirstConsumer"))]
    #[case::binding_mode_outside_allowed_replaced(json!({"volumeBindingMode": {"allowed": ["Immediate"], "set": "Immediate"}}), "volumeBindingMode", json!("WaitForFirstConsumer"), json!("Immediate"))]
    #[case::explicit_false_stays(json!({"allowVolumeExpansion": {"set": true}}), "allowVolumeExpansion", json!(false), json!(false))]
    #[case::explicit_true_stays(json!({"allowVolumeExpansion": {"allowed": [true, false], "set": false}}), "allowVolumeExpansion", json!(true), json!(true))]
    #[case::unset_expansion_set(json!({"allowVolumeExpansion": {"set": true}}), "allowVolumeExpansion", Value::Null, json!(true))]
    #[case::expansion_outside_allowed_replaced(json!({"allowVolumeExpansion": {"allowed": [true], "set": true}}), "allowVolumeExpansion", json!(false), json!(true))]
    fn set_keeps_an_explicit_allowed_choice(
        #[case] rules: Value,
        #[case] field: &str,
        #[case] written: Value,
        #[case] result: Value,
    ) {
        let settings = json!({"storageClasses": rules});
        let request = edited("storageclass-ebs-gp3.json", |object| {
            object[field] = written.clone();
        });
        let response = evaluate(&request, settings);
        assert!(response.accepted, "{:?}", response.message);
        let object = response
            .mutated_object
            .unwrap_or_else(|| request["object"].clone());
        assert_eq!(object[field], result);
    }

    #[rstest::rstest]
    #[case::dotless_i("İopsPerGB")]
    #[case::kelvin_sign("\u{212A}msKeyId")]
    #[case::long_s("encrypted\u{17F}")]
    #[case::no_break_space("\u{a0}type")]
    fn non_ascii_parameter_keys_are_refused(#[case] key: &str) {
        let settings = json!({"storageClasses": {"parameters": [{"provisioner": "ebs.csi.aws.com", "forbidden": ["iopsPerGB"], "allowedValues": {"kmsKeyId": ["arn:aws:kms:key/a"]}}]}});
        let request = edited("storageclass-ebs-gp3.json", |object| {
            object["parameters"][key] = json!("x");
        });
        assert_rejected(
            &evaluate(&request, settings),
            &["parameter key is not ASCII: drivers fold keys with Go's strings.ToLower"],
        );
    }

    #[rstest::rstest]
    #[case::removed_plugin("kubernetes.io/glusterfs")]
    #[case::made_up("kubernetes.io/my-own")]
    #[case::upper_case_prefix("Kubernetes.IO/my-own")]
    fn untranslated_in_tree_names_need_an_exact_entry(#[case] name: &str) {
        let request = edited("storageclass-ebs-gp3.json", |object| {
            object["provisioner"] = json!(name);
        });
        let globbed = json!({"storageClasses": {"allowInTreeProvisioners": true}, "csiDrivers": {"allowed": ["ebs.csi.aws.com", "kubernetes.*", "*"]}});
        assert_rejected(
            &evaluate(&request, globbed),
            &["only listing it exactly in csiDrivers.allowed allows it"],
        );
        let listed = json!({"storageClasses": {"allowInTreeProvisioners": true}, "csiDrivers": {"allowed": ["ebs.csi.aws.com", "kubernetes.io/glusterfs", "kubernetes.io/my-own"]}});
        let response = evaluate(&request, listed);
        assert_eq!(
            response.accepted,
            name.starts_with("kubernetes.io/"),
            "{:?}",
            response.message
        );
    }

    #[test]
    fn allowed_values_are_judged_without_mutation() {
        let settings = json!({"storageClasses": {"volumeBindingMode": {"allowed": ["WaitForFirstConsumer"]}, "reclaimPolicy": {"allowed": ["Retain"]}}});
        let response = run("storageclass-default-annotated.json", settings);
        assert_rejected(
            &response,
            &[
                "reclaimPolicy=\"Delete\": must be one of [\"Retain\"] [storageClasses.reclaimPolicy.allowed]",
                "volumeBindingMode=\"Immediate\": must be one of [\"WaitForFirstConsumer\"]",
            ],
        );
    }

    #[test]
    fn mount_options_are_matched_by_name() {
        let settings = json!({"storageClasses": {"mountOptions": {"forbidden": ["uid", "gid"]}}});
        let response = run("storageclass-azure-file-csi.json", settings);
        assert_rejected(
            &response,
            &[
                "mountOptions[2]=\"uid=0\": mount option \"uid\" is forbidden",
                "mountOptions[3]=\"gid=0\"",
            ],
        );
        let settings = json!({"storageClasses": {"mountOptions": {"allowed": ["dir_mode", "file_mode", "mfsymlinks", "cache=strict", "actimeo", "uid=1000", "gid=1000"]}}});
        let response = run("storageclass-azure-file-csi.json", settings);
        assert_violations(
            &response,
            2,
            &["mountOptions[2]=\"uid=0\": mount option is not in the allowed list"],
        );
    }

    #[test]
    fn update_of_a_legacy_class_is_judged_on_what_can_change() {
        let strict = json!({
            "csiDrivers": {"allowed": ["ebs.csi.aws.com"]},
            "storageClasses": {"volumeBindingMode": {"allowed": ["Immediate"], "set": "Immediate"}, "allowVolumeExpansion": {"set": true}}
        });
        assert_accepted_untouched(&run("storageclass-update-legacy-label.json", strict));
    }

    #[test]
    fn update_without_old_object_is_judged_but_never_mutated() {
        let settings = json!({"storageClasses": {
            "volumeBindingMode": {"set": "WaitForFirstConsumer"},
            "allowVolumeExpansion": {"set": false},
            "mountOptions": {"forbidden": ["debug"]}
        }});
        let mut request = fixture("storageclass-update-mount-options.json");
        request["oldObject"] = Value::Null;
        let response = evaluate(&request, settings);
        assert_rejected(
            &response,
            &["mountOptions[1]=\"debug\": mount option \"debug\" is forbidden"],
        );
        assert!(response.mutated_object.is_none());
        assert_eq!(violation_count(&response), 1);
    }

    #[test]
    fn update_judges_only_added_mount_options_and_changed_expansion() {
        let settings = json!({"storageClasses": {"mountOptions": {"allowed": ["nfsvers=4.2"]}, "allowVolumeExpansion": {"allowed": [false]}}});
        let response = run("storageclass-update-mount-options.json", settings);
        assert_violations(
            &response,
            2,
            &[
                "mountOptions[1]=\"debug\": mount option is not in the allowed list",
                "allowVolumeExpansion=true: must be one of [false]",
            ],
        );
    }

    #[test]
    fn settings_refuse_bad_storage_rules() {
        let settings = json!({"storageClasses": {
            "parameters": [{"provisioner": "ebs.csi.*.com.", "required": {"type": []}, "forbidden": ["Type"]}],
            "reclaimPolicy": {"allowed": ["Recycle"]},
            "volumeBindingMode": {"allowed": ["Immediate"], "set": "WaitForFirstConsumer"},
            "mountOptions": {"allowed": ["debug"], "forbidden": ["debug"]},
            "secrets": {"allowedNamespaces": ["Kube_System"]}
        }});
        assert_settings_refused(
            &settings,
            &[
                "storageClasses.parameters[0].provisioner: \"ebs.csi.*.com.\": empty label",
                "storageClasses.reclaimPolicy.allowed[0]: \"Recycle\" is not one of",
                "storageClasses.volumeBindingMode.set: \"WaitForFirstConsumer\" is not in allowed",
                "storageClasses.mountOptions.allowed[0]: \"debug\" is also forbidden",
                "storageClasses.secrets.allowedNamespaces[0]: \"Kube_System\" is not a namespace name",
            ],
        );
        let contradictory = json!({"storageClasses": {"parameters": [{"provisioner": "ebs.csi.aws.com", "required": {"type": []}, "forbidden": ["Type"]}]}});
        assert_settings_refused(
            &contradictory,
            &["storageClasses.parameters[0].forbidden: \"type\" is both forbidden and required"],
        );
    }
}
