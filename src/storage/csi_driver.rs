//! CSIDriver objects: the driver's name, its inline (Ephemeral) mode, its
//! token requests (`token_requests.rs`) and its spec fields
//! (`driver_spec.rs`).

use serde_json::{Map, Value};

use super::driver_spec;
use crate::drivers::DriverRules;
use crate::fields::{Reported, list, object, string, string_item};
use crate::operation::Operation;
use crate::rules;
use crate::violation::{Findings, Violation, render_str};

/// Judges a CSIDriver. On UPDATE nothing judged here can change (the name
/// and `volumeLifecycleModes` are immutable), so only a change is judged.
pub fn evaluate(
    driver: &mut Map<String, Value>,
    operation: Operation,
    old: Option<&Map<String, Value>>,
    rules: &DriverRules,
) -> Findings {
    let mut findings = Findings::default();
    let Some(name) = read_name(driver, &mut findings).map(str::to_string) else {
        return findings;
    };
    if operation == Operation::Create {
        driver_spec::enforce(&name, driver, &rules.spec, &mut findings);
    }
    let driver = &*driver;
    let name = name.as_str();
    let mut old_findings = Findings::default();
    let old_name = old.and_then(|o| read_name(o, &mut old_findings));
    if old_name != Some(name)
        && let Some(reason) = rules.refusal(name)
    {
        findings.push(Violation::new(
            "metadata.name",
            render_str(name),
            rules::CSI_DRIVERS_ALLOWED,
            reason,
        ));
    }
    let ephemeral = declares_ephemeral(driver, &mut findings);
    let was_ephemeral = old.is_some_and(|o| declares_ephemeral(o, &mut old_findings) == Some(true));
    if ephemeral == Some(true) && !was_ephemeral && !rules.ephemeral_allowed(name) {
        findings.push(Violation::new(
            "spec.volumeLifecycleModes",
            render_str("Ephemeral"),
            rules::CSI_DRIVERS_EPHEMERAL_ALLOWED,
            format!("inline ephemeral volumes of {name} are not allowed"),
        ));
    }
    rules.token_requests.check(name, driver, old, &mut findings);
    if let Some(Value::Object(spec)) = driver.get("spec") {
        let old_spec = old.and_then(|o| o.get("spec")).and_then(Value::as_object);
        driver_spec::check(name, spec, old_spec, &rules.spec, &mut findings);
    }
    findings
}

fn read_name<'a>(driver: &'a Map<String, Value>, findings: &mut Findings) -> Option<&'a str> {
    let metadata = object(driver, "metadata", || "metadata".into(), findings)?;
    match string(metadata, "name", || "metadata.name".into(), findings) {
        Ok(Some(name)) if !name.is_empty() => Some(name),
        Ok(_) => {
            findings.push(Violation::new(
                "metadata.name",
                "null",
                rules::UNREADABLE,
                "a CSIDriver needs a name",
            ));
            None
        }
        Err(Reported) => None,
    }
}

/// `None` when the field cannot be read (reported).
fn declares_ephemeral(driver: &Map<String, Value>, findings: &mut Findings) -> Option<bool> {
    let before = findings.violations.len();
    let spec = object(driver, "spec", || "spec".into(), findings);
    let modes = spec.map(|s| {
        list(
            s,
            "volumeLifecycleModes",
            || "spec.volumeLifecycleModes".into(),
            findings,
        )
    });
    if findings.violations.len() > before {
        return None;
    }
    let mut ephemeral = false;
    for (i, mode) in modes.unwrap_or(&[]).iter().enumerate() {
        let path = || format!("spec.volumeLifecycleModes[{i}]");
        ephemeral |= string_item(mode, path, findings)? == "Ephemeral";
    }
    Some(ephemeral)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    fn settings() -> serde_json::Value {
        json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com", "secrets-store.csi.k8s.io"], "ephemeralAllowed": ["secrets-store.csi.k8s.io"],
            "tokenRequests": {"requireTokenInSecrets": false, "allowed": [
                {"driver": "secrets-store.csi.k8s.io", "audiences": ["api://AzureADTokenExchange"]},
                {"driver": "evil.csi.attacker.io", "audiences": ["https://kubernetes.default.svc.cluster.local"]}]}}})
    }

    #[test]
    fn allowed_drivers_are_accepted() {
        assert_accepted_untouched(&run("csidriver-ebs.json", settings()));
        assert_accepted_untouched(&run("csidriver-secrets-store.json", settings()));
    }

    #[test]
    fn ephemeral_mode_needs_its_own_permission() {
        let response = run("csidriver-secrets-store.json", json!({}));
        assert_rejected(
            &response,
            &[
                "spec.volumeLifecycleModes=\"Ephemeral\": inline ephemeral volumes of secrets-store.csi.k8s.io are not allowed [csiDrivers.ephemeralAllowed]",
            ],
        );
    }

    #[test]
    fn unapproved_driver_enabling_ephemeral_is_refused_twice() {
        let response = run("csidriver-unapproved-ephemeral.json", settings());
        assert_violations(
            &response,
            2,
            &[
                "metadata.name=\"evil.csi.attacker.io\": CSI driver evil.csi.attacker.io is not in csiDrivers.allowed",
                "inline ephemeral volumes of evil.csi.attacker.io are not allowed",
            ],
        );
    }

    #[test]
    fn update_of_an_existing_driver_only_judges_changes() {
        let mut request = fixture("csidriver-unapproved-ephemeral.json");
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["object"]["metadata"]["labels"] = json!({"team": "storage"});
        assert_accepted_untouched(&evaluate(&request, settings()));
    }

    #[test]
    fn unreadable_lifecycle_modes_are_refused() {
        let request = edited("csidriver-ebs.json", |object| {
            object["spec"]["volumeLifecycleModes"] = json!("Ephemeral");
        });
        assert_rejected(
            &evaluate(&request, json!({})),
            &[
                "spec.volumeLifecycleModes=\"Ephemeral\": expected a list, found a string [readable object]",
            ],
        );
    }
}
