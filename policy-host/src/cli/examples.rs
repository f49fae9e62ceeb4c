//! `examples`: evaluate every `*.json` request of a folder (bare
//! AdmissionRequests or AdmissionReviews) with the settings of `policy.yaml`
//! and print one verdict line per example. The module is compiled once;
//! each example runs in a fresh instance.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommandResult, Outcome, require_valid_settings};
use crate::input::{describe_request, read_request, read_settings_file};
use crate::{Error, HostOptions, PolicyModule, Result, ResultExt as _};

#[derive(Args, Debug)]
#[command(
    after_help = "Output, one line per file (sorted by name): `<file>  <Kind ns/name>  ALLOWED|MUTATED|REJECTED  <first line of message>`, then a summary line.\n\nExit status: 0 every example allowed, 1 some example rejected (the bundled examples hold rejections on purpose), 2 invalid settings, an unreadable request or no example."
)]
pub struct ExamplesArgs {
    /// The annotated wasm module
    #[arg(long, default_value = "annotated-policy.wasm", value_name = "FILE")]
    pub module: PathBuf,
    /// Settings file: YAML/JSON, or a ClusterAdmissionPolicy (spec.settings is used); a missing policy.yaml means {}
    #[arg(long, default_value = "policy.yaml", value_name = "FILE")]
    pub settings_path: PathBuf,
    /// Folder holding the *.json requests
    #[arg(long, default_value = "test_data/requests", value_name = "DIR")]
    pub requests: PathBuf,
    /// Do not print the policy's log events on stderr
    #[arg(long)]
    pub quiet_logs: bool,
    #[command(flatten)]
    pub cache: super::CacheArgs,
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let cannot_list = |e| Error::io(format!("cannot list {}", dir.display()), e);
    for entry in std::fs::read_dir(dir).map_err(cannot_list)? {
        let path = entry.map_err(cannot_list)?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub fn execute(args: &ExamplesArgs) -> CommandResult {
    let settings = if args.settings_path.exists() || args.settings_path != Path::new("policy.yaml")
    {
        read_settings_file(&args.settings_path)?
    } else {
        eprintln!("note: policy.yaml not found, using settings {{}}");
        serde_json::json!({})
    };
    let options = HostOptions {
        log_to_stderr: !args.quiet_logs,
        cache_dir: args.cache.dir(),
        ..HostOptions::default()
    };
    let module = PolicyModule::load_with(&args.module, &options)?;
    require_valid_settings(&module, &settings)?;

    let files = json_files(&args.requests)?;
    if files.is_empty() {
        return Err(
            Error::invalid(format!("no *.json example in {}", args.requests.display())).into(),
        );
    }
    let (mut allowed, mut mutated, mut rejected) = (0, 0, 0);
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let request = read_request(&file.to_string_lossy())?;
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
    Ok(if rejected == 0 {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}
