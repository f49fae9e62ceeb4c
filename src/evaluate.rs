//! One admission request in, one verdict out: the pure core behind the
//! waPC `validate` export. Nothing here returns an error or panics; an
//! unreadable request of a targeted kind is rejected with the reason.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::daemonset;
use crate::exemptions::{self, Requester};
use crate::policy::{self, Policy};
use crate::settings::Mode;
use crate::storage::{csi_driver, storage_class};
use crate::violation::Findings;

/// The kinds the policy judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    DaemonSet,
    StorageClass,
    CsiDriver,
}

impl Target {
    fn of(group: &str, kind: &str) -> Option<Self> {
        match (group, kind) {
            ("apps", "DaemonSet") => Some(Self::DaemonSet),
            ("storage.k8s.io", "StorageClass") => Some(Self::StorageClass),
            ("storage.k8s.io", "CSIDriver") => Some(Self::CsiDriver),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::DaemonSet => "DaemonSet",
            Self::StorageClass => "StorageClass",
            Self::CsiDriver => "CSIDriver",
        }
    }
}

#[derive(Deserialize)]
struct Payload<'a> {
    request: AdmissionRequest,
    #[serde(borrow, default)]
    settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AdmissionRequest {
    kind: GroupVersionKind,
    operation: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    user_info: UserInfo,
    object: Value,
    old_object: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupVersionKind {
    group: Option<String>,
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserInfo {
    username: Option<String>,
    groups: Option<Vec<String>>,
}

fn accept(warnings: Vec<String>, mutated_object: Option<Value>) -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn reject(message: String, warnings: Vec<String>) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

/// Evaluates a waPC `validate` payload: `{"request": ..., "settings": ...}`.
pub fn validate(payload: &[u8]) -> ValidationResponse {
    let payload: Payload = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                format!("cannot read the admission request: {e}"),
                Vec::new(),
            );
        }
    };
    let request = payload.request;
    let group = request.kind.group.as_deref().unwrap_or("");
    let kind = request.kind.kind.as_deref().unwrap_or("");
    let Some(target) = Target::of(group, kind) else {
        return accept(Vec::new(), None);
    };
    let operation = match request.operation.as_deref() {
        Some("CREATE") => "CREATE",
        Some("UPDATE") => "UPDATE",
        _ => return accept(Vec::new(), None),
    };
    let settings = payload.settings.map_or("{}", RawValue::get);
    let policy = match policy::load(settings.as_bytes()) {
        Ok(policy) => policy,
        Err(e) => return reject(format!("policy settings are invalid: {e}"), Vec::new()),
    };
    evaluate(target, operation, request, &policy)
}

fn evaluate(
    target: Target,
    operation: &str,
    request: AdmissionRequest,
    policy: &Policy,
) -> ValidationResponse {
    let AdmissionRequest {
        name,
        namespace,
        user_info,
        object,
        old_object,
        ..
    } = request;
    let mut object = match object {
        Value::Object(map) => map,
        Value::Null => {
            return reject(
                format!(
                    "{} {operation} without request.object cannot be judged",
                    target.name()
                ),
                Vec::new(),
            );
        }
        other => {
            return reject(
                format!(
                    "request.object of a {} must be an object, found {}",
                    target.name(),
                    crate::fields::kind_of(&other)
                ),
                Vec::new(),
            );
        }
    };
    let namespace = namespace
        .filter(|n| !n.is_empty())
        .or_else(|| metadata_str(&object, "namespace"))
        .unwrap_or_default();
    let name = name
        .filter(|n| !n.is_empty())
        .or_else(|| metadata_str(&object, "name"))
        .unwrap_or_default();
    let groups = user_info.groups.unwrap_or_default();
    let requester = Requester {
        namespace: &namespace,
        name: &name,
        namespaced: target == Target::DaemonSet,
        username: user_info.username.as_deref().unwrap_or(""),
        groups: &groups,
    };
    if let Some(exemption) = exemptions::matching(&policy.exemptions, &requester) {
        return accept(
            vec![format!(
                "{} {} exempted by {exemption}: not checked",
                target.name(),
                display_name(&requester)
            )],
            None,
        );
    }
    // On UPDATE, an unreadable old object only means nothing is known to be
    // unchanged: judge everything, as on CREATE.
    let old = match (operation, &old_object) {
        ("UPDATE", Value::Object(map)) => Some(map),
        _ => None,
    };
    let (findings, mode) = match target {
        Target::DaemonSet => (
            daemonset::evaluate(&mut object, &policy.daemon_sets, &policy.drivers),
            policy.daemon_sets.mode,
        ),
        Target::StorageClass => (
            storage_class::evaluate(&mut object, old, &policy.storage_classes, &policy.drivers),
            policy.storage_classes.mode(),
        ),
        Target::CsiDriver => (
            csi_driver::evaluate(&object, old, &policy.drivers),
            policy.drivers.mode,
        ),
    };
    verdict(target, &requester, findings, mode, object)
}

fn metadata_str(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get("metadata")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn display_name(who: &Requester<'_>) -> String {
    let name = if who.name.is_empty() {
        "(generated name)"
    } else {
        who.name
    };
    if who.namespaced && !who.namespace.is_empty() {
        format!("{}/{name}", who.namespace)
    } else {
        name.to_string()
    }
}

fn verdict(
    target: Target,
    who: &Requester<'_>,
    findings: Findings,
    mode: Mode,
    object: Map<String, Value>,
) -> ValidationResponse {
    let Findings {
        violations,
        mutation_notes,
    } = findings;
    let mutated = !mutation_notes.is_empty();
    let mut warnings: Vec<String> = mutation_notes
        .into_iter()
        .map(|n| format!("mutated: {n}"))
        .collect();
    // An unreadable object is refused whatever the mode: it was not judged.
    let unreadable = violations
        .iter()
        .any(|v| v.rule == crate::fields::UNREADABLE);
    if violations.is_empty() {
        return accept(warnings, mutated.then_some(Value::Object(object)));
    }
    if mode == Mode::Warn && !unreadable {
        warnings.extend(
            violations
                .iter()
                .map(|v| format!("policy violation (warn mode): {v}")),
        );
        return accept(warnings, mutated.then_some(Value::Object(object)));
    }
    let count = violations.len();
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    reject(
        format!(
            "{} {} violates the policy ({count} violation{}): {}",
            target.name(),
            display_name(who),
            if count == 1 { "" } else { "s" },
            listed.join("; ")
        ),
        Vec::new(),
    )
}

/// Validates settings JSON for the waPC `validate_settings` export.
pub fn validate_settings(
    payload: &[u8],
) -> kubewarden_policy_sdk::settings::SettingsValidationResponse {
    match policy::load(payload) {
        Ok(_) => kubewarden_policy_sdk::settings::SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => kubewarden_policy_sdk::settings::SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    }
}
