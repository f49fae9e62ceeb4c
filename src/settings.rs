//! Policy settings: their shape (camelCase, every field optional, secure
//! defaults) and their validation at load time.
//!
//! Validation collects every problem with the path of the setting that
//! holds it, so an operator fixes a bad configuration in one pass.

use std::collections::BTreeMap;

use crate::settings_reader::{Read, ReadJson, Reader};
use crate::{read_enum, read_struct};

/// What a rule group does with its violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Reject the request.
    #[default]
    Enforce,
    /// Accept the request; violations become admission warnings.
    Warn,
}

read_enum!(Mode, "Mode", {
    Enforce: "enforce",
    Warn: "warn",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub exemptions: Exemptions,
    pub csi_drivers: CsiDriverSettings,
    pub daemon_sets: DaemonSetSettings,
    pub storage_classes: StorageClassSettings,
    pub persistent_volumes: PersistentVolumeSettings,
    pub volume_attributes_classes: VolumeAttributesClassSettings,
}

/// Requests that bypass the policy (accepted with a warning naming the
/// exemption that applied).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exemptions {
    /// Namespaces whose DaemonSets are exempt.
    pub namespaces: Vec<String>,
    /// `namespace/name` for DaemonSets, `name` for StorageClasses and CSIDrivers.
    pub names: Vec<String>,
    /// Requesting user names (`userInfo.username`).
    pub users: Vec<String>,
    /// Requesting user groups (`userInfo.groups`).
    pub groups: Vec<String>,
    /// `namespace/name` of ServiceAccounts (matched on
    /// `system:serviceaccount:<namespace>:<name>`).
    pub service_accounts: Vec<String>,
}

read_struct!(Exemptions, "Exemptions", {
    namespaces: "namespaces",
    names: "names",
    users: "users",
    groups: "groups",
    service_accounts: "serviceAccounts",
});

/// The shared CSI driver allow-list, and the CSIDriver object rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsiDriverSettings {
    /// Mode for CSIDriver objects.
    pub mode: Mode,
    /// Exact names or globs (`*` = one or more characters other than `.`).
    /// Absent: any driver. Present and empty: no driver.
    pub allowed: Option<Vec<String>>,
    /// Drivers that may declare `volumeLifecycleModes: [Ephemeral]`.
    pub ephemeral_allowed: Vec<String>,
    /// The ServiceAccount tokens kubelet mints for drivers
    /// (`CSIDriver.spec.tokenRequests`).
    pub token_requests: TokenRequestSettings,
    /// Rules on inline CSI volumes (`volumes[].csi`) per driver glob.
    pub inline: Vec<InlineCsiRules>,
    /// Allowed values of CSIDriver `spec` fields per driver glob.
    pub spec: Vec<CsiDriverSpecRules>,
}

read_struct!(CsiDriverSettings, "CsiDriverSettings", {
    mode: "mode",
    allowed: "allowed",
    ephemeral_allowed: "ephemeralAllowed",
    token_requests: "tokenRequests",
    inline: "inline",
    spec: "spec",
});

/// What an inline CSI volume of the drivers a glob matches may carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InlineCsiRules {
    pub driver: String,
    /// Namespaces whose workloads may use the driver inline. Absent: any.
    pub namespaces: Option<Vec<String>>,
    /// The StorageClass parameter rules, on `volumeAttributes`.
    pub volume_attributes: KeyValueRules,
    /// `required` or `forbidden`. Absent: either.
    pub node_publish_secret_ref: Option<String>,
    /// Require `csi.readOnly: true`.
    pub read_only: bool,
}

read_struct!(InlineCsiRules, "InlineCsiRules", {
    driver: "driver",
    namespaces: "namespaces",
    volume_attributes: "volumeAttributes",
    node_publish_secret_ref: "nodePublishSecretRef",
    read_only: "readOnly",
});

/// Required, forbidden and allowed keys of a string map (the shape of a
/// `storageClasses.parameters` entry without its glob).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyValueRules {
    pub required: BTreeMap<String, Vec<String>>,
    pub forbidden: Vec<String>,
    pub allowed_values: BTreeMap<String, Vec<String>>,
}

read_struct!(KeyValueRules, "KeyValueRules", {
    required: "required",
    forbidden: "forbidden",
    allowed_values: "allowedValues",
});

/// Allowed values (and values set on CREATE when absent) of the CSIDriver
/// spec fields of the drivers a glob matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsiDriverSpecRules {
    pub driver: String,
    pub attach_required: FieldRule<bool>,
    pub pod_info_on_mount: FieldRule<bool>,
    pub requires_republish: FieldRule<bool>,
    pub storage_capacity: FieldRule<bool>,
    pub se_linux_mount: FieldRule<bool>,
    pub fs_group_policy: FieldRule<String>,
    pub node_allocatable_update_period_seconds: FieldRule<i64>,
}

read_struct!(CsiDriverSpecRules, "CsiDriverSpecRules", {
    driver: "driver",
    attach_required: "attachRequired",
    pod_info_on_mount: "podInfoOnMount",
    requires_republish: "requiresRepublish",
    storage_capacity: "storageCapacity",
    se_linux_mount: "seLinuxMount",
    fs_group_policy: "fsGroupPolicy",
    node_allocatable_update_period_seconds: "nodeAllocatableUpdatePeriodSeconds",
});

/// VolumeAttributesClass objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeAttributesClassSettings {
    pub mode: Mode,
    /// The schema of `storageClasses.parameters`; `provisioner` is the
    /// glob on `driverName`.
    pub parameters: Vec<ParameterRules>,
}

read_struct!(VolumeAttributesClassSettings, "VolumeAttributesClassSettings", {
    mode: "mode",
    parameters: "parameters",
});

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequestSettings {
    /// Audiences each driver (glob) may request tokens for; a driver no
    /// entry matches may request none.
    pub allowed: Vec<TokenAudiences>,
    /// With `tokenRequests` set, require `serviceAccountTokenInSecrets:
    /// true` (Kubernetes 1.35+): tokens then travel in the CSI `secrets`
    /// field, which drivers do not log, instead of `volume_context`.
    pub require_token_in_secrets: bool,
}

read_struct!(TokenRequestSettings, "TokenRequestSettings", {
    allowed: "allowed",
    require_token_in_secrets: "requireTokenInSecrets",
});

impl Default for TokenRequestSettings {
    fn default() -> Self {
        Self {
            allowed: Vec::new(),
            require_token_in_secrets: true,
        }
    }
}

/// The token audiences of the drivers one glob names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenAudiences {
    pub driver: String,
    /// Exact audiences; `""` is the kube-apiserver's own audience.
    pub audiences: Vec<String>,
}

read_struct!(TokenAudiences, "TokenAudiences", {
    driver: "driver",
    audiences: "audiences",
});

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSetSettings {
    pub mode: Mode,
    pub host_paths: HostPathSettings,
    pub tolerations: TolerationSettings,
    /// `spec.template.spec.nodeName` pins the whole set to one node and
    /// skips the scheduler (the DaemonSet controller still checks the
    /// node's `NoSchedule` and `NoExecute` taints).
    pub allow_node_name: bool,
    pub ephemeral_volumes: EphemeralVolumeSettings,
    pub image_volumes: ImageVolumeSettings,
    /// Debug containers added to running Pods (`pods/ephemeralcontainers`).
    pub ephemeral_containers: EphemeralContainerSettings,
    /// Named rule sets for the DaemonSets their `match` selects
    /// (`daemonset::profiles`); the fields above are the baseline.
    pub profiles: crate::daemonset::profiles::ProfilesText,
}

read_struct!(DaemonSetSettings, "DaemonSetSettings", {
    mode: "mode",
    host_paths: "hostPaths",
    tolerations: "tolerations",
    allow_node_name: "allowNodeName",
    ephemeral_volumes: "ephemeralVolumes",
    image_volumes: "imageVolumes",
    ephemeral_containers: "ephemeralContainers",
    profiles: "profiles",
});

/// Ephemeral containers are added to a running Pod by an UPDATE of its
/// `ephemeralcontainers` subresource (`kubectl debug`); their mounts of the
/// Pod's hostPath volumes are judged with `hostPaths`.
#[derive(Debug, Clone, PartialEq)]
pub struct EphemeralContainerSettings {
    /// Judge the debug containers of every Pod, not only of the Pods a
    /// DaemonSet controls: the Pod's hostPath volumes passed some admission
    /// already, the new mounts did not.
    pub all_pods: bool,
}

read_struct!(EphemeralContainerSettings, "EphemeralContainerSettings", {
    all_pods: "allPods",
});

impl Default for EphemeralContainerSettings {
    fn default() -> Self {
        Self { all_pods: true }
    }
}

impl Default for DaemonSetSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            host_paths: HostPathSettings::default(),
            tolerations: TolerationSettings::default(),
            allow_node_name: false,
            ephemeral_volumes: EphemeralVolumeSettings::default(),
            image_volumes: ImageVolumeSettings::default(),
            ephemeral_containers: EphemeralContainerSettings::default(),
            profiles: Default::default(),
        }
    }
}

/// Generic ephemeral volumes (`volumes[].ephemeral.volumeClaimTemplate`):
/// a DaemonSet with one creates a PVC per node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EphemeralVolumeSettings {
    /// StorageClass names the claim template may name. Absent: any. An
    /// absent `storageClassName` (the cluster's default class, chosen when
    /// each PVC is created) is allowed only with `allowDefaultClass`.
    pub storage_class_names: Option<Vec<String>>,
    /// With `storageClassNames` set, accept a claim template without
    /// `storageClassName`.
    pub allow_default_class: bool,
    /// VolumeAttributesClass names a claim template may name. Absent: any.
    pub volume_attributes_class_names: Option<Vec<String>>,
}

read_struct!(EphemeralVolumeSettings, "EphemeralVolumeSettings", {
    storage_class_names: "storageClassNames",
    allow_default_class: "allowDefaultClass",
    volume_attributes_class_names: "volumeAttributesClassNames",
});

/// Image volumes (`volumes[].image`, read-only OCI artifacts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageVolumeSettings {
    /// Globs on the normalised repository (`docker.io/library/busybox`,
    /// `registry.example.com/tools/*`): `*` is one or more characters other
    /// than `/`, a trailing `/**` any repository below. Absent: any.
    pub allowed: Option<Vec<String>>,
    /// The reference must carry a digest (`@sha256:...`).
    pub require_digest: bool,
    /// Allowed `pullPolicy` values, after defaulting. Absent: any.
    pub pull_policies: Option<Vec<String>>,
}

read_struct!(ImageVolumeSettings, "ImageVolumeSettings", {
    allowed: "allowed",
    require_digest: "requireDigest",
    pull_policies: "pullPolicies",
});

/// PersistentVolumes: the volume source of a PV reaches a pod through a
/// PVC, past the DaemonSet and StorageClass rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersistentVolumeSettings {
    pub mode: Mode,
    /// `spec.hostPath.path` and `spec.local.path`.
    pub host_paths: PvHostPathSettings,
    /// Volume sources without a CSI translation (`nfs`, `iscsi`, ...) that
    /// are allowed. Default: none.
    pub allowed_sources: Vec<String>,
}

read_struct!(PersistentVolumeSettings, "PersistentVolumeSettings", {
    mode: "mode",
    host_paths: "hostPaths",
    allowed_sources: "allowedSources",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PvHostPathSettings {
    /// No entry: no hostPath or local PV at all.
    pub allowed: Vec<PvAllowedHostPath>,
    /// As `daemonSets.hostPaths.forbidden` (same default).
    pub forbidden: Option<Vec<String>>,
}

read_struct!(PvHostPathSettings, "PvHostPathSettings", {
    allowed: "allowed",
    forbidden: "forbidden",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PvAllowedHostPath {
    pub path_prefix: String,
    /// Allowed `hostPath.type` values (`""` is unset). Absent: any.
    pub types: Option<Vec<String>>,
    /// Only these ServiceAccounts (`namespace/name`) may create PVs under
    /// the prefix (a local-volume provisioner). Absent: anyone.
    pub service_accounts: Option<Vec<String>>,
}

read_struct!(PvAllowedHostPath, "PvAllowedHostPath", {
    path_prefix: "pathPrefix",
    types: "types",
    service_accounts: "serviceAccounts",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostPathSettings {
    /// No entry: no hostPath volume at all (Pod Security baseline).
    pub allowed: Vec<AllowedHostPath>,
    /// Paths no hostPath may equal, contain or lie under, whatever `allowed`
    /// says. Absent (or `null`): [`DEFAULT_FORBIDDEN_HOST_PATHS`], the
    /// container runtime sockets and their folders. Kept as `None` until
    /// the rules are compiled: every settings read starts from a default
    /// (`Settings::default`, then each section's and this struct's own),
    /// and building the list there, up to four times an evaluation, cost
    /// about 5 K instructions a time (`policy-bench/instructions.sh`).
    pub forbidden: Option<Vec<String>>,
    /// Make read-write mounts under a read-only prefix read-only (with a
    /// warning) instead of rejecting them.
    pub mutate: bool,
}

read_struct!(HostPathSettings, "HostPathSettings", {
    allowed: "allowed",
    forbidden: "forbidden",
    mutate: "mutate",
});

/// [`DEFAULT_FORBIDDEN_HOST_PATHS`] as the list an absent `forbidden`
/// stands for.
pub fn default_forbidden_host_paths() -> Vec<String> {
    DEFAULT_FORBIDDEN_HOST_PATHS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

pub const DEFAULT_FORBIDDEN_HOST_PATHS: &[&str] = &[
    "/run/containerd",
    "/var/run/containerd",
    "/run/crio",
    "/var/run/crio",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/cri-dockerd.sock",
    "/var/run/cri-dockerd.sock",
    "/run/k3s/containerd",
    "/var/run/k3s/containerd",
    "/etc/kubernetes",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowedHostPath {
    pub path_prefix: String,
    /// Every mount of a volume under this prefix must be read-only.
    pub read_only: bool,
    /// Allowed `hostPath.type` values (`""` is the unset type). Absent: any.
    pub types: Option<Vec<String>>,
    /// Allow `mountPropagation: Bidirectional` (CSI node plugins on
    /// `/var/lib/kubelet`); implies `allowHostToContainer`.
    pub allow_bidirectional: bool,
    /// Allow `mountPropagation: HostToContainer`: mounts the host makes
    /// below the path later appear in the container.
    pub allow_host_to_container: bool,
    /// Whether read-only mounts must be recursively read-only
    /// (`recursiveReadOnly: IfPossible` or `Enabled`).
    pub recursive_read_only: RecursiveReadOnly,
}

read_struct!(AllowedHostPath, "AllowedHostPath", {
    path_prefix: "pathPrefix",
    read_only: "readOnly",
    types: "types",
    allow_bidirectional: "allowBidirectional",
    allow_host_to_container: "allowHostToContainer",
    recursive_read_only: "recursiveReadOnly",
});

/// What a prefix asks of its read-only mounts' `recursiveReadOnly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RecursiveReadOnly {
    /// No demand.
    #[default]
    Ignore,
    /// Set `IfPossible` when `hostPaths.mutate` is on; never a violation.
    Preferred,
    /// A read-only mount without `IfPossible` or `Enabled` is a violation
    /// (mutation sets `IfPossible`).
    Required,
}

read_enum!(RecursiveReadOnly, "RecursiveReadOnly", {
    Ignore: "Ignore",
    Preferred: "Preferred",
    Required: "Required",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TolerationSettings {
    /// Allow a toleration with an empty key and `operator: Exists`.
    pub allow_wildcard: bool,
    /// Effects for which a wildcard limited to that effect is allowed (CSI
    /// node plugins commonly tolerate every `NoExecute` taint for a while).
    pub allowed_wildcard_effects: Vec<String>,
    /// Keys (optionally with an effect) no DaemonSet may tolerate.
    pub forbidden: Vec<ForbiddenToleration>,
    /// When set, every toleration must match one entry (the tolerations the
    /// DaemonSet controller adds are always allowed).
    pub allowed: Option<Vec<TolerationPattern>>,
    /// Tolerations every DaemonSet must carry.
    pub required: Vec<RequiredToleration>,
    /// Add missing required tolerations instead of rejecting.
    pub mutate: bool,
}

read_struct!(TolerationSettings, "TolerationSettings", {
    allow_wildcard: "allowWildcard",
    allowed_wildcard_effects: "allowedWildcardEffects",
    forbidden: "forbidden",
    allowed: "allowed",
    required: "required",
    mutate: "mutate",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForbiddenToleration {
    pub key: String,
    pub effect: Option<String>,
}

read_struct!(ForbiddenToleration, "ForbiddenToleration", {
    key: "key",
    effect: "effect",
});

/// A toleration in the settings, as an allowed pattern or a required
/// toleration (the two read the unset fields differently).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TolerationEntry {
    pub key: String,
    /// `Equal`, `Exists`, or the integer comparisons `Lt` and `Gt`
    /// (Kubernetes 1.35, feature gate `TaintTolerationComparisonOperators`).
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

read_struct!(TolerationEntry, "TolerationEntry", {
    key: "key",
    operator: "operator",
    value: "value",
    effect: "effect",
});

/// An allowed toleration: unset fields match anything, except that a
/// pattern with a `value` and no `operator` does not match `Lt` or `Gt`.
pub type TolerationPattern = TolerationEntry;

/// A toleration every DaemonSet must carry: an unset operator is `Equal`, an
/// empty or absent effect is every effect, an absent `tolerationSeconds` is
/// forever.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequiredToleration {
    pub key: String,
    /// `Equal`, `Exists`, `Lt` or `Gt`.
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    /// How long the toleration must keep the pod on a node with a matching
    /// `NoExecute` taint (absent: forever). Needs effect `NoExecute`, as in
    /// the Kubernetes API.
    pub toleration_seconds: Option<i64>,
}

read_struct!(RequiredToleration, "RequiredToleration", {
    key: "key",
    operator: "operator",
    value: "value",
    effect: "effect",
    toleration_seconds: "tolerationSeconds",
});

#[derive(Debug, Clone, PartialEq)]
pub struct StorageClassSettings {
    pub mode: Mode,
    /// Accept `kubernetes.io/*` in-tree provisioner names (judged as the CSI
    /// driver they migrate to).
    pub allow_in_tree_provisioners: bool,
    /// Accept `kubernetes.io/no-provisioner` (statically provisioned local
    /// volumes).
    pub allow_no_provisioner: bool,
    pub parameters: Vec<ParameterRules>,
    pub secrets: SecretReferenceSettings,
    pub reclaim_policy: FieldRule<String>,
    pub volume_binding_mode: FieldRule<String>,
    pub allow_volume_expansion: FieldRule<bool>,
    pub mount_options: MountOptionRules,
    pub default_class: DefaultClassSettings,
}

read_struct!(StorageClassSettings, "StorageClassSettings", {
    mode: "mode",
    allow_in_tree_provisioners: "allowInTreeProvisioners",
    allow_no_provisioner: "allowNoProvisioner",
    parameters: "parameters",
    secrets: "secrets",
    reclaim_policy: "reclaimPolicy",
    volume_binding_mode: "volumeBindingMode",
    allow_volume_expansion: "allowVolumeExpansion",
    mount_options: "mountOptions",
    default_class: "defaultClass",
});

impl Default for StorageClassSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            allow_in_tree_provisioners: false,
            allow_no_provisioner: true,
            parameters: Vec::new(),
            secrets: SecretReferenceSettings::default(),
            reclaim_policy: FieldRule::default(),
            volume_binding_mode: FieldRule::default(),
            allow_volume_expansion: FieldRule::default(),
            mount_options: MountOptionRules::default(),
            default_class: DefaultClassSettings::default(),
        }
    }
}

/// At most one default StorageClass, checked against the cluster's
/// StorageClasses through Kubewarden's context-aware host capability.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultClassSettings {
    /// Refuse a class made default while another class is default.
    pub unique: bool,
    /// What a second default gets: rejected (`enforce`) or a warning.
    pub mode: Mode,
    /// When the host cannot list the cluster's StorageClasses.
    pub on_lookup_failure: LookupFailure,
}

read_struct!(DefaultClassSettings, "DefaultClassSettings", {
    unique: "unique",
    mode: "mode",
    on_lookup_failure: "onLookupFailure",
});

impl Default for DefaultClassSettings {
    fn default() -> Self {
        Self {
            unique: true,
            mode: Mode::Enforce,
            on_lookup_failure: LookupFailure::Warn,
        }
    }
}

/// The verdict on a default class when the host could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LookupFailure {
    /// Accept with a warning saying the class was not checked.
    #[default]
    Warn,
    /// Reject: the class cannot be shown to be the only default.
    Reject,
}

read_enum!(LookupFailure, "LookupFailure", {
    Warn: "warn",
    Reject: "reject",
});

/// Parameter rules for the provisioners a glob matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParameterRules {
    /// Glob on the (in-tree-translated) provisioner.
    pub provisioner: String,
    /// Keys that must be present; a non-empty list restricts the value.
    pub required: BTreeMap<String, Vec<String>>,
    pub forbidden: Vec<String>,
    /// Values allowed for a key when it is present.
    pub allowed_values: BTreeMap<String, Vec<String>>,
}

read_struct!(ParameterRules, "ParameterRules", {
    provisioner: "provisioner",
    required: "required",
    forbidden: "forbidden",
    allowed_values: "allowedValues",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretReferenceSettings {
    /// Namespaces the `csi.storage.k8s.io/*-secret-namespace` parameters may
    /// name. Absent: any literal namespace.
    pub allowed_namespaces: Option<Vec<String>>,
    /// Allow `${pvc.namespace}`: the secret lives in the PVC's namespace.
    pub allow_pvc_namespace_template: bool,
    /// Allow `${pvc.annotations['...']}`: the PVC author picks the secret.
    pub allow_pvc_annotation_templates: bool,
}

read_struct!(SecretReferenceSettings, "SecretReferenceSettings", {
    allowed_namespaces: "allowedNamespaces",
    allow_pvc_namespace_template: "allowPvcNamespaceTemplate",
    allow_pvc_annotation_templates: "allowPvcAnnotationTemplates",
});

/// Allowed values for a StorageClass field, and the value to set on CREATE:
/// `set` replaces the API server's default (an absent `allowVolumeExpansion`)
/// and a value outside `allowed`, never another value
/// (`class_fields::enforce`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRule<T> {
    pub allowed: Option<Vec<T>>,
    pub set: Option<T>,
}

impl<T> Default for FieldRule<T> {
    fn default() -> Self {
        Self {
            allowed: None,
            set: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountOptionRules {
    /// Options (or option names before `=`) allowed. Absent: any. Object
    /// entries are split on `,` before matching; an entry here holding a
    /// `,` is refused.
    pub allowed: Option<Vec<String>>,
    pub forbidden: Vec<String>,
}

read_struct!(MountOptionRules, "MountOptionRules", {
    allowed: "allowed",
    forbidden: "forbidden",
});

impl<T: ReadJson> ReadJson for FieldRule<T> {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        let mut rule = Self::default();
        reader.object("FieldRule", &["allowed", "set"], &mut |r, key| {
            if key == "allowed" {
                rule.allowed = ReadJson::read(r)?;
            } else {
                rule.set = ReadJson::read(r)?;
            }
            Ok(())
        })?;
        Ok(rule)
    }
}
