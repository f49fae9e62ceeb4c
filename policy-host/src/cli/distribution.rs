//! Distribution: `push`, `pull`, `inspect`, `artifacthub`, `check-version`.
//! The logic lives in `crate::oci`; this is arguments and printing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{CommandResult, Failure, Outcome};
use crate::oci::artifacthub::{self, ArtifactHubInput};
use crate::oci::{DockerConfig, Error, PolicyRef, Registry, RegistryOptions, Sources};

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The annotated module (annotated-policy.wasm)
    pub module: PathBuf,
    /// Destination: [registry://]host[:port]/repository:tag
    pub destination: String,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Push a module without `io.kubewarden.metadata` (policy-server will refuse it)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Source: registry://host/repo:tag or host/repo@sha256:...
    pub source: String,
    /// Where to write the module
    #[arg(short = 'o', long = "output-path", value_name = "FILE")]
    pub output_path: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "A SOURCE with `registry://` (or of the form host/repo:tag or host/repo@sha256:...) is pulled first (digest-verified); anything else is a local module file (`file://` optional)."
)]
pub struct InspectArgs {
    /// A module file, file:///abs/path.wasm, or registry://host/repo:tag
    pub source: String,
    /// What to print: `text` (a summary, like kwctl inspect), `json` or `yaml` (the io.kubewarden.metadata section itself)
    #[arg(short = 'o', long = "output", value_enum, default_value_t = InspectFormat::Text)]
    pub output: InspectFormat,
    /// Also print the usage annotation (the README the module was annotated with)
    #[arg(long)]
    pub show_usage: bool,
    /// Registry sources only: print the OCI manifest the registry serves instead (exact bytes)
    #[arg(long)]
    pub manifest: bool,
    /// With --manifest: print the config blob after the manifest
    #[arg(long, requires = "manifest")]
    pub config: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    Text,
    Json,
    Yaml,
}

#[derive(Args, Debug)]
pub struct ArtifacthubArgs {
    /// The policy's metadata.yml
    #[arg(long, default_value = "metadata.yml", value_name = "FILE")]
    pub metadata: PathBuf,
    /// questions-ui.yml (the Kubewarden UI form)
    #[arg(long, value_name = "FILE")]
    pub questions: Option<PathBuf>,
    /// Release version (semver, with or without `v`)
    #[arg(long)]
    pub version: String,
    /// Where to write it
    #[arg(
        short = 'o',
        long = "output",
        default_value = "artifacthub-pkg.yml",
        value_name = "FILE"
    )]
    pub output: PathBuf,
    /// createdAt (RFC 3339). Default: kept when nothing else changed, else $SOURCE_DATE_EPOCH, else now
    #[arg(long)]
    pub created_at: Option<String>,
    /// Do not write: exit 1 if the file is not up to date
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Debug)]
pub struct CheckVersionArgs {
    #[arg(long, default_value = "metadata.yml", value_name = "FILE")]
    pub metadata: PathBuf,
    #[arg(long, default_value = "Cargo.toml", value_name = "FILE")]
    pub cargo_toml: PathBuf,
    #[arg(long, default_value = "policy.yaml", value_name = "FILE")]
    pub policy: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct RegistryArgs {
    /// Sources file (kwctl/policy-server format): `insecure_sources` are
    /// spoken to in plain HTTP, every other registry over HTTPS.
    #[arg(long)]
    sources_path: Option<PathBuf>,
    /// Docker config file with credentials (`auths.<host>.auth`);
    /// default $DOCKER_CONFIG/config.json or ~/.docker/config.json if present.
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// Bound of the whole operation, in seconds.
    #[arg(long, default_value_t = crate::oci::registry::DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
    /// Bound of a connection attempt, in seconds.
    #[arg(long, default_value_t = crate::oci::registry::DEFAULT_CONNECT_TIMEOUT.as_secs())]
    connect_timeout: u64,
}

impl RegistryArgs {
    fn registry(&self) -> Result<Registry, Error> {
        let sources = match &self.sources_path {
            Some(path) => Sources::from_path(path)?,
            None => Sources::default(),
        };
        let docker_config = DockerConfig::load(self.docker_config.as_deref())?;
        Ok(Registry::new(RegistryOptions {
            sources,
            docker_config,
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            timeout: Duration::from_secs(self.timeout.max(1)),
            ..Default::default()
        }))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// Write through a temporary file in the same directory, then rename.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), Error> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::io(path.display(), std::io::Error::other("not a file path")))?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, data)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("cannot write {}", path.display()), e)
    })
}

pub fn push(args: &PushArgs) -> CommandResult {
    let bytes = read(&args.module)?;
    let destination = PolicyRef::parse(&args.destination)?;
    let pushed = args
        .registry
        .registry()?
        .push_policy(&bytes, &destination, args.force)?;
    match args.output {
        Format::Text => {
            eprintln!("Policy successfully pushed: {}", pushed.immutable_ref);
            println!("{}", pushed.immutable_ref);
        }
        Format::Json => println!(
            "{}",
            serde_json::json!({ "immutable_ref": pushed.immutable_ref })
        ),
    }
    Ok(Outcome::Accepted)
}

pub fn pull(args: &PullArgs) -> CommandResult {
    let source = PolicyRef::parse(&args.source)?;
    let pulled = args.registry.registry()?.pull_policy(&source)?;
    write_atomically(&args.output_path, &pulled.module)?;
    if pulled.metadata.is_none() {
        eprintln!(
            "warning: the module has no io.kubewarden.metadata section; policy-server will refuse it"
        );
    }
    eprintln!(
        "Pulled {} ({} bytes, layer {}) to {}",
        pulled.immutable_ref,
        pulled.module.len(),
        pulled
            .manifest
            .layers
            .first()
            .map(|l| l.digest.as_str())
            .unwrap_or_default(),
        args.output_path.display()
    );
    println!("{}", pulled.immutable_ref);
    Ok(Outcome::Accepted)
}

/// A local module unless the source names a registry.
fn is_registry_source(source: &str) -> bool {
    if source.starts_with("registry://") {
        return true;
    }
    if source.starts_with("file://") || Path::new(source).exists() {
        return false;
    }
    // host[:port]/repo... with a tag or digest, as `pull` accepts it.
    source
        .split_once('/')
        .is_some_and(|(host, _)| host.contains('.') || host.contains(':') || host == "localhost")
}

pub fn inspect(args: &InspectArgs) -> CommandResult {
    let module = if is_registry_source(&args.source) {
        let source = PolicyRef::parse(&args.source)?;
        let registry = args.registry.registry()?;
        if args.manifest {
            let inspected = registry.inspect(&source)?;
            eprintln!("digest: {}", inspected.digest);
            println!("{}", String::from_utf8_lossy(&inspected.raw_manifest));
            if args.config {
                println!("{}", String::from_utf8_lossy(&inspected.config));
            }
            return Ok(Outcome::Accepted);
        }
        registry.pull_policy(&source)?.module
    } else {
        if args.manifest {
            return Err(Failure::Error(crate::Error::invalid(format!(
                "--manifest needs a registry source, {} is a local file",
                args.source
            ))));
        }
        read(Path::new(
            args.source.strip_prefix("file://").unwrap_or(&args.source),
        ))?
    };
    let Some(section) = crate::metadata::read_metadata_section(&module)? else {
        return Err(Failure::Error(crate::Error::new(
            crate::ErrorKind::NotAnnotated,
            format!(
                "{} has no io.kubewarden.metadata section: it is not annotated (run `annotate`), and policy-server would refuse it",
                args.source
            ),
        )));
    };
    let value: serde_json::Value = serde_json::from_slice(&section).map_err(|e| {
        crate::Error::new(
            crate::ErrorKind::InvalidModule,
            format!("the io.kubewarden.metadata section is not JSON: {e}"),
        )
    })?;
    let mut shown = value.clone();
    let usage = shown
        .get_mut("annotations")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|a| a.remove(crate::metadata::ANNOTATION_USAGE));
    match args.output {
        InspectFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(if args.show_usage { &value } else { &shown })
                .map_err(|e| crate::Error::internal(e.to_string()))?
        ),
        InspectFormat::Yaml => print!(
            "{}",
            serde_yaml::to_string(if args.show_usage { &value } else { &shown })
                .map_err(|e| crate::Error::internal(e.to_string()))?
        ),
        InspectFormat::Text => {
            let metadata: crate::Metadata = serde_json::from_value(value.clone()).map_err(|e| {
                crate::Error::new(
                    crate::ErrorKind::InvalidModule,
                    format!("the io.kubewarden.metadata section is not policy metadata: {e}"),
                )
            })?;
            print!("{}", crate::metadata::summary(&metadata));
            if args.show_usage
                && let Some(usage) = usage.as_ref().and_then(serde_json::Value::as_str)
            {
                println!("\nUsage:\n{usage}");
            }
        }
    }
    Ok(Outcome::Accepted)
}

pub fn artifacthub(args: &ArtifacthubArgs) -> CommandResult {
    let ArtifacthubArgs {
        metadata,
        questions,
        version,
        output,
        created_at,
        check,
    } = args;
    let check = *check;
    let created_at = created_at.clone();
    let metadata = read_text(metadata)?;
    let questions = questions.as_deref().map(read_text).transpose()?;
    let existing = std::fs::read_to_string(output).ok();
    let existing_created_at = existing.as_deref().and_then(artifacthub::created_at_of);
    let generate = |created_at: &str| {
        artifacthub::generate(&ArtifactHubInput {
            metadata: &metadata,
            questions: questions.as_deref(),
            version,
            created_at,
        })
    };
    // Same content as the existing file but for createdAt: keep it.
    if let (Some(existing), Some(at)) = (&existing, &existing_created_at) {
        let regenerated = generate(at)?;
        if created_at.is_none() && &regenerated == existing {
            eprintln!("{} is up to date", output.display());
            return Ok(Outcome::Accepted);
        }
        if check {
            eprintln!(
                "{} is out of date: run `make artifacthub-pkg.yml`",
                output.display()
            );
            return Ok(Outcome::Rejected);
        }
    } else if check {
        eprintln!(
            "{} is missing or has no createdAt: run `make artifacthub-pkg.yml`",
            output.display()
        );
        return Ok(Outcome::Rejected);
    }
    let created_at = match created_at {
        Some(at) => at,
        None => {
            let now = std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                        .unwrap_or(0)
                });
            artifacthub::rfc3339_utc(now)
        }
    };
    let text = generate(&created_at)?;
    write_atomically(output, text.as_bytes())?;
    eprintln!("wrote {}", output.display());
    Ok(Outcome::Accepted)
}

pub fn check_version(args: &CheckVersionArgs) -> CommandResult {
    match crate::oci::release::check_versions(
        &read_text(&args.metadata)?,
        &read_text(&args.cargo_toml)?,
        &read_text(&args.policy)?,
    ) {
        Ok(version) => {
            println!("{version}");
            Ok(Outcome::Accepted)
        }
        Err(e) if e.message().starts_with("the versions disagree") => {
            eprintln!("{e}");
            Ok(Outcome::Rejected)
        }
        Err(e) => Err(e.into()),
    }
}
