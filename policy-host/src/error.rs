//! The host library's one error type: a [`kind`](Error::kind) a caller can
//! match on, and a complete human-readable message with its context chain
//! (outermost first, `context: cause: cause`), the way `{:#}` prints an
//! `anyhow` error.
//!
//! ```
//! use policy_host::{ErrorKind, PolicyModule};
//!
//! let err = PolicyModule::load("no-such-module.wasm").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Io);
//! assert!(err.to_string().contains("no-such-module.wasm"));
//! ```
//!
//! Registry errors ([`crate::oci::Error`]) convert into it, keeping their
//! [`crate::oci::ErrorKind`] in [`ErrorKind::Registry`].

use std::fmt;

use crate::oci;

/// What went wrong, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file or stream could not be read or written (the message names it).
    Io,
    /// Input that cannot be parsed or is not valid: a request, settings,
    /// a manifest, policy metadata (`metadata.yml`), a command-line value,
    /// a response whose patch cannot be decoded or applied.
    InvalidInput,
    /// The module carries no `io.kubewarden.metadata` custom section, or its
    /// metadata does not declare `protocolVersion: v1`: policy-server
    /// refuses to load it (annotate it first).
    NotAnnotated,
    /// Not a wasm module, or one that cannot be compiled or linked (waPC +
    /// WASI preview1), a garbled metadata section, or an execution mode this
    /// host does not run.
    InvalidModule,
    /// The guest failed: a trap, the deadline, a guest error, an answer that
    /// cannot be read. [`PolicyModule::evaluate`](crate::PolicyModule::evaluate)
    /// and `validate_settings` do not return these: like policy-server they
    /// answer a 500 response, or an invalid settings verdict.
    Guest,
    /// The wasmtime engine could not be set up (configuration, compilation
    /// cache, a fresh store).
    Engine,
    /// An OCI registry operation failed, and how. The registry kinds
    /// [`InvalidInput`](oci::ErrorKind::InvalidInput),
    /// [`Io`](oci::ErrorKind::Io) and
    /// [`NotAnnotated`](oci::ErrorKind::NotAnnotated) convert to the kinds
    /// of the same name above, never to `Registry(..)`.
    Registry(oci::ErrorKind),
    /// A bug of the host: serializing its own values failed, an evaluation
    /// thread panicked.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorKind::Io => "I/O error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotAnnotated => "module not annotated",
            ErrorKind::InvalidModule => "invalid module",
            ErrorKind::Guest => "guest failure",
            ErrorKind::Engine => "engine error",
            ErrorKind::Registry(_) => "registry error",
            ErrorKind::Internal => "internal error",
        };
        f.write_str(text)
    }
}

/// An error with its kind and a complete, human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The whole message, context included (what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` in front of its message
    /// (`context: message`); the kind is kept.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// An [`ErrorKind::Io`] error: `what: err`.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {err}"))
    }

    /// An [`ErrorKind::InvalidInput`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::InvalidInput`] error for unparseable input: `what: err`
    /// with `err`'s whole source chain.
    pub fn parse(what: impl fmt::Display, err: &(dyn std::error::Error + 'static)) -> Self {
        Error::invalid(format!("{what}: {}", oci::error::chain(err)))
    }

    /// An [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<oci::Error> for Error {
    fn from(e: oci::Error) -> Self {
        let kind = match e.kind() {
            oci::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
            oci::ErrorKind::Io => ErrorKind::Io,
            oci::ErrorKind::NotAnnotated => ErrorKind::NotAnnotated,
            other => ErrorKind::Registry(other),
        };
        Error::new(kind, e.message())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `.context(..)` and `.with_context(..)` on a `Result<T, Error>`, like
/// anyhow's: the message gets `context: ` in front, the kind is kept.
pub trait ResultExt<T> {
    fn context(self, context: impl fmt::Display) -> Result<T>;
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_prefixes_the_message() {
        let e: Result<()> = Err(Error::invalid("not JSON"));
        let e = e.context("request r.json").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "request r.json: not JSON");
        let e = Err::<(), _>(e).with_context(|| "run").unwrap_err();
        assert_eq!(format!("{e:#}"), "run: request r.json: not JSON");
    }

    #[test]
    fn registry_errors_keep_their_kind() {
        let e: Error = oci::Error::new(oci::ErrorKind::Timeout, "pull x: too slow").into();
        assert_eq!(e.kind(), ErrorKind::Registry(oci::ErrorKind::Timeout));
        assert_eq!(e.message(), "pull x: too slow");
        for (from, to) in [
            (oci::ErrorKind::Io, ErrorKind::Io),
            (oci::ErrorKind::InvalidInput, ErrorKind::InvalidInput),
            (oci::ErrorKind::NotAnnotated, ErrorKind::NotAnnotated),
        ] {
            assert_eq!(Error::from(oci::Error::new(from, "m")).kind(), to);
        }
        let e = Err::<(), _>(oci::Error::invalid("bad reference"))
            .context("push")
            .unwrap_err();
        assert_eq!(e.to_string(), "push: bad reference");
    }

    #[test]
    fn io_names_what() {
        let e = Error::io(
            "cannot read x.wasm",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().starts_with("cannot read x.wasm: "), "{e}");
    }
}
