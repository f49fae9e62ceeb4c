//! One error type for every operation, with a kind a caller (or a test) can
//! match on and a message an operator can act on.

use std::fmt;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// What went wrong, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad command-line input: a reference, a file, a version.
    InvalidInput,
    /// The registry could not be reached (connection refused, DNS, reset).
    Unreachable,
    /// The registry did not answer in time.
    Timeout,
    /// The TLS handshake failed (plain-HTTP registry, untrusted certificate).
    Tls,
    /// The registry refused the credentials (or their absence).
    Unauthorized,
    /// The repository, tag, digest or blob does not exist.
    NotFound,
    /// The artifact is not a Kubewarden policy (wrong layer or config media type).
    WrongMediaType,
    /// Content does not match the digest that names it.
    DigestMismatch,
    /// The module carries no `io.kubewarden.metadata` section.
    NotAnnotated,
    /// Any other answer of the registry.
    Registry,
    /// A local file could not be read or written.
    Io,
}

/// An error with its kind and a complete, human-readable message.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Where an OCI call went, to phrase its errors.
#[derive(Debug, Clone)]
pub(crate) struct CallContext<'a> {
    /// `pull`, `push`, `inspect`.
    pub operation: &'a str,
    /// The reference as the user wrote it (without `registry://`).
    pub reference: &'a str,
    /// `host[:port]` of the registry.
    pub registry: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
}

/// The whole `source()` chain of an error, joined.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn looks_like_tls(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "tls",
        "ssl",
        "certificate",
        "corrupt message",
        "invalidcontenttype",
        "handshake",
        "peer sent no certificates",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Classify an oci-client error into a clear message.
pub(crate) fn from_oci(err: OciDistributionError, ctx: &CallContext<'_>) -> Error {
    let CallContext {
        operation,
        reference,
        registry,
        scheme,
    } = ctx;
    match err {
        OciDistributionError::RequestError(e) => from_reqwest(&e, ctx),
        OciDistributionError::UnauthorizedError { url } => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "{operation} {reference}: the registry {registry} refused access (401 Unauthorized on {url}); \
                 give credentials in a Docker config file (`auths.\"{registry}\".auth`, see --docker-config) \
                 or check the ones given"
            ),
        ),
        OciDistributionError::AuthenticationFailure(reason) => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "{operation} {reference}: authentication with the registry {registry} failed: {}",
                reason.trim()
            ),
        ),
        OciDistributionError::RegistryError { envelope, url } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let detail = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}: {}", e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            let kind = if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            }) {
                ErrorKind::NotFound
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                ErrorKind::Unauthorized
            } else {
                ErrorKind::Registry
            };
            let lead = match kind {
                ErrorKind::NotFound => format!(
                    "{operation} {reference}: not found in the registry {registry} (no such repository, tag or digest)"
                ),
                ErrorKind::Unauthorized => {
                    format!("{operation} {reference}: the registry {registry} denied access")
                }
                _ => format!("{operation} {reference}: the registry {registry} answered an error"),
            };
            Error::new(kind, format!("{lead}: {detail} ({url})"))
        }
        OciDistributionError::ServerError { code, url, message } => {
            let kind = match code {
                404 => ErrorKind::NotFound,
                401 | 403 => ErrorKind::Unauthorized,
                _ => ErrorKind::Registry,
            };
            let lead = match kind {
                ErrorKind::NotFound => format!(
                    "{operation} {reference}: not found in the registry {registry} (no such repository, tag or digest)"
                ),
                ErrorKind::Unauthorized => format!(
                    "{operation} {reference}: the registry {registry} refused access ({code}); \
                     give credentials in a Docker config file (see --docker-config) or check the ones given"
                ),
                _ => {
                    format!("{operation} {reference}: the registry {registry} answered HTTP {code}")
                }
            };
            let message = message.trim();
            if message.is_empty() {
                Error::new(kind, format!("{lead} ({url})"))
            } else {
                Error::new(kind, format!("{lead}: {message} ({url})"))
            }
        }
        OciDistributionError::DigestError(e) => Error::new(
            ErrorKind::DigestMismatch,
            format!(
                "{operation} {reference}: digest mismatch, the content served by {registry} does not match its digest ({e}); \
                 the artifact is corrupt or was tampered with"
            ),
        ),
        OciDistributionError::IncompatibleLayerMediaTypeError(media_type) => Error::new(
            ErrorKind::WrongMediaType,
            wrong_layer_message(operation, reference, &media_type),
        ),
        OciDistributionError::ImageManifestNotFoundError(m) => Error::new(
            ErrorKind::NotFound,
            format!("{operation} {reference}: manifest not found in {registry}: {m}"),
        ),
        OciDistributionError::UnsupportedMediaTypeError(media_type) => Error::new(
            ErrorKind::WrongMediaType,
            format!(
                "{operation} {reference}: the registry returned a manifest of media type `{media_type}`, \
                 not an OCI image manifest: this is not a Kubewarden policy artifact"
            ),
        ),
        OciDistributionError::ImageIndexParsingNoPlatformResolverError => Error::new(
            ErrorKind::WrongMediaType,
            format!(
                "{operation} {reference}: the reference names an image index (multi-platform image), \
                 not a Kubewarden policy artifact"
            ),
        ),
        other => {
            let text = chain(&other);
            let kind = if *scheme == "https" && looks_like_tls(&text) {
                ErrorKind::Tls
            } else {
                ErrorKind::Registry
            };
            Error::new(
                kind,
                format!("{operation} {reference} ({registry}): {text}"),
            )
        }
    }
}

pub(crate) fn wrong_layer_message(operation: &str, reference: &str, media_type: &str) -> String {
    format!(
        "{operation} {reference}: the artifact has a layer of media type `{media_type}`; \
         a Kubewarden policy has exactly one layer of media type `{}`: refusing it",
        crate::oci::WASM_LAYER_MEDIA_TYPE
    )
}

fn from_reqwest(e: &reqwest::Error, ctx: &CallContext<'_>) -> Error {
    let CallContext {
        operation,
        reference,
        registry,
        scheme,
    } = ctx;
    let text = chain(e);
    if e.is_timeout() {
        return Error::new(
            ErrorKind::Timeout,
            format!(
                "{operation} {reference}: the registry {registry} did not answer in time ({scheme}): {text}"
            ),
        );
    }
    if *scheme == "https" && looks_like_tls(&text) {
        return Error::new(
            ErrorKind::Tls,
            format!(
                "{operation} {reference}: TLS handshake with {registry} failed ({text}). \
                 If this registry serves plain HTTP, list it under `insecure_sources` in a sources file \
                 given with --sources-path; if it uses a private CA, list it under `source_authorities`"
            ),
        );
    }
    if e.is_connect() {
        return Error::new(
            ErrorKind::Unreachable,
            format!(
                "{operation} {reference}: cannot reach the registry {registry} over {scheme}: {text}"
            ),
        );
    }
    Error::new(
        ErrorKind::Unreachable,
        format!("{operation} {reference}: request to the registry {registry} failed: {text}"),
    )
}
