//! `CSIDriver.spec.tokenRequests`: the ServiceAccount tokens kubelet mints
//! for every pod a driver mounts a volume for, one per audience, and hands
//! to the driver in `NodePublishVolume` (kubelet
//! `pkg/volume/csi/csi_mounter.go`, `podServiceAccountTokenAttrs`). A driver
//! that may ask for the empty audience (the kube-apiserver's own, as
//! kubernetes-csi's docs say) receives a token that acts as the pod towards
//! the API server. Until Kubernetes 1.35 the tokens travel in
//! `volume_context` (`csi.storage.k8s.io/serviceAccount.tokens`), which
//! drivers log: CVE-2023-2878 (secrets-store) and CVE-2024-3744 (azure-file)
//! leaked them that way. KEP-5538 adds `serviceAccountTokenInSecrets: true`
//! to send them in the CSI `secrets` field instead, which gRPC sanitisers
//! redact.
//!
//! Both fields may change on UPDATE (`ValidateCSIDriverUpdate` in
//! `pkg/apis/storage/validation/validation.go` keeps only `attachRequired`
//! and `volumeLifecycleModes` immutable), so an UPDATE is judged on what it
//! adds: audiences the old object did not request, and the opt-in being
//! dropped or tokens being requested without it.
//!
//! Nothing is mutated: `serviceAccountTokenInSecrets: true` moves the
//! tokens to a field a driver that has not been updated for it does not
//! read, so setting it for the driver would break every mount.

use serde_json::{Map, Value};

use crate::fields::{Reported, boolean, each_object, object, string};
use crate::glob::DriverGlob;
use crate::rules;
use crate::settings::TokenRequestSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render, render_str};

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequestRules {
    allowed: Vec<(DriverGlob, Vec<String>)>,
    require_token_in_secrets: bool,
}

impl Default for TokenRequestRules {
    fn default() -> Self {
        Self::compile(
            &TokenRequestSettings::default(),
            &mut SettingErrors::default(),
        )
    }
}

impl TokenRequestRules {
    pub fn compile(settings: &TokenRequestSettings, errors: &mut SettingErrors) -> Self {
        let base = rules::TOKEN_REQUESTS_ALLOWED;
        let allowed = settings
            .allowed
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                if entry.audiences.is_empty() {
                    errors.add(
                        format!("{base}[{i}].audiences"),
                        "empty: an entry must name the audiences it allows",
                    );
                }
                let glob = errors.parsed(
                    format_args!("{base}[{i}].driver"),
                    &entry.driver,
                    DriverGlob::parse(&entry.driver),
                )?;
                Some((glob, entry.audiences.clone()))
            })
            .collect();
        Self {
            allowed,
            require_token_in_secrets: settings.require_token_in_secrets,
        }
    }

    fn allows(&self, driver: &str, audience: &str) -> bool {
        self.allowed.iter().any(|(glob, audiences)| {
            glob.matches(driver) && audiences.iter().any(|a| a == audience)
        })
    }

    /// Judges the `tokenRequests` of the CSIDriver `driver` (its `spec`),
    /// against `old` (the stored object's spec) on UPDATE.
    pub fn check(
        &self,
        driver: &str,
        csi_driver: &Map<String, Value>,
        old: Option<&Map<String, Value>>,
        findings: &mut Findings,
    ) {
        let Some(spec) = object(csi_driver, "spec", || "spec".into(), findings) else {
            return;
        };
        let Some(requested) = audiences(spec, findings) else {
            return;
        };
        let old_spec = old.and_then(|o| o.get("spec")).and_then(Value::as_object);
        let old_audiences = old_spec
            .and_then(|s| audiences(s, &mut Findings::default()))
            .unwrap_or_default();
        for (i, audience) in requested.iter().enumerate() {
            if old_audiences.contains(audience) || self.allows(driver, audience) {
                continue;
            }
            let reason = if audience.is_empty() {
                format!(
                    "the empty audience mints tokens for the kube-apiserver itself, not allowed for {driver} by csiDrivers.tokenRequests.allowed"
                )
            } else {
                format!(
                    "{driver} may not request ServiceAccount tokens for this audience (csiDrivers.tokenRequests.allowed)"
                )
            };
            findings.push(Violation::new(
                format!("spec.tokenRequests[{i}].audience"),
                render_str(audience),
                rules::TOKEN_REQUESTS_ALLOWED,
                reason,
            ));
        }
        if !self.require_token_in_secrets || requested.is_empty() {
            return;
        }
        let in_secrets = |spec: &Map<String, Value>, findings: &mut Findings| {
            let path = || "spec.serviceAccountTokenInSecrets".to_string();
            boolean(spec, "serviceAccountTokenInSecrets", path, findings).ok()
        };
        let Some(opted_in) = in_secrets(spec, findings) else {
            return;
        };
        if opted_in == Some(true) {
            return;
        }
        // An UPDATE that neither adds tokens nor drops the opt-in leaves a
        // driver admitted before the policy alone.
        let unchanged = old_spec.is_some_and(|old| {
            let was_opted_in = in_secrets(old, &mut Findings::default()).flatten();
            let old_requests = old.get("tokenRequests");
            old_requests == spec.get("tokenRequests") && was_opted_in == opted_in
        });
        if unchanged {
            return;
        }
        findings.push(Violation::new(
            "spec.serviceAccountTokenInSecrets",
            crate::fields::get(spec, "serviceAccountTokenInSecrets")
                .map_or_else(|| "unset".to_string(), render),
            rules::TOKEN_REQUESTS_IN_SECRETS,
            "with tokenRequests, kubelet passes the tokens in volume_context, which drivers have logged (CVE-2023-2878, CVE-2024-3744): set serviceAccountTokenInSecrets: true (Kubernetes 1.35+, the driver must read them from the secrets field)",
        ));
    }
}

/// The requested audiences (a missing audience is Go's zero value `""`),
/// `None` when the list cannot be read (reported).
fn audiences(spec: &Map<String, Value>, findings: &mut Findings) -> Option<Vec<String>> {
    let mut audiences = Vec::new();
    let readable = each_object(
        spec,
        "tokenRequests",
        &"spec.tokenRequests",
        findings,
        |_, path, request, findings| match string(
            request,
            "audience",
            || format!("{path}.audience"),
            findings,
        ) {
            Ok(audience) => audiences.push(audience.unwrap_or("").to_string()),
            Err(Reported) => audiences.push(String::new()),
        },
    );
    readable.then_some(audiences)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::{Value, json};

    use crate::test_support::*;

    /// secrets-store as its chart ships it (Azure workload identity audience).
    fn settings(token_requests: Value) -> Value {
        json!({"csiDrivers": {
            "allowed": ["secrets-store.csi.k8s.io", "evil.csi.attacker.io"],
            "ephemeralAllowed": ["secrets-store.csi.k8s.io", "evil.csi.attacker.io"],
            "tokenRequests": token_requests}})
    }

    fn secrets_store(edit: impl FnOnce(&mut Value)) -> Value {
        edited("csidriver-secrets-store.json", edit)
    }

    #[test]
    fn an_allowed_audience_with_tokens_in_secrets_is_accepted() {
        let request = secrets_store(|o| o["spec"]["serviceAccountTokenInSecrets"] = json!(true));
        let settings = settings(json!({"allowed": [
            {"driver": "secrets-store.csi.k8s.io", "audiences": ["api://AzureADTokenExchange"]}]}));
        assert_accepted_untouched(&evaluate(&request, settings));
    }

    #[rstest]
    #[case::no_entry(json!({}), "api://AzureADTokenExchange")]
    #[case::other_driver(
        json!({"allowed": [{"driver": "*.csi.aws.com", "audiences": ["api://AzureADTokenExchange"]}]}),
        "api://AzureADTokenExchange"
    )]
    #[case::other_audience(
        json!({"allowed": [{"driver": "secrets-store.csi.k8s.io", "audiences": ["vault"]}]}),
        "api://AzureADTokenExchange"
    )]
    fn an_audience_no_entry_allows_is_refused(
        #[case] token_requests: Value,
        #[case] audience: &str,
    ) {
        let request = secrets_store(|o| o["spec"]["serviceAccountTokenInSecrets"] = json!(true));
        let response = evaluate(&request, settings(token_requests));
        assert_rejected(
            &response,
            &[&format!(
                "spec.tokenRequests[0].audience=\"{audience}\": secrets-store.csi.k8s.io may not request ServiceAccount tokens for this audience (csiDrivers.tokenRequests.allowed) [csiDrivers.tokenRequests.allowed]"
            )],
        );
        assert_eq!(violation_count(&response), 1);
    }

    #[rstest]
    #[case::empty_string(json!([{"audience": ""}]))]
    #[case::missing_audience(json!([{"expirationSeconds": 3600}]))]
    fn the_api_server_audience_is_named(#[case] requests: Value) {
        let request = secrets_store(|o| {
            o["spec"]["tokenRequests"] = requests;
            o["spec"]["serviceAccountTokenInSecrets"] = json!(true);
        });
        assert_rejected(
            &evaluate(&request, settings(json!({}))),
            &["the empty audience mints tokens for the kube-apiserver itself"],
        );
    }

    #[rstest]
    #[case::unset(Value::Null, "spec.serviceAccountTokenInSecrets=unset")]
    #[case::off(json!(false), "spec.serviceAccountTokenInSecrets=false")]
    fn tokens_must_travel_in_secrets(#[case] opt_in: Value, #[case] shown: &str) {
        let request = secrets_store(|o| o["spec"]["serviceAccountTokenInSecrets"] = opt_in);
        let allowed = json!({"allowed": [
            {"driver": "secrets-store.csi.k8s.io", "audiences": ["api://AzureADTokenExchange"]}]});
        let response = evaluate(&request, settings(allowed.clone()));
        assert_rejected(
            &response,
            &[shown, "[csiDrivers.tokenRequests.requireTokenInSecrets]"],
        );
        let mut relaxed = allowed;
        relaxed["requireTokenInSecrets"] = json!(false);
        assert_accepted_untouched(&evaluate(&request, settings(relaxed)));
    }

    #[test]
    fn a_driver_without_token_requests_needs_nothing() {
        assert_accepted_untouched(&run(
            "csidriver-ebs.json",
            json!({"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}}),
        ));
    }

    #[test]
    fn an_update_is_judged_on_what_it_adds() {
        let mut request = fixture("csidriver-unapproved-ephemeral.json");
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["object"]["metadata"]["labels"] = json!({"team": "storage"});
        assert_accepted_untouched(&evaluate(&request, settings(json!({}))));
        // A new audience is judged; the old one is not.
        request["object"]["spec"]["tokenRequests"] = json!([
            {"audience": "https://kubernetes.default.svc.cluster.local"},
            {"audience": "vault"}]);
        let response = evaluate(&request, settings(json!({"requireTokenInSecrets": false})));
        assert_rejected(&response, &["spec.tokenRequests[1].audience=\"vault\""]);
        assert_eq!(violation_count(&response), 1);
        // Dropping the opt-in is judged.
        let mut request = fixture("csidriver-secrets-store.json");
        request["operation"] = json!("UPDATE");
        request["object"]["spec"]["serviceAccountTokenInSecrets"] = json!(false);
        request["oldObject"] = request["object"].clone();
        request["oldObject"]["spec"]["serviceAccountTokenInSecrets"] = json!(true);
        let allowed = json!({"allowed": [
            {"driver": "secrets-store.csi.k8s.io", "audiences": ["api://AzureADTokenExchange"]}]});
        assert_rejected(
            &evaluate(&request, settings(allowed)),
            &["[csiDrivers.tokenRequests.requireTokenInSecrets]"],
        );
    }

    #[test]
    fn unreadable_token_fields_are_refused() {
        let request = secrets_store(|o| o["spec"]["serviceAccountTokenInSecrets"] = json!("yes"));
        assert_rejected(
            &evaluate(&request, settings(json!({}))),
            &[
                "spec.serviceAccountTokenInSecrets=\"yes\": expected a boolean, found a string [readable object]",
            ],
        );
        let request = secrets_store(|o| o["spec"]["tokenRequests"] = json!({"audience": "x"}));
        assert_rejected(
            &evaluate(&request, settings(json!({}))),
            &["spec.tokenRequests={...}: expected a list"],
        );
    }

    #[rstest]
    #[case::bad_glob(
        json!({"allowed": [{"driver": "*..x", "audiences": ["a"]}]}),
        "csiDrivers.tokenRequests.allowed[0].driver"
    )]
    #[case::no_audiences(
        json!({"allowed": [{"driver": "secrets-store.csi.k8s.io", "audiences": []}]}),
        "csiDrivers.tokenRequests.allowed[0].audiences: empty"
    )]
    #[case::unknown_field(json!({"allow": []}), "csiDrivers.tokenRequests.allow")]
    fn bad_settings_are_refused_with_their_path(
        #[case] token_requests: Value,
        #[case] fragment: &str,
    ) {
        let response =
            crate::evaluate::validate_settings(settings(token_requests).to_string().as_bytes());
        assert!(!response.valid);
        let message = response.message.unwrap_or_default();
        assert!(message.contains(fragment), "{message}");
    }
}
