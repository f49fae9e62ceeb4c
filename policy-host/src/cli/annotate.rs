//! `annotate`: what `kwctl annotate` does, for this project. The module's
//! `protocol_version` waPC function sets `protocolVersion`; the
//! `io.kubewarden.kwctl` annotation names this tool; the JSON metadata is
//! written as the `io.kubewarden.metadata` custom section, replacing any
//! previous one.

use std::path::PathBuf;

use clap::Args;

use super::{CommandResult, Outcome};
use crate::{Error, ResultExt as _};

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// The policy's metadata.yml (`rules` and `mutating` required; Kubewarden defaults for the rest)
    #[arg(short = 'm', long, value_name = "FILE")]
    pub metadata_path: PathBuf,
    /// File whose text becomes the io.kubewarden.policy.usage annotation (README.md)
    #[arg(short = 'u', long, value_name = "FILE")]
    pub usage_path: Option<PathBuf>,
    /// Where to write the annotated module
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output_path: PathBuf,
    /// The wasm module to annotate
    pub module: PathBuf,
}

pub fn execute(args: &AnnotateArgs) -> CommandResult {
    let module = std::fs::read(&args.module).map_err(|e| {
        Error::io(
            format!("cannot read wasm module {}", args.module.display()),
            e,
        )
    })?;
    let metadata = std::fs::read_to_string(&args.metadata_path).map_err(|e| {
        Error::io(
            format!("cannot read metadata file {}", args.metadata_path.display()),
            e,
        )
    })?;
    let usage = args
        .usage_path
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p)
                .map_err(|e| Error::io(format!("cannot read usage file {}", p.display()), e))
        })
        .transpose()?;
    let (annotated, _) = crate::annotate(&module, &metadata, usage.as_deref())
        .with_context(|| format!("cannot annotate {}", args.module.display()))?;
    std::fs::write(&args.output_path, annotated)
        .map_err(|e| Error::io(format!("cannot write {}", args.output_path.display()), e))?;
    Ok(Outcome::Accepted)
}
