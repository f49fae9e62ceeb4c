//! Debug containers (`pods/ephemeralcontainers`): `kubectl debug` adds
//! ephemeral containers to a running Pod by an UPDATE of that subresource,
//! the only way to add them (the API server refuses them in pod templates,
//! `ValidatePodTemplateSpec`, and on Pod create). They may mount any volume
//! of the Pod, so their mounts of its hostPath volumes are judged with the
//! DaemonSet hostPath rules: those of the profile that judges the Pod's
//! DaemonSet, else the baseline.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::apply_to_pod_spec;
use super::host_paths::{self, Container};
use super::profiles::{self, Profile, Subject};
use crate::exemptions::Requester;
use crate::fields::{self, each_object, object};
use crate::json_splice::{NodePath, Segment};
use crate::policy::DaemonSetRules;
use crate::rules::UNREADABLE;
use crate::settings::Mode;
use crate::violation::{Findings, Violation};

const SPEC: &str = "spec";
const LIST: &str = "ephemeralContainers";

/// What the debug containers of a Pod got: the findings, the mode that
/// applies and the profile whose rules judged them (`None`: the baseline).
#[derive(Debug)]
pub struct Judged {
    pub findings: Findings,
    pub mode: Mode,
    pub profile: Option<String>,
    /// The nodes of the Pod the edits changed, from its root.
    pub changed: Vec<NodePath>,
}

/// Judges the new debug containers of a Pod; `Ok(None)` when the Pod is not
/// judged at all (not controlled by a DaemonSet, and `allPods` is off);
/// `Err` only when the matched profile's settings are invalid (refused by
/// validate_settings, so never under policy-server).
pub fn evaluate(
    pod: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &DaemonSetRules,
    namespace: &str,
) -> Result<Option<Judged>, String> {
    let mut findings = Findings::default();
    let owner = daemon_set_owner(pod, &mut findings);
    if owner.is_none() && !rules.ephemeral_all_pods {
        // An unreadable owner is refused: it could hide the DaemonSet.
        let refused = !findings.violations.is_empty();
        return Ok(refused.then_some(Judged {
            changed: Vec::new(),
            findings,
            mode: rules.mode,
            profile: None,
        }));
    }
    let profile = match owner.as_deref() {
        Some(name) => judging_profile(pod, rules, namespace, name)?,
        None => None,
    };
    let profile = profile.as_ref();
    let own = profile.map(Profile::rules).transpose()?.unwrap_or_default();
    let granted = own.host_paths.as_ref().unwrap_or(&rules.host_paths);
    // A profile that names images grants its paths to the containers of
    // those images only, debug containers included (`kubectl debug
    // --image=busybox` gets the baseline).
    let binds = profile.filter(|p| p.binds_images());
    let mut edits = Vec::new();
    match object(pod, SPEC, || SPEC.into(), &mut findings) {
        Some(spec) => {
            let existing = existing_names(old);
            let mut containers = Vec::new();
            let mut baseline_containers = Vec::new();
            each_object(
                spec,
                LIST,
                &format!("{SPEC}.{LIST}"),
                &mut findings,
                |index, path, container, findings| {
                    let name =
                        fields::string(container, "name", || format!("{path}.name"), findings);
                    // The API server forbids changing or removing an
                    // ephemeral container once added
                    // (`pkg/apis/core/validation/validation.go`,
                    // `ValidatePodEphemeralContainersUpdate`): those of
                    // `oldObject` were judged when they came.
                    if let Ok(Some(name)) = name
                        && existing.contains(name)
                    {
                        return;
                    }
                    let image = container.get("image").and_then(Value::as_str);
                    let outside = binds.is_some_and(|p| !image.is_some_and(|i| p.grants_image(i)));
                    let target = if outside {
                        &mut baseline_containers
                    } else {
                        &mut containers
                    };
                    target.push(Container {
                        list: LIST,
                        index,
                        path: path.to_string(),
                        spec: container,
                    });
                },
            );
            host_paths::check_containers(
                spec,
                SPEC,
                &containers,
                granted,
                &mut findings,
                &mut edits,
            );
            if !baseline_containers.is_empty() {
                host_paths::check_containers(
                    spec,
                    SPEC,
                    &baseline_containers,
                    &rules.host_paths,
                    &mut findings,
                    &mut edits,
                );
            }
        }
        None if findings.violations.is_empty() => findings.push(Violation::new(
            SPEC,
            "null",
            UNREADABLE,
            "a Pod needs a spec to be judged",
        )),
        None => {}
    }
    let changed = edits
        .iter()
        .map(|edit| edit.node(&[Segment::Member(SPEC)]))
        .collect();
    if !edits.is_empty()
        && let Some(spec) = pod.get_mut(SPEC).and_then(Value::as_object_mut)
    {
        apply_to_pod_spec(spec, edits);
    }
    Ok(Some(Judged {
        findings,
        mode: own.mode.unwrap_or(rules.mode),
        profile: profile.map(|p| p.name.clone()),
        changed,
    }))
}

/// The profile that judges the Pod's DaemonSet, matched on what the Pod
/// shows of it: its namespace, the DaemonSet's name (the controller owner),
/// the Pod's ServiceAccount and images. The requester of a debug session is
/// not the DaemonSet's author, so a profile matched on requesters does not
/// apply (the baseline does, the stricter answer).
fn judging_profile(
    pod: &Map<String, Value>,
    rules: &DaemonSetRules,
    namespace: &str,
    daemon_set: &str,
) -> Result<Option<Profile>, String> {
    if rules.profiles.is_empty() {
        return Ok(None);
    }
    let who = Requester {
        namespace,
        name: daemon_set,
        namespaced: true,
        username: "",
        groups: &[],
    };
    let spec = pod.get(SPEC).and_then(Value::as_object);
    profiles::select(&rules.profiles, &Subject::of(spec, &who))
}

/// The names of the ephemeral containers the stored Pod already has. An
/// unreadable `oldObject` knows none: every container is judged.
fn existing_names(old: Option<&Map<String, Value>>) -> HashSet<&str> {
    old.and_then(|o| o.get(SPEC)?.get(LIST)?.as_array())
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name")?.as_str())
        .collect()
}

/// The name of the Pod's controller owner when it (`ownerReferences` with
/// `controller: true`, at most one, `ValidateOwnerReferences`) is a
/// DaemonSet of group `apps`, as the DaemonSet controller sets it
/// (`pkg/controller/daemon/daemon_controller.go`, `controller.NewControllerRef`).
fn daemon_set_owner(pod: &Map<String, Value>, findings: &mut Findings) -> Option<String> {
    let metadata = object(pod, "metadata", || "metadata".into(), findings)?;
    let mut controller_name = None;
    each_object(
        metadata,
        "ownerReferences",
        &"metadata.ownerReferences",
        findings,
        |_, path, owner, findings| {
            let controller = fields::boolean(
                owner,
                "controller",
                || format!("{path}.controller"),
                findings,
            );
            if controller != Ok(Some(true)) {
                return;
            }
            let kind = fields::string(owner, "kind", || format!("{path}.kind"), findings);
            let api_version = fields::string(
                owner,
                "apiVersion",
                || format!("{path}.apiVersion"),
                findings,
            );
            if kind == Ok(Some("DaemonSet"))
                && api_version.is_ok_and(|v| v.is_some_and(|v| v.split('/').next() == Some("apps")))
            {
                let name = owner
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                controller_name = Some(name.to_string());
            }
        },
    );
    controller_name
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::test_support::*;

    const RW: &str = "pod-fluent-bit-debug-rw-varlog.json";
    const BIDIRECTIONAL: &str = "pod-fluent-bit-debug-bidirectional.json";

    fn fluent_bit(mutate: bool) -> Value {
        json!({"daemonSets": {"hostPaths": {"mutate": mutate, "allowed": [
            {"pathPrefix": "/var/log", "readOnly": true},
            {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
            {"pathPrefix": "/etc/machine-id", "readOnly": true, "types": ["File"]}
        ]}}})
    }

    /// fluent-bit's profile: /var/log read-write, for its namespace and
    /// DaemonSet, with or without binding its image.
    fn with_profile(images: bool) -> Value {
        let mut profile = json!({
            "name": "fluent-bit",
            "match": {"namespaces": ["logging"], "names": ["fluent-bit"]},
            "hostPaths": {"allowed": [{"pathPrefix": "/var/log"}]}
        });
        if images {
            profile["match"]["images"] =
                json!([{"repository": "cr.fluentbit.io/fluent/fluent-bit"}]);
        }
        let mut settings = fluent_bit(false);
        settings["daemonSets"]["profiles"] = json!([profile]);
        settings
    }

    #[test]
    fn the_profile_of_the_pods_daemon_set_judges_its_debug_containers() {
        let response = evaluate(&fixture(RW), with_profile(false));
        assert_accepted_untouched(&response);
        assert_eq!(
            response
                .audit_annotations
                .and_then(|a| a.get("profile").cloned()),
            Some("fluent-bit".to_string())
        );
        // Another DaemonSet's Pod in the namespace: the baseline.
        let other = edited(RW, |pod| {
            pod["metadata"]["ownerReferences"][0]["name"] = json!("other");
        });
        assert!(!evaluate(&other, with_profile(false)).accepted);
    }

    #[test]
    fn a_profile_binding_images_leaves_a_debug_image_to_the_baseline() {
        assert_violations(
            &run(RW, with_profile(true)),
            1,
            &[
                "spec.ephemeralContainers[0].volumeMounts[0].readOnly=unset: /var/log lies under read-only prefix /var/log",
            ],
        );
        let same_image = edited(RW, |pod| {
            pod["spec"]["ephemeralContainers"][0]["image"] =
                json!("cr.fluentbit.io/fluent/fluent-bit:3.2.4");
        });
        assert_accepted_untouched(&evaluate(&same_image, with_profile(true)));
    }

    #[test]
    fn a_read_write_debug_mount_of_a_read_only_prefix_is_refused() {
        assert_violations(
            &run(RW, fluent_bit(false)),
            1,
            &[
                "Pod logging/fluent-bit-7x2kq violates the policy",
                "spec.ephemeralContainers[0].volumeMounts[0].readOnly=unset: /var/log lies under read-only prefix /var/log",
            ],
        );
    }

    #[test]
    fn mutation_makes_the_debug_mount_read_only() {
        let settings = fluent_bit(true);
        let request = fixture(RW);
        let response = evaluate(&request, settings.clone());
        assert!(response.accepted, "{:?}", response.message);
        let mut expected = request["object"].clone();
        expected["spec"]["ephemeralContainers"][0]["volumeMounts"][0]["readOnly"] = json!(true);
        assert_eq!(response.mutated_object, Some(expected));
        assert_accepted_untouched(&reevaluate(&request, &response, settings));
    }

    #[test]
    fn only_the_mounted_volumes_and_new_containers_are_judged() {
        // The default settings allow no hostPath: the Pod's own volumes are
        // not what the request adds, the debug mount of varlog is.
        assert_violations(
            &run(RW, json!({})),
            1,
            &["spec.volumes[1].hostPath.path=\"/var/log\": hostPath volumes are not allowed"],
        );
        let request = edited(RW, |pod| {
            pod["spec"]["ephemeralContainers"][0]["volumeMounts"] = json!([]);
        });
        assert_accepted_untouched(&evaluate(&request, json!({})));
        // The second session is judged, the first (in oldObject) is not.
        assert_violations(
            &run(BIDIRECTIONAL, fluent_bit(false)),
            1,
            &[
                "spec.ephemeralContainers[1].volumeMounts[0].mountPropagation=\"Bidirectional\": Bidirectional propagation of /var/log is not allowed under /var/log",
            ],
        );
    }

    #[test]
    fn pods_not_controlled_by_a_daemon_set_follow_all_pods() {
        let request = edited(RW, |pod| {
            pod["metadata"]["ownerReferences"][0]["kind"] = json!("ReplicaSet");
        });
        assert!(!evaluate(&request, fluent_bit(false)).accepted);
        let mut settings = fluent_bit(false);
        settings["daemonSets"]["ephemeralContainers"] = json!({"allPods": false});
        assert_accepted_untouched(&evaluate(&request, settings.clone()));
        // A controller owner only counts with controller: true.
        let request = edited(RW, |pod| {
            pod["metadata"]["ownerReferences"][0]["controller"] = json!(false);
        });
        assert_accepted_untouched(&evaluate(&request, settings.clone()));
        assert!(!run(RW, settings.clone()).accepted);
        let request = edited(RW, |pod| {
            pod["metadata"]["ownerReferences"] = json!("fluent-bit");
        });
        assert_rejected(
            &evaluate(&request, settings),
            &[
                "metadata.ownerReferences=\"fluent-bit\": expected a list, found a string [readable object]",
            ],
        );
    }

    #[test]
    fn other_subresources_plain_pods_and_deletes_pass_untouched() {
        for (key, value) in [
            ("subResource", json!("status")),
            ("subResource", Value::Null),
            ("operation", json!("DELETE")),
        ] {
            let mut request = fixture(RW);
            request[key] = value;
            assert_accepted_untouched(&evaluate(&request, json!({})));
        }
    }

    #[test]
    fn an_unreadable_pod_is_refused_with_the_reason() {
        let request = edited(RW, |pod| {
            pod["spec"]["ephemeralContainers"] = json!({"debugger-r5k2m": {}});
        });
        assert_rejected(
            &evaluate(&request, fluent_bit(false)),
            &["spec.ephemeralContainers={...}: expected a list, found an object [readable object]"],
        );
        let request = edited(RW, |pod| {
            pod.as_object_mut().map(|p| p.remove("spec"));
        });
        assert_rejected(
            &evaluate(&request, fluent_bit(false)),
            &["spec=null: a Pod needs a spec to be judged [readable object]"],
        );
        let mut request = fixture(RW);
        request["object"] = json!([]);
        assert_rejected(
            &evaluate(&request, json!({})),
            &["request.object of a Pod must be an object, found a list"],
        );
    }
}
