//! hostPath volumes: allowed prefixes, forbidden paths, read-only mounts,
//! mount propagation and sub-paths.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{CONTAINER_LISTS, Edit, POD_SPEC};
use crate::fields::{self, Reported, item, list, object, string};
use crate::paths::{is_within, normalize_absolute, overlaps, segment_count};
use crate::settings::HostPathSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render, render_str};

const RULE_ALLOWED: &str = "daemonSets.hostPaths.allowed";
const RULE_FORBIDDEN: &str = "daemonSets.hostPaths.forbidden";

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
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostPathRules {
    allowed: Vec<AllowedPrefix>,
    forbidden: Vec<String>,
    mutate: bool,
}

impl HostPathRules {
    pub fn compile(settings: &HostPathSettings, errors: &mut SettingErrors) -> Self {
        let base = "daemonSets.hostPaths";
        let forbidden: Vec<String> = settings
            .forbidden
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match normalize_absolute(p) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.add(format!("{base}.forbidden[{i}]"), format!("{p:?}: {e}"));
                    None
                }
            })
            .collect();
        let mut allowed: Vec<AllowedPrefix> = Vec::with_capacity(settings.allowed.len());
        for (i, entry) in settings.allowed.iter().enumerate() {
            let path = format!("{base}.allowed[{i}]");
            let prefix = match normalize_absolute(&entry.path_prefix) {
                Ok(p) if p == "/" => {
                    errors.add(
                        format!("{path}.pathPrefix"),
                        "\"/\" would allow the whole host filesystem",
                    );
                    continue;
                }
                Ok(p) => p,
                Err(e) => {
                    errors.add(
                        format!("{path}.pathPrefix"),
                        format!("{:?}: {e}", entry.path_prefix),
                    );
                    continue;
                }
            };
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
            allowed.push(AllowedPrefix {
                segments: segment_count(&prefix),
                prefix,
                read_only: entry.read_only,
                types: entry.types.clone(),
                allow_bidirectional: entry.allow_bidirectional,
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

    fn forbidden_overlap(&self, path: &str) -> Option<&str> {
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

pub fn check(
    pod_spec: &Map<String, Value>,
    rules: &HostPathRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let volumes = allowed_volumes(pod_spec, rules, findings);
    if volumes.is_empty() {
        return;
    }
    for &container_list in CONTAINER_LISTS {
        let containers = list(
            pod_spec,
            container_list,
            || format!("{POD_SPEC}.{container_list}"),
            findings,
        );
        for (c, container) in containers.iter().enumerate() {
            let container_path = format!("{POD_SPEC}.{container_list}[{c}]");
            let Some(container) = item(container, || container_path.clone(), findings) else {
                continue;
            };
            let mounts = list(
                container,
                "volumeMounts",
                || format!("{container_path}.volumeMounts"),
                findings,
            );
            for (m, mount) in mounts.iter().enumerate() {
                let mount_path = format!("{container_path}.volumeMounts[{m}]");
                let Some(mount) = item(mount, || mount_path.clone(), findings) else {
                    continue;
                };
                let Ok(Some(name)) =
                    string(mount, "name", || format!("{mount_path}.name"), findings)
                else {
                    continue;
                };
                if let Some(volume) = volumes.get(name) {
                    check_mount(mount, &mount_path, name, volume, rules, findings, || {
                        Edit::MakeReadOnly {
                            container_list,
                            container: c,
                            mount: m,
                        }
                    })
                    .into_iter()
                    .for_each(|e| edits.push(e));
                }
            }
        }
    }
}

/// Checks every hostPath volume and returns the allowed ones by name.
fn allowed_volumes<'a>(
    pod_spec: &'a Map<String, Value>,
    rules: &'a HostPathRules,
    findings: &mut Findings,
) -> HashMap<&'a str, HostVolume<'a>> {
    let mut allowed = HashMap::new();
    let volumes = list(
        pod_spec,
        "volumes",
        || format!("{POD_SPEC}.volumes"),
        findings,
    );
    for (v, volume) in volumes.iter().enumerate() {
        let volume_path = format!("{POD_SPEC}.volumes[{v}]");
        let Some(volume) = item(volume, || volume_path.clone(), findings) else {
            continue;
        };
        let Some(host_path) = object(
            volume,
            "hostPath",
            || format!("{volume_path}.hostPath"),
            findings,
        ) else {
            continue;
        };
        let path_path = format!("{volume_path}.hostPath.path");
        let raw = match string(host_path, "path", || path_path.clone(), findings) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                findings.push(Violation::new(
                    path_path,
                    "null",
                    RULE_ALLOWED,
                    "hostPath volume without a path",
                ));
                continue;
            }
            Err(Reported) => continue,
        };
        if let Some(normalized) = judge_path(raw, &path_path, rules, findings) {
            let Some(rule) = rules.most_specific(&normalized) else {
                continue;
            };
            if !type_allowed(host_path, rule, &volume_path, findings) {
                continue;
            }
            if let Ok(Some(name)) =
                string(volume, "name", || format!("{volume_path}.name"), findings)
            {
                allowed.insert(
                    name,
                    HostVolume {
                        path: normalized,
                        rule,
                    },
                );
            }
        }
    }
    allowed
}

/// Normalises a volume's path and checks it against the forbidden paths and
/// the allowed prefixes; returns the normalised path when both pass.
fn judge_path(
    raw: &str,
    field: &str,
    rules: &HostPathRules,
    findings: &mut Findings,
) -> Option<String> {
    let normalized = match normalize_absolute(raw) {
        Ok(n) => n,
        Err(e) => {
            findings.push(Violation::new(
                field,
                render_str(raw),
                RULE_ALLOWED,
                e.to_string(),
            ));
            return None;
        }
    };
    if let Some(forbidden) = rules.forbidden_overlap(&normalized) {
        findings.push(Violation::new(
            field,
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
        findings.push(Violation::new(field, render_str(raw), RULE_ALLOWED, reason));
        return None;
    }
    Some(normalized)
}

fn type_allowed(
    host_path: &Map<String, Value>,
    rule: &AllowedPrefix,
    volume_path: &str,
    findings: &mut Findings,
) -> bool {
    let Some(types) = &rule.types else {
        return true;
    };
    let field = format!("{volume_path}.hostPath.type");
    let Ok(ty) = string(host_path, "type", || field.clone(), findings) else {
        return false;
    };
    let ty = ty.unwrap_or("");
    if types.iter().any(|t| t == ty) {
        return true;
    }
    findings.push(Violation::new(
        field,
        render_str(ty),
        RULE_ALLOWED,
        format!(
            "type not allowed under {} (allowed: {types:?})",
            rule.prefix
        ),
    ));
    false
}

/// Judges one mount of an allowed hostPath volume; returns the edit that
/// fixes a read-write mount when mutation is on.
fn check_mount(
    mount: &Map<String, Value>,
    mount_path: &str,
    name: &str,
    volume: &HostVolume<'_>,
    rules: &HostPathRules,
    findings: &mut Findings,
    make_read_only: impl FnOnce() -> Edit,
) -> Option<Edit> {
    let rule = volume.rule;
    if let Ok(Some(propagation)) = string(
        mount,
        "mountPropagation",
        || format!("{mount_path}.mountPropagation"),
        findings,
    ) && propagation == "Bidirectional"
        && !rule.allow_bidirectional
    {
        findings.push(Violation::new(
            format!("{mount_path}.mountPropagation"),
            render_str(propagation),
            RULE_ALLOWED,
            format!(
                "Bidirectional propagation of {} is not allowed under {}",
                volume.path, rule.prefix
            ),
        ));
    }
    check_sub_paths(mount, mount_path, findings);
    if !rule.read_only {
        return None;
    }
    let read_only = fields::boolean(
        mount,
        "readOnly",
        || format!("{mount_path}.readOnly"),
        findings,
    );
    match read_only {
        Ok(Some(true)) | Err(Reported) => None,
        Ok(flag) if rules.mutate => {
            findings.note(format!(
                "{mount_path} (volume {name}, {}) set to readOnly: {} is a read-only prefix (was {})",
                volume.path,
                rule.prefix,
                flag.map_or("unset", |_| "false"),
            ));
            Some(make_read_only())
        }
        Ok(flag) => {
            findings.push(Violation::new(
                format!("{mount_path}.readOnly"),
                flag.map_or_else(|| "unset".to_string(), |f| render(&Value::Bool(f))),
                RULE_ALLOWED,
                format!(
                    "{} lies under read-only prefix {}: the mount must set readOnly: true",
                    volume.path, rule.prefix
                ),
            ));
            None
        }
    }
}

/// A sub-path must stay inside the volume. `subPathExpr` is expanded on the
/// node from environment variables, so it cannot be judged here.
fn check_sub_paths(mount: &Map<String, Value>, mount_path: &str, findings: &mut Findings) {
    let field = format!("{mount_path}.subPath");
    if let Ok(Some(sub_path)) = string(mount, "subPath", || field.clone(), findings)
        && (sub_path.starts_with('/') || sub_path.split('/').any(|s| s == ".."))
    {
        findings.push(Violation::new(
            field,
            render_str(sub_path),
            RULE_ALLOWED,
            "subPath of a hostPath mount must be relative without '..'",
        ));
    }
    let field = format!("{mount_path}.subPathExpr");
    if let Ok(Some(expr)) = string(mount, "subPathExpr", || field.clone(), findings)
        && !expr.is_empty()
    {
        findings.push(Violation::new(
            field,
            render_str(expr),
            RULE_ALLOWED,
            "subPathExpr on a hostPath mount is expanded on the node and cannot be checked",
        ));
    }
}
