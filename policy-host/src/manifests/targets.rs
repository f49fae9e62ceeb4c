//! Which objects the policy is given: the kinds its metadata rules target
//! (`apiGroups`/`apiVersions`/`resources`/`operations`), mapped from an
//! object's `apiVersion` and `kind` the way the API server names resources.

use crate::metadata::{Metadata, Operation, Rule};

/// The kinds this policy is written for, with their resource and scope,
/// cross-checked against the module's rules (see [`Targets::check_known`]).
pub const KNOWN_TARGETS: [KnownKind; 5] = [
    KnownKind {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        resource: "daemonsets",
        namespaced: true,
    },
    KnownKind {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        resource: "storageclasses",
        namespaced: false,
    },
    KnownKind {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        resource: "csidrivers",
        namespaced: false,
    },
    KnownKind {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttributesClass",
        resource: "volumeattributesclasses",
        namespaced: false,
    },
    KnownKind {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        resource: "persistentvolumes",
        namespaced: false,
    },
];

/// A kind with its resource name and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub resource: &'static str,
    pub namespaced: bool,
}

/// Kinds of the built-in API groups that are cluster-scoped (everything else
/// is taken as namespaced).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicy"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicyGroup"),
    ("policies.kubewarden.io", "PolicyServer"),
];

/// What an object is for the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub resource: String,
    pub namespaced: bool,
}

/// Split an `apiVersion` into group and version (`v1` is the core group `""`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The resource name of a kind: the table of known kinds, else Kubernetes'
/// own guess (`meta.UnsafeGuessKindToResource`: lower case, `s` → `ses`,
/// consonant + `y` → `ies`, otherwise `+s`).
pub fn resource_of(group: &str, kind: &str) -> String {
    if let Some(k) = KNOWN_TARGETS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
    {
        return k.resource.to_string();
    }
    let lower = kind.to_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with('s') {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

/// Whether objects of this kind live in a namespace.
pub fn is_namespaced(group: &str, kind: &str) -> bool {
    if let Some(k) = KNOWN_TARGETS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
    {
        return k.namespaced;
    }
    !CLUSTER_SCOPED.contains(&(group, kind))
}

/// The module's rules, answering whether an object is evaluated.
#[derive(Debug, Clone)]
pub struct Targets {
    rules: Vec<Rule>,
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

fn matches_resource(list: &[String], resource: &str) -> bool {
    list.iter().any(|r| r == "*" || r == "*/*" || r == resource)
}

impl Targets {
    /// The rules of the module's metadata.
    pub fn from_metadata(metadata: &Metadata) -> Targets {
        Targets {
            rules: metadata.rules.clone(),
        }
    }

    /// The rules as given.
    pub fn from_rules(rules: Vec<Rule>) -> Targets {
        Targets { rules }
    }

    /// The target of an object when some rule matches its group, version,
    /// resource and the operation; `None` when the policy never sees it.
    pub fn resolve(&self, api_version: &str, kind: &str, operation: Operation) -> Option<Target> {
        let (group, version) = split_api_version(api_version);
        if kind.is_empty() || version.is_empty() {
            return None;
        }
        let resource = resource_of(group, kind);
        let hit = self.rules.iter().any(|rule| {
            matches(&rule.api_groups, group)
                && matches(&rule.api_versions, version)
                && matches_resource(&rule.resources, &resource)
                && rule
                    .operations
                    .iter()
                    .any(|o| *o == Operation::All || *o == operation)
        });
        hit.then(|| Target {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            resource,
            namespaced: is_namespaced(group, kind),
        })
    }

    /// The known kinds the rules target on CREATE (for messages).
    pub fn known_kinds(&self) -> Vec<&'static str> {
        KNOWN_TARGETS
            .iter()
            .filter(|k| {
                self.resolve(
                    &format!("{}/{}", k.group, k.version),
                    k.kind,
                    Operation::Create,
                )
                .is_some()
            })
            .map(|k| k.kind)
            .collect()
    }

    /// Rule resources that name none of [`KNOWN_TARGETS`]: objects of those
    /// resources are still evaluated when the guessed resource name of their
    /// kind matches, but their scope may be wrong. Empty for this policy.
    pub fn check_known(&self) -> Vec<String> {
        let mut unknown = Vec::new();
        for rule in &self.rules {
            for resource in &rule.resources {
                let known = resource == "*"
                    || resource == "*/*"
                    || KNOWN_TARGETS.iter().any(|k| {
                        k.resource == resource
                            && matches(&rule.api_groups, k.group)
                            && matches(&rule.api_versions, k.version)
                    });
                if !known && !unknown.contains(resource) {
                    unknown.push(resource.clone());
                }
            }
        }
        unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_rules() -> Targets {
        let metadata = Metadata::from_yaml(
            "rules:\n- apiGroups: [apps]\n  apiVersions: [v1]\n  resources: [daemonsets]\n  operations: [CREATE, UPDATE]\n- apiGroups: [storage.k8s.io]\n  apiVersions: [v1]\n  resources: [storageclasses, csidrivers]\n  operations: [CREATE, UPDATE]\nmutating: true\n",
        )
        .unwrap();
        Targets::from_metadata(&metadata)
    }

    #[test]
    fn guessed_resources() {
        assert_eq!(resource_of("apps", "DaemonSet"), "daemonsets");
        assert_eq!(
            resource_of("storage.k8s.io", "StorageClass"),
            "storageclasses"
        );
        assert_eq!(resource_of("", "Ingress"), "ingresses");
        assert_eq!(resource_of("", "NetworkPolicy"), "networkpolicies");
        assert_eq!(resource_of("", "Gateway"), "gateways");
        assert_eq!(resource_of("", "ConfigMap"), "configmaps");
    }

    #[test]
    fn the_three_kinds_are_targeted() {
        let t = policy_rules();
        assert_eq!(t.known_kinds(), ["DaemonSet", "StorageClass", "CSIDriver"]);
        assert!(t.check_known().is_empty());
        let ds = t
            .resolve("apps/v1", "DaemonSet", Operation::Update)
            .unwrap();
        assert!(ds.namespaced);
        assert_eq!(ds.resource, "daemonsets");
        let sc = t
            .resolve("storage.k8s.io/v1", "StorageClass", Operation::Create)
            .unwrap();
        assert!(!sc.namespaced);
        assert!(
            t.resolve("apps/v1", "Deployment", Operation::Create)
                .is_none()
        );
        assert!(t.resolve("v1", "ConfigMap", Operation::Create).is_none());
        assert!(
            t.resolve("extensions/v1beta1", "DaemonSet", Operation::Create)
                .is_none()
        );
        assert!(
            t.resolve("apps/v1", "DaemonSet", Operation::Delete)
                .is_none()
        );
    }

    #[test]
    fn wildcards() {
        let t = Targets::from_rules(vec![Rule {
            api_groups: vec!["*".into()],
            api_versions: vec!["*".into()],
            resources: vec!["*".into()],
            operations: vec![Operation::All],
        }]);
        let cm = t.resolve("v1", "ConfigMap", Operation::Create).unwrap();
        assert_eq!(cm.group, "");
        assert!(cm.namespaced);
        assert!(
            !t.resolve("v1", "Namespace", Operation::Create)
                .unwrap()
                .namespaced
        );
    }
}
