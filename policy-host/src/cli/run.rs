//! `run`: evaluate one request, in the spirit of `kwctl run`. Prints exactly
//! one AdmissionResponse JSON line on stdout; the policy's log events go to
//! stderr.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::{CommandResult, Outcome, deadline, require_valid_settings, settings_from};
use crate::input::read_request;
use crate::{HostOptions, PolicyModule, apply_patch};

#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 allowed, 1 rejected, 2 invalid settings (`Provided settings are not valid: ...`), an unannotated module or unreadable input."
)]
pub struct RunArgs {
    /// AdmissionRequest or AdmissionReview JSON file, `-` for stdin
    #[arg(short = 'r', long, default_value = "-", value_name = "FILE")]
    pub request_path: String,
    /// Settings as inline JSON (or YAML)
    #[arg(long, conflicts_with = "settings_path", value_name = "JSON")]
    pub settings_json: Option<String>,
    /// Settings file: YAML/JSON, or a ClusterAdmissionPolicy (spec.settings is used)
    #[arg(long, value_name = "FILE")]
    pub settings_path: Option<PathBuf>,
    /// Print the patched object on stderr (after a `--- patched object ---` line)
    #[arg(long)]
    pub show_patched: bool,
    /// Deadline of each guest call in seconds, 0 disables it
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub timeout: f64,
    #[command(flatten)]
    pub replay: super::ReplayArgs,
    #[command(flatten)]
    pub cache: super::CacheArgs,
    /// The annotated wasm module
    pub module: PathBuf,
}

pub fn execute(args: &RunArgs) -> CommandResult {
    let settings = settings_from(args.settings_json.as_deref(), args.settings_path.as_deref())?;
    let options = HostOptions {
        timeout: deadline(args.timeout)?,
        cache_dir: args.cache.dir(),
        replay: args.replay.session()?,
        ..HostOptions::default()
    };
    let request = read_request(&args.request_path)?;
    let module = PolicyModule::load_with(&args.module, &options)?;
    require_valid_settings(&module, &settings)?;

    let response = module.evaluate(&request, &settings)?;
    println!("{}", response.to_json_line()?);

    if args.show_patched {
        let original = request.get("object").cloned().unwrap_or(Value::Null);
        eprintln!("--- patched object ---");
        if response.patch.is_none() {
            eprintln!("(no patch: object unchanged)");
        }
        let patched = apply_patch(&original, &response)?;
        eprintln!(
            "{}",
            serde_json::to_string_pretty(&patched).map_err(|e| crate::Error::internal(format!(
                "cannot print the patched object: {e}"
            )))?
        );
    }
    Ok(if response.allowed {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}
