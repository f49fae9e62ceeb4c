//! hostPath volumes: allowed prefixes, forbidden paths, read-only mounts,
//! mount propagation and sub-paths.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{CONTAINER_LISTS, Edit, POD_SPEC};
use crate::fields::{self, Reported, each_object, object, string};
use crate::json_path::{Entry, Field};
use crate::paths::{
    is_within, normalize_absolute, normalize_absolute_taken, normalize_lexically_taken, overlaps,
    segment_count,
};
use crate::settings::{HostPathSettings, RecursiveReadOnly};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render, render_str};

use crate::rules::{
    HOST_PATHS_ALLOWED as RULE_ALLOWED, HOST_PATHS_FORBIDDEN as RULE_FORBIDDEN, UNREADABLE,
};

pub const HOST_PATH_TYPES: &[&str] = &[
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];

#[derive(Debug, Clone, PartialEq)]
pub struct AllowedPrefix {
    pub prefix: String,
    segments: usize,
    pub read_only: bool,
    types: Option<Vec<String>>,
    allow_bidirectional: bool,
    allow_host_to_container: bool,
    recursive_read_only: RecursiveReadOnly,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostPathRules {
    allowed: Vec<AllowedPrefix>,
    forbidden: Vec<String>,
    mutate: bool,
}

impl AllowedPrefix {
    /// The allowed `hostPath.type` values; `None`: any.
    pub fn types(&self) -> Option<&[String]> {
        self.types.as_deref()
    }
}

impl HostPathRules {
    pub fn compile(settings: HostPathSettings, errors: &mut SettingErrors) -> Self {
        Self::compile_at(settings, "daemonSets.hostPaths", false, errors)
    }

    /// `root_read_only`: `/` may be allowed read-only, an explicit grant
    /// only a profile makes (`daemonset::profiles`).
    pub fn compile_with(
        settings: HostPathSettings,
        root_read_only: bool,
        errors: &mut SettingErrors,
    ) -> Self {
        Self::compile_at(settings, "daemonSets.hostPaths", root_read_only, errors)
    }

    /// The same compilation for another section (`base`, the settings path
    /// errors are reported under): PersistentVolume paths are judged by this
    /// engine too (`storage::persistent_volume`).
    pub fn compile_at(
        settings: HostPathSettings,
        base: &str,
        root_read_only: bool,
        errors: &mut SettingErrors,
    ) -> Self {
        let forbidden: Vec<String> = settings
            .forbidden
            .unwrap_or_else(crate::settings::default_forbidden_host_paths)
            .into_iter()
            .enumerate()
            .filter_map(|(i, mut p)| {
                let normalized = normalize_lexically_taken(&mut p);
                errors.parsed(format_args!("{base}.forbidden[{i}]"), &p, normalized)
            })
            .collect();
        let mut allowed: Vec<AllowedPrefix> = Vec::with_capacity(settings.allowed.len());
        for (i, mut entry) in settings.allowed.into_iter().enumerate() {
            let list = Field {
                base: &base,
                name: "allowed",
            };
            let path = Entry {
                base: &list,
                index: i,
            };
            let normalized = normalize_absolute_taken(&mut entry.path_prefix);
            let Some(prefix) = errors.parsed(
                format_args!("{path}.pathPrefix"),
                &entry.path_prefix,
                normalized,
            ) else {
                continue;
            };
            if prefix == "/" && !(root_read_only && entry.read_only) {
                errors.add(
                    format!("{path}.pathPrefix"),
                    if root_read_only {
                        "\"/\" read-write would allow writing the whole host filesystem (a profile may allow it with readOnly: true)"
                    } else {
                        "\"/\" would allow the whole host filesystem"
                    },
                );
                continue;
            }
            if let Some(f) = forbidden.iter().find(|f| is_within(&prefix, f)) {
                errors.add(
                    format!("{path}.pathPrefix"),
                    format!("{prefix} lies within forbidden path {f}"),
                );
            }
            if let Some(j) = allowed.iter().position(|a| a.prefix == prefix) {
                errors.add(
                    format!("{path}.pathPrefix"),
                    format!("{prefix} is already listed (entry {j} after normalisation)"),
                );
            }
            if let Some(types) = &entry.types {
                for (t, ty) in types.iter().enumerate() {
                    if !HOST_PATH_TYPES.contains(&ty.as_str()) {
                        errors.add(
                            format!("{path}.types[{t}]"),
                            format!(
                                "{ty:?} is not a hostPath type (one of {})",
                                HOST_PATH_TYPES[1..].join(", ")
                            ),
                        );
                    }
                }
            }
            // A read-only prefix makes every mount read-only, `Required` makes
            // those recursive, and the API server refuses `recursiveReadOnly`
            // with any propagation but None: a propagation grant there could
            // never be used.
            if entry.read_only
                && entry.recursive_read_only == RecursiveReadOnly::Required
                && (entry.allow_bidirectional || entry.allow_host_to_container)
            {
                errors.add(
                    format!("{path}.recursiveReadOnly"),
                    "Required on a read-only prefix cannot be combined with allowBidirectional or allowHostToContainer: recursive read-only mounts take no propagation",
                );
            }
            allowed.push(AllowedPrefix {
                segments: segment_count(&prefix),
                prefix,
                read_only: entry.read_only,
                types: entry.types,
                allow_bidirectional: entry.allow_bidirectional,
                allow_host_to_container: entry.allow_host_to_container,
                recursive_read_only: entry.recursive_read_only,
            });
        }
        Self {
            allowed,
            forbidden,
            mutate: settings.mutate,
        }
    }

    /// The matching prefix with the most segments, whatever the list order.
    pub fn most_specific(&self, path: &str) -> Option<&AllowedPrefix> {
        self.allowed
            .iter()
            .filter(|a| is_within(path, &a.prefix))
            .max_by_key(|a| a.segments)
    }

    /// Every allowed prefix `path` (normalised) lies under.
    pub fn covering<'s>(&'s self, path: &'s str) -> impl Iterator<Item = &'s AllowedPrefix> + 's {
        self.allowed
            .iter()
            .filter(move |a| is_within(path, &a.prefix))
    }

    pub fn no_prefix_allowed(&self) -> bool {
        self.allowed.is_empty()
    }

    /// The allowed prefixes strictly inside the tree of `path` (normalised).
    fn inside<'s>(&'s self, path: &'s str) -> impl Iterator<Item = &'s AllowedPrefix> + 's {
        self.allowed
            .iter()
            .filter(move |a| a.prefix != path && is_within(&a.prefix, path))
    }

    pub fn forbidden_overlap(&self, path: &str) -> Option<&str> {
        self.forbidden
            .iter()
            .find(|f| overlaps(path, f))
            .map(String::as_str)
    }
}

/// An allowed hostPath volume, by volume name.
struct HostVolume<'a> {
    path: String,
    rule: &'a AllowedPrefix,
}

/// A container whose mounts are judged: where it is in the pod spec.
pub struct Container<'a> {
    pub list: &'static str,
    pub index: usize,
    pub path: String,
    pub spec: &'a Map<String, Value>,
}

/// Judges a DaemonSet's pod template: every hostPath volume, and every
/// container's mounts of them.
pub fn check(
    pod_spec: &Map<String, Value>,
    rules: &HostPathRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let volumes = allowed_volumes(pod_spec, POD_SPEC, None, rules, findings);
    if volumes.is_empty() {
        return;
    }
    for &list in CONTAINER_LISTS {
        let containers = Field {
            base: &POD_SPEC,
            name: list,
        };
        each_object(
            pod_spec,
            list,
            &containers,
            findings,
            |index, path, spec, findings| {
                let container = Container {
                    list,
                    index,
                    path: path.to_string(),
                    spec,
                };
                check_container(&container, &volumes, rules, findings, edits);
            },
        );
    }
}

/// Judges only `containers` of the pod spec at `spec_path` (a Pod's new
/// debug containers): the hostPath volumes they mount, and their mounts.
/// The other volumes are not judged: they are not what the request adds.
pub fn check_containers(
    pod_spec: &Map<String, Value>,
    spec_path: &str,
    containers: &[Container<'_>],
    rules: &HostPathRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let mounted: HashSet<&str> = containers
        .iter()
        .filter_map(|c| c.spec.get("volumeMounts")?.as_array())
        .flatten()
        .filter_map(|m| m.get("name")?.as_str())
        .collect();
    if mounted.is_empty() {
        return;
    }
    let volumes = allowed_volumes(pod_spec, spec_path, Some(&mounted), rules, findings);
    if volumes.is_empty() {
        return;
    }
    for container in containers {
        check_container(container, &volumes, rules, findings, edits);
    }
}

fn check_container(
    container: &Container<'_>,
    volumes: &HashMap<&str, HostVolume<'_>>,
    rules: &HostPathRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let mounts = Field {
        base: &container.path,
        name: "volumeMounts",
    };
    each_object(
        container.spec,
        "volumeMounts",
        &mounts,
        findings,
        |m, mount_path, mount, findings| {
            let Ok(Some(name)) = string(mount, "name", || format!("{mount_path}.name"), findings)
            else {
                return;
            };
            if let Some(volume) = volumes.get(name) {
                let at = MountAt {
                    container_list: container.list,
                    container: container.index,
                    mount: m,
                };
                check_mount(mount, mount_path, name, volume, rules, findings, at, edits);
            }
        },
    );
}

/// Checks every hostPath volume (only those named in `only`, when given)
/// and returns the allowed ones by name.
fn allowed_volumes<'a>(
    pod_spec: &'a Map<String, Value>,
    spec_path: &str,
    only: Option<&HashSet<&str>>,
    rules: &'a HostPathRules,
    findings: &mut Findings,
) -> HashMap<&'a str, HostVolume<'a>> {
    let mut allowed = HashMap::new();
    let mut names = HashSet::new();
    let volumes = Field {
        base: &spec_path,
        name: "volumes",
    };
    each_object(
        pod_spec,
        "volumes",
        &volumes,
        findings,
        |_, volume_path, volume, findings| {
            // Mounts refer to volumes by name: with two volumes of one name, a
            // mount could not be tied to the volume it really gets.
            if let Some(Value::String(name)) = volume.get("name")
                && !names.insert(name.as_str())
            {
                findings.push(Violation::new(
                    format!("{volume_path}.name"),
                    render_str(name),
                    UNREADABLE,
                    "volume name used twice: mounts cannot be tied to one volume",
                ));
            }
            if let Some(only) = only
                && !volume
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| only.contains(n))
            {
                return;
            }
            if let Some((name, host_volume)) = allowed_volume(volume, volume_path, rules, findings)
            {
                allowed.insert(name, host_volume);
            }
        },
    );
    allowed
}

/// Judges one volume; returns it by name when it is an allowed hostPath.
fn allowed_volume<'a>(
    volume: &'a Map<String, Value>,
    volume_path: &dyn std::fmt::Display,
    rules: &'a HostPathRules,
    findings: &mut Findings,
) -> Option<(&'a str, HostVolume<'a>)> {
    let host_path = object(
        volume,
        "hostPath",
        || format!("{volume_path}.hostPath"),
        findings,
    )?;
    let path_path = Field {
        base: volume_path,
        name: "hostPath.path",
    };
    let raw = match string(host_path, "path", || path_path.to_string(), findings) {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            findings.push(Violation::new(
                path_path.to_string(),
                "null",
                RULE_ALLOWED,
                "hostPath volume without a path",
            ));
            return None;
        }
        Err(Reported) => return None,
    };
    let normalized = judge_path(raw, &path_path, rules, findings)?;
    let rule = rules.most_specific(&normalized)?;
    // A refused type is reported, but the mounts are still judged: every
    // problem shows in one response, and warn mode still makes read-write
    // mounts read-only.
    type_allowed(host_path, rule, volume_path, findings);
    let name = string(volume, "name", || format!("{volume_path}.name"), findings)
        .ok()
        .flatten()?;
    Some((
        name,
        HostVolume {
            path: normalized,
            rule,
        },
    ))
}

/// Normalises a volume's path and checks it against the forbidden paths and
/// the allowed prefixes; returns the normalised path when both pass.
fn judge_path(
    raw: &str,
    field: &dyn std::fmt::Display,
    rules: &HostPathRules,
    findings: &mut Findings,
) -> Option<String> {
    let normalized = match normalize_absolute(raw) {
        Ok(n) => n,
        Err(e) => {
            findings.push(Violation::new(
                field.to_string(),
                render_str(raw),
                RULE_ALLOWED,
                e.to_string(),
            ));
            return None;
        }
    };
    if let Some(forbidden) = rules.forbidden_overlap(&normalized) {
        findings.push(Violation::new(
            field.to_string(),
            render_str(raw),
            RULE_FORBIDDEN,
            format!("exposes forbidden host path {forbidden}"),
        ));
        return None;
    }
    if rules.most_specific(&normalized).is_none() {
        let reason = if rules.allowed.is_empty() {
            "hostPath volumes are not allowed (no allowed prefix configured)".to_string()
        } else {
            format!("{normalized} is not under an allowed hostPath prefix")
        };
        findings.push(Violation::new(
            field.to_string(),
            render_str(raw),
            RULE_ALLOWED,
            reason,
        ));
        return None;
    }
    Some(normalized)
}

fn type_allowed(
    host_path: &Map<String, Value>,
    rule: &AllowedPrefix,
    volume_path: &dyn std::fmt::Display,
    findings: &mut Findings,
) {
    let Some(types) = &rule.types else {
        return;
    };
    let field = Field {
        base: volume_path,
        name: "hostPath.type",
    };
    let Ok(ty) = string(host_path, "type", || field.to_string(), findings) else {
        return;
    };
    let ty = ty.unwrap_or("");
    if types.iter().any(|t| t == ty) {
        return;
    }
    findings.push(Violation::new(
        field.to_string(),
        render_str(ty),
        RULE_ALLOWED,
        format!(
            "type not allowed under {} (allowed: {types:?})",
            rule.prefix
        ),
    ));
}

/// The normalised host path a mount exposes, as kubelet computes it
/// (`pkg/kubelet/kubelet_pods.go`, `makeMounts`): the volume's path joined
/// with `subPath` (`filepath.Join(volumePath, subPath)`). kubelet expands a
/// `subPathExpr` from the container's environment and refuses a result
/// that is absolute or has a `..` element (`utilfs.IsAbs`,
/// `volumevalidation.ValidatePathNoBacksteps`), and `doBindSubPath`
/// (`pkg/volume/util/subpath/subpath_linux.go`) refuses one whose symlinks
/// resolve outside the volume: the expansion is unknown here but stays
/// inside the volume, so the mount is judged as exposing the whole volume.
/// A `subPath` that is absolute or has a `..` segment is reported (kubelet
/// refuses it too) and the mount is judged as the whole volume.
fn exposed_path(
    mount: &Map<String, Value>,
    mount_path: &dyn std::fmt::Display,
    volume_path: &str,
    findings: &mut Findings,
) -> String {
    let field = Field {
        base: mount_path,
        name: "subPath",
    };
    let sub_path = match string(mount, "subPath", || field.to_string(), findings) {
        Ok(Some(sub_path)) if !sub_path.is_empty() => Some(sub_path),
        _ => None,
    };
    let mut valid_sub_path = None;
    if let Some(sub_path) = sub_path {
        if sub_path.starts_with('/') || sub_path.split('/').any(|s| s == "..") {
            findings.push(Violation::new(
                field.to_string(),
                render_str(sub_path),
                RULE_ALLOWED,
                "subPath of a hostPath mount must be relative without '..'",
            ));
        } else {
            valid_sub_path = Some(sub_path);
        }
    }
    // kubelet uses the expansion instead of `subPath` when both are set (the
    // API server refuses that pair anyway).
    let expr_field = Field {
        base: mount_path,
        name: "subPathExpr",
    };
    if let Ok(Some(expr)) = string(mount, "subPathExpr", || expr_field.to_string(), findings)
        && !expr.is_empty()
    {
        return volume_path.to_string();
    }
    match valid_sub_path {
        Some(sub_path) => join_below(volume_path, sub_path),
        None => volume_path.to_string(),
    }
}

/// `base` (normalised) joined with a relative path without `..`, normalised:
/// `//` and `.` segments dropped, as `filepath.Join` cleans them.
fn join_below(base: &str, relative: &str) -> String {
    let mut joined = if base == "/" {
        String::new()
    } else {
        base.to_string()
    };
    for segment in relative.split('/').filter(|s| !s.is_empty() && *s != ".") {
        joined.push('/');
        joined.push_str(segment);
    }
    if joined.is_empty() {
        joined.push('/');
    }
    joined
}

/// Where a mount is, for the edits that fix it.
#[derive(Debug, Clone, Copy)]
struct MountAt {
    container_list: &'static str,
    container: usize,
    mount: usize,
}

/// Judges one mount of an allowed hostPath volume by the path it exposes
/// ([`exposed_path`]): the most specific prefix of that path decides, and
/// the tree below it must not hold a prefix the mount would break. A
/// read-write mount exposes every path below it, so a read-only prefix
/// inside the exposed tree makes the mount read-only as one the mount lies
/// under does (as a forbidden path inside the tree refuses the volume).
/// Bidirectional propagation reaches every path below too, and a mount made
/// in the container then covers a read-only prefix on the host even through
/// a read-only bind mount: it is refused when the tree holds a read-only
/// prefix that does not allow Bidirectional itself. HostToContainer
/// propagation needs its own grant (or Bidirectional's). Pushes the edits
/// that fix the mount when mutation is on.
#[allow(clippy::too_many_arguments)]
fn check_mount(
    mount: &Map<String, Value>,
    mount_path: &dyn std::fmt::Display,
    name: &str,
    volume: &HostVolume<'_>,
    rules: &HostPathRules,
    findings: &mut Findings,
    at: MountAt,
    edits: &mut Vec<Edit>,
) {
    let exposed = exposed_path(mount, mount_path, &volume.path, findings);
    let rule = rules.most_specific(&exposed).unwrap_or(volume.rule);
    let propagation = match string(
        mount,
        "mountPropagation",
        || format!("{mount_path}.mountPropagation"),
        findings,
    ) {
        Ok(Some(propagation)) => propagation,
        _ => "",
    };
    let reason = match propagation {
        "Bidirectional" if !rule.allow_bidirectional => Some(format!(
            "Bidirectional propagation of {exposed} is not allowed under {}",
            rule.prefix
        )),
        "Bidirectional" => rules
            .inside(&exposed)
            .find(|a| a.read_only && !a.allow_bidirectional)
            .map(|a| {
                format!(
                    "Bidirectional propagation of {exposed} reaches read-only prefix {}: mounts made in the container would cover it on the host",
                    a.prefix
                )
            }),
        // kubelet maps HostToContainer to rslave (`pkg/kubelet/kubelet_pods.go`,
        // `translateMountPropagation`): every mount the host later makes
        // below the path (other pods' volumes and secrets under
        // /var/lib/kubelet) appears in the container.
        "HostToContainer" if !(rule.allow_host_to_container || rule.allow_bidirectional) => {
            Some(format!(
                "HostToContainer propagation of {exposed} is not allowed under {}: mounts the host makes below it would appear in the container",
                rule.prefix
            ))
        }
        _ => None,
    };
    if let Some(reason) = reason {
        findings.push(Violation::new(
            format!("{mount_path}.mountPropagation"),
            render_str(propagation),
            RULE_ALLOWED,
            reason,
        ));
    }
    let must_be_read_only = if rule.read_only {
        Some((
            format!("{exposed} lies under read-only prefix {}", rule.prefix),
            format!("{} is a read-only prefix", rule.prefix),
        ))
    } else {
        rules.inside(&exposed).find(|a| a.read_only).map(|inner| {
            (
                format!("{exposed} contains read-only prefix {}", inner.prefix),
                format!("it contains read-only prefix {}", inner.prefix),
            )
        })
    };
    // The demand on recursion of the exposed tree: its prefix's, or a
    // stronger one of a prefix inside it (a read-only mount of the parent
    // leaves the child's submounts writable too).
    let recursive = std::iter::once(rule)
        .chain(rules.inside(&exposed))
        .max_by_key(|a| a.recursive_read_only)
        .filter(|a| a.recursive_read_only != RecursiveReadOnly::Ignore);
    if must_be_read_only.is_none() && recursive.is_none() {
        return;
    }
    let Ok(read_only) = fields::boolean(
        mount,
        "readOnly",
        || format!("{mount_path}.readOnly"),
        findings,
    ) else {
        return;
    };
    if let Some((reason, note)) = &must_be_read_only
        && read_only != Some(true)
    {
        if rules.mutate {
            findings.note(format!(
                "{mount_path} (volume {name}, {exposed}) set to readOnly: {note} (was {})",
                read_only.map_or("unset", |_| "false"),
            ));
            edits.push(Edit::MakeReadOnly {
                container_list: at.container_list,
                container: at.container,
                mount: at.mount,
            });
        } else {
            findings.push(Violation::new(
                format!("{mount_path}.readOnly"),
                read_only.map_or_else(|| "unset".to_string(), |f| render(&Value::Bool(f))),
                RULE_ALLOWED,
                format!("{reason}: the mount must set readOnly: true"),
            ));
        }
    }
    // `recursiveReadOnly` means nothing on a read-write mount (the API
    // server refuses it there): only a mount that is, or must be, read-only
    // is asked for it.
    if let Some(demand) = recursive
        && (read_only == Some(true) || must_be_read_only.is_some())
    {
        check_recursive(
            mount,
            mount_path,
            name,
            &exposed,
            demand,
            propagation,
            rules.mutate,
            findings,
            at,
            edits,
        );
    }
}

/// A read-only bind mount leaves the submounts below it writable unless
/// the runtime makes it recursively read-only: kubelet passes
/// `recursiveReadOnly` to the CRI (`pkg/kubelet/kubelet_pods.go`,
/// `makeMounts`: `IfPossible` becomes recursive where the runtime supports
/// it, `Enabled` fails the pod where it does not). The API server refuses
/// it unless `readOnly: true` and propagation is None or unset
/// (`pkg/apis/core/validation/validation.go`, `ValidateVolumeMounts`), so
/// a mount with propagation is refused under `Required` and never mutated.
/// `Preferred` only guides the mutation, and keeps an explicit `Disabled`.
#[allow(clippy::too_many_arguments)]
fn check_recursive(
    mount: &Map<String, Value>,
    mount_path: &dyn std::fmt::Display,
    name: &str,
    exposed: &str,
    demand: &AllowedPrefix,
    propagation: &str,
    mutate: bool,
    findings: &mut Findings,
    at: MountAt,
    edits: &mut Vec<Edit>,
) {
    let field = Field {
        base: mount_path,
        name: "recursiveReadOnly",
    };
    let Ok(current) = string(mount, "recursiveReadOnly", || field.to_string(), findings) else {
        return;
    };
    if matches!(current, Some("Enabled" | "IfPossible")) {
        return;
    }
    let required = demand.recursive_read_only == RecursiveReadOnly::Required;
    let verb = if required { "requires" } else { "prefers" };
    if matches!(propagation, "HostToContainer" | "Bidirectional") {
        if required {
            findings.push(Violation::new(
                format!("{mount_path}.mountPropagation"),
                render_str(propagation),
                RULE_ALLOWED,
                format!(
                    "{} requires recursive read-only mounts of {exposed}, which cannot be combined with {propagation} propagation",
                    demand.prefix
                ),
            ));
        }
        return;
    }
    if mutate && (required || current.is_none()) {
        findings.note(format!(
            "{mount_path} (volume {name}, {exposed}) set to recursiveReadOnly: IfPossible: {} {verb} recursive read-only (was {})",
            demand.prefix,
            current.map_or_else(|| "unset".to_string(), render_str),
        ));
        edits.push(Edit::SetRecursiveReadOnly {
            container_list: at.container_list,
            container: at.container,
            mount: at.mount,
        });
    } else if required {
        findings.push(Violation::new(
            field.to_string(),
            current.map_or_else(|| "unset".to_string(), render_str),
            RULE_ALLOWED,
            format!(
                "{exposed} is under {}, which requires recursive read-only: the mount must set recursiveReadOnly: IfPossible or Enabled",
                demand.prefix
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::{Value, json};

    use crate::test_support::*;

    fn fluent_bit_settings(mutate: bool) -> Value {
        json!({"daemonSets": {"hostPaths": {"mutate": mutate, "allowed": [
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/etc/machine-id", "readOnly": true, "types": ["File"]}
        ]}}})
    }

    #[test]
    fn read_only_log_shipper_is_accepted_untouched() {
        assert_accepted_untouched(&run(
            "daemonset-fluent-bit.json",
            fluent_bit_settings(false),
        ));
    }

    #[test]
    fn default_settings_allow_no_host_path_at_all() {
        let response = run("daemonset-fluent-bit.json", json!({}));
        assert_violations(
            &response,
            3,
            &[
                "spec.template.spec.volumes[1].hostPath.path=\"/var/log\"",
                "spec.template.spec.volumes[2].hostPath.path",
                "spec.template.spec.volumes[3].hostPath.path",
                "hostPath volumes are not allowed",
                "[daemonSets.hostPaths.allowed]",
            ],
        );
    }

    #[test]
    fn read_write_mounts_under_read_only_prefix_are_rejected_in_every_container() {
        let response = run(
            "daemonset-fluent-bit-rw-varlog.json",
            fluent_bit_settings(false),
        );
        assert_violations(
            &response,
            2,
            &[
                "spec.template.spec.containers[0].volumeMounts[1].readOnly=unset",
                "spec.template.spec.initContainers[0].volumeMounts[0].readOnly=unset",
                "/var/log lies under read-only prefix /var/log",
            ],
        );
    }

    #[test]
    fn mutation_makes_mounts_read_only_and_keeps_unknown_fields() {
        let settings = fluent_bit_settings(true);
        let request = fixture("daemonset-fluent-bit-rw-varlog.json");
        let response = evaluate(&request, settings.clone());
        assert!(response.accepted, "{:?}", response.message);
        let mutated = response.mutated_object.clone().expect("mutated object");
        let pod = &mutated["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["volumeMounts"][1]["readOnly"], true);
        assert_eq!(
            pod["initContainers"][0]["volumeMounts"][0]["readOnly"],
            true
        );
        assert_eq!(pod["futureField"], json!({"x": 1}));
        assert_eq!(
            pod["containers"][0]["volumeMounts"][1]["futureMountField"],
            "keep-me"
        );
        let warnings = warnings(&response);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains(
                "containers[0].volumeMounts[1] (volume varlog, /var/log) set to readOnly"
            )
        );

        // Only the two readOnly flags changed.
        let mut expected = request["object"].clone();
        let pod = &mut expected["spec"]["template"]["spec"];
        pod["containers"][0]["volumeMounts"][1]["readOnly"] = Value::Bool(true);
        pod["initContainers"][0]["volumeMounts"][0]["readOnly"] = Value::Bool(true);
        assert_eq!(mutated, expected);

        assert_accepted_untouched(&reevaluate(&request, &response, settings));
    }

    #[test]
    fn redundant_spellings_match_and_look_alikes_do_not() {
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": [{"pathPrefix": "/var/log/", "readOnly": true}]}}});
        let response = run("daemonset-tricky-paths.json", settings);
        let message = message(&response);
        for accepted in ["volumes[1]", "volumes[2]", "volumes[3]"] {
            assert!(
                !message.contains(accepted),
                "{accepted} wrongly refused: {message}"
            );
        }
        assert_violations(
            &response,
            4,
            &[
                "volumes[4].hostPath.path=\"/var/logs\": /var/logs is not under an allowed hostPath prefix",
                "volumes[5].hostPath.path=\"/\": exposes forbidden host path",
                "volumes[6].hostPath.path=\"relative/path\": path is not absolute",
                "volumes[7].hostPath.path=\"/var/log/../../etc\": path contains a '..' segment",
            ],
        );
    }

    #[test]
    fn runtime_sockets_are_forbidden_even_through_a_parent_directory() {
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": [
            {"pathPrefix": "/var/run"}, {"pathPrefix": "/run"},
            {"pathPrefix": "/proc", "readOnly": true}, {"pathPrefix": "/sys", "readOnly": true}
        ]}}});
        let response = run("daemonset-runtime-socket.json", settings);
        assert_violations(
            &response,
            3,
            &[
                "volumes[1].hostPath.path=\"/var/run/docker.sock\": exposes forbidden host path /var/run/docker.sock",
                "volumes[2].hostPath.path=\"/run/containerd/containerd.sock\": exposes forbidden host path /run/containerd",
                "volumes[3].hostPath.path=\"/var/run\": exposes forbidden host path /var/run/containerd",
                "[daemonSets.hostPaths.forbidden]",
            ],
        );
    }

    #[test]
    fn csi_node_plugin_needs_bidirectional_allowed_on_the_kubelet_dir() {
        let allowed = |bidirectional: bool| {
            json!({"daemonSets": {
                "hostPaths": {"allowed": [
                    {"pathPrefix": "/var/lib/kubelet", "allowBidirectional": bidirectional, "types": ["Directory", "DirectoryOrCreate"]},
                    {"pathPrefix": "/dev", "types": ["Directory"]}
                ]},
                "tolerations": {"allowWildcard": true}
            }})
        };
        assert_accepted_untouched(&run("daemonset-ebs-csi-node.json", allowed(true)));
        let response = run("daemonset-ebs-csi-node.json", allowed(false));
        assert_violations(
            &response,
            1,
            &[
                "containers[0].volumeMounts[0].mountPropagation=\"Bidirectional\": Bidirectional propagation of /var/lib/kubelet is not allowed under /var/lib/kubelet",
            ],
        );
    }

    #[rstest]
    #[case::parent_first([0, 1, 2])]
    #[case::child_first([1, 2, 0])]
    #[case::reversed([2, 1, 0])]
    fn most_specific_prefix_wins_whatever_the_order(#[case] order: [usize; 3]) {
        let entries = [
            json!({"pathPrefix": "/var/lib/kubelet", "allowBidirectional": true}),
            json!({"pathPrefix": "/var/lib/kubelet/plugins_registry", "readOnly": true}),
            json!({"pathPrefix": "/dev"}),
        ];
        let allowed: Vec<Value> = order.iter().map(|&i| entries[i].clone()).collect();
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": allowed}, "tolerations": {"allowWildcard": true}}});
        let response = run("daemonset-ebs-csi-node.json", settings);
        // The plugin's read-write, Bidirectional mount of the parent
        // exposes the read-only child too.
        assert_violations(
            &response,
            3,
            &[
                "containers[1].volumeMounts[1].readOnly=unset: /var/lib/kubelet/plugins_registry lies under read-only prefix /var/lib/kubelet/plugins_registry",
                "containers[0].volumeMounts[0].readOnly=unset: /var/lib/kubelet contains read-only prefix /var/lib/kubelet/plugins_registry",
                "containers[0].volumeMounts[0].mountPropagation=\"Bidirectional\": Bidirectional propagation of /var/lib/kubelet reaches read-only prefix /var/lib/kubelet/plugins_registry",
            ],
        );
    }

    #[rstest]
    #[case::host_path_type_must_be_listed(
        "daemonset-fluent-bit.json",
        json!([
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/etc/machine-id", "readOnly": true, "types": ["Directory"]}
        ]),
        1,
        &["volumes[3].hostPath.type=\"File\": type not allowed under /etc/machine-id"]
    )]
    #[case::ephemeral_containers_and_second_mounts_count(
        "daemonset-ephemeral-container-rw.json",
        json!([
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/run/promtail"}
        ]),
        2,
        &[
            "spec.template.spec.containers[0].volumeMounts[3].readOnly",
            "spec.template.spec.ephemeralContainers[0].volumeMounts[0].readOnly",
        ]
    )]
    #[case::sub_paths_are_judged_by_the_path_they_expose(
        "daemonset-subpath.json",
        json!([
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/lib/vector"}
        ]),
        1,
        &["containers[0].volumeMounts[2].readOnly=unset: /var/log/containers lies under read-only prefix /var/log"]
    )]
    fn mounts_of_allowed_prefixes_are_judged(
        #[case] fixture: &str,
        #[case] allowed: Value,
        #[case] count: usize,
        #[case] fragments: &[&str],
    ) {
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": allowed}}});
        assert_violations(&run(fixture, settings), count, fragments);
    }

    /// `/var/lib/kubelet` read-write (Bidirectional allowed) with its `pki`
    /// read-only, and the EBS node plugin's `kubelet-dir` mount replaced.
    fn kubelet_pki(mutate: bool, mount: Value) -> (Value, Value) {
        let settings = json!({"daemonSets": {
            "hostPaths": {"mutate": mutate, "allowed": [
                {"pathPrefix": "/var/lib/kubelet", "allowBidirectional": true},
                {"pathPrefix": "/var/lib/kubelet/pki", "readOnly": true},
                {"pathPrefix": "/dev"}
            ]},
            "tolerations": {"allowWildcard": true}
        }});
        let request = edited("daemonset-ebs-csi-node.json", |object| {
            let mut m = json!({"name": "kubelet-dir", "mountPath": "/var/lib/kubelet"});
            if let (Some(m), Some(extra)) = (m.as_object_mut(), mount.as_object()) {
                m.extend(extra.clone());
            }
            object["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0] = m;
        });
        (settings, request)
    }

    #[rstest]
    #[case::sub_path(json!({"subPath": "pki"}), "/var/lib/kubelet/pki lies under read-only prefix /var/lib/kubelet/pki")]
    #[case::sub_path_trailing_slash(json!({"subPath": "pki/"}), "/var/lib/kubelet/pki lies under")]
    #[case::sub_path_dot(json!({"subPath": "./pki"}), "/var/lib/kubelet/pki lies under")]
    #[case::sub_path_below(json!({"subPath": "pki//ca.crt", "readOnly": false}), "/var/lib/kubelet/pki/ca.crt lies under read-only prefix /var/lib/kubelet/pki")]
    #[case::sub_path_dot_only(json!({"subPath": "."}), "/var/lib/kubelet contains read-only prefix /var/lib/kubelet/pki")]
    #[case::whole_parent(json!({}), "/var/lib/kubelet contains read-only prefix /var/lib/kubelet/pki")]
    #[case::sub_path_expr(json!({"subPathExpr": "$(NODE)"}), "/var/lib/kubelet contains read-only prefix /var/lib/kubelet/pki")]
    #[case::sub_path_expr_wins_over_sub_path(json!({"subPathExpr": "$(NODE)", "subPath": "pods"}), "/var/lib/kubelet contains read-only prefix")]
    fn a_writable_mount_must_not_expose_a_read_only_prefix(
        #[case] mount: Value,
        #[case] reason: &str,
    ) {
        let (settings, request) = kubelet_pki(false, mount);
        let response = evaluate(&request, settings);
        assert_violations(
            &response,
            1,
            &[
                "spec.template.spec.containers[0].volumeMounts[0].readOnly=",
                reason,
                ": the mount must set readOnly: true [daemonSets.hostPaths.allowed]",
            ],
        );
    }

    #[rstest]
    #[case::other_sub_path(json!({"subPath": "pods"}))]
    #[case::look_alike(json!({"subPath": "pkix"}))]
    #[case::look_alike_prefix(json!({"subPath": "pk"}))]
    #[case::read_only_sub_path(json!({"subPath": "pki", "readOnly": true}))]
    #[case::read_only_parent(json!({"readOnly": true}))]
    #[case::read_only_sub_path_expr(json!({"subPathExpr": "$(NODE)", "readOnly": true}))]
    #[case::bidirectional_elsewhere(json!({"subPath": "plugins", "mountPropagation": "Bidirectional"}))]
    fn mounts_that_do_not_expose_a_read_only_prefix_pass(#[case] mount: Value) {
        let (settings, request) = kubelet_pki(false, mount);
        assert_accepted_untouched(&evaluate(&request, settings));
    }

    #[test]
    fn bidirectional_may_reach_prefixes_that_are_not_read_only() {
        // policy.yaml's CSI entries: plugins and plugins_registry only
        // restrict types; the plugin's Bidirectional mount of the parent
        // reaches them, as a CSI node plugin must.
        let settings = json!({"daemonSets": {
            "hostPaths": {"allowed": [
                {"pathPrefix": "/var/lib/kubelet", "allowBidirectional": true},
                {"pathPrefix": "/var/lib/kubelet/plugins"},
                {"pathPrefix": "/var/lib/kubelet/plugins_registry"},
                {"pathPrefix": "/dev"}
            ]},
            "tolerations": {"allowWildcard": true}
        }});
        let request = fixture("daemonset-ebs-csi-node.json");
        assert_accepted_untouched(&evaluate(&request, settings));
    }

    #[rstest]
    #[case::whole_parent(json!({"readOnly": true, "mountPropagation": "Bidirectional"}), "/var/lib/kubelet reaches read-only prefix /var/lib/kubelet/pki: mounts made in the container would cover it on the host")]
    #[case::sub_path_expr(json!({"readOnly": true, "subPathExpr": "$(NODE)", "mountPropagation": "Bidirectional"}), "/var/lib/kubelet reaches read-only prefix /var/lib/kubelet/pki")]
    #[case::sub_path_into(json!({"readOnly": true, "subPath": "pki", "mountPropagation": "Bidirectional"}), "Bidirectional propagation of /var/lib/kubelet/pki is not allowed under /var/lib/kubelet/pki")]
    fn bidirectional_must_not_reach_a_prefix_that_refuses_it(
        #[case] mount: Value,
        #[case] reason: &str,
    ) {
        let (settings, request) = kubelet_pki(false, mount);
        assert_violations(
            &evaluate(&request, settings),
            1,
            &[
                "containers[0].volumeMounts[0].mountPropagation=\"Bidirectional\"",
                reason,
            ],
        );
    }

    #[rstest]
    #[case::sub_path(json!({"subPath": "pki"}), "(volume kubelet-dir, /var/lib/kubelet/pki) set to readOnly: /var/lib/kubelet/pki is a read-only prefix (was unset)")]
    #[case::whole_parent(json!({"readOnly": false}), "(volume kubelet-dir, /var/lib/kubelet) set to readOnly: it contains read-only prefix /var/lib/kubelet/pki (was false)")]
    #[case::sub_path_expr(json!({"subPathExpr": "$(NODE)"}), "(volume kubelet-dir, /var/lib/kubelet) set to readOnly: it contains read-only prefix")]
    fn mutation_makes_a_mount_exposing_a_read_only_prefix_read_only(
        #[case] mount: Value,
        #[case] note: &str,
    ) {
        let (settings, request) = kubelet_pki(true, mount);
        let response = evaluate(&request, settings.clone());
        assert!(response.accepted, "{:?}", response.message);
        let mutated = response.mutated_object.clone().expect("mutated object");
        let mut expected = request["object"].clone();
        expected["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] =
            Value::Bool(true);
        assert_eq!(mutated, expected);
        let warnings = warnings(&response);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(note), "{warnings:?}");
        assert_accepted_untouched(&reevaluate(&request, &response, settings));
    }

    #[rstest]
    #[case::under_a_read_write_child(json!({"subPath": "pods"}), true)]
    #[case::whole_read_only_volume(json!({}), false)]
    #[case::expression_is_the_whole_volume(json!({"subPathExpr": "pods"}), false)]
    fn a_sub_path_into_a_read_write_child_may_be_written(
        #[case] mount: Value,
        #[case] accepted: bool,
    ) {
        // /var/log read-only with /var/log/pods read-write: a mount of the
        // /var/log volume with subPath pods exposes only /var/log/pods.
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": [
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/log/pods"},
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/etc/machine-id", "readOnly": true}
        ]}}});
        let request = edited("daemonset-fluent-bit.json", |object| {
            let mut m = json!({"name": "varlog", "mountPath": "/var/log"});
            if let (Some(m), Some(extra)) = (m.as_object_mut(), mount.as_object()) {
                m.extend(extra.clone());
            }
            object["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1] = m;
        });
        let response = evaluate(&request, settings);
        if accepted {
            assert_accepted_untouched(&response);
        } else {
            assert_violations(
                &response,
                1,
                &[
                    "containers[0].volumeMounts[1].readOnly=unset: /var/log lies under read-only prefix /var/log",
                ],
            );
        }
    }

    #[test]
    fn sub_path_escaping_the_volume_is_rejected() {
        let settings =
            json!({"daemonSets": {"hostPaths": {"allowed": [{"pathPrefix": "/var/log"}]}}});
        let request = edited("daemonset-fluent-bit.json", |object| {
            object["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["subPath"] =
                json!("../../etc");
        });
        let response = evaluate(&request, settings);
        assert_rejected(
            &response,
            &[
                "volumeMounts[1].subPath=\"../../etc\": subPath of a hostPath mount must be relative without '..'",
            ],
        );
    }

    #[test]
    fn duplicate_volume_names_are_refused() {
        let settings = fluent_bit_settings(false);
        let request = edited("daemonset-fluent-bit.json", |object| {
            let volumes = &mut object["spec"]["template"]["spec"]["volumes"];
            volumes[3]["name"] = json!("varlog");
        });
        let response = evaluate(&request, settings);
        assert_rejected(
            &response,
            &["spec.template.spec.volumes[3].name=\"varlog\": volume name used twice"],
        );
    }

    #[test]
    fn wrong_types_are_refused_with_their_path() {
        let settings = fluent_bit_settings(true);
        let response = run("daemonset-garbled-readonly-string.json", settings.clone());
        assert_rejected(
            &response,
            &[
                "containers[0].volumeMounts[1].readOnly=\"yes\": expected a boolean, found a string [readable object]",
            ],
        );
        let response = run("daemonset-garbled-hostpath-number.json", settings.clone());
        assert_rejected(
            &response,
            &["volumes[1].hostPath.path=42: expected a string, found a number"],
        );
        let response = run("daemonset-garbled-types.json", settings);
        assert_violations(
            &response,
            2,
            &[
                "spec.template.spec.volumes={...}: expected a list, found an object",
                "spec.template.spec.tolerations=",
            ],
        );
    }

    #[test]
    fn settings_refuse_bad_prefixes_with_their_path() {
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": [
            {"pathPrefix": ""}, {"pathPrefix": "var/log"}, {"pathPrefix": "/var/../etc"},
            {"pathPrefix": "/"}, {"pathPrefix": "/var/log"}, {"pathPrefix": "/var//log/"},
            {"pathPrefix": "/run/containerd/io"}, {"pathPrefix": "/opt", "types": ["Folder"]}
        ]}}});
        assert_settings_refused(
            &settings,
            &[
                "daemonSets.hostPaths.allowed[0].pathPrefix: \"\": path is empty",
                "daemonSets.hostPaths.allowed[1].pathPrefix: \"var/log\": path is not absolute",
                "daemonSets.hostPaths.allowed[2].pathPrefix: \"/var/../etc\": path contains a '..' segment",
                "daemonSets.hostPaths.allowed[3].pathPrefix: \"/\" would allow the whole host filesystem",
                "daemonSets.hostPaths.allowed[5].pathPrefix: /var/log is already listed",
                "daemonSets.hostPaths.allowed[6].pathPrefix: /run/containerd/io lies within forbidden path /run/containerd",
                "daemonSets.hostPaths.allowed[7].types[0]: \"Folder\" is not a hostPath type",
            ],
        );
    }

    fn var_log(entry: Value, mutate: bool) -> Value {
        let mut var_log = json!({"pathPrefix": "/var/log", "readOnly": true});
        if let (Some(e), Some(extra)) = (var_log.as_object_mut(), entry.as_object()) {
            e.extend(extra.clone());
        }
        json!({"daemonSets": {"hostPaths": {"mutate": mutate, "allowed": [
            var_log,
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/etc/machine-id", "readOnly": true, "types": ["File"]}
        ]}}})
    }

    /// fluent-bit with its `/var/log` mount (`containers[0].volumeMounts[1]`) replaced.
    fn fluent_bit_var_log(mount: Value) -> Value {
        edited("daemonset-fluent-bit.json", |object| {
            let mut m = json!({"name": "varlog", "mountPath": "/var/log"});
            if let (Some(m), Some(extra)) = (m.as_object_mut(), mount.as_object()) {
                m.extend(extra.clone());
            }
            object["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1] = m;
        })
    }

    #[rstest]
    #[case::unset(json!({"readOnly": true}), "unset")]
    #[case::disabled(json!({"readOnly": true, "recursiveReadOnly": "Disabled"}), "\"Disabled\"")]
    fn required_recursive_read_only_refuses_a_plain_read_only_mount(
        #[case] mount: Value,
        #[case] value: &str,
    ) {
        let settings = var_log(json!({"recursiveReadOnly": "Required"}), false);
        let response = evaluate(&fluent_bit_var_log(mount), settings);
        assert_violations(
            &response,
            1,
            &[&format!(
                "containers[0].volumeMounts[1].recursiveReadOnly={value}: /var/log is under /var/log, which requires recursive read-only: the mount must set recursiveReadOnly: IfPossible or Enabled [daemonSets.hostPaths.allowed]"
            )],
        );
    }

    #[rstest]
    #[case::if_possible(json!({"readOnly": true, "recursiveReadOnly": "IfPossible"}))]
    #[case::enabled(json!({"readOnly": true, "recursiveReadOnly": "Enabled"}))]
    fn recursive_read_only_mounts_meet_required(#[case] mount: Value) {
        let settings = var_log(json!({"recursiveReadOnly": "Required"}), true);
        assert_accepted_untouched(&evaluate(&fluent_bit_var_log(mount), settings));
    }

    #[rstest]
    #[case::required_read_write(json!({"recursiveReadOnly": "Required"}), json!({}), json!({"readOnly": true, "recursiveReadOnly": "IfPossible"}))]
    #[case::required_disabled(json!({"recursiveReadOnly": "Required"}), json!({"readOnly": true, "recursiveReadOnly": "Disabled"}), json!({"recursiveReadOnly": "IfPossible"}))]
    #[case::preferred_unset(json!({"recursiveReadOnly": "Preferred"}), json!({"readOnly": true}), json!({"recursiveReadOnly": "IfPossible"}))]
    #[case::preferred_read_write(json!({"recursiveReadOnly": "Preferred"}), json!({"readOnly": false}), json!({"readOnly": true, "recursiveReadOnly": "IfPossible"}))]
    fn mutation_sets_if_possible(#[case] entry: Value, #[case] mount: Value, #[case] set: Value) {
        let settings = var_log(entry, true);
        let request = fluent_bit_var_log(mount);
        let response = evaluate(&request, settings.clone());
        assert!(response.accepted, "{:?}", response.message);
        let mut expected = request["object"].clone();
        let m = &mut expected["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1];
        if let (Some(m), Some(set)) = (m.as_object_mut(), set.as_object()) {
            m.extend(set.clone());
        }
        assert_eq!(response.mutated_object, Some(expected));
        assert!(
            warnings(&response).iter().any(|w| w.contains(
                "(volume varlog, /var/log) set to recursiveReadOnly: IfPossible: /var/log"
            )),
            "{:?}",
            response.warnings
        );
        assert_accepted_untouched(&reevaluate(&request, &response, settings));
    }

    #[rstest]
    #[case::preferred_without_mutation(json!({"recursiveReadOnly": "Preferred"}), false, json!({"readOnly": true}))]
    #[case::preferred_keeps_disabled(json!({"recursiveReadOnly": "Preferred"}), true, json!({"readOnly": true, "recursiveReadOnly": "Disabled"}))]
    #[case::ignore(json!({"recursiveReadOnly": "Ignore"}), true, json!({"readOnly": true}))]
    fn preferred_and_ignore_never_refuse(
        #[case] entry: Value,
        #[case] mutate: bool,
        #[case] mount: Value,
    ) {
        assert_accepted_untouched(&evaluate(
            &fluent_bit_var_log(mount),
            var_log(entry, mutate),
        ));
    }

    #[test]
    fn a_read_write_mount_of_a_read_write_prefix_is_not_asked_for_recursion() {
        let settings = var_log(
            json!({"readOnly": false, "recursiveReadOnly": "Required"}),
            true,
        );
        assert_accepted_untouched(&evaluate(&fluent_bit_var_log(json!({})), settings));
    }

    #[rstest]
    #[case::not_granted(json!({}), Some("mountPropagation=\"HostToContainer\": HostToContainer propagation of /var/log is not allowed under /var/log: mounts the host makes below it would appear in the container"))]
    #[case::granted(json!({"allowHostToContainer": true}), None)]
    #[case::bidirectional_implies_it(json!({"allowBidirectional": true}), None)]
    #[case::not_with_required(json!({"allowHostToContainer": true, "readOnly": false, "recursiveReadOnly": "Required"}), Some("mountPropagation=\"HostToContainer\": /var/log requires recursive read-only mounts of /var/log, which cannot be combined with HostToContainer propagation"))]
    fn host_to_container_needs_a_grant(#[case] entry: Value, #[case] violation: Option<&str>) {
        let request =
            fluent_bit_var_log(json!({"readOnly": true, "mountPropagation": "HostToContainer"}));
        let response = evaluate(&request, var_log(entry, true));
        match violation {
            None => assert_accepted_untouched(&response),
            Some(v) => assert_violations(&response, 1, &[v]),
        }
    }

    #[test]
    fn required_on_a_read_only_prefix_refuses_propagation_grants() {
        assert_settings_refused(
            &var_log(
                json!({"recursiveReadOnly": "Required", "allowHostToContainer": true}),
                false,
            ),
            &[
                "daemonSets.hostPaths.allowed[0].recursiveReadOnly: Required on a read-only prefix cannot be combined with allowBidirectional or allowHostToContainer",
            ],
        );
        assert_settings_refused(
            &var_log(json!({"recursiveReadOnly": "Always"}), false),
            &["daemonSets.hostPaths.allowed[0].recursiveReadOnly: unknown variant `Always`"],
        );
    }
}
