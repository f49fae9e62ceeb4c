//! Distribution of the daemonset-csi-policy module as an OCI artifact,
//! byte for byte what `kwctl push` writes and `kwctl pull` / policy-server
//! read, on the `oci-client` crate they use; plus the Artifact Hub metadata
//! of the policy and the release version guard.
//!
//! ```no_run
//! use policy_host::oci::{PolicyRef, Registry, RegistryOptions, Sources};
//! # fn main() -> Result<(), policy_host::oci::Error> {
//! let options = RegistryOptions {
//!     sources: Sources::from_yaml("insecure_sources: [\"127.0.0.1:5000\"]")?,
//!     ..Default::default()
//! };
//! let registry = Registry::new(options);
//! let module = std::fs::read("annotated-policy.wasm").map_err(|e| policy_host::oci::Error::io("read", e))?;
//! let pushed = registry.push_policy(&module, &PolicyRef::parse("127.0.0.1:5000/p:v1")?, false)?;
//! let pulled = registry.pull_policy(&PolicyRef::parse(&pushed.immutable_ref)?)?;
//! assert_eq!(pulled.module, module);
//! # Ok(()) }
//! ```

pub mod artifacthub;
pub mod config;
pub mod error;
pub mod module;
pub mod registry;
pub mod release;

pub use config::{DockerConfig, PolicyRef, Sources};
pub use error::{Error, ErrorKind, Result};
pub use registry::{Blob, Inspected, Pulled, Pushed, Registry, RegistryOptions};

/// Media type of the single layer of a policy artifact: the wasm module.
pub const WASM_LAYER_MEDIA_TYPE: &str = oci_client::manifest::WASM_LAYER_MEDIA_TYPE;
/// Media type of the config blob (`{}`) of a policy artifact.
pub const WASM_CONFIG_MEDIA_TYPE: &str = oci_client::manifest::WASM_CONFIG_MEDIA_TYPE;
/// Media type the manifest is pushed with.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
