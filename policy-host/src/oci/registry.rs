//! Push, pull and inspect policy artifacts with oci-client (the client of
//! kwctl and policy-server), every call bounded in time.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use oci_client::Client;
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{
    IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciImageManifest,
};
use oci_client::secrets::RegistryAuth;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::oci::config::{DockerConfig, PolicyRef, Sources, is_sha256_digest};
use crate::oci::error::{CallContext, Error, ErrorKind, Result, from_oci, wrong_layer_message};
use crate::oci::module::{annotations_for_push, read_metadata};
use crate::oci::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};

/// Default time allowed to open a TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed between two reads of a response.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time allowed for a whole push, pull or inspect.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

const USER_AGENT: &str = concat!("daemonset-csi-policy/", env!("CARGO_PKG_VERSION"));

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub sources: Sources,
    pub docker_config: DockerConfig,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Bound of a whole operation (every request of it).
    pub timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            sources: Sources::default(),
            docker_config: DockerConfig::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What a push produced.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `host/repo@sha256:...`
    pub immutable_ref: String,
    /// The manifest digest.
    pub digest: String,
    /// The manifest that was pushed.
    pub manifest: OciImageManifest,
}

/// A pulled policy.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The module bytes, digest-verified.
    pub module: Vec<u8>,
    /// The manifest digest.
    pub digest: String,
    /// `host/repo@sha256:...`
    pub immutable_ref: String,
    pub manifest: OciImageManifest,
    /// The module's `io.kubewarden.metadata`, if annotated.
    pub metadata: Option<Value>,
}

/// A manifest as the registry returned it, and its config blob.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub digest: String,
    /// The manifest bytes exactly as served.
    pub raw_manifest: Vec<u8>,
    pub manifest: OciImageManifest,
    /// The config blob (digest-verified).
    pub config: Vec<u8>,
}

/// A layer to push with [`Registry::push_artifact`].
#[derive(Debug, Clone)]
pub struct Blob {
    pub data: Vec<u8>,
    pub media_type: String,
}

/// The registry client: sources, credentials and time bounds.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    options: RegistryOptions,
}

impl Registry {
    pub fn new(options: RegistryOptions) -> Registry {
        Registry { options }
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// `http` for a registry listed in `insecure_sources`, `https` otherwise.
    pub fn scheme_for(&self, registry: &str) -> &'static str {
        if self.options.sources.is_insecure(registry) {
            "http"
        } else {
            "https"
        }
    }

    fn client(&self, registry: &str) -> Result<Client> {
        let extra_root_certificates = self
            .options
            .sources
            .authorities_pem(registry)?
            .into_iter()
            .map(|data| Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            })
            .collect();
        let protocol = if self.options.sources.is_insecure(registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            extra_root_certificates,
            // A policy is never an image index: refuse one instead of picking.
            platform_resolver: None,
            connect_timeout: Some(self.options.connect_timeout),
            read_timeout: Some(self.options.read_timeout),
            user_agent: USER_AGENT,
            ..Default::default()
        };
        Client::try_from(config).map_err(|e| {
            Error::invalid(format!(
                "cannot set up the registry client for {registry}: {}",
                crate::oci::error::chain(&e)
            ))
        })
    }

    fn auth(&self, registry: &str) -> Result<RegistryAuth> {
        self.options.docker_config.auth_for(registry)
    }

    /// Run one operation on a fresh current-thread runtime, bounded by
    /// `options.timeout`.
    fn run<T>(
        &self,
        operation: &str,
        reference: &PolicyRef,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("cannot start the async runtime", e))?;
        let timeout = self.options.timeout;
        runtime.block_on(async {
            match tokio::time::timeout(timeout, fut).await {
                Ok(result) => result,
                Err(_) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{operation} {}: the registry {} did not complete the operation within {} s",
                        reference.as_str(),
                        reference.registry(),
                        timeout.as_secs_f64()
                    ),
                )),
            }
        })
    }

    /// Push an annotated policy module the way `kwctl push` does: config
    /// `{}` (`application/vnd.wasm.config.v1+json`), one layer
    /// (`application/vnd.wasm.content.layer.v1+wasm`), manifest annotations
    /// from the module's metadata (multi-line ones dropped,
    /// `org.opencontainers.image.source` added). `force` pushes a module
    /// without metadata.
    pub fn push_policy(
        &self,
        module: &[u8],
        destination: &PolicyRef,
        force: bool,
    ) -> Result<Pushed> {
        if destination.digest().is_some() {
            return Err(Error::invalid(format!(
                "`{}`: push to a tag, not a digest",
                destination.as_str()
            )));
        }
        let annotations = annotations_for_push(module, force)?;
        self.push_artifact(
            destination,
            vec![Blob {
                data: module.to_vec(),
                media_type: WASM_LAYER_MEDIA_TYPE.to_string(),
            }],
            Blob {
                data: b"{}".to_vec(),
                media_type: WASM_CONFIG_MEDIA_TYPE.to_string(),
            },
            annotations,
        )
    }

    /// Push any layers + config as an OCI image manifest (what
    /// [`Registry::push_policy`] builds on; tests use it to push artifacts
    /// that are not policies).
    pub fn push_artifact(
        &self,
        destination: &PolicyRef,
        layers: Vec<Blob>,
        config: Blob,
        annotations: BTreeMap<String, String>,
    ) -> Result<Pushed> {
        let registry = destination.registry().to_string();
        let client = self.client(&registry)?;
        let auth = self.auth(&registry)?;
        let scheme = self.scheme_for(&registry);
        let layers: Vec<ImageLayer> = layers
            .into_iter()
            .map(|b| ImageLayer::new(b.data, b.media_type, None))
            .collect();
        let config = Config {
            data: config.data,
            media_type: config.media_type,
            annotations: None,
        };
        let annotations = (!annotations.is_empty()).then_some(annotations);
        let manifest = OciImageManifest::build(&layers, &config, annotations);
        let ctx = CallContext {
            operation: "push",
            reference: destination.as_str(),
            registry: &registry,
            scheme,
        };
        let response = self.run("push", destination, async {
            client
                .push(
                    destination.reference(),
                    &layers,
                    config,
                    &auth,
                    Some(manifest.clone()),
                )
                .await
                .map_err(|e| from_oci(e, &ctx))
        })?;
        let digest = response
            .manifest_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if !is_sha256_digest(&digest) {
            return Err(Error::new(
                ErrorKind::Registry,
                format!(
                    "push {}: the registry answered a manifest location without a sha256 digest: {}",
                    destination.as_str(),
                    response.manifest_url
                ),
            ));
        }
        Ok(Pushed {
            immutable_ref: destination.immutable(&digest),
            digest,
            manifest,
        })
    }

    /// Pull a policy: the manifest (by tag or digest, digest-checked), which
    /// must have exactly one layer of the wasm media type, then that layer,
    /// whose content must match its digest and size.
    pub fn pull_policy(&self, source: &PolicyRef) -> Result<Pulled> {
        let registry = source.registry().to_string();
        let client = self.client(&registry)?;
        let auth = self.auth(&registry)?;
        let scheme = self.scheme_for(&registry);
        let ctx = CallContext {
            operation: "pull",
            reference: source.as_str(),
            registry: &registry,
            scheme,
        };
        let (manifest, digest, module) = self.run("pull", source, async {
            let (manifest, digest) = client
                .pull_image_manifest(source.reference(), &auth)
                .await
                .map_err(|e| from_oci(e, &ctx))?;
            let layer = match manifest.layers.as_slice() {
                [layer] if layer.media_type == WASM_LAYER_MEDIA_TYPE => layer.clone(),
                [layer] => {
                    return Err(Error::new(
                        ErrorKind::WrongMediaType,
                        wrong_layer_message("pull", source.as_str(), &layer.media_type),
                    ));
                }
                layers => {
                    return Err(Error::new(
                        ErrorKind::WrongMediaType,
                        format!(
                            "pull {}: the artifact has {} layers ({}); a Kubewarden policy has exactly one layer of media type `{WASM_LAYER_MEDIA_TYPE}`: refusing it",
                            source.as_str(),
                            layers.len(),
                            layers
                                .iter()
                                .map(|l| format!("`{}`", l.media_type))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            };
            let mut module: Vec<u8> = Vec::new();
            client
                .pull_blob(source.reference(), &layer, &mut module)
                .await
                .map_err(|e| from_oci(e, &ctx))?;
            verify_blob(&module, &layer.digest, layer.size, &ctx)?;
            Ok((manifest, digest, module))
        })?;
        let metadata = read_metadata(&module).map_err(|e| {
            Error::new(
                ErrorKind::WrongMediaType,
                format!(
                    "pull {}: the layer is not a wasm module: {e}",
                    source.as_str()
                ),
            )
        })?;
        Ok(Pulled {
            immutable_ref: source.immutable(&digest),
            module,
            digest,
            manifest,
            metadata,
        })
    }

    /// The manifest exactly as the registry serves it, and its config blob.
    pub fn inspect(&self, source: &PolicyRef) -> Result<Inspected> {
        let registry = source.registry().to_string();
        let client = self.client(&registry)?;
        let auth = self.auth(&registry)?;
        let scheme = self.scheme_for(&registry);
        let ctx = CallContext {
            operation: "inspect",
            reference: source.as_str(),
            registry: &registry,
            scheme,
        };
        self.run("inspect", source, async {
            let (raw_manifest, digest) = client
                .pull_manifest_raw(
                    source.reference(),
                    &auth,
                    &[
                        OCI_IMAGE_MEDIA_TYPE,
                        IMAGE_MANIFEST_MEDIA_TYPE,
                        OCI_IMAGE_INDEX_MEDIA_TYPE,
                    ],
                )
                .await
                .map_err(|e| from_oci(e, &ctx))?;
            let manifest: OciImageManifest =
                serde_json::from_slice(&raw_manifest).map_err(|e| {
                    Error::new(
                        ErrorKind::WrongMediaType,
                        format!(
                            "inspect {}: the manifest is not an OCI image manifest: {e}",
                            source.as_str()
                        ),
                    )
                })?;
            let mut config = Vec::new();
            client
                .pull_blob(source.reference(), &manifest.config, &mut config)
                .await
                .map_err(|e| from_oci(e, &ctx))?;
            verify_blob(&config, &manifest.config.digest, manifest.config.size, &ctx)?;
            Ok(Inspected {
                digest,
                raw_manifest,
                manifest,
                config,
            })
        })
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

fn verify_blob(data: &[u8], digest: &str, size: i64, ctx: &CallContext<'_>) -> Result<()> {
    let actual = sha256_digest(data);
    if actual != digest {
        return Err(Error::new(
            ErrorKind::DigestMismatch,
            format!(
                "{} {}: digest mismatch: the manifest names {digest}, the content served by {} hashes to {actual}; \
                 the artifact is corrupt or was tampered with",
                ctx.operation, ctx.reference, ctx.registry
            ),
        ));
    }
    if i64::try_from(data.len()).ok() != Some(size) {
        return Err(Error::new(
            ErrorKind::DigestMismatch,
            format!(
                "{} {}: size mismatch: the manifest says {size} bytes, {} were served",
                ctx.operation,
                ctx.reference,
                data.len()
            ),
        ));
    }
    Ok(())
}
