//! waPC wiring of the policy: the exports Kubewarden's policy-server calls.
//! Everything else lives in the pure core (`evaluate` and the rule
//! modules), which knows nothing of waPC.

pub mod arena;
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

/// The module's allocator: a bump arena reset after each evaluation
/// (`arena.rs` says why and what it saves).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: arena::Arena<std::alloc::System> = arena::Arena::new(std::alloc::System);

/// Runs one evaluation with its allocations reclaimed wholesale afterwards.
#[cfg(target_arch = "wasm32")]
fn reclaimed(evaluate: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    ALLOCATOR.within(evaluate)
}

#[cfg(not(target_arch = "wasm32"))]
fn reclaimed(evaluate: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    evaluate()
}

/// Serialising a response of plain strings, booleans and the request's own
/// JSON cannot fail; if it ever did, the answer is still a verdict, not an
/// `Err` (a 500 in policy-server).
fn to_json(response: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|_| {
        br#"{"accepted":false,"message":"the policy could not serialise its verdict"}"#.to_vec()
    })
}

fn validate(payload: &[u8]) -> CallResult {
    Ok(reclaimed(|| to_json(&evaluate::validate(payload))))
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(reclaimed(|| to_json(&evaluate::validate_settings(payload))))
}
