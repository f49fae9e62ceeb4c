//! `annotate`: what `kwctl annotate` does, for this project.
//!
//! ```text
//! annotate --metadata-path metadata.yml [--usage-path README.md] \
//!          --output-path annotated-policy.wasm policy.wasm
//! ```
//!
//! * `--metadata-path FILE` (required): the policy's `metadata.yml`
//!   (`rules` and `mutating` required; Kubewarden defaults for the rest).
//! * `--usage-path FILE`: text stored in the `io.kubewarden.policy.usage`
//!   annotation (the README).
//! * `-o, --output-path FILE` (required): where to write the annotated module.
//! * positional: the wasm module to annotate.
//!
//! The module's `protocol_version` waPC function sets `protocolVersion`; the
//! `io.kubewarden.kwctl` annotation names this tool. The JSON metadata is
//! written as the `io.kubewarden.metadata` custom section, replacing any
//! previous one. Exit status 1 with a message on any error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "annotate",
    version,
    about = "Annotate a Kubewarden policy module (like `kwctl annotate`)"
)]
struct Args {
    /// The policy's metadata.yml
    #[arg(short = 'm', long)]
    metadata_path: PathBuf,
    /// File whose text becomes the io.kubewarden.policy.usage annotation (README.md)
    #[arg(short = 'u', long)]
    usage_path: Option<PathBuf>,
    /// Where to write the annotated module
    #[arg(short = 'o', long)]
    output_path: PathBuf,
    /// The wasm module to annotate
    module: PathBuf,
}

fn run(args: &Args) -> Result<()> {
    let module = std::fs::read(&args.module)
        .with_context(|| format!("cannot read wasm module {}", args.module.display()))?;
    let metadata = std::fs::read_to_string(&args.metadata_path)
        .with_context(|| format!("cannot read metadata file {}", args.metadata_path.display()))?;
    let usage = args
        .usage_path
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read usage file {}", p.display()))
        })
        .transpose()?;
    let (annotated, _) = e2e_tests::annotate(&module, &metadata, usage.as_deref())
        .with_context(|| format!("cannot annotate {}", args.module.display()))?;
    std::fs::write(&args.output_path, annotated)
        .with_context(|| format!("cannot write {}", args.output_path.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
