//! The `daemonset-csi-policy` command-line tool, in the manner of `kwctl`:
//! one binary, one subcommand per task, one exit-code contract.
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | done: everything evaluated was accepted (mutated and warned count as accepted) |
//! | 1 | done, and something was rejected (`check`, `run`, `examples`) or found out of date (`artifacthub --check`, `check-version`) |
//! | 2 | could not do the job: usage, invalid settings, unreadable input, registry or module errors |
//!
//! The definitions live in the library so that the CLI reference in
//! `docs/cli.md` is generated from them (`reference`) and a test can fail
//! when it is stale.

mod annotate;
mod check;
mod distribution;
mod examples;
pub mod reference;
mod run;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Name of the binary, as users type it.
pub const BINARY: &str = "daemonset-csi-policy";

/// What a subcommand found, when it could do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Accepted,
    /// Exit status 1: something was rejected, or a `--check` found a difference.
    Rejected,
}

/// Why a subcommand could not do its job (exit status 2).
#[derive(Debug)]
pub enum Failure {
    /// The policy refused the settings: `Provided settings are not valid: ...`,
    /// as `kwctl run` words it.
    InvalidSettings(String),
    /// Several input errors, one line each (`FILE: document N: ...`).
    Inputs(Vec<String>),
    /// Anything else, with its context chain.
    Error(crate::Error),
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        Failure::Error(e)
    }
}

impl From<crate::oci::Error> for Failure {
    fn from(e: crate::oci::Error) -> Self {
        Failure::Error(e.into())
    }
}

pub type CommandResult = Result<Outcome, Failure>;

pub const EXIT_ACCEPTED: u8 = 0;
pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Exit status: 0 done and everything accepted (mutated and warned objects count
as accepted); 1 done and something rejected (check, run, examples) or out of
date (artifacthub --check, check-version); 2 the command could not do its job
(usage, invalid settings, unreadable input, module or registry error).";

#[derive(Parser, Debug)]
#[command(
    name = BINARY,
    version,
    about = "Build, test, check and distribute the daemonset-csi-policy Kubewarden policy",
    long_about = "Build, test, check and distribute the daemonset-csi-policy Kubewarden policy.\n\nThe engine is the one policy-server 1.31 embeds (wapc 2.1.0, wasmtime-provider 2.13.0,\nwasmtime 38, json-patch 4.1.0); no kwctl or policy-server is needed.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check Kubernetes manifests (files, folders, stdin) with the policy before they reach a cluster
    Check(check::CheckArgs),
    /// Evaluate one AdmissionRequest or AdmissionReview (like `kwctl run`)
    Run(run::RunArgs),
    /// Evaluate every request of a folder (test_data/requests) and print one verdict line each
    Examples(examples::ExamplesArgs),
    /// Write the io.kubewarden.metadata section into a module (like `kwctl annotate`)
    Annotate(annotate::AnnotateArgs),
    /// Print a module's metadata (local file or registry), like `kwctl inspect`
    Inspect(distribution::InspectArgs),
    /// Push an annotated module to an OCI registry (like `kwctl push`)
    Push(distribution::PushArgs),
    /// Pull a policy from an OCI registry, digest-verified (like `kwctl pull`)
    Pull(distribution::PullArgs),
    /// Generate artifacthub-pkg.yml from metadata.yml and questions-ui.yml
    Artifacthub(distribution::ArtifacthubArgs),
    /// Check that metadata.yml, Cargo.toml and policy.yaml declare the same version; print it
    CheckVersion(distribution::CheckVersionArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the command-line reference (Markdown, the content of docs/cli.md)
    Reference {
        /// Write it to this file instead of standard output
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// The clap definition, for the reference and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> CommandResult {
    match cli.command {
        Command::Check(args) => check::execute(&args),
        Command::Run(args) => run::execute(&args),
        Command::Examples(args) => examples::execute(&args),
        Command::Annotate(args) => annotate::execute(&args),
        Command::Inspect(args) => distribution::inspect(&args),
        Command::Push(args) => distribution::push(&args),
        Command::Pull(args) => distribution::pull(&args),
        Command::Artifacthub(args) => distribution::artifacthub(&args),
        Command::CheckVersion(args) => distribution::check_version(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), BINARY, &mut std::io::stdout());
            Ok(Outcome::Accepted)
        }
        Command::Reference { output } => {
            let text = reference::markdown(&command());
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| crate::Error::io(format!("cannot write {}", path.display()), e))?,
                None => std::io::stdout()
                    .write_all(text.as_bytes())
                    .map_err(|e| crate::Error::io("cannot write", e))?,
            }
            Ok(Outcome::Accepted)
        }
    }
}

/// Maps a result onto the exit-code contract, printing the failure.
pub fn exit_code(result: CommandResult) -> ExitCode {
    match result {
        Ok(Outcome::Accepted) => ExitCode::from(EXIT_ACCEPTED),
        Ok(Outcome::Rejected) => ExitCode::from(EXIT_REJECTED),
        Err(Failure::InvalidSettings(message)) => {
            eprintln!("Provided settings are not valid: {message}");
            ExitCode::from(EXIT_ERROR)
        }
        Err(Failure::Inputs(errors)) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            ExitCode::from(EXIT_ERROR)
        }
        Err(Failure::Error(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The binary's `main`. clap's own usage errors exit 2, as the contract says.
pub fn main() -> ExitCode {
    exit_code(execute(Cli::parse()))
}

/// Settings from `--settings-json` or `--settings-path` (`{}` without either).
pub(crate) fn settings_from(
    json: Option<&str>,
    path: Option<&std::path::Path>,
) -> Result<serde_json::Value, Failure> {
    use crate::ResultExt as _;
    Ok(match (json, path) {
        (Some(json), _) => crate::input::parse_settings(json).context("--settings-json")?,
        (None, Some(path)) => crate::input::read_settings_file(path)?,
        (None, None) => serde_json::json!({}),
    })
}

/// `--timeout SECONDS` as a deadline (0 disables it).
pub(crate) fn deadline(seconds: f64) -> Result<Option<std::time::Duration>, Failure> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(
            crate::Error::invalid("--timeout must be a non-negative number of seconds").into(),
        );
    }
    Ok((seconds > 0.0).then(|| std::time::Duration::from_secs_f64(seconds)))
}

/// Refuses settings the module does not accept, as policy-server does at start.
pub(crate) fn require_valid_settings(
    module: &crate::PolicyModule,
    settings: &serde_json::Value,
) -> Result<(), Failure> {
    let verdict = module.validate_settings(settings)?;
    if verdict.valid {
        Ok(())
    } else {
        Err(Failure::InvalidSettings(
            verdict.message.unwrap_or_default(),
        ))
    }
}

/// The wasmtime compilation cache: compiling the module takes most of a
/// short run, so the compiled code is kept across runs.
#[derive(clap::Args, Debug, Clone)]
pub struct CacheArgs {
    /// wasmtime compilation cache folder: the compiled module is reused
    /// across runs [default: $XDG_CACHE_HOME or ~/.cache, then
    /// daemonset-csi-policy/wasmtime; none when it cannot be created]
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the module on every run (no compilation cache)
    #[arg(long)]
    pub no_cache: bool,
}

/// Answers to the policy's context-aware host calls, shared by `run` and
/// `check`.
#[derive(clap::Args, Debug, Default)]
pub struct ReplayArgs {
    /// Answer the policy's Kubernetes host calls (context-aware rules) from
    /// this session file, in the format of kwctl's flag of the same name (a
    /// YAML list of `type: Exchange` with `request` and `response`). The
    /// module's contextAwareResources are granted. Without it, these calls
    /// fail as on a policy-server with no cluster connection
    #[arg(long, value_name = "FILE")]
    pub replay_host_capabilities_interactions: Option<PathBuf>,
}

impl ReplayArgs {
    pub fn session(&self) -> crate::Result<Option<std::sync::Arc<crate::replay::ReplaySession>>> {
        self.replay_host_capabilities_interactions
            .as_deref()
            .map(|path| crate::replay::ReplaySession::load(path).map(std::sync::Arc::new))
            .transpose()
    }
}

impl CacheArgs {
    /// `--cache-dir`, none with `--no-cache`, else the user's cache folder
    /// when it can be created.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        let dir = base.join("daemonset-csi-policy").join("wasmtime");
        std::fs::create_dir_all(&dir).ok().map(|_| dir)
    }
}
