//! `policy-oci`: push, pull and inspect the policy as an OCI artifact,
//! generate its Artifact Hub metadata, check release versions. The logic
//! lives in the library; this is argument parsing and printing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use policy_oci::artifacthub::{self, ArtifactHubInput};
use policy_oci::{DockerConfig, Error, PolicyRef, Registry, RegistryOptions, Sources};

#[derive(Parser)]
#[command(
    name = "policy-oci",
    version,
    about = "Distribute the daemonset-csi-policy module as an OCI artifact (kwctl push/pull compatible)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push an annotated module; prints the immutable reference host/repo@sha256:...
    Push {
        /// The annotated module (annotated-policy.wasm).
        module: PathBuf,
        /// Destination: [registry://]host[:port]/repository:tag
        destination: String,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
        /// Push a module without `io.kubewarden.metadata` (policy-server will refuse it).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a policy (digest-verified) and write the module.
    Pull {
        /// Source: registry://host/repo:tag or host/repo@sha256:...
        source: String,
        /// Where to write the module.
        #[arg(short = 'o', long = "output-path")]
        output_path: PathBuf,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Print the manifest the registry serves (pretty JSON; --raw for the exact bytes).
    Inspect {
        source: String,
        /// Print the manifest bytes exactly as served.
        #[arg(long)]
        raw: bool,
        /// Print the config blob after the manifest.
        #[arg(long)]
        config: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Generate artifacthub-pkg.yml from metadata.yml and questions-ui.yml.
    Artifacthub {
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long)]
        questions: Option<PathBuf>,
        /// Release version (semver, with or without `v`).
        #[arg(long)]
        version: String,
        #[arg(short = 'o', long = "output", default_value = "artifacthub-pkg.yml")]
        output: PathBuf,
        /// createdAt (RFC 3339). Default: kept when nothing else changed, else
        /// $SOURCE_DATE_EPOCH, else now.
        #[arg(long)]
        created_at: Option<String>,
        /// Do not write: fail if the file is not up to date.
        #[arg(long)]
        check: bool,
    },
    /// Check that metadata.yml, Cargo.toml and policy.yaml declare the same version; print it.
    CheckVersion {
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long, default_value = "Cargo.toml")]
        cargo_toml: PathBuf,
        #[arg(long, default_value = "policy.yaml")]
        policy: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Args)]
struct RegistryArgs {
    /// Sources file (kwctl/policy-server format): `insecure_sources` are
    /// spoken to in plain HTTP, every other registry over HTTPS.
    #[arg(long)]
    sources_path: Option<PathBuf>,
    /// Docker config file with credentials (`auths.<host>.auth`);
    /// default $DOCKER_CONFIG/config.json or ~/.docker/config.json if present.
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// Bound of the whole operation, in seconds.
    #[arg(long, default_value_t = policy_oci::registry::DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
    /// Bound of a connection attempt, in seconds.
    #[arg(long, default_value_t = policy_oci::registry::DEFAULT_CONNECT_TIMEOUT.as_secs())]
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

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Push {
            module,
            destination,
            output,
            force,
            registry,
        } => {
            let bytes = read(&module)?;
            let destination = PolicyRef::parse(&destination)?;
            let pushed = registry
                .registry()?
                .push_policy(&bytes, &destination, force)?;
            match output {
                Format::Text => {
                    eprintln!("Policy successfully pushed: {}", pushed.immutable_ref);
                    println!("{}", pushed.immutable_ref);
                }
                Format::Json => println!(
                    "{}",
                    serde_json::json!({ "immutable_ref": pushed.immutable_ref })
                ),
            }
        }
        Command::Pull {
            source,
            output_path,
            registry,
        } => {
            let source = PolicyRef::parse(&source)?;
            let pulled = registry.registry()?.pull_policy(&source)?;
            write_atomically(&output_path, &pulled.module)?;
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
                output_path.display()
            );
            println!("{}", pulled.immutable_ref);
        }
        Command::Inspect {
            source,
            raw,
            config,
            registry,
        } => {
            let source = PolicyRef::parse(&source)?;
            let inspected = registry.registry()?.inspect(&source)?;
            eprintln!("digest: {}", inspected.digest);
            if raw {
                println!("{}", String::from_utf8_lossy(&inspected.raw_manifest));
            } else {
                let value: serde_json::Value = serde_json::from_slice(&inspected.raw_manifest)
                    .map_err(|e| Error::invalid(format!("the manifest is not JSON: {e}")))?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
                );
            }
            if config {
                println!("{}", String::from_utf8_lossy(&inspected.config));
            }
        }
        Command::Artifacthub {
            metadata,
            questions,
            version,
            output,
            created_at,
            check,
        } => {
            let metadata = read_text(&metadata)?;
            let questions = questions.as_deref().map(read_text).transpose()?;
            let existing = std::fs::read_to_string(&output).ok();
            let existing_created_at = existing.as_deref().and_then(artifacthub::created_at_of);
            let generate = |created_at: &str| {
                artifacthub::generate(&ArtifactHubInput {
                    metadata: &metadata,
                    questions: questions.as_deref(),
                    version: &version,
                    created_at,
                })
            };
            // Same content as the existing file but for createdAt: keep it.
            if let (Some(existing), Some(at)) = (&existing, &existing_created_at) {
                let regenerated = generate(at)?;
                if created_at.is_none() && &regenerated == existing {
                    eprintln!("{} is up to date", output.display());
                    return Ok(());
                }
                if check {
                    return Err(Error::invalid(format!(
                        "{} is out of date: run `make artifacthub-pkg.yml`",
                        output.display()
                    )));
                }
            } else if check {
                return Err(Error::invalid(format!(
                    "{} is missing or has no createdAt: run `make artifacthub-pkg.yml`",
                    output.display()
                )));
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
            write_atomically(&output, text.as_bytes())?;
            eprintln!("wrote {}", output.display());
        }
        Command::CheckVersion {
            metadata,
            cargo_toml,
            policy,
        } => {
            let version = policy_oci::release::check_versions(
                &read_text(&metadata)?,
                &read_text(&cargo_toml)?,
                &read_text(&policy)?,
            )?;
            println!("{version}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
