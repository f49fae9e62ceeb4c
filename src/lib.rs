//! waPC wiring of the policy: the exports Kubewarden's policy-server calls.
//! Everything else lives in the pure core (`evaluate` and the rule
//! modules), which knows nothing of waPC.

pub mod daemonset;
pub mod drivers;
pub mod evaluate;
pub mod exemptions;
pub mod fields;
pub mod glob;
pub mod json_path;
pub mod operation;
pub mod paths;
pub mod policy;
pub mod rules;
pub mod settings;
pub mod settings_errors;
pub mod storage;
pub mod violation;

#[cfg(test)]
mod test_support;

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

/// A verdict is never an `Err`: serialising a response of plain strings,
/// booleans and the request's own JSON cannot fail.
fn validate(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&evaluate::validate(payload))?)
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&evaluate::validate_settings(payload))?)
}
