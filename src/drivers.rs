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

/// The prefix of in-tree plugin names. A `kubernetes.io/<x>` provisioner
/// that is no alias in `IN_TREE_TO_CSI` (a removed plugin such as
/// `kubernetes.io/glusterfs`, or a made-up name) is served by no in-tree
/// plugin with a CSI translation (csi-translation-lib `translate.go`,
/// `GetInTreeNameFromCSIName` / `IsMigratableIntreePluginByName` know only
/// those aliases), so whatever external provisioner answers to it is not an
/// approved driver: only an exact entry in `csiDrivers.allowed` allows it.
pub const IN_TREE_PREFIX: &str = "kubernetes.io/";

/// `name` starts with `kubernetes.io/`, in any case.
pub fn is_in_tree_name(name: &str) -> bool {
    name.get(..IN_TREE_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(IN_TREE_PREFIX))
}

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
    /// Exact `kubernetes.io/<x>` names listed in `csiDrivers.allowed`.
    allowed_in_tree: Vec<String>,
    ephemeral_allowed: Vec<DriverGlob>,
    /// Judged on CSIDriver objects only.
    pub token_requests: TokenRequestRules,
    /// Judged on inline CSI volumes only.
    pub inline: Vec<crate::daemonset::inline_csi::CompiledInline>,
    /// Judged on CSIDriver objects only.
    pub spec: Vec<crate::storage::driver_spec::CompiledSpecRules>,
}

/// A `kubernetes.io/<x>` entry of `csiDrivers.allowed`: an exact name, `<x>`
/// a qualified-name part (letters, digits, `-`, `_`, `.`, alphanumeric at
/// both ends, at most 63 characters, as `ValidateStorageClass` checks the
/// provisioner with `IsQualifiedName`).
fn in_tree_entry(p: &str) -> Result<String, String> {
    if p == NO_PROVISIONER {
        return Err("governed by storageClasses.allowNoProvisioner, not csiDrivers.allowed".into());
    }
    let Some(rest) = p.strip_prefix(IN_TREE_PREFIX) else {
        return Err(format!("write the prefix as {IN_TREE_PREFIX}"));
    };
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if rest.len() > 63
        || !alnum(rest.chars().next())
        || !alnum(rest.chars().last())
        || !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "a kubernetes.io/ name is listed exactly (no '*'), with a name part of letters, digits, '-', '_' or '.'"
                .into(),
        );
    }
    Ok(p.to_string())
}

/// The globs of a list, and its exact `kubernetes.io/<x>` names (only when
/// `in_tree_names`: elsewhere, CSIDriver and inline CSI names are DNS
/// subdomains and cannot hold a '/').
fn compile_list(
    list: &[String],
    path: &str,
    in_tree_names: Option<&mut Vec<String>>,
    errors: &mut SettingErrors,
) -> Vec<DriverGlob> {
    let mut in_tree_names = in_tree_names;
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
            if is_in_tree_name(p)
                && let Some(names) = in_tree_names.as_deref_mut()
            {
                if let Some(name) = errors.parsed(format_args!("{path}[{i}]"), p, in_tree_entry(p))
                {
                    names.push(name);
                }
                return None;
            }
            errors.parsed(format_args!("{path}[{i}]"), p, DriverGlob::parse(p))
        })
        .collect()
}

impl DriverRules {
    pub fn compile(settings: &CsiDriverSettings, errors: &mut SettingErrors) -> Self {
        let mut allowed_in_tree = Vec::new();
        let allowed = settings.allowed.as_ref().map(|list| {
            compile_list(
                list,
                rules::CSI_DRIVERS_ALLOWED,
                Some(&mut allowed_in_tree),
                errors,
            )
        });
        let ephemeral_allowed = compile_list(
            &settings.ephemeral_allowed,
            rules::CSI_DRIVERS_EPHEMERAL_ALLOWED,
            None,
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
        let inline = crate::daemonset::inline_csi::compile(&settings.inline, errors);
        let spec = crate::storage::driver_spec::compile(&settings.spec, errors);
        Self {
            mode: settings.mode,
            allowed,
            allowed_in_tree,
            ephemeral_allowed,
            token_requests,
            inline,
            spec,
        }
    }

    /// Why a driver is not allowed, or `None` when it is.
    pub fn refusal(&self, driver: &str) -> Option<String> {
        let allowed = self.allowed.as_ref()?;
        if is_in_tree_name(driver) {
            return (!self.allowed_in_tree.iter().any(|n| n == driver)).then(|| {
                format!(
                    "{driver} is no in-tree alias with a CSI driver, and only listing it exactly in csiDrivers.allowed allows it"
                )
            });
        }
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
    fn in_tree_names_without_translation_are_listed_exactly() {
        let mut errors = SettingErrors::default();
        let rules = DriverRules::compile(
            &CsiDriverSettings {
                allowed: Some(vec!["kubernetes.io/glusterfs".into(), "*".into()]),
                ..Default::default()
            },
            &mut errors,
        );
        assert!(errors.is_empty(), "{:?}", errors.into_vec());
        assert!(rules.refusal("kubernetes.io/glusterfs").is_none());
        assert!(rules.refusal("kubernetes.io/made-up").is_some());
        assert!(rules.refusal("KUBERNETES.IO/glusterfs").is_some());
        let mut errors = SettingErrors::default();
        DriverRules::compile(
            &CsiDriverSettings {
                allowed: Some(vec![
                    "kubernetes.io/*".into(),
                    NO_PROVISIONER.into(),
                    "Kubernetes.io/x".into(),
                ]),
                ..Default::default()
            },
            &mut errors,
        );
        let errors = errors.into_vec();
        for i in 0..3 {
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with(&format!("csiDrivers.allowed[{i}]"))),
                "{errors:?}"
            );
        }
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
