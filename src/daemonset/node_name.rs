//! `spec.template.spec.nodeName`: pins the whole set to one node and skips
//! the scheduler. Governed by `daemonSets.allowNodeName`, a plain switch
//! with nothing to compile.
//!
//! Taints still apply: the DaemonSet controller (kubernetes
//! `pkg/controller/daemon/daemon_controller.go`, `NodeShouldRunDaemonPod`)
//! runs no pod on any node but the named one, and `predicates` still refuses
//! a node whose `NoSchedule` or `NoExecute` taints the pod does not tolerate.
//! What the pin skips is the scheduler: the pod is created bound to the node,
//! so no scheduler plugin (resources, ports, volume topology, extenders)
//! judges it.

use serde_json::{Map, Value};

use super::POD_SPEC;
use crate::fields::string;
use crate::rules;
use crate::violation::{Findings, Violation, render_str};

/// Refuses a non-empty `nodeName` unless `allowed`.
pub fn check(pod_spec: &Map<String, Value>, allowed: bool, findings: &mut Findings) {
    let field = || format!("{POD_SPEC}.nodeName");
    if let Ok(Some(node)) = string(pod_spec, "nodeName", field, findings)
        && !node.is_empty()
        && !allowed
    {
        findings.push(Violation::new(
            field(),
            render_str(node),
            rules::ALLOW_NODE_NAME,
            "nodeName pins the whole DaemonSet to one node and skips the scheduler (the DaemonSet controller still checks its NoSchedule and NoExecute taints)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn node_name_is_rejected_unless_allowed() {
        let allowed = json!([{"pathPrefix": "/run/xtables.lock", "types": ["FileOrCreate"]}, {"pathPrefix": "/lib/modules", "readOnly": true}]);
        let settings = json!({"daemonSets": {"hostPaths": {"allowed": allowed}, "tolerations": {"allowWildcard": true}}});
        let response = run("daemonset-node-name.json", settings);
        assert_violations(
            &response,
            1,
            &[
                "spec.template.spec.nodeName=\"ip-10-0-3-17.eu-west-1.compute.internal\": nodeName pins the whole DaemonSet to one node and skips the scheduler (the DaemonSet controller still checks its NoSchedule and NoExecute taints) [daemonSets.allowNodeName]",
            ],
        );
        let settings = json!({"daemonSets": {"allowNodeName": true, "hostPaths": {"allowed": allowed}, "tolerations": {"allowWildcard": true}}});
        assert_accepted_untouched(&run("daemonset-node-name.json", settings));
    }

    #[test]
    fn an_empty_node_name_is_not_a_pin() {
        let request = edited("daemonset-no-hostpath.json", |object| {
            object["spec"]["template"]["spec"]["nodeName"] = json!("");
        });
        assert_accepted_untouched(&evaluate(&request, json!({})));
    }
}
