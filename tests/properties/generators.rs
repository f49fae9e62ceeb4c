//! Byte-driven generators of admission payloads and policy settings, shared
//! by the property tests (`tests/properties.rs`, proptest supplies and
//! shrinks the bytes) and the fuzz targets (`fuzz/fuzz_targets/*.rs`,
//! libFuzzer supplies them through `arbitrary::Unstructured`).
//!
//! Every choice reads one byte and an exhausted source reads 0, which always
//! picks the first (simplest) option: shrinking the byte string shrinks the
//! generated object. Vocabularies hold the adversarial spellings the policy
//! must see through (path segments, case and whitespace variants, in-tree
//! names, suffix tricks, templates). Nothing here panics on any input.

#![allow(dead_code)]

use serde_json::{Map, Value, json};

/// A stream of choices.
pub trait Source {
    /// The next byte; 0 once exhausted.
    fn byte(&mut self) -> u8;
}

/// A byte slice as a [`Source`].
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
}

impl Source for Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }
}

/// Choice helpers on top of a [`Source`].
pub struct Gen<'a> {
    src: &'a mut dyn Source,
}

impl<'a> Gen<'a> {
    pub fn new(src: &'a mut dyn Source) -> Self {
        Self { src }
    }

    pub fn byte(&mut self) -> u8 {
        self.src.byte()
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let wide = (usize::from(self.byte()) << 8) | usize::from(self.byte());
        wide % n
    }

    /// True with probability `k/16`; an exhausted source says false.
    pub fn chance(&mut self, k: u8) -> bool {
        (self.byte() & 0x0f) >= 16 - k.min(16)
    }

    /// A length in `0..=max`.
    pub fn count(&mut self, max: usize) -> usize {
        usize::from(self.byte()) % (max + 1)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = self.below(items.len());
        items.get(i).copied()
    }

    pub fn pick_str(&mut self, items: &[&str]) -> String {
        self.pick(items).unwrap_or_default().to_string()
    }

    /// `Some(..)` with probability `k/16`.
    pub fn maybe<T>(&mut self, k: u8, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.chance(k) { Some(f(self)) } else { None }
    }

    /// Any short string (lossy UTF-8 of the next bytes).
    pub fn raw_string(&mut self, max: usize) -> String {
        let len = self.count(max);
        let bytes: Vec<u8> = (0..len).map(|_| self.byte()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A vocabulary word, or now and then any string.
    pub fn word(&mut self, vocabulary: &[&str]) -> String {
        if self.chance(1) {
            self.raw_string(24)
        } else {
            self.pick_str(vocabulary)
        }
    }

    /// A list of vocabulary words.
    pub fn words(&mut self, vocabulary: &[&str], max: usize) -> Vec<Value> {
        let n = self.count(max);
        (0..n)
            .map(|_| Value::from(self.pick_str(vocabulary)))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Vocabularies.

pub const PATH_SEGMENTS: &[&str] = &[
    "var",
    "log",
    "",
    ".",
    "..",
    "logs",
    "run",
    "containerd",
    "docker.sock",
    "kubelet",
    "lib",
    "pods",
    "etc",
    "kubernetes",
    "pki",
    "proc",
    "sys",
    "dev",
    "crio",
    "k3s",
    "plugins",
    "docker",
    "containers",
    "..log",
    "...",
    "machine-id",
    // Kernel links under /proc and /dev, and Windows `\` spellings of `..`.
    "1",
    "self",
    "root",
    "fd",
    "task",
    "x\\..",
    "..\\x",
    "a\\b",
];
const PATH_STARTS: &[&str] = &["/", "/", "/", "//", "/./", "", "./"];
const PATH_SEPARATORS: &[&str] = &["/", "/", "/", "//", "/./"];
const PATH_ENDS: &[&str] = &["", "", "", "/", "/.", "//"];

pub const HOST_PATH_TYPES: &[&str] = &[
    "",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
    "CharDevice",
    "BlockDevice",
    "directory",
];

/// Allowed prefixes for settings: valid ones first, then spellings that
/// collide after normalisation, then invalid ones.
pub const PREFIXES: &[&str] = &[
    "/var/log",
    "/var/lib/kubelet",
    "/var/lib/docker/containers",
    "/proc",
    "/sys",
    "/var/lib",
    "/var",
    "/run",
    "/dev",
    "/etc/machine-id",
    "/var/log/pods",
    "/var/run",
    "/lib/modules",
    "/run/xtables.lock",
    "/var/lib/kubelet/pki",
    "/var/lib/kubelet/plugins",
    "/var//log/",
    "/var/./log",
];
pub const BAD_PREFIXES: &[&str] = &["/", "//", "var/log", "", "/var/log/..", "/run/containerd"];
pub const FORBIDDEN_PATHS: &[&str] = &[
    "/run/containerd",
    "/var/run/containerd",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/lib/kubelet/pki",
    "/etc/kubernetes",
    "/proc/sys",
    "/var/log/secure",
    "/dev/mem",
];

pub const VOLUME_NAMES: &[&str] = &["v0", "v1", "v2", "v3"];
pub const RECURSIVE_READ_ONLY: &[&str] = &["Required", "Preferred", "Ignore"];
const MOUNT_RECURSIVE_READ_ONLY: &[&str] = &["IfPossible", "Enabled", "Disabled"];
const PROPAGATIONS: &[&str] = &[
    "None",
    "HostToContainer",
    "Bidirectional",
    "bidirectional",
    "",
];
/// Relative paths that, joined to a prefix, reach another prefix (or a
/// look-alike of one) below it, besides the invalid ones.
const SUB_PATHS: &[&str] = &[
    "pods",
    "",
    "a/b",
    "../x",
    "/abs",
    "a/../b",
    "..",
    "a/..",
    "./a",
    "log",
    "log/pods/",
    "lib/kubelet",
    "kubelet//pki",
    "./pods",
    "podsx",
    ".",
    "containers",
];
const SUB_PATH_EXPRS: &[&str] = &["$(POD_NAME)", "", "pods", "$(NODE)/log"];

pub const TOLERATION_KEYS: &[&str] = &[
    "node-role.kubernetes.io/control-plane",
    "",
    "Node-Role.Kubernetes.io/Control-Plane",
    " node-role.kubernetes.io/control-plane ",
    "node-role.kubernetes.io/master",
    "CriticalAddonsOnly",
    "criticaladdonsonly",
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "dedicated",
    "gpu",
    "example.com/special",
];
/// Toleration keys for settings (an empty key is refused there).
pub const SETTINGS_TOLERATION_KEYS: &[&str] = &[
    "node-role.kubernetes.io/control-plane",
    "CriticalAddonsOnly",
    "Node-Role.Kubernetes.io/Control-Plane",
    "node-role.kubernetes.io/master",
    "dedicated",
    "node.kubernetes.io/not-ready",
    "gpu",
];
pub const OBJECT_OPERATORS: &[&str] = &["Exists", "Equal", "", "exists", "EXISTS", "Lt", "Gt"];
pub const OPERATORS: &[&str] = &["Exists", "Equal", "Lt", "Gt"];
pub const TOLERATION_VALUES: &[&str] = &["", "true", "gpu", "NoSchedule", "5", "-3", "05"];
/// Values for `Lt`/`Gt` in settings (canonical integers).
pub const THRESHOLD_VALUES: &[&str] = &["0", "5", "-3", "100"];
/// `tolerationSeconds` on objects: 0 and less evict at once.
pub const TOLERATION_SECONDS: &[i64] = &[0, -5, 60, 300, 3600];
pub const OBJECT_EFFECTS: &[&str] = &[
    "",
    "NoSchedule",
    "PreferNoSchedule",
    "NoExecute",
    "noschedule",
];
pub const EFFECTS: &[&str] = &["", "NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Inline CSI volume attribute keys (NFS, SMB, secrets-store), with
/// spellings drivers fold together.
pub const ATTRIBUTE_KEYS: &[&str] = &[
    "server",
    "Server",
    "share",
    "mountOptions",
    "secretName",
    "source",
    "\u{130}d",
];
pub const BOOL_SPEC_FIELDS: &[&str] = &[
    "attachRequired",
    "podInfoOnMount",
    "requiresRepublish",
    "storageCapacity",
    "seLinuxMount",
];
pub const FS_GROUP_POLICIES: &[&str] = &["None", "File", "ReadWriteOnceWithFSType"];

/// Provisioners, inline CSI drivers and CSIDriver names.
pub const DRIVERS: &[&str] = &[
    "ebs.csi.aws.com",
    "rook-ceph.rbd.csi.ceph.com",
    "rbd.csi.ceph.com",
    "secrets-store.csi.k8s.io",
    "smb.csi.k8s.io",
    "nfs.csi.k8s.io",
    "file.csi.azure.com",
    "pd.csi.storage.gke.io",
    "csi.vsphere.vmware.com",
    "evil.csi.attacker.io",
    "evil-ebs.csi.aws.com.attacker.io",
    "ebs.csi.aws.com.attacker.io",
    "EBS.csi.aws.com",
    "xebs.csi.aws.com",
    "a.b.rbd.csi.ceph.com",
    " ebs.csi.aws.com",
    "ebs.csi.aws.com ",
    "kubernetes.io/aws-ebs",
    "kubernetes.io/gce-pd",
    "kubernetes.io/azure-file",
    "kubernetes.io/rbd",
    "kubernetes.io/no-provisioner",
    "kubernetes.io/glusterfs",
    "Kubernetes.io/aws-ebs",
    "kubernetes.io/aws-ebs ",
    "",
];
pub const DRIVER_PATTERNS: &[&str] = &[
    "ebs.csi.aws.com",
    "*.rbd.csi.ceph.com",
    "rbd.csi.ceph.com",
    "secrets-store.csi.k8s.io",
    "*.csi.k8s.io",
    "file.csi.azure.com",
    "pd.csi.storage.gke.io",
    "*-ebs.csi.aws.com",
    "*.csi.aws.com",
    "csi.vsphere.vmware.com",
    "smb.csi.k8s.io",
    "*",
    "e*s.csi.aws.com",
    "kubernetes.io/glusterfs",
    "kubernetes.*",
];
pub const BAD_DRIVER_PATTERNS: &[&str] = &[
    "",
    "**.x",
    "kubernetes.io/aws-ebs",
    "a..b",
    "*.",
    ".csi",
    "a b",
];

pub const PARAMETER_KEYS: &[&str] = &[
    "type",
    "Type",
    " Encrypted ",
    "encrypted",
    "ENCRYPTED",
    "iops",
    "kmsKeyId",
    "csi.storage.k8s.io/fstype",
    "csi.storage.k8s.io/provisioner-secret-name",
    "csi.storage.k8s.io/provisioner-secret-namespace",
    "CSI.Storage.K8s.io/Node-Stage-Secret-Namespace",
    " csi.storage.k8s.io/node-publish-secret-namespace",
    "csi.storage.k8s.io/controller-expand-secret-namespace",
    "csi.storage.k8s.io/controller-publish-secret-namespace",
    "csi.storage.k8s.io/node-expand-secret-namespace",
    "csi.storage.k8s.io/node-stage-secret-name",
    "csiProvisionerSecretNamespace",
    "csiNodePublishSecretName",
    "clusterID",
    "pool",
    "subDir",
    "\u{130}opsPerGB",
    "\u{212A}msKeyId",
    "encrypted\u{17F}",
];
pub const PARAMETER_VALUES: &[&str] = &[
    "gp3",
    "io1",
    "true",
    "True",
    " TRUE ",
    "false",
    "ext4",
    "kube-system",
    "rook-ceph",
    "default",
    "${pvc.namespace}",
    " ${pvc.namespace} ",
    "${pvc.name}",
    "${pvc.annotations['team.example.com/secret']}",
    "${pv.name}",
    "${PVC.NAMESPACE}",
    "$pvc.namespace",
    "",
    "3000",
];
pub const RULE_KEYS: &[&str] = &[
    "type",
    "encrypted",
    "csi.storage.k8s.io/fstype",
    "Encrypted",
    "iops",
];
pub const RULE_VALUES: &[&str] = &["gp3", "io1", "true", "ext4", "False"];
pub const RULE_FORBIDDEN_KEYS: &[&str] = &["kmsKeyId", "iops", "KmsKeyId", "pool"];
pub const NAMESPACES: &[&str] = &["kube-system", "rook-ceph", "storage"];
pub const BAD_NAMESPACES: &[&str] = &["Default", "", "-x", "a_b"];

pub const MOUNT_OPTIONS: &[&str] = &[
    "debug",
    "nfsvers=4.1",
    "uid=0",
    "UID=0",
    " uid=0 ",
    "gid=0",
    "dir_mode=0777",
    "file_mode=0777",
    "mfsymlinks",
    "cache=strict",
    "discard",
    "ro",
    "noexec",
    "uid",
    "",
    "vers=3.1.1,uid=0",
    "nfsvers=4.1,suid,exec",
    "uid=+0",
    "uid=root",
    "gid=-4294967296",
    "discard, debug",
];
pub const ALLOWED_MOUNT_OPTIONS: &[&str] = &[
    "nfsvers=4.1",
    "nfsvers",
    "discard",
    "mfsymlinks",
    "cache=strict",
    "uid=1000",
    "ro",
];
pub const FORBIDDEN_MOUNT_OPTIONS: &[&str] =
    &["uid=0", "gid=0", "dir_mode=0777", "debug", "noexec"];
pub const RECLAIM_POLICIES: &[&str] = &["Delete", "Retain", "Recycle", "delete"];
pub const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer", "waitforfirstconsumer"];
const LIFECYCLE_MODES: &[&str] = &["Persistent", "Ephemeral", "ephemeral"];

/// Image volume references with the repository the kubelet reads
/// (distribution/reference normalisation), whether a digest is given, and
/// the pull policy the API server defaults to; `None`: unparseable.
/// A normalised repository, whether a digest is given, the default pull
/// policy.
pub type ParsedImage = (&'static str, bool, &'static str);
pub const IMAGE_REFERENCES: &[(&str, Option<ParsedImage>)] = &[
    (
        "busybox",
        Some(("docker.io/library/busybox", false, "Always")),
    ),
    (
        "busybox:1.37",
        Some(("docker.io/library/busybox", false, "IfNotPresent")),
    ),
    (
        "docker.io/busybox:latest",
        Some(("docker.io/library/busybox", false, "Always")),
    ),
    (
        "index.docker.io/library/busybox",
        Some(("docker.io/library/busybox", false, "Always")),
    ),
    (
        "grafana/alloy:v1.9.1",
        Some(("docker.io/grafana/alloy", false, "IfNotPresent")),
    ),
    (
        "quay.io/crio/artifact:v2",
        Some(("quay.io/crio/artifact", false, "IfNotPresent")),
    ),
    (
        "quay.io/crio/artifact@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        Some(("quay.io/crio/artifact", true, "IfNotPresent")),
    ),
    (
        "registry.local:5000/tools/jq",
        Some(("registry.local:5000/tools/jq", false, "Always")),
    ),
    ("quay.io/CRIO/artifact", None),
    ("busybox@sha256:abc", None),
];
pub const IMAGE_PATTERNS: &[&str] = &[
    "docker.io/library/*",
    "docker.io/library/busybox",
    "quay.io/crio/**",
    "quay.io/*/artifact",
    "registry.local:5000/**",
];
pub const BAD_IMAGE_PATTERNS: &[&str] =
    &["busybox", "quay.io/**/x", "quay.io/crio/artifact:v2", ""];
pub const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
pub const EPHEMERAL_CLASS_NAMES: &[&str] = &["local-nvme", "gp3", "", "fast"];
/// PersistentVolume sources csi-translation-lib translates, with the driver.
pub const PV_TRANSLATED: &[(&str, &str)] = &[
    ("awsElasticBlockStore", "ebs.csi.aws.com"),
    ("gcePersistentDisk", "pd.csi.storage.gke.io"),
    ("azureDisk", "disk.csi.azure.com"),
    ("azureFile", "file.csi.azure.com"),
    ("cinder", "cinder.csi.openstack.org"),
    ("vsphereVolume", "csi.vsphere.vmware.com"),
    ("portworxVolume", "pxd.portworx.com"),
];
pub const PV_UNTRANSLATED: &[&str] = &["nfs", "iscsi", "rbd", "cephfs", "flexVolume"];
pub const PV_SECRET_REFS: &[&str] = &[
    "controllerPublishSecretRef",
    "nodeStageSecretRef",
    "nodePublishSecretRef",
    "controllerExpandSecretRef",
    "nodeExpandSecretRef",
];
pub const PROVISIONER_ACCOUNT: &str = "local-path-storage/local-path-provisioner-service-account";

const USERS: &[&str] = &[
    "mallory@example.com",
    "admin@example.com",
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:serviceaccount:local-path-storage:local-path-provisioner-service-account",
];
const GROUPS: &[&str] = &["system:authenticated", "platform-admins", "system:masters"];
const DS_NAMES: &[&str] = &["fluent-bit", "node-exporter", "agent"];
const DS_NAMESPACES: &[&str] = &["logging", "kube-system", "monitoring"];
const CLASS_NAMES: &[&str] = &["gp3", "standard", "fast"];

const UNKNOWN_KEYS: &[&str] = &["futureField", "x-extra", "zz"];

fn unknown_value(g: &mut Gen) -> Value {
    match g.below(5) {
        0 => json!({"x": 1}),
        1 => json!([1, 2]),
        2 => json!("keep-me"),
        3 => Value::Null,
        _ => json!(true),
    }
}

/// Adds random fields no rule knows about: a mutation must keep them.
fn sprinkle_unknown(g: &mut Gen, map: &mut Map<String, Value>) {
    if g.chance(4) {
        let key = g.pick_str(UNKNOWN_KEYS);
        let value = unknown_value(g);
        map.entry(key).or_insert(value);
    }
}

/// `make(g)`, now and then replaced by a value of the wrong type.
fn garbled(g: &mut Gen, make: impl FnOnce(&mut Gen) -> Value) -> Value {
    let value = make(g);
    garble(g, value)
}

/// Now and then a value of the wrong type instead of `value`.
fn garble(g: &mut Gen, value: Value) -> Value {
    if !(g.chance(1) && g.chance(1)) {
        return value;
    }
    match g.below(5) {
        0 => json!(42),
        1 => json!("yes"),
        2 => json!({"k": "v"}),
        3 => json!(["a"]),
        _ => json!(false),
    }
}

// ---------------------------------------------------------------------------
// Host paths.

/// A path built from adversarial segments and slash runs.
pub fn host_path(g: &mut Gen) -> String {
    if g.chance(1) && g.chance(2) {
        return g.raw_string(24);
    }
    if g.chance(7) {
        // A respelled prefix or forbidden path, perhaps with more segments.
        let base = if g.chance(8) {
            g.pick_str(PREFIXES)
        } else {
            g.pick_str(FORBIDDEN_PATHS)
        };
        let mut path = respell(g, &base);
        for _ in 0..g.count(2) {
            if !path.ends_with('/') {
                path.push_str(&g.pick_str(PATH_SEPARATORS));
            }
            path.push_str(&g.pick_str(PATH_SEGMENTS));
        }
        return path;
    }
    let mut path = g.pick_str(PATH_STARTS);
    let n = g.count(4);
    for i in 0..n {
        if i > 0 {
            path.push_str(&g.pick_str(PATH_SEPARATORS));
        }
        path.push_str(&g.pick_str(PATH_SEGMENTS));
    }
    path.push_str(&g.pick_str(PATH_ENDS));
    path
}

/// Another spelling of a normalised absolute path: `//`, `/./`, trailing `/`.
pub fn respell(g: &mut Gen, normalized: &str) -> String {
    let mut out = g.pick_str(&["/", "//", "/./", "/.//"]);
    let segments: Vec<&str> = normalized.split('/').filter(|s| !s.is_empty()).collect();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push_str(&g.pick_str(&["/", "//", "/./", "/././", "///"]));
        }
        out.push_str(s);
    }
    out.push_str(&g.pick_str(&["", "/", "/.", "//", "/./"]));
    out
}

// ---------------------------------------------------------------------------
// DaemonSets.

fn volume(g: &mut Gen, i: usize) -> Value {
    let mut v = Map::new();
    // Mostly distinct names (the API server refuses a name used twice).
    let name = if g.chance(1) {
        g.pick_str(VOLUME_NAMES)
    } else {
        VOLUME_NAMES
            .get(i)
            .map_or_else(|| format!("v{i}"), |n| n.to_string())
    };
    v.insert("name".into(), Value::from(name));
    match g.below(8) {
        6 => {
            let mut spec = Map::new();
            if g.chance(12) {
                let class = garbled(g, |g| Value::from(g.pick_str(EPHEMERAL_CLASS_NAMES)));
                spec.insert("storageClassName".into(), class);
            }
            if g.chance(6) {
                let class = garbled(g, |g| Value::from(g.pick_str(EPHEMERAL_CLASS_NAMES)));
                spec.insert("volumeAttributesClassName".into(), class);
            }
            spec.insert("accessModes".into(), json!(["ReadWriteOnce"]));
            let template = garble(g, json!({"spec": spec}));
            v.insert(
                "ephemeral".into(),
                garble(g, json!({"volumeClaimTemplate": template})),
            );
        }
        7 => {
            let mut image = Map::new();
            let (reference, _) = IMAGE_REFERENCES[g.below(IMAGE_REFERENCES.len())];
            image.insert("reference".into(), garbled(g, |_| Value::from(reference)));
            if g.chance(10) {
                image.insert("pullPolicy".into(), Value::from(g.pick_str(PULL_POLICIES)));
            }
            v.insert("image".into(), garble(g, Value::Object(image)));
        }
        0..=2 => {
            let mut hp = Map::new();
            let path = garbled(g, |g| Value::from(host_path(g)));
            hp.insert("path".into(), path);
            if g.chance(10) {
                hp.insert("type".into(), Value::from(g.pick_str(HOST_PATH_TYPES)));
            }
            sprinkle_unknown(g, &mut hp);
            v.insert("hostPath".into(), garble(g, Value::Object(hp)));
        }
        3 => {
            let mut csi = Map::new();
            if g.chance(14) {
                csi.insert(
                    "driver".into(),
                    garbled(g, |g| Value::from(g.word(DRIVERS))),
                );
            }
            if g.chance(8) {
                csi.insert("readOnly".into(), Value::Bool(g.chance(8)));
            }
            let mut attributes = Map::new();
            attributes.insert("secretProviderClass".into(), Value::from("spc"));
            for _ in 0..g.count(3) {
                let key = g.pick_str(ATTRIBUTE_KEYS);
                attributes.insert(key, Value::from(g.pick_str(RULE_VALUES)));
            }
            csi.insert(
                "volumeAttributes".into(),
                garble(g, Value::Object(attributes)),
            );
            if g.chance(6) {
                let secret = json!({"name": "driver-creds"});
                csi.insert("nodePublishSecretRef".into(), garble(g, secret));
            }
            v.insert("csi".into(), Value::Object(csi));
        }
        4 => {
            v.insert("emptyDir".into(), json!({}));
        }
        _ => {
            v.insert(
                "configMap".into(),
                json!({"name": "cfg", "defaultMode": 420}),
            );
        }
    }
    sprinkle_unknown(g, &mut v);
    garble(g, Value::Object(v))
}

fn volume_mount(g: &mut Gen, i: usize) -> Value {
    let mut m = Map::new();
    m.insert(
        "name".into(),
        garbled(g, |g| Value::from(g.pick_str(VOLUME_NAMES))),
    );
    m.insert("mountPath".into(), Value::from(format!("/mnt/m{i}")));
    match g.below(4) {
        0 => {}
        1 => {
            m.insert("readOnly".into(), Value::Bool(false));
        }
        2 => {
            m.insert("readOnly".into(), garble(g, Value::Bool(true)));
        }
        _ => {
            m.insert("readOnly".into(), Value::Null);
        }
    }
    if g.chance(4) {
        m.insert(
            "mountPropagation".into(),
            Value::from(g.pick_str(PROPAGATIONS)),
        );
    }
    if g.chance(3) {
        m.insert("subPath".into(), Value::from(g.pick_str(SUB_PATHS)));
    }
    if g.chance(2) {
        m.insert(
            "subPathExpr".into(),
            Value::from(g.pick_str(SUB_PATH_EXPRS)),
        );
    }
    if g.chance(3) {
        m.insert(
            "recursiveReadOnly".into(),
            garbled(g, |g| Value::from(g.pick_str(MOUNT_RECURSIVE_READ_ONLY))),
        );
    }
    sprinkle_unknown(g, &mut m);
    Value::Object(m)
}

fn container(g: &mut Gen, name: &str) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), Value::from(name));
    c.insert(
        "image".into(),
        Value::from("registry.example.com/agent:1.0"),
    );
    c.insert("resources".into(), json!({}));
    let n = g.count(3);
    let mounts: Vec<Value> = (0..n).map(|i| volume_mount(g, i)).collect();
    c.insert("volumeMounts".into(), garble(g, Value::Array(mounts)));
    sprinkle_unknown(g, &mut c);
    Value::Object(c)
}

pub fn toleration(g: &mut Gen) -> Value {
    let mut t = Map::new();
    if g.chance(14) {
        t.insert("key".into(), Value::from(g.word(TOLERATION_KEYS)));
    }
    if g.chance(12) {
        t.insert(
            "operator".into(),
            garbled(g, |g| Value::from(g.pick_str(OBJECT_OPERATORS))),
        );
    }
    if g.chance(6) {
        t.insert("value".into(), Value::from(g.pick_str(TOLERATION_VALUES)));
    }
    if g.chance(10) {
        t.insert("effect".into(), Value::from(g.pick_str(OBJECT_EFFECTS)));
    }
    if g.chance(3) {
        let seconds = TOLERATION_SECONDS[g.below(TOLERATION_SECONDS.len())];
        t.insert("tolerationSeconds".into(), json!(seconds));
    }
    sprinkle_unknown(g, &mut t);
    garble(g, Value::Object(t))
}

pub fn daemon_set(g: &mut Gen) -> Value {
    let name = g.pick_str(DS_NAMES);
    let namespace = g.pick_str(DS_NAMESPACES);
    let mut pod = Map::new();
    for (list, max, k) in [
        ("containers", 3, 16),
        ("initContainers", 2, 6),
        ("ephemeralContainers", 1, 3),
    ] {
        if g.chance(k) {
            let n = g.count(max).max(usize::from(list == "containers"));
            let items: Vec<Value> = (0..n)
                .map(|i| container(g, &format!("{list}-{i}")))
                .collect();
            pod.insert(list.into(), garble(g, Value::Array(items)));
        }
    }
    let n = g.count(4);
    let volumes: Vec<Value> = (0..n).map(|i| volume(g, i)).collect();
    pod.insert("volumes".into(), garble(g, Value::Array(volumes)));
    if g.chance(10) {
        let n = g.count(3);
        let tolerations: Vec<Value> = (0..n).map(|_| toleration(g)).collect();
        pod.insert("tolerations".into(), garble(g, Value::Array(tolerations)));
    }
    if g.chance(2) {
        let node = g.pick_str(&["ip-10-0-3-17.eu-west-1.compute.internal", ""]);
        pod.insert("nodeName".into(), garble(g, Value::from(node)));
    }
    if g.chance(3) {
        pod.insert("hostNetwork".into(), Value::Bool(true));
    }
    pod.insert("restartPolicy".into(), Value::from("Always"));
    pod.insert("securityContext".into(), json!({}));
    sprinkle_unknown(g, &mut pod);
    let mut template = Map::new();
    template.insert("metadata".into(), json!({"labels": {"app": name}}));
    template.insert("spec".into(), Value::Object(pod));
    sprinkle_unknown(g, &mut template);
    let mut spec = Map::new();
    spec.insert("selector".into(), json!({"matchLabels": {"app": name}}));
    spec.insert("template".into(), Value::Object(template));
    spec.insert(
        "updateStrategy".into(),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    );
    spec.insert("revisionHistoryLimit".into(), json!(10));
    sprinkle_unknown(g, &mut spec);
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::from(name));
    metadata.insert("namespace".into(), Value::from(namespace));
    metadata.insert("labels".into(), json!({"app.kubernetes.io/name": "agent"}));
    sprinkle_unknown(g, &mut metadata);
    let mut ds = Map::new();
    ds.insert("apiVersion".into(), Value::from("apps/v1"));
    ds.insert("kind".into(), Value::from("DaemonSet"));
    ds.insert("metadata".into(), Value::Object(metadata));
    ds.insert("spec".into(), garble(g, Value::Object(spec)));
    sprinkle_unknown(g, &mut ds);
    Value::Object(ds)
}

/// A DaemonSet with one container mounting each of `paths` (read-only) as
/// a hostPath volume, and nothing else a rule looks at.
pub fn daemon_set_with_paths(paths: &[String]) -> Value {
    let volumes: Vec<Value> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"name": format!("h{i}"), "hostPath": {"path": p, "type": ""}}))
        .collect();
    let mounts: Vec<Value> = (0..paths.len())
        .map(|i| json!({"name": format!("h{i}"), "mountPath": format!("/mnt/h{i}"), "readOnly": true}))
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "monitoring"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "containers": [{"name": "agent", "image": "agent:1", "volumeMounts": mounts}],
                    "volumes": volumes
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------
// StorageClasses and CSIDrivers.

fn mount_options(g: &mut Gen) -> Value {
    let n = g.count(3);
    let options: Vec<Value> = (0..n)
        .map(|_| garbled(g, |g| Value::from(g.word(MOUNT_OPTIONS))))
        .collect();
    garble(g, Value::Array(options))
}

pub fn storage_class(g: &mut Gen) -> Value {
    let mut sc = Map::new();
    sc.insert("apiVersion".into(), Value::from("storage.k8s.io/v1"));
    sc.insert("kind".into(), Value::from("StorageClass"));
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::from(g.pick_str(CLASS_NAMES)));
    if g.chance(3) {
        // Default by either annotation, or spelled in a way the API server
        // does not read as default (storageClasses.defaultClass).
        let key = g.pick_str(&[
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ]);
        let value = g.pick_str(&["true", "true", "True", "yes", "false"]);
        metadata.insert("annotations".into(), json!({key: value}));
    }
    sprinkle_unknown(g, &mut metadata);
    sc.insert("metadata".into(), Value::Object(metadata));
    if g.chance(15) {
        sc.insert(
            "provisioner".into(),
            garbled(g, |g| Value::from(g.word(DRIVERS))),
        );
    }
    if g.chance(12) {
        let mut parameters = Map::new();
        for _ in 0..g.count(4) {
            let key = g.word(PARAMETER_KEYS);
            let value = garbled(g, |g| Value::from(g.word(PARAMETER_VALUES)));
            parameters.insert(key, value);
        }
        sc.insert("parameters".into(), garble(g, Value::Object(parameters)));
    }
    if g.chance(6) {
        sc.insert("mountOptions".into(), mount_options(g));
    }
    if g.chance(12) {
        sc.insert(
            "reclaimPolicy".into(),
            garbled(g, |g| Value::from(g.pick_str(RECLAIM_POLICIES))),
        );
    }
    if g.chance(12) {
        sc.insert(
            "volumeBindingMode".into(),
            garbled(g, |g| Value::from(g.pick_str(BINDING_MODES))),
        );
    }
    if g.chance(10) {
        sc.insert(
            "allowVolumeExpansion".into(),
            garbled(g, |g| Value::Bool(g.chance(8))),
        );
    }
    sprinkle_unknown(g, &mut sc);
    Value::Object(sc)
}

/// The old object of a StorageClass UPDATE: the same class with what an
/// update may change (labels, `allowVolumeExpansion`, `mountOptions`)
/// re-rolled.
pub fn storage_class_before(g: &mut Gen, object: &Value) -> Value {
    let mut old = object.clone();
    if let Value::Object(map) = &mut old {
        if g.chance(8) {
            match g.below(3) {
                0 => map.remove("allowVolumeExpansion"),
                _ => map.insert("allowVolumeExpansion".into(), Value::Bool(g.chance(8))),
            };
        }
        if g.chance(8) {
            match g.below(3) {
                0 => map.remove("mountOptions"),
                _ => map.insert("mountOptions".into(), mount_options(g)),
            };
        }
        if g.chance(4)
            && let Some(Value::Object(metadata)) = map.get_mut("metadata")
        {
            metadata.insert("labels".into(), json!({"legacy": "true"}));
        }
    }
    old
}

/// Audiences drivers request tokens for (`""` is the kube-apiserver's).
pub const TOKEN_AUDIENCES: &[&str] = &[
    "api://AzureADTokenExchange",
    "vault",
    "",
    "https://kubernetes.default.svc.cluster.local",
];

pub fn csi_driver(g: &mut Gen) -> Value {
    let mut spec = Map::new();
    for field in BOOL_SPEC_FIELDS {
        if g.chance(12) {
            let value = Value::Bool(g.chance(8));
            spec.insert((*field).into(), garble(g, value));
        }
    }
    if g.chance(8) {
        let policy = Value::from(g.pick_str(FS_GROUP_POLICIES));
        spec.insert("fsGroupPolicy".into(), garble(g, policy));
    }
    if g.chance(5) {
        let period = Value::from(
            g.pick_str(&["10", "60", "300"])
                .parse::<i64>()
                .unwrap_or(60),
        );
        spec.insert(
            "nodeAllocatableUpdatePeriodSeconds".into(),
            garble(g, period),
        );
    }
    if g.chance(12) {
        let modes = g.words(LIFECYCLE_MODES, 3);
        spec.insert(
            "volumeLifecycleModes".into(),
            garble(g, Value::Array(modes)),
        );
    }
    if g.chance(10) {
        let requests: Vec<Value> = g
            .words(TOKEN_AUDIENCES, 2)
            .into_iter()
            .map(|audience| serde_json::json!({"audience": audience}))
            .collect();
        spec.insert("tokenRequests".into(), garble(g, Value::Array(requests)));
        if g.chance(8) {
            let opt_in = Value::Bool(g.chance(10));
            let opt_in = garble(g, opt_in);
            spec.insert("serviceAccountTokenInSecrets".into(), opt_in);
        }
    }
    sprinkle_unknown(g, &mut spec);
    let mut metadata = Map::new();
    if g.chance(15) {
        metadata.insert("name".into(), garbled(g, |g| Value::from(g.word(DRIVERS))));
    }
    let mut driver = Map::new();
    driver.insert("apiVersion".into(), Value::from("storage.k8s.io/v1"));
    driver.insert("kind".into(), Value::from("CSIDriver"));
    driver.insert("metadata".into(), Value::Object(metadata));
    driver.insert("spec".into(), garble(g, Value::Object(spec)));
    sprinkle_unknown(g, &mut driver);
    Value::Object(driver)
}

fn secret_ref(g: &mut Gen) -> Value {
    let namespace = garbled(g, |g| Value::from(g.pick_str(NAMESPACES)));
    json!({"name": "secret", "namespace": namespace})
}

pub fn persistent_volume(g: &mut Gen) -> Value {
    let mut spec = Map::new();
    spec.insert("capacity".into(), json!({"storage": "5Gi"}));
    spec.insert("accessModes".into(), json!(["ReadWriteOnce"]));
    // Mostly one source, as validation requires; sometimes two.
    for _ in 0..1 + usize::from(g.chance(2)) {
        match g.below(6) {
            0 => {
                let mut hp = Map::new();
                hp.insert("path".into(), garbled(g, |g| Value::from(host_path(g))));
                if g.chance(10) {
                    hp.insert("type".into(), Value::from(g.pick_str(HOST_PATH_TYPES)));
                }
                spec.insert("hostPath".into(), garble(g, Value::Object(hp)));
            }
            1 => {
                let path = garbled(g, |g| Value::from(host_path(g)));
                spec.insert("local".into(), garble(g, json!({"path": path})));
            }
            2 | 3 => {
                let mut csi = Map::new();
                if g.chance(14) {
                    csi.insert(
                        "driver".into(),
                        garbled(g, |g| Value::from(g.word(DRIVERS))),
                    );
                }
                csi.insert("volumeHandle".into(), Value::from("vol-1"));
                for key in PV_SECRET_REFS {
                    if g.chance(4) {
                        csi.insert((*key).into(), secret_ref(g));
                    }
                }
                spec.insert("csi".into(), garble(g, Value::Object(csi)));
            }
            4 => {
                let (source, _) = PV_TRANSLATED[g.below(PV_TRANSLATED.len())];
                let mut volume = Map::new();
                volume.insert("volumeID".into(), Value::from("vol-1"));
                if source == "azureFile" && g.chance(8) {
                    let ns = garbled(g, |g| Value::from(g.pick_str(NAMESPACES)));
                    volume.insert("secretNamespace".into(), ns);
                } else if g.chance(4) {
                    volume.insert("secretRef".into(), secret_ref(g));
                }
                spec.insert(source.into(), garble(g, Value::Object(volume)));
            }
            _ => {
                let source = g.pick_str(PV_UNTRANSLATED);
                let mut volume = Map::new();
                volume.insert("server".into(), Value::from("172.17.0.2"));
                if g.chance(4) {
                    volume.insert("secretRef".into(), secret_ref(g));
                }
                spec.insert(source, garble(g, Value::Object(volume)));
            }
        }
    }
    if g.chance(6) {
        let ns = g.pick_str(NAMESPACES);
        spec.insert(
            "claimRef".into(),
            json!({"kind": "PersistentVolumeClaim", "namespace": ns, "name": "data"}),
        );
    }
    sprinkle_unknown(g, &mut spec);
    let mut pv = Map::new();
    pv.insert("apiVersion".into(), Value::from("v1"));
    pv.insert("kind".into(), Value::from("PersistentVolume"));
    pv.insert("metadata".into(), json!({"name": "pv-1"}));
    pv.insert("spec".into(), garble(g, Value::Object(spec)));
    sprinkle_unknown(g, &mut pv);
    Value::Object(pv)
}

pub fn volume_attributes_class(g: &mut Gen) -> Value {
    let mut parameters = Map::new();
    for _ in 0..g.count(3).max(1) {
        let key = g.pick_str(&["type", "iops", "IOPS", "throughput", "tagSpecification_1"]);
        parameters.insert(key, Value::from(g.pick_str(RULE_VALUES)));
    }
    let mut class = Map::new();
    class.insert("apiVersion".into(), Value::from("storage.k8s.io/v1"));
    class.insert("kind".into(), Value::from("VolumeAttributesClass"));
    class.insert("metadata".into(), json!({"name": "io2-class"}));
    if g.chance(15) {
        class.insert(
            "driverName".into(),
            garbled(g, |g| Value::from(g.word(DRIVERS))),
        );
    }
    class.insert("parameters".into(), garble(g, Value::Object(parameters)));
    sprinkle_unknown(g, &mut class);
    Value::Object(class)
}

// ---------------------------------------------------------------------------
// Settings.

/// How far settings may stray from the valid vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// Mostly valid entries (some still collide or contradict).
    Valid,
    /// Invalid entries and arbitrary strings too.
    Any,
}

fn entry(g: &mut Gen, vocabulary: Vocabulary, valid: &[&str], invalid: &[&str]) -> String {
    match vocabulary {
        Vocabulary::Any if g.chance(3) => {
            if g.chance(4) {
                g.raw_string(20)
            } else {
                g.pick_str(invalid)
            }
        }
        _ => g.pick_str(valid),
    }
}

fn entries(
    g: &mut Gen,
    vocabulary: Vocabulary,
    valid: &[&str],
    invalid: &[&str],
    max: usize,
) -> Value {
    let n = g.count(max);
    Value::Array(
        (0..n)
            .map(|_| Value::from(entry(g, vocabulary, valid, invalid)))
            .collect(),
    )
}

fn mode(g: &mut Gen, vocabulary: Vocabulary) -> Value {
    let modes: &[&str] = if vocabulary == Vocabulary::Any {
        &["enforce", "warn", "Warn", "monitor"]
    } else {
        &["enforce", "warn"]
    };
    Value::from(g.pick_str(modes))
}

fn toleration_pattern(g: &mut Gen, v: Vocabulary, with_operator: bool) -> Value {
    let mut t = Map::new();
    t.insert(
        "key".into(),
        Value::from(entry(g, v, SETTINGS_TOLERATION_KEYS, &["", " "])),
    );
    let mut threshold = false;
    if with_operator && g.chance(8) {
        let operator = entry(g, v, OPERATORS, &["exists", ""]);
        threshold = matches!(operator.as_str(), "Lt" | "Gt");
        t.insert("operator".into(), Value::from(operator));
    }
    if threshold {
        t.insert("value".into(), Value::from(g.pick_str(THRESHOLD_VALUES)));
    } else if with_operator && g.chance(5) {
        t.insert("value".into(), Value::from(g.pick_str(TOLERATION_VALUES)));
    }
    if g.chance(8) {
        t.insert(
            "effect".into(),
            Value::from(entry(g, v, EFFECTS, &["noschedule"])),
        );
    }
    Value::Object(t)
}

/// A required toleration: a pattern, sometimes with a `tolerationSeconds`
/// (valid only with effect `NoExecute`).
fn required_toleration(g: &mut Gen, v: Vocabulary) -> Value {
    let mut t = toleration_pattern(g, v, true);
    if g.chance(3)
        && let Value::Object(map) = &mut t
    {
        if v == Vocabulary::Valid || g.chance(2) {
            map.insert("effect".into(), Value::from("NoExecute"));
        }
        let seconds: &[i64] = if v == Vocabulary::Valid {
            &[0, 60, 300, 3600]
        } else {
            &[0, 300, -1]
        };
        map.insert(
            "tolerationSeconds".into(),
            json!(seconds[g.below(seconds.len())]),
        );
    }
    t
}

fn field_rule(g: &mut Gen, v: Vocabulary, values: &[&str]) -> Value {
    let mut rule = Map::new();
    let valid: Vec<&str> = values.iter().copied().take(2).collect();
    let allowed: Option<Vec<String>> = g.maybe(6, |g| {
        let n = g.count(2).max(1);
        (0..n).map(|_| entry(g, v, &valid, values)).collect()
    });
    if let Some(allowed) = &allowed {
        rule.insert("allowed".into(), json!(allowed));
    }
    if g.chance(5) {
        let set = match &allowed {
            Some(a) if !g.chance(2) => {
                let refs: Vec<&str> = a.iter().map(String::as_str).collect();
                g.pick_str(&refs)
            }
            _ => entry(g, v, &valid, values),
        };
        rule.insert("set".into(), Value::from(set));
    }
    Value::Object(rule)
}

fn bool_rule(g: &mut Gen) -> Value {
    let mut rule = Map::new();
    let allowed: Option<Vec<bool>> = g.maybe(6, |g| {
        let n = g.count(2).max(1);
        (0..n).map(|_| g.chance(8)).collect()
    });
    if let Some(allowed) = &allowed {
        rule.insert("allowed".into(), json!(allowed));
    }
    if g.chance(5) {
        let set = match &allowed {
            Some(a) if !g.chance(2) => g.pick(a).unwrap_or(true),
            _ => g.chance(8),
        };
        rule.insert("set".into(), Value::Bool(set));
    }
    Value::Object(rule)
}

fn parameter_rule(g: &mut Gen, v: Vocabulary) -> Value {
    let mut rule = Map::new();
    rule.insert(
        "provisioner".into(),
        Value::from(entry(g, v, DRIVER_PATTERNS, BAD_DRIVER_PATTERNS)),
    );
    let mut required = Map::new();
    for _ in 0..g.count(2) {
        let key = entry(g, v, RULE_KEYS, &["", " "]);
        let values = g.words(RULE_VALUES, 2);
        required.insert(key, Value::Array(values));
    }
    rule.insert("required".into(), Value::Object(required));
    rule.insert(
        "forbidden".into(),
        entries(g, v, RULE_FORBIDDEN_KEYS, &["", "type"], 2),
    );
    let mut allowed_values = Map::new();
    for _ in 0..g.count(2) {
        let key = entry(g, v, &["type", "iops", "fsType"], &["", "kmsKeyId"]);
        let n = match v {
            Vocabulary::Any => g.count(2),
            Vocabulary::Valid => g.count(2).max(1),
        };
        let values: Vec<Value> = (0..n)
            .map(|_| Value::from(g.pick_str(RULE_VALUES)))
            .collect();
        allowed_values.insert(key, Value::Array(values));
    }
    rule.insert("allowedValues".into(), Value::Object(allowed_values));
    Value::Object(rule)
}

fn inline_rule(g: &mut Gen, v: Vocabulary) -> Value {
    let mut rule = Map::new();
    rule.insert(
        "driver".into(),
        Value::from(entry(g, v, DRIVER_PATTERNS, BAD_DRIVER_PATTERNS)),
    );
    if g.chance(6) {
        rule.insert("namespaces".into(), entries(g, v, DS_NAMESPACES, &[""], 2));
    }
    let mut attributes = Map::new();
    let mut required = Map::new();
    for _ in 0..g.count(2) {
        let key = entry(
            g,
            v,
            &["server", "share", "secretProviderClass"],
            &["", "\u{130}d"],
        );
        required.insert(key, Value::Array(g.words(RULE_VALUES, 2)));
    }
    attributes.insert("required".into(), Value::Object(required));
    attributes.insert(
        "forbidden".into(),
        entries(
            g,
            v,
            &["mountoptions", "secretName", "subDir"],
            &["", "server"],
            2,
        ),
    );
    let mut allowed_values = Map::new();
    if g.chance(4) {
        let n = match v {
            Vocabulary::Any => g.count(2),
            Vocabulary::Valid => g.count(2).max(1),
        };
        let values: Vec<Value> = (0..n)
            .map(|_| Value::from(g.pick_str(RULE_VALUES)))
            .collect();
        allowed_values.insert(
            entry(g, v, &["source", "share"], &[""]),
            Value::Array(values),
        );
    }
    attributes.insert("allowedValues".into(), Value::Object(allowed_values));
    rule.insert("volumeAttributes".into(), Value::Object(attributes));
    if g.chance(5) {
        let choice = entry(g, v, &["required", "forbidden"], &["sometimes"]);
        rule.insert("nodePublishSecretRef".into(), Value::from(choice));
    }
    rule.insert("readOnly".into(), Value::Bool(g.chance(6)));
    Value::Object(rule)
}

fn spec_rule(g: &mut Gen, v: Vocabulary) -> Value {
    let mut rule = Map::new();
    rule.insert(
        "driver".into(),
        Value::from(entry(g, v, DRIVER_PATTERNS, BAD_DRIVER_PATTERNS)),
    );
    for field in BOOL_SPEC_FIELDS {
        if g.chance(6) {
            rule.insert((*field).into(), bool_rule(g));
        }
    }
    if g.chance(6) {
        let mut policies: Vec<&str> = FS_GROUP_POLICIES.to_vec();
        if v == Vocabulary::Any {
            policies.push("Any");
        }
        rule.insert("fsGroupPolicy".into(), field_rule(g, v, &policies));
    }
    if g.chance(6) {
        let allowed = json!([60, 300]);
        let set = if g.chance(8) { json!(60) } else { Value::Null };
        let set = if v == Vocabulary::Any && g.chance(4) {
            json!(5)
        } else {
            set
        };
        rule.insert(
            "nodeAllocatableUpdatePeriodSeconds".into(),
            json!({"allowed": allowed, "set": set}),
        );
    }
    Value::Object(rule)
}

/// Settings JSON; with [`Vocabulary::Valid`] most of them pass
/// `validate_settings`, see [`valid_settings`].
pub fn settings(g: &mut Gen, v: Vocabulary) -> Value {
    let mut s = Map::new();
    if g.chance(2) {
        let mut e = Map::new();
        let lists: [(&str, &[&str], &[&str]); 5] = [
            ("namespaces", &["kube-system", "logging"], &["", " "]),
            (
                "names",
                &["logging/fluent-bit", "gp3", "ebs.csi.aws.com"],
                &["a/b/c", "/x"],
            ),
            ("users", &["admin@example.com"], &[""]),
            ("groups", &["platform-admins"], &[""]),
            (
                "serviceAccounts",
                &["argocd/argocd-application-controller"],
                &["no-slash", "a/b/c"],
            ),
        ];
        for (name, valid, invalid) in lists {
            if g.chance(4) {
                e.insert(name.into(), entries(g, v, valid, invalid, 2));
            }
        }
        s.insert("exemptions".into(), Value::Object(e));
    }
    if g.chance(10) {
        let mut c = Map::new();
        c.insert("mode".into(), mode(g, v));
        if g.chance(10) {
            c.insert(
                "allowed".into(),
                entries(g, v, DRIVER_PATTERNS, BAD_DRIVER_PATTERNS, 4),
            );
        }
        if g.chance(6) {
            c.insert(
                "ephemeralAllowed".into(),
                entries(g, v, DRIVER_PATTERNS, BAD_DRIVER_PATTERNS, 2),
            );
        }
        if g.chance(6) {
            let mut t = Map::new();
            let allowed: Vec<Value> = (0..g.count(2))
                .map(|_| {
                    let driver = g.pick_str(DRIVER_PATTERNS);
                    let audiences = g.words(TOKEN_AUDIENCES, 2);
                    serde_json::json!({"driver": driver, "audiences": audiences})
                })
                .filter(|entry| entry["audiences"].as_array().is_some_and(|a| !a.is_empty()))
                .collect();
            t.insert("allowed".into(), Value::Array(allowed));
            if g.chance(8) {
                t.insert("requireTokenInSecrets".into(), Value::Bool(g.chance(8)));
            }
            c.insert("tokenRequests".into(), Value::Object(t));
        }
        if g.chance(6) {
            let inline: Vec<Value> = (0..g.count(2)).map(|_| inline_rule(g, v)).collect();
            c.insert("inline".into(), Value::Array(inline));
        }
        if g.chance(6) {
            let spec: Vec<Value> = (0..g.count(2)).map(|_| spec_rule(g, v)).collect();
            c.insert("spec".into(), Value::Array(spec));
        }
        s.insert("csiDrivers".into(), Value::Object(c));
    }
    if g.chance(12) {
        let mut d = Map::new();
        d.insert("mode".into(), mode(g, v));
        let mut hp = Map::new();
        let n = g.count(4);
        let allowed: Vec<Value> = (0..n)
            .map(|_| {
                let mut a = Map::new();
                a.insert(
                    "pathPrefix".into(),
                    Value::from(entry(g, v, PREFIXES, BAD_PREFIXES)),
                );
                a.insert("readOnly".into(), Value::Bool(g.chance(8)));
                if g.chance(4) {
                    a.insert(
                        "types".into(),
                        entries(g, v, &HOST_PATH_TYPES[..8], &["directory", "Bogus"], 3),
                    );
                }
                if g.chance(4) {
                    a.insert("allowBidirectional".into(), Value::Bool(true));
                }
                if g.chance(4) {
                    a.insert("allowHostToContainer".into(), Value::Bool(true));
                }
                if g.chance(6) {
                    let bad: &[&str] = if v == Vocabulary::Any {
                        &["IfPossible"]
                    } else {
                        &[]
                    };
                    a.insert(
                        "recursiveReadOnly".into(),
                        Value::from(entry(g, v, RECURSIVE_READ_ONLY, bad)),
                    );
                }
                Value::Object(a)
            })
            .collect();
        hp.insert("allowed".into(), Value::Array(allowed));
        if g.chance(4) {
            hp.insert(
                "forbidden".into(),
                entries(g, v, FORBIDDEN_PATHS, &["", "relative", "/a/../b"], 4),
            );
        }
        hp.insert("mutate".into(), Value::Bool(g.chance(8)));
        d.insert("hostPaths".into(), Value::Object(hp));
        let mut t = Map::new();
        t.insert("allowWildcard".into(), Value::Bool(g.chance(5)));
        if g.chance(4) {
            t.insert(
                "allowedWildcardEffects".into(),
                entries(g, v, &EFFECTS[1..], &["", "noexecute"], 2),
            );
        }
        let n = g.count(2);
        let forbidden: Vec<Value> = (0..n).map(|_| toleration_pattern(g, v, false)).collect();
        t.insert("forbidden".into(), Value::Array(forbidden));
        if g.chance(5) {
            let n = g.count(3);
            let allowed: Vec<Value> = (0..n).map(|_| toleration_pattern(g, v, true)).collect();
            t.insert("allowed".into(), Value::Array(allowed));
        }
        let n = g.count(2);
        let required: Vec<Value> = (0..n).map(|_| required_toleration(g, v)).collect();
        t.insert("required".into(), Value::Array(required));
        t.insert("mutate".into(), Value::Bool(g.chance(8)));
        d.insert("tolerations".into(), Value::Object(t));
        d.insert("allowNodeName".into(), Value::Bool(g.chance(4)));
        if g.chance(6) {
            let mut e = Map::new();
            if g.chance(10) {
                e.insert(
                    "storageClassNames".into(),
                    entries(g, v, EPHEMERAL_CLASS_NAMES, &["Fast", "a_b"], 2),
                );
                e.insert("allowDefaultClass".into(), Value::Bool(g.chance(8)));
            }
            if g.chance(8) {
                e.insert(
                    "volumeAttributesClassNames".into(),
                    entries(g, v, &EPHEMERAL_CLASS_NAMES[..2], &["", "Fast"], 2),
                );
            }
            d.insert("ephemeralVolumes".into(), Value::Object(e));
        }
        if g.chance(6) {
            let mut i = Map::new();
            if g.chance(10) {
                i.insert(
                    "allowed".into(),
                    entries(g, v, IMAGE_PATTERNS, BAD_IMAGE_PATTERNS, 2),
                );
            }
            i.insert("requireDigest".into(), Value::Bool(g.chance(5)));
            if g.chance(8) {
                i.insert(
                    "pullPolicies".into(),
                    entries(g, v, PULL_POLICIES, &["always", ""], 2),
                );
            }
            d.insert("imageVolumes".into(), Value::Object(i));
        }
        if g.chance(4) {
            d.insert(
                "ephemeralContainers".into(),
                json!({"allPods": g.chance(8)}),
            );
        }
        s.insert("daemonSets".into(), Value::Object(d));
    }
    if g.chance(12) {
        let mut c = Map::new();
        c.insert("mode".into(), mode(g, v));
        c.insert("allowInTreeProvisioners".into(), Value::Bool(g.chance(8)));
        c.insert("allowNoProvisioner".into(), Value::Bool(g.chance(8)));
        let n = g.count(2);
        let rules: Vec<Value> = (0..n).map(|_| parameter_rule(g, v)).collect();
        c.insert("parameters".into(), Value::Array(rules));
        let mut secrets = Map::new();
        if g.chance(8) {
            secrets.insert(
                "allowedNamespaces".into(),
                entries(g, v, NAMESPACES, BAD_NAMESPACES, 2),
            );
        }
        secrets.insert("allowPvcNamespaceTemplate".into(), Value::Bool(g.chance(8)));
        secrets.insert(
            "allowPvcAnnotationTemplates".into(),
            Value::Bool(g.chance(8)),
        );
        c.insert("secrets".into(), Value::Object(secrets));
        c.insert("reclaimPolicy".into(), field_rule(g, v, RECLAIM_POLICIES));
        c.insert("volumeBindingMode".into(), field_rule(g, v, BINDING_MODES));
        c.insert("allowVolumeExpansion".into(), bool_rule(g));
        let mut mo = Map::new();
        if g.chance(6) {
            mo.insert(
                "allowed".into(),
                entries(g, v, ALLOWED_MOUNT_OPTIONS, &["", "uid=0"], 3),
            );
        }
        mo.insert(
            "forbidden".into(),
            entries(g, v, FORBIDDEN_MOUNT_OPTIONS, &["", "nfsvers"], 2),
        );
        c.insert("mountOptions".into(), Value::Object(mo));
        if g.chance(3) {
            c.insert(
                "defaultClass".into(),
                json!({
                    "unique": !g.chance(4),
                    "mode": mode(g, v),
                    "onLookupFailure": g.pick_str(&["warn", "reject"]),
                }),
            );
        }
        s.insert("storageClasses".into(), Value::Object(c));
    }
    if g.chance(10) {
        let mut p = Map::new();
        p.insert("mode".into(), mode(g, v));
        let n = g.count(3);
        let allowed: Vec<Value> = (0..n)
            .map(|_| {
                let mut a = Map::new();
                a.insert(
                    "pathPrefix".into(),
                    Value::from(entry(g, v, PREFIXES, BAD_PREFIXES)),
                );
                if g.chance(4) {
                    a.insert(
                        "types".into(),
                        entries(g, v, &HOST_PATH_TYPES[..8], &["Bogus"], 2),
                    );
                }
                if g.chance(6) {
                    a.insert(
                        "serviceAccounts".into(),
                        entries(g, v, &[PROVISIONER_ACCOUNT], &["no-slash"], 1),
                    );
                }
                Value::Object(a)
            })
            .collect();
        let mut hp = Map::new();
        hp.insert("allowed".into(), Value::Array(allowed));
        if g.chance(4) {
            hp.insert(
                "forbidden".into(),
                entries(g, v, FORBIDDEN_PATHS, &["", "relative"], 3),
            );
        }
        p.insert("hostPaths".into(), Value::Object(hp));
        p.insert(
            "allowedSources".into(),
            entries(
                g,
                v,
                PV_UNTRANSLATED,
                &["csi", "awsElasticBlockStore", "smb"],
                2,
            ),
        );
        s.insert("persistentVolumes".into(), Value::Object(p));
    }
    if g.chance(8) {
        let mut c = Map::new();
        c.insert("mode".into(), mode(g, v));
        let rules: Vec<Value> = (0..g.count(2)).map(|_| parameter_rule(g, v)).collect();
        c.insert("parameters".into(), Value::Array(rules));
        s.insert("volumeAttributesClasses".into(), Value::Object(c));
    }
    if v == Vocabulary::Any && g.chance(1) {
        // An unknown field, or a field of the wrong type.
        let key = g.pick_str(&["unknown", "daemonSets", "csiDrivers"]);
        s.insert(key, json!(3));
    }
    Value::Object(s)
}

pub fn settings_are_valid(settings: &Value) -> bool {
    let bytes = settings.to_string().into_bytes();
    daemonset_csi_policy::evaluate::validate_settings(&bytes).valid
}

/// Settings `validate_settings` accepts: a few draws, then `{}`.
pub fn valid_settings(g: &mut Gen) -> Value {
    for _ in 0..4 {
        let s = settings(g, Vocabulary::Valid);
        if settings_are_valid(&s) {
            return s;
        }
    }
    json!({})
}

/// Sets the mode of every rule group.
pub fn with_mode(settings: &Value, mode: &str) -> Value {
    let mut s = settings.clone();
    if let Value::Object(map) = &mut s {
        for group in [
            "csiDrivers",
            "daemonSets",
            "storageClasses",
            "persistentVolumes",
            "volumeAttributesClasses",
        ] {
            let slot = map.entry(group).or_insert_with(|| json!({}));
            if let Value::Object(g) = slot {
                g.insert("mode".into(), Value::from(mode));
            }
        }
    }
    s
}

/// Shuffles every list in the settings, at every depth: every settings list
/// is a set, so no verdict may depend on this.
pub fn shuffle_lists(g: &mut Gen, value: &mut Value) {
    match value {
        Value::Array(items) => {
            for i in (1..items.len()).rev() {
                let j = g.below(i + 1);
                items.swap(i, j);
            }
            for item in items.iter_mut() {
                shuffle_lists(g, item);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                shuffle_lists(g, item);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Requests.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DaemonSet,
    StorageClass,
    CsiDriver,
    PersistentVolume,
    VolumeAttributesClass,
    /// A Pod through its `ephemeralcontainers` subresource.
    Pod,
}

impl Kind {
    pub fn gvk(self) -> (&'static str, &'static str) {
        match self {
            Kind::DaemonSet => ("apps", "DaemonSet"),
            Kind::StorageClass => ("storage.k8s.io", "StorageClass"),
            Kind::CsiDriver => ("storage.k8s.io", "CSIDriver"),
            Kind::PersistentVolume => ("", "PersistentVolume"),
            Kind::VolumeAttributesClass => ("storage.k8s.io", "VolumeAttributesClass"),
            Kind::Pod => ("", "Pod"),
        }
    }
}

/// One evaluation: a request and the settings it is judged with.
#[derive(Clone)]
pub struct Case {
    pub kind: Kind,
    pub operation: &'static str,
    pub object: Value,
    pub old_object: Value,
    pub settings: Value,
    pub username: String,
    pub groups: Vec<String>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload itself, ready to paste into a regression file.
        let pretty = serde_json::to_string_pretty(&self.payload_json()).unwrap_or_default();
        f.write_str(&pretty)
    }
}

impl Case {
    pub fn request(&self) -> Value {
        let (group, kind) = self.kind.gvk();
        let metadata = self.object.get("metadata");
        // The API server sends the name as a string (empty with generateName).
        let name = metadata
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut request = json!({
            "uid": "00000000-0000-0000-0000-000000000000",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": kind.to_ascii_lowercase() + "s"},
            "name": name,
            "operation": self.operation,
            "userInfo": {"username": self.username, "groups": self.groups},
            "object": self.object,
            "oldObject": self.old_object,
        });
        if self.kind == Kind::Pod
            && let Value::Object(r) = &mut request
        {
            r.insert("subResource".into(), Value::from("ephemeralcontainers"));
        }
        if matches!(self.kind, Kind::DaemonSet | Kind::Pod)
            && let (Some(ns), Value::Object(r)) = (
                metadata
                    .and_then(|m| m.get("namespace"))
                    .filter(|ns| ns.is_string())
                    .cloned(),
                &mut request,
            )
        {
            r.insert("namespace".into(), ns);
        }
        request
    }

    pub fn payload_json(&self) -> Value {
        json!({"request": self.request(), "settings": self.settings})
    }

    pub fn payload(&self) -> Vec<u8> {
        self.payload_json().to_string().into_bytes()
    }

    /// The same request with another object (same old object and settings).
    pub fn with_object(&self, object: Value) -> Case {
        Case {
            object,
            ..self.clone()
        }
    }

    pub fn with_settings(&self, settings: Value) -> Case {
        Case {
            settings,
            ..self.clone()
        }
    }
}

pub fn object_of(g: &mut Gen, kind: Kind) -> Value {
    match kind {
        Kind::DaemonSet => daemon_set(g),
        Kind::StorageClass => storage_class(g),
        Kind::CsiDriver => csi_driver(g),
        Kind::PersistentVolume => persistent_volume(g),
        Kind::VolumeAttributesClass => volume_attributes_class(g),
        Kind::Pod => pod(g),
    }
}

/// A running Pod: a generated DaemonSet's pod template as its spec, a
/// controller owner (a DaemonSet, another kind, or none) and debug
/// containers (`kubectl debug` shape) mounting its volumes.
pub fn pod(g: &mut Gen) -> Value {
    // The debug containers first: the source may run dry in the template.
    let n = g.count(2) + 1;
    let debug: Vec<Value> = (0..n)
        .map(|i| {
            let mut c = container(g, &format!("debugger-{i}"));
            if let Value::Object(c) = &mut c {
                c.insert("stdin".into(), Value::Bool(true));
                c.insert("tty".into(), Value::Bool(true));
                c.insert("targetContainerName".into(), Value::from("containers-0"));
            }
            c
        })
        .collect();
    let debug = garble(g, Value::Array(debug));
    let owner = match g.below(4) {
        0 => json!([]),
        1 => {
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "agent-5d9c7f", "uid": "u1", "controller": true}])
        }
        2 => {
            json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u2", "controller": g.chance(4)}])
        }
        _ => {
            json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u2", "controller": true, "blockOwnerDeletion": true}])
        }
    };
    let ds = daemon_set(g);
    let mut spec = match ds.pointer("/spec/template/spec") {
        Some(Value::Object(spec)) => spec.clone(),
        _ => Map::new(),
    };
    spec.insert("ephemeralContainers".into(), debug);
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::from("agent-x7k2q"));
    metadata.insert("namespace".into(), Value::from(g.pick_str(DS_NAMESPACES)));
    metadata.insert("ownerReferences".into(), garble(g, owner));
    sprinkle_unknown(g, &mut metadata);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": {"phase": "Running"}})
}

/// The stored Pod before a debug session: the first `k` debug containers.
fn pod_before(g: &mut Gen, pod: &Value) -> Value {
    let mut old = pod.clone();
    if let Some(Value::Array(debug)) = old.pointer_mut("/spec/ephemeralContainers") {
        let k = g.below(debug.len() + 1);
        debug.truncate(k);
    }
    old
}

/// A request of `kind` (any kind when `None`), CREATE or UPDATE, judged
/// with valid settings.
pub fn case(g: &mut Gen, kind: Option<Kind>) -> Case {
    let settings = valid_settings(g);
    let kind = kind.unwrap_or_else(|| match g.below(10) {
        0..=2 => Kind::DaemonSet,
        3 | 4 => Kind::StorageClass,
        5 => Kind::PersistentVolume,
        6 => Kind::VolumeAttributesClass,
        7 => Kind::Pod,
        _ => Kind::CsiDriver,
    });
    // The subresource takes only UPDATE.
    let operation = if kind == Kind::Pod || g.chance(5) {
        "UPDATE"
    } else {
        "CREATE"
    };
    let object = object_of(g, kind);
    let old_object = if kind == Kind::Pod {
        if g.chance(8) {
            pod_before(g, &object)
        } else {
            Value::Null
        }
    } else if operation == "UPDATE" {
        match g.below(4) {
            0 => object.clone(),
            1 => Value::Null,
            2 => object_of(g, kind),
            _ if kind == Kind::StorageClass => storage_class_before(g, &object),
            _ => object.clone(),
        }
    } else {
        Value::Null
    };
    let username = g.pick_str(USERS);
    let groups: Vec<String> = g
        .words(GROUPS, 2)
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    Case {
        kind,
        operation,
        object,
        old_object,
        settings,
        username,
        groups,
    }
}

// ---------------------------------------------------------------------------
// Fixtures.

/// The AdmissionRequest fixtures in `dir` (`test_data/`), by file name.
pub fn load_fixtures(dir: &std::path::Path) -> Vec<(String, Value)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut fixtures: Vec<(String, Value)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let text = std::fs::read(&p).ok()?;
            let value = serde_json::from_slice(&text).ok()?;
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, value))
        })
        .collect();
    fixtures.sort_by(|a, b| a.0.cmp(&b.0));
    fixtures
}

/// A fixture request of a targeted kind, judged with random valid settings.
pub fn fixture_case(g: &mut Gen, fixtures: &[(String, Value)]) -> Option<Case> {
    let (_, request) = fixtures.get(g.below(fixtures.len()))?;
    let kind = match request.pointer("/kind/kind")?.as_str()? {
        "DaemonSet" => Kind::DaemonSet,
        "StorageClass" => Kind::StorageClass,
        "CSIDriver" => Kind::CsiDriver,
        "PersistentVolume" => Kind::PersistentVolume,
        "VolumeAttributesClass" => Kind::VolumeAttributesClass,
        "Pod" if request.get("subResource")?.as_str()? == "ephemeralcontainers" => Kind::Pod,
        _ => return None,
    };
    let operation = match request.get("operation")?.as_str()? {
        "CREATE" => "CREATE",
        "UPDATE" => "UPDATE",
        "DELETE" => "DELETE",
        _ => return None,
    };
    let settings = valid_settings(g);
    let text = |pointer: &str| {
        request
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let groups = request
        .pointer("/userInfo/groups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some(Case {
        kind,
        operation,
        object: request.get("object").cloned().unwrap_or(Value::Null),
        old_object: request.get("oldObject").cloned().unwrap_or(Value::Null),
        settings,
        username: text("/userInfo/username"),
        groups,
    })
}
