//! The shared CSI driver allow-list (StorageClass provisioners, CSIDriver
//! names, inline CSI volumes) and the in-tree provisioner aliases.

use crate::glob::{DriverGlob, any_matches};
use crate::rules;
use crate::settings::{CsiDriverSettings, Mode};
use crate::settings_errors::SettingErrors;
use crate::storage::token_requests::TokenRequestRules;

/// In-tree provisioners and the CSI driver each one migrates to.
pub const IN_TREE_TO_CSI: &[(&str, &str)] = &[
    ("kubernetes.io/aws-ebs", "ebs.csi.aws.com"),
    ("kubernetes.io/gce-pd", "pd.csi.storage.gke.io"),
    ("kubernetes.io/azure-disk", "disk.csi.azure.com"),
    ("kubernetes.io/azure-file", "file.csi.azure.com"),
    ("kubernetes.io/cinder", "cinder.csi.openstack.org"),
    ("kubernetes.io/vsphere-volume", "csi.vsphere.vmware.com"),
    ("kubernetes.io/portworx-volume", "pxd.portworx.com"),
    ("kubernetes.io/rbd", "rbd.csi.ceph.com"),
];

pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// The CSI driver an in-tree provisioner name stands for.
pub fn csi_equivalent(provisioner: &str) -> Option<&'static str> {
    IN_TREE_TO_CSI
        .iter()
        .find(|(in_tree, _)| *in_tree == provisioner)
        .map(|(_, csi)| *csi)
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverRules {
    pub mode: Mode,
    allowed: Option<Vec<DriverGlob>>,
    ephemeral_allowed: Vec<DriverGlob>,
    /// Judged on CSIDriver objects only.
    pub token_requests: TokenRequestRules,
}

fn compile_list(list: &[String], path: &str, errors: &mut SettingErrors) -> Vec<DriverGlob> {
    list.iter()
        .enumerate()
        .filter_map(|(i, p)| {
            if let Some(csi) = csi_equivalent(p) {
                errors.add(
                    format!("{path}[{i}]"),
                    format!("{p} is an in-tree name: list {csi} instead"),
                );
                return None;
            }
            errors.parsed(format!("{path}[{i}]"), p, DriverGlob::parse(p))
        })
        .collect()
}

impl DriverRules {
    pub fn compile(settings: &CsiDriverSettings, errors: &mut SettingErrors) -> Self {
        let allowed = settings
            .allowed
            .as_ref()
            .map(|list| compile_list(list, rules::CSI_DRIVERS_ALLOWED, errors));
        let ephemeral_allowed = compile_list(
            &settings.ephemeral_allowed,
            rules::CSI_DRIVERS_EPHEMERAL_ALLOWED,
            errors,
        );
        if let Some(allowed) = &allowed {
            for (i, g) in ephemeral_allowed.iter().enumerate() {
                if g.is_literal() && !any_matches(allowed, &g.to_string()) {
                    errors.add(
                        format!("csiDrivers.ephemeralAllowed[{i}]"),
                        format!("{g} is not in csiDrivers.allowed"),
                    );
                }
            }
        }
        let token_requests = TokenRequestRules::compile(&settings.token_requests, errors);
        Self {
            mode: settings.mode,
            allowed,
            ephemeral_allowed,
            token_requests,
        }
    }

    /// Why a driver is not allowed, or `None` when it is.
    pub fn refusal(&self, driver: &str) -> Option<String> {
        let allowed = self.allowed.as_ref()?;
        if any_matches(allowed, driver) {
            None
        } else {
            Some(format!("CSI driver {driver} is not in csiDrivers.allowed"))
        }
    }

    pub fn ephemeral_allowed(&self, driver: &str) -> bool {
        any_matches(&self.ephemeral_allowed, driver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_in_tree_name_has_its_csi_driver() {
        assert_eq!(
            csi_equivalent("kubernetes.io/aws-ebs"),
            Some("ebs.csi.aws.com")
        );
        assert_eq!(
            csi_equivalent("kubernetes.io/rbd"),
            Some("rbd.csi.ceph.com")
        );
        assert_eq!(csi_equivalent(NO_PROVISIONER), None);
        assert_eq!(csi_equivalent("ebs.csi.aws.com"), None);
    }

    #[test]
    fn absent_allow_list_allows_any_driver_and_empty_allows_none() {
        let mut errors = SettingErrors::default();
        let any = DriverRules::compile(&CsiDriverSettings::default(), &mut errors);
        assert!(any.refusal("anything.example.com").is_none());
        let none = DriverRules::compile(
            &CsiDriverSettings {
                allowed: Some(vec![]),
                ..Default::default()
            },
            &mut errors,
        );
        assert!(none.refusal("ebs.csi.aws.com").is_some());
        assert!(errors.is_empty());
    }

    #[test]
    fn settings_refuse_bad_globs_and_in_tree_names() {
        let mut errors = SettingErrors::default();
        DriverRules::compile(
            &CsiDriverSettings {
                allowed: Some(vec!["*..x".into(), "kubernetes.io/aws-ebs".into()]),
                ephemeral_allowed: vec!["other.example.com".into()],
                ..Default::default()
            },
            &mut errors,
        );
        let errors = errors.into_vec();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("csiDrivers.allowed[0]")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("list ebs.csi.aws.com instead")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("csiDrivers.ephemeralAllowed[0]")),
            "{errors:?}"
        );
    }
}
