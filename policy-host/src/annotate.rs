//! `kwctl annotate`: validate `metadata.yml`, ask the module for its protocol
//! version, add the usage and tool annotations, and write the
//! `io.kubewarden.metadata` custom section (replacing any previous one).

use crate::error::{Result, ResultExt as _};

use crate::host::{HostOptions, PolicyModule};
use crate::metadata::{
    ANNOTATION_KWCTL, ANNOTATION_USAGE, ExecutionMode, Metadata, write_metadata_section,
};

/// Value written to the `io.kubewarden.kwctl` annotation.
pub fn tool_version() -> String {
    format!(
        "daemonset-csi-policy-annotate {}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Annotate `module` with the metadata parsed from `metadata_yaml` and the
/// optional usage text (the README). Returns the annotated module and the
/// metadata written into it.
pub fn annotate(
    module: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
) -> Result<(Vec<u8>, Metadata)> {
    annotate_with(module, metadata_yaml, usage, &HostOptions::default())
}

/// [`annotate`] with host options for the `protocol_version` call
/// (`require_annotation` is ignored: the module need not be annotated yet).
pub fn annotate_with(
    module: &[u8],
    metadata_yaml: &str,
    usage: Option<&str>,
    options: &HostOptions,
) -> Result<(Vec<u8>, Metadata)> {
    let mut metadata = Metadata::from_yaml(metadata_yaml)?;

    if metadata.execution_mode == ExecutionMode::KubewardenWapc {
        let options = HostOptions {
            require_annotation: false,
            ..options.clone()
        };
        let policy = PolicyModule::from_bytes_with(module, &options)?;
        let version = policy
            .protocol_version()
            .context("cannot read the protocol version of the module")?;
        metadata.protocol_version = Some(version);
    }

    let mut annotations = metadata.annotations();
    if let Some(usage) = usage {
        annotations.insert(ANNOTATION_USAGE.to_string(), usage.to_string());
    }
    annotations.insert(ANNOTATION_KWCTL.to_string(), tool_version());
    metadata.annotations = Some(annotations);

    metadata.validate()?;
    let annotated = write_metadata_section(module, &metadata)?;
    Ok((annotated, metadata))
}
