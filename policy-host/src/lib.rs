//! The daemonset-csi-policy host: a Kubewarden engine for the module without
//! kwctl or policy-server, built from the same engine crates
//! (wapc 2.1.0, wasmtime-provider 2.13.0, wasmtime 38, json-patch 4.1.0),
//! plus annotation, metadata, manifests (`check`), responses, OCI
//! distribution (`oci`) and the command-line tool (`cli`).
//!
//! Every fallible function of the library returns [`Result`], with one
//! [`Error`] type: match on [`Error::kind`] ([`ErrorKind`]); its message is
//! complete, context included. Registry errors ([`oci::Error`]) convert into
//! it and keep their kind ([`ErrorKind::Registry`]).
//!
//! ```no_run
//! use policy_host::{PolicyModule, apply_patch};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = PolicyModule::load("annotated-policy.wasm")?; // compiled once
//! let settings = serde_json::json!({});
//! assert!(module.validate_settings(&settings)?.valid);
//! let request: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("req.json")?)?;
//! let response = module.evaluate(&request, &settings)?; // fresh instance
//! let patched = apply_patch(&request["object"], &response)?;
//! # let _ = patched; Ok(()) }
//! ```

pub mod annotate;
pub mod cli;
pub mod error;
pub mod host;
pub mod input;
pub mod manifests;
pub mod metadata;
pub mod oci;
pub mod replay;
pub mod response;

pub use annotate::annotate;
pub use error::{Error, ErrorKind, Result, ResultExt};
pub use host::{DEFAULT_TIMEOUT, HostOptions, PolicyInstance, PolicyModule};
pub use metadata::Metadata;
pub use response::{
    AdmissionResponse, AdmissionResponseStatus, SettingsValidationResponse, ValidationResponse,
    apply_patch,
};
