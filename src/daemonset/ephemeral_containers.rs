//! Debug containers (`pods/ephemeralcontainers`): `kubectl debug` adds
//! ephemeral containers to a running Pod by an UPDATE of that subresource,
//! the only way to add them (the API server refuses them in pod templates,
//! `ValidatePodTemplateSpec`, and on Pod create). They may mount any volume
//! of the Pod, so their mounts of its hostPath volumes are judged with the
//! DaemonSet hostPath rules.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::apply_to_pod_spec;
use super::host_paths::{self, Container};
use crate::fields::{self, each_object, object};
use crate::policy::DaemonSetRules;
use crate::rules::UNREADABLE;
use crate::violation::{Findings, Violation};

const SPEC: &str = "spec";
const LIST: &str = "ephemeralContainers";

/// Judges the new debug containers of a Pod; `None` when the Pod is not
/// judged at all (not controlled by a DaemonSet, and `allPods` is off).
pub fn evaluate(
    pod: &mut Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &DaemonSetRules,
) -> Option<Findings> {
    let mut findings = Findings::default();
    if !controlled_by_daemon_set(pod, &mut findings) && !rules.ephemeral_all_pods {
        // An unreadable owner is refused: it could hide the DaemonSet.
        return if findings.violations.is_empty() {
            None
        } else {
            Some(findings)
        };
    }
    let mut edits = Vec::new();
    match object(pod, SPEC, || SPEC.into(), &mut findings) {
        Some(spec) => {
            let existing = existing_names(old);
            let mut containers = Vec::new();
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
                    containers.push(Container {
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
                &rules.host_paths,
                &mut findings,
                &mut edits,
            );
        }
        None if findings.violations.is_empty() => findings.push(Violation::new(
            SPEC,
            "null",
            UNREADABLE,
            "a Pod needs a spec to be judged",
        )),
        None => {}
    }
    if !edits.is_empty()
        && let Some(spec) = pod.get_mut(SPEC).and_then(Value::as_object_mut)
    {
        apply_to_pod_spec(spec, edits);
    }
    Some(findings)
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

/// True when the Pod's controller owner (`ownerReferences` with
/// `controller: true`, at most one, `ValidateOwnerReferences`) is a
/// DaemonSet of group `apps`, as the DaemonSet controller sets it
/// (`pkg/controller/daemon/daemon_controller.go`, `controller.NewControllerRef`).
fn controlled_by_daemon_set(pod: &Map<String, Value>, findings: &mut Findings) -> bool {
    let Some(metadata) = object(pod, "metadata", || "metadata".into(), findings) else {
        return false;
    };
    let mut controlled = false;
    each_object(
        metadata,
        "ownerReferences",
        "metadata.ownerReferences",
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
                controlled = true;
            }
        },
    );
    controlled
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
