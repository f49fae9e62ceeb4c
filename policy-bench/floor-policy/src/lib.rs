//! The floor of the benchmarks: the least a Kubewarden policy built with the
//! same SDK, waPC guest and serde_json can do. `validate` parses the payload
//! into the same shape daemonset-csi-policy parses (`request` with the
//! object as a `serde_json::Value`, `settings` kept raw) and accepts;
//! `validate_settings` accepts. Whatever the real policy costs beyond this
//! module is the cost of its rules.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use wapc_guest::prelude::*;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// The shape of `daemonset_csi_policy::evaluate::Payload`.
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

fn validate(payload: &[u8]) -> CallResult {
    let accepted = match serde_json::from_slice::<Payload>(payload) {
        // Keep the parse from being optimised away.
        Ok(p) => !p.request.object.is_string() || p.settings.is_none(),
        Err(_) => false,
    };
    let response = ValidationResponse {
        accepted,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    };
    Ok(serde_json::to_vec(&response)?)
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
