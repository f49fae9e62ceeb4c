//! `run`: evaluate one request with an annotated policy, in the spirit of
//! `kwctl run`.
//!
//! ```text
//! run [--request-path FILE|-] [--settings-json JSON | --settings-path FILE]
//!     [--show-patched] [--timeout SECONDS] annotated-policy.wasm
//! ```
//!
//! * `-r, --request-path FILE|-`: a bare AdmissionRequest or a full
//!   AdmissionReview, JSON (`-`, the default, reads standard input).
//! * `--settings-json JSON`: settings inline.
//! * `--settings-path FILE`: settings from a YAML or JSON file; when the file
//!   is a ClusterAdmissionPolicy (or AdmissionPolicy), its `spec.settings`.
//!   Without either option the settings are `{}`.
//! * `--show-patched`: also print the object after applying the patch, as
//!   pretty JSON on **stderr** after a `--- patched object ---` line (stdout
//!   keeps exactly one line).
//! * `--timeout SECONDS`: deadline of each guest call (default 2, like
//!   policy-server; 0 disables it).
//!
//! Prints exactly one AdmissionResponse JSON line on stdout; the policy's log
//! events go to stderr. Exit status 0 whenever the policy answered, allowed or
//! not. Exit status 1 with `Provided settings are not valid: <message>` when
//! the policy refuses the settings, and 1 with a message when the module is
//! not annotated or an input cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use e2e_tests::input::{parse_settings, read_request, read_settings_file};
use e2e_tests::{HostOptions, PolicyModule, apply_patch};
use serde_json::Value;

#[derive(Parser, Debug)]
#[command(
    name = "run",
    version,
    about = "Evaluate a request with a Kubewarden policy (like `kwctl run`)"
)]
struct Args {
    /// AdmissionRequest or AdmissionReview JSON file, `-` for stdin
    #[arg(short = 'r', long, default_value = "-")]
    request_path: String,
    /// Settings as inline JSON (or YAML)
    #[arg(long, conflicts_with = "settings_path")]
    settings_json: Option<String>,
    /// Settings file: YAML/JSON, or a ClusterAdmissionPolicy (spec.settings is used)
    #[arg(long)]
    settings_path: Option<PathBuf>,
    /// Print the patched object on stderr (after a `--- patched object ---` line)
    #[arg(long)]
    show_patched: bool,
    /// Deadline of each guest call in seconds, 0 disables it
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    /// The annotated wasm module
    module: PathBuf,
}

enum Failure {
    InvalidSettings(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let settings: Value = match (&args.settings_json, &args.settings_path) {
        (Some(json), _) => parse_settings(json).context("--settings-json")?,
        (None, Some(path)) => read_settings_file(path)?,
        (None, None) => serde_json::json!({}),
    };
    if !args.timeout.is_finite() || args.timeout < 0.0 {
        return Err(anyhow!("--timeout must be a non-negative number of seconds").into());
    }
    let options = HostOptions {
        timeout: (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout)),
        ..HostOptions::default()
    };
    let request = read_request(&args.request_path)?;
    let module = PolicyModule::load_with(&args.module, &options)?;

    let verdict = module.validate_settings(&settings)?;
    if !verdict.valid {
        return Err(Failure::InvalidSettings(
            verdict.message.unwrap_or_default(),
        ));
    }

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
            serde_json::to_string_pretty(&patched).context("cannot print the patched object")?
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::InvalidSettings(message)) => {
            eprintln!("Provided settings are not valid: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Other(e)) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
