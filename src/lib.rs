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
pub mod json_in;
pub mod json_out;
pub mod json_path;
pub mod json_splice;
pub mod memcmp;
pub mod memcopy;
pub mod operation;
pub mod paths;
pub mod policy;
pub mod rules;
pub mod settings;
pub mod settings_errors;
pub mod settings_reader;
pub mod storage;
pub mod violation;
pub mod words;

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

/// Settings verdicts are small and rare (once per policy load): serde.
fn settings_json(response: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(response).unwrap_or_else(|_| {
        br#"{"valid":false,"message":"the policy could not serialise its verdict"}"#.to_vec()
    })
}

/// The verdict as the host reads it (`evaluate::validate_to_json`:
/// `json_out`'s bytes, a mutated object spliced into the request's text).
fn validate(payload: &[u8]) -> CallResult {
    Ok(reclaimed(|| evaluate::validate_to_json(payload, &Host)))
}

/// The cluster as Kubewarden's host shows it: the waPC host call
/// `kubewarden/kubernetes/list_resources_all` (what the SDK's
/// `host_capabilities::kubernetes::list_all_resources` sends). An error
/// (no cluster connection, a resource not granted in
/// `contextAwareResources`) is handed to the rule, never returned.
struct Host;

impl storage::default_class::ClusterLookup for Host {
    #[cfg(target_arch = "wasm32")]
    fn list_resources_all(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        host_call("kubewarden", "kubernetes", "list_resources_all", request)
            .map_err(|e| e.to_string())
    }

    /// Natively there is no waPC host to call.
    #[cfg(not(target_arch = "wasm32"))]
    fn list_resources_all(&self, _request: &[u8]) -> Result<Vec<u8>, String> {
        Err("no waPC host outside wasm".to_string())
    }
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(reclaimed(|| {
        settings_json(&evaluate::validate_settings(payload))
    }))
}
