//! `run-examples`: evaluate every `test_data/*.json` request (bare
//! AdmissionRequests or AdmissionReviews) with the settings of `policy.yaml`
//! and print one verdict line per example.
//!
//! ```text
//! run-examples [--module annotated-policy.wasm] [--settings-path policy.yaml]
//!          [--test-data test_data] [--quiet-logs]
//! ```
//!
//! * `--module FILE`: the annotated module (default `annotated-policy.wasm`).
//! * `--settings-path FILE`: YAML/JSON settings or a ClusterAdmissionPolicy
//!   whose `spec.settings` is used (default `policy.yaml`; a missing default
//!   file means `{}`).
//! * `--test-data DIR`: directory of `*.json` requests (default `test_data`).
//! * `--quiet-logs`: do not print the policy's log events.
//!
//! Output, one line per file (sorted by name):
//! `<file>  <Kind ns/name>  ALLOWED|MUTATED|REJECTED  <first line of message>`
//! and a summary line. The module is compiled once; each example runs in a
//! fresh instance. Exit status 1 when the settings are invalid, a request
//! cannot be read, or there is no example; rejections are not errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use e2e_tests::input::{describe_request, read_request, read_settings_file};
use e2e_tests::{HostOptions, PolicyModule};

#[derive(Parser, Debug)]
#[command(
    name = "run-examples",
    version,
    about = "Evaluate every test_data/*.json example with policy.yaml's settings"
)]
struct Args {
    /// The annotated wasm module
    #[arg(long, default_value = "annotated-policy.wasm")]
    module: PathBuf,
    /// Settings file: YAML/JSON, or a ClusterAdmissionPolicy (spec.settings is used)
    #[arg(long, default_value = "policy.yaml")]
    settings_path: PathBuf,
    /// Directory holding the *.json requests
    #[arg(long, default_value = "test_data")]
    test_data: PathBuf,
    /// Do not print the policy's log events on stderr
    #[arg(long)]
    quiet_logs: bool,
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn run(args: &Args) -> Result<()> {
    let settings = if args.settings_path.exists() || args.settings_path != Path::new("policy.yaml")
    {
        read_settings_file(&args.settings_path)?
    } else {
        eprintln!("note: policy.yaml not found, using settings {{}}");
        serde_json::json!({})
    };
    let options = HostOptions {
        log_to_stderr: !args.quiet_logs,
        ..HostOptions::default()
    };
    let module = PolicyModule::load_with(&args.module, &options)?;
    let verdict = module.validate_settings(&settings)?;
    if !verdict.valid {
        bail!(
            "Provided settings are not valid: {}",
            verdict.message.unwrap_or_default()
        );
    }

    let files = json_files(&args.test_data)?;
    if files.is_empty() {
        bail!("no *.json example in {}", args.test_data.display());
    }
    let (mut allowed, mut mutated, mut rejected) = (0, 0, 0);
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = file.to_string_lossy();
        let request = read_request(&path)?;
        let response = module
            .evaluate(&request, &settings)
            .with_context(|| format!("cannot evaluate {name}"))?;
        let verdict = if !response.allowed {
            rejected += 1;
            "REJECTED"
        } else if response.patch.is_some() {
            mutated += 1;
            "MUTATED"
        } else {
            allowed += 1;
            "ALLOWED"
        };
        let message = response
            .message()
            .and_then(|m| m.lines().next())
            .unwrap_or("");
        println!(
            "{name:<40} {:<40} {verdict:<8} {message}",
            describe_request(&request)
        );
    }
    println!(
        "{} examples: {allowed} allowed, {mutated} mutated, {rejected} rejected",
        files.len()
    );
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
