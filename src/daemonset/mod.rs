//! DaemonSets: the rules on the pod template (`spec.template.spec`).

pub mod ephemeral_containers;
pub mod ephemeral_volumes;
pub mod host_paths;
pub mod image_reference;
pub mod image_volumes;
pub mod inline_csi;
pub mod node_name;
pub mod profiles;
pub mod tolerations;

use serde_json::{Map, Value};

use crate::drivers::DriverRules;
use crate::exemptions::Requester;
use crate::fields::object;
use crate::json_splice::{NodePath, Segment};
use crate::policy::DaemonSetRules;
use crate::rules::UNREADABLE;
use crate::settings::Mode;
use crate::violation::{Findings, Violation};

pub const POD_SPEC: &str = "spec.template.spec";
pub const POD_SPEC_PATH: [Segment; 3] = [
    Segment::Member("spec"),
    Segment::Member("template"),
    Segment::Member("spec"),
];

/// Every kind of container whose mounts reach the pod's volumes.
pub const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// A change the rules want, applied once every rule has read the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    MakeReadOnly {
        container_list: &'static str,
        container: usize,
        mount: usize,
    },
    /// Sets `recursiveReadOnly: IfPossible` on a (made) read-only mount.
    SetRecursiveReadOnly {
        container_list: &'static str,
        container: usize,
        mount: usize,
    },
    /// Appends a toleration.
    AddToleration(Value),
    /// Inserts a toleration before the one at `index` (Kubernetes matches a
    /// taint with the first toleration that tolerates it).
    InsertToleration { index: usize, toleration: Value },
    /// Sets `tolerationSeconds` of the toleration at `index` (`None`: removes
    /// it, forever).
    SetTolerationSeconds { index: usize, seconds: Option<i64> },
}

impl Edit {
    /// The node the edit changes, `pod_spec` being the path to the pod
    /// spec it applies to: the mount, or the whole tolerations list (an
    /// insertion moves every toleration after it).
    pub fn node(&self, pod_spec: &[Segment]) -> NodePath {
        let mut path = pod_spec.to_vec();
        match *self {
            Self::MakeReadOnly {
                container_list,
                container,
                mount,
            }
            | Self::SetRecursiveReadOnly {
                container_list,
                container,
                mount,
            } => path.extend([
                Segment::Member(container_list),
                Segment::Index(container),
                Segment::Member("volumeMounts"),
                Segment::Index(mount),
            ]),
            Self::AddToleration(_)
            | Self::InsertToleration { .. }
            | Self::SetTolerationSeconds { .. } => path.push(Segment::Member("tolerations")),
        }
        path
    }
}

/// A DaemonSet's verdict material: what the rules found, the mode that
/// applies and the profile that judged it (`None`: the baseline).
#[derive(Debug)]
pub struct Judgement {
    pub findings: Findings,
    pub mode: Mode,
    pub profile: Option<String>,
    /// The nodes of the DaemonSet the edits changed, from its root.
    pub changed: Vec<NodePath>,
}

/// Judges a DaemonSet by the first profile that matches it, or the
/// baseline, and applies the mutations the settings enable. `Err` only
/// when the matched profile's settings are invalid (validate_settings
/// refuses them, so policy-server never runs with them).
pub fn evaluate(
    object: &mut Map<String, Value>,
    namespace: &str,
    rules: &DaemonSetRules,
    drivers: &DriverRules,
    who: &Requester<'_>,
) -> Result<Judgement, String> {
    let mut findings = Findings::default();
    let mut edits = Vec::new();
    let spec = pod_spec(object, &mut findings);
    let profile = if rules.profiles.is_empty() {
        None
    } else {
        profiles::select(&rules.profiles, &profiles::Subject::of(spec, who))?
    };
    let profile = profile.as_ref();
    let own = profile.map(profiles::Profile::rules).transpose()?;
    let own = own.unwrap_or_default();
    if let Some(pod_spec) = spec {
        let host_paths = own.host_paths.as_ref().unwrap_or(&rules.host_paths);
        match profile {
            Some(p) if p.binds_images() => profiles::check_bound_host_paths(
                pod_spec,
                p,
                host_paths,
                &rules.host_paths,
                &mut findings,
                &mut edits,
            ),
            _ => host_paths::check(pod_spec, host_paths, &mut findings, &mut edits),
        }
        let tolerations = own.tolerations.as_ref().unwrap_or(&rules.tolerations);
        tolerations::check(pod_spec, tolerations, &mut findings, &mut edits);
        inline_csi::check(
            pod_spec,
            namespace,
            own.inline_csi.as_ref().unwrap_or(drivers),
            &mut findings,
        );
        let allow_node_name = own.allow_node_name.unwrap_or(rules.allow_node_name);
        node_name::check(pod_spec, allow_node_name, &mut findings);
        ephemeral_volumes::check(pod_spec, &rules.ephemeral_volumes, &mut findings);
        image_volumes::check(pod_spec, &rules.image_volumes, &mut findings);
    }
    let changed = edits.iter().map(|edit| edit.node(&POD_SPEC_PATH)).collect();
    if !edits.is_empty() {
        apply(object, edits);
    }
    Ok(Judgement {
        findings,
        mode: own.mode.unwrap_or(rules.mode),
        profile: profile.map(|p| p.name.clone()),
        changed,
    })
}

fn pod_spec<'a>(
    daemon_set: &'a Map<String, Value>,
    findings: &mut Findings,
) -> Option<&'a Map<String, Value>> {
    let spec = object(daemon_set, "spec", || "spec".into(), findings);
    let template = spec.and_then(|s| object(s, "template", || "spec.template".into(), findings));
    let pod_spec = template.and_then(|t| object(t, "spec", || POD_SPEC.into(), findings));
    if pod_spec.is_none() && findings.violations.is_empty() {
        findings.push(Violation::new(
            POD_SPEC,
            "null",
            UNREADABLE,
            "a DaemonSet needs a pod template to be judged",
        ));
    }
    pod_spec
}

/// Applies edits to the request's own JSON: only the targeted fields change.
fn apply(object: &mut Map<String, Value>, edits: Vec<Edit>) {
    if let Some(pod_spec) = object
        .get_mut("spec")
        .and_then(|s| s.get_mut("template"))
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        apply_to_pod_spec(pod_spec, edits);
    }
}

fn mount_mut<'a>(
    pod_spec: &'a mut Map<String, Value>,
    container_list: &str,
    container: usize,
    mount: usize,
) -> Option<&'a mut Map<String, Value>> {
    pod_spec
        .get_mut(container_list)?
        .get_mut(container)?
        .get_mut("volumeMounts")?
        .get_mut(mount)?
        .as_object_mut()
}

/// Applies edits to a pod spec (a DaemonSet's template, or a Pod's own).
pub fn apply_to_pod_spec(pod_spec: &mut Map<String, Value>, edits: Vec<Edit>) {
    for edit in edits {
        match edit {
            Edit::MakeReadOnly {
                container_list,
                container,
                mount,
            } => {
                if let Some(mount) = mount_mut(pod_spec, container_list, container, mount) {
                    mount.insert("readOnly".into(), Value::Bool(true));
                }
            }
            Edit::SetRecursiveReadOnly {
                container_list,
                container,
                mount,
            } => {
                if let Some(mount) = mount_mut(pod_spec, container_list, container, mount) {
                    mount.insert("recursiveReadOnly".into(), Value::from("IfPossible"));
                }
            }
            Edit::AddToleration(toleration) => {
                let slot = pod_spec
                    .entry("tolerations")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if slot.is_null() {
                    *slot = Value::Array(Vec::new());
                }
                if let Value::Array(items) = slot {
                    items.push(toleration);
                }
            }
            Edit::InsertToleration { index, toleration } => {
                if let Some(Value::Array(items)) = pod_spec.get_mut("tolerations") {
                    items.insert(index.min(items.len()), toleration);
                }
            }
            Edit::SetTolerationSeconds { index, seconds } => {
                if let Some(toleration) = pod_spec
                    .get_mut("tolerations")
                    .and_then(|t| t.get_mut(index))
                    .and_then(Value::as_object_mut)
                {
                    match seconds {
                        Some(s) => {
                            toleration.insert("tolerationSeconds".into(), Value::from(s));
                        }
                        None => {
                            toleration.remove("tolerationSeconds");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn a_daemonset_without_pod_template_is_refused() {
        let request = edited("daemonset-no-hostpath.json", |object| {
            object["spec"] = json!({"selector": {}});
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &["spec.template.spec=null: a DaemonSet needs a pod template to be judged"],
        );
    }

    #[test]
    fn every_violation_of_one_object_is_listed() {
        let response = run("daemonset-node-name.json", json!({}));
        assert_violations(
            &response,
            4,
            &[
                "hostPath volumes are not allowed",
                "tolerates every taint",
                "nodeName pins the whole DaemonSet to one node and skips the scheduler",
            ],
        );
    }
}
