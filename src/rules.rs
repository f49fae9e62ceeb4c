//! Every rule id a violation can carry, in one place. A rule id is the
//! settings path that governs the rule (`daemonSets.hostPaths.allowed`), so
//! an operator knows which setting to change; [`UNREADABLE`] is the one rule
//! no setting relaxes: an object the rules cannot read is refused in every
//! mode.

/// A field of the object had the wrong type (or a required field was
/// missing), so the object could not be judged.
pub const UNREADABLE: &str = "readable object";

pub const HOST_PATHS_ALLOWED: &str = "daemonSets.hostPaths.allowed";
pub const HOST_PATHS_FORBIDDEN: &str = "daemonSets.hostPaths.forbidden";
pub const TOLERATIONS_ALLOW_WILDCARD: &str = "daemonSets.tolerations.allowWildcard";
pub const TOLERATIONS_FORBIDDEN: &str = "daemonSets.tolerations.forbidden";
pub const TOLERATIONS_ALLOWED: &str = "daemonSets.tolerations.allowed";
pub const TOLERATIONS_REQUIRED: &str = "daemonSets.tolerations.required";
pub const ALLOW_NODE_NAME: &str = "daemonSets.allowNodeName";
pub const EPHEMERAL_STORAGE_CLASS_NAMES: &str = "daemonSets.ephemeralVolumes.storageClassNames";
pub const EPHEMERAL_VOLUME_ATTRIBUTES_CLASS_NAMES: &str =
    "daemonSets.ephemeralVolumes.volumeAttributesClassNames";
pub const IMAGE_VOLUMES_ALLOWED: &str = "daemonSets.imageVolumes.allowed";
pub const IMAGE_VOLUMES_REQUIRE_DIGEST: &str = "daemonSets.imageVolumes.requireDigest";
pub const IMAGE_VOLUMES_PULL_POLICIES: &str = "daemonSets.imageVolumes.pullPolicies";
/// PersistentVolumes: `spec.hostPath.path` and `spec.local.path`.
pub const PV_HOST_PATHS_ALLOWED: &str = "persistentVolumes.hostPaths.allowed";
pub const PV_HOST_PATHS_FORBIDDEN: &str = "persistentVolumes.hostPaths.forbidden";
pub const PV_ALLOWED_SOURCES: &str = "persistentVolumes.allowedSources";

/// The shared CSI driver allow-list: StorageClass provisioners, CSIDriver
/// names and inline CSI volumes of DaemonSets.
pub const CSI_DRIVERS_ALLOWED: &str = "csiDrivers.allowed";
pub const CSI_DRIVERS_EPHEMERAL_ALLOWED: &str = "csiDrivers.ephemeralAllowed";
pub const TOKEN_REQUESTS_ALLOWED: &str = "csiDrivers.tokenRequests.allowed";
pub const TOKEN_REQUESTS_IN_SECRETS: &str = "csiDrivers.tokenRequests.requireTokenInSecrets";
pub const INLINE_NAMESPACES: &str = "csiDrivers.inline.namespaces";
pub const INLINE_VOLUME_ATTRIBUTES: &str = "csiDrivers.inline.volumeAttributes";
pub const INLINE_SECRET_REF: &str = "csiDrivers.inline.nodePublishSecretRef";
pub const INLINE_READ_ONLY: &str = "csiDrivers.inline.readOnly";
pub const CSI_DRIVER_SPEC: &str = "csiDrivers.spec";
pub const VAC_PARAMETERS: &str = "volumeAttributesClasses.parameters";

pub const ALLOW_IN_TREE_PROVISIONERS: &str = "storageClasses.allowInTreeProvisioners";
pub const ALLOW_NO_PROVISIONER: &str = "storageClasses.allowNoProvisioner";
pub const PARAMETERS: &str = "storageClasses.parameters";
pub const SECRETS: &str = "storageClasses.secrets";
pub const RECLAIM_POLICY_ALLOWED: &str = "storageClasses.reclaimPolicy.allowed";
pub const VOLUME_BINDING_MODE_ALLOWED: &str = "storageClasses.volumeBindingMode.allowed";
pub const ALLOW_VOLUME_EXPANSION_ALLOWED: &str = "storageClasses.allowVolumeExpansion.allowed";
pub const MOUNT_OPTIONS_ALLOWED: &str = "storageClasses.mountOptions.allowed";
pub const MOUNT_OPTIONS_FORBIDDEN: &str = "storageClasses.mountOptions.forbidden";
/// Another StorageClass is already the default.
pub const DEFAULT_CLASS_UNIQUE: &str = "storageClasses.defaultClass.unique";
/// The cluster's StorageClasses could not be listed, and the settings
/// refuse a default class that could not be checked.
pub const DEFAULT_CLASS_ON_LOOKUP_FAILURE: &str = "storageClasses.defaultClass.onLookupFailure";

/// Every rule id the policy can emit, each once.
pub const ALL: &[&str] = &[
    UNREADABLE,
    HOST_PATHS_ALLOWED,
    HOST_PATHS_FORBIDDEN,
    TOLERATIONS_ALLOW_WILDCARD,
    TOLERATIONS_FORBIDDEN,
    TOLERATIONS_ALLOWED,
    TOLERATIONS_REQUIRED,
    ALLOW_NODE_NAME,
    EPHEMERAL_STORAGE_CLASS_NAMES,
    EPHEMERAL_VOLUME_ATTRIBUTES_CLASS_NAMES,
    IMAGE_VOLUMES_ALLOWED,
    IMAGE_VOLUMES_REQUIRE_DIGEST,
    IMAGE_VOLUMES_PULL_POLICIES,
    PV_HOST_PATHS_ALLOWED,
    PV_HOST_PATHS_FORBIDDEN,
    PV_ALLOWED_SOURCES,
    CSI_DRIVERS_ALLOWED,
    CSI_DRIVERS_EPHEMERAL_ALLOWED,
    TOKEN_REQUESTS_ALLOWED,
    TOKEN_REQUESTS_IN_SECRETS,
    INLINE_NAMESPACES,
    INLINE_VOLUME_ATTRIBUTES,
    INLINE_SECRET_REF,
    INLINE_READ_ONLY,
    CSI_DRIVER_SPEC,
    VAC_PARAMETERS,
    ALLOW_IN_TREE_PROVISIONERS,
    ALLOW_NO_PROVISIONER,
    PARAMETERS,
    SECRETS,
    RECLAIM_POLICY_ALLOWED,
    VOLUME_BINDING_MODE_ALLOWED,
    ALLOW_VOLUME_EXPANSION_ALLOWED,
    MOUNT_OPTIONS_ALLOWED,
    MOUNT_OPTIONS_FORBIDDEN,
    DEFAULT_CLASS_UNIQUE,
    DEFAULT_CLASS_ON_LOOKUP_FAILURE,
];

/// The rule id spelled `text`, as the `&'static str` of [`ALL`].
pub fn named(text: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|rule| *rule == text)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_rule_is_listed_once() {
        let unique: HashSet<&str> = ALL.iter().copied().collect();
        assert_eq!(unique.len(), ALL.len());
        assert_eq!(named("daemonSets.allowNodeName"), Some(ALLOW_NODE_NAME));
        assert_eq!(named("daemonSets"), None);
    }

    /// Rule ids are written in the rendered violation as ` [rule]`, so none
    /// may hold the characters the rendering uses as separators.
    #[test]
    fn rule_ids_hold_no_separator() {
        for rule in ALL {
            assert!(!rule.contains(['[', ']', ';', '=']), "{rule}");
        }
    }

    /// Each source file may spell a rule id only through this module.
    #[test]
    fn no_rule_id_is_spelled_outside_this_module() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(src)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.ends_with("rules.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                // Only the code, not the tests, which quote messages.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for rule in ALL {
                    let quoted = format!("\"{rule}\"");
                    assert!(
                        !code.contains(&quoted),
                        "{} spells {quoted}: use crate::rules",
                        path.display()
                    );
                }
            }
        }
    }
}
