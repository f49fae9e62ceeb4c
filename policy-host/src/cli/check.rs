//! `check`: evaluate plain Kubernetes manifests with the policy before they
//! reach a cluster, in the spirit of `kyverno apply --resource`. The logic
//! lives in `crate::manifests`; this is arguments, reports and `--fix`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::{
    CacheArgs, CommandResult, Failure, Outcome, deadline, require_valid_settings, settings_from,
};
use crate::manifests::{
    self, CheckError, InputError, OperationMode, ParsedSource, RequestOptions, Targets, UserInfo,
};
use crate::{Error, HostOptions, PolicyModule, Result, ResultExt as _};

const AFTER_HELP: &str = "\
Inputs: files (any name), folders (searched recursively for *.yaml, *.yml and
*.json; hidden entries skipped) and `-` for standard input. A file holds
multi-document YAML (`---` separators, comments, empty documents: the output of
`helm template` and `kustomize build`) or a stream of JSON values (*.json, or
stdin starting with `{`/`[`). `kind: List` documents (and any *List with
`items`) are expanded. Documents are numbered from 1 in each file: the Nth
`---` section (comments before the first `---` are not a document).

Objects whose group, version and resource the module's metadata rules target
(DaemonSet apps/v1, StorageClass, CSIDriver and VolumeAttributesClass
storage.k8s.io/v1, PersistentVolume v1) are sent to
the policy as AdmissionRequests (namespaced ones without a namespace get
--namespace); every other object is counted and skipped. The module is
compiled once; every object is evaluated in a fresh instance, --jobs at a time.

Verdicts: ACCEPTED, MUTATED (allowed with a patch: the table lists each JSON
patch operation), WARN (allowed unchanged with warnings: warn mode, an
exemption), REJECTED (each violation on its own line, field path first).

--fix writes every input file again, in the same document order, with each
mutated object replaced by what the cluster would store (the object with the
policy's patch applied). Documents the policy did not change are copied byte
for byte; a changed document keeps its leading comment lines (`# Source: ...`)
and its key order, but comments inside it are lost (serde_yaml keeps none) and
anchors are expanded. Rejected objects are written as they were read.

Exit status: 0 when every object is accepted (MUTATED and WARN count as
accepted), 1 when any object is REJECTED, 2 for usage errors, invalid settings
(`Provided settings are not valid: ...`), unreadable paths and documents that
do not parse (`FILE: document N: ...`; nothing is evaluated then).";

#[derive(Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct CheckArgs {
    /// Manifest files, folders (recursive) or `-` for standard input
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// The annotated policy module
    #[arg(long, default_value = "annotated-policy.wasm")]
    module: PathBuf,
    /// Settings file: YAML/JSON settings, or a ClusterAdmissionPolicy (its spec.settings)
    #[arg(long, conflicts_with = "settings_json")]
    settings_path: Option<PathBuf>,
    /// Settings as inline JSON (or YAML); without any settings option: {}
    #[arg(long)]
    settings_json: Option<String>,
    /// Namespace of namespaced objects that have none
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Requesting username (default kubernetes-admin, group kubeadm:cluster-admins)
    #[arg(long, conflicts_with = "service_account")]
    user: Option<String>,
    /// Group of the requesting user (repeatable); system:authenticated is always added
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Request as ServiceAccount NAMESPACE/NAME (username
    /// system:serviceaccount:NAMESPACE:NAME, groups system:serviceaccounts,
    /// system:serviceaccounts:NAMESPACE, system:authenticated)
    #[arg(long, value_name = "NAMESPACE/NAME")]
    service_account: Option<String>,
    /// Operation of every request; UPDATE sends each object as the update of
    /// itself (oldObject = object): as in a cluster, a DaemonSet whose pod
    /// template is unchanged is then accepted with its violations as
    /// warnings (use --old to check a change)
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "CREATE",
        conflicts_with = "old"
    )]
    operation: Op,
    /// Previous versions of the objects (files, folders, `-`; repeatable): an
    /// object with an old version of the same group, kind, namespace and name
    /// is checked as an UPDATE of it, the others as CREATE
    #[arg(long, value_name = "PATH")]
    old: Vec<String>,
    /// Report format on standard output
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Output,
    /// Also write the JUnit XML report to this file
    #[arg(long, value_name = "FILE")]
    junit_file: Option<PathBuf>,
    /// Write the manifests as the cluster would store them (patches applied)
    /// into DIR (same relative file names) or `-` (standard output; the report
    /// then goes to standard error). Comments inside changed documents are lost.
    #[arg(long, value_name = "DIR|-")]
    fix: Option<String>,
    /// Table: list only objects that are not plainly ACCEPTED
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Evaluation threads (default: the number of CPUs)
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Deadline of each evaluation in seconds, 0 disables it
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
    #[command(flatten)]
    replay: super::ReplayArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Print the policy's log events on standard error
    #[arg(long)]
    policy_logs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Op {
    #[value(name = "CREATE")]
    Create,
    #[value(name = "UPDATE")]
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
    Junit,
}

fn inputs(errors: Vec<InputError>) -> Failure {
    Failure::Inputs(errors.iter().map(ToString::to_string).collect())
}

fn read_and_parse(paths: &[String]) -> Result<Vec<ParsedSource>, Failure> {
    let sources = manifests::read_sources(paths).map_err(inputs)?;
    let mut parsed = Vec::with_capacity(sources.len());
    let mut errors = Vec::new();
    for source in sources {
        match manifests::parse_source(source) {
            Ok(p) => parsed.push(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(inputs(errors))
    }
}

/// Write the fixed manifests; every name is checked before anything is
/// written.
fn write_fix(target: &str, parsed: &[ParsedSource], changes: &[manifests::Changes]) -> Result<()> {
    let empty = manifests::Changes::new();
    if target == "-" {
        let mut out = String::new();
        for (i, source) in parsed.iter().enumerate() {
            let text = manifests::render_fixed(source, changes.get(i).unwrap_or(&empty), true)
                .with_context(|| format!("--fix: {}", source.source.display))?;
            if i > 0 {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                if !text.trim_start().starts_with("---") {
                    out.push_str("---\n");
                }
            }
            out.push_str(&text);
        }
        std::io::stdout()
            .write_all(out.as_bytes())
            .map_err(|e| Error::io("--fix: cannot write to standard output", e))?;
        return Ok(());
    }
    let dir = Path::new(target);
    let mut seen: HashMap<&Path, &str> = HashMap::new();
    for source in parsed {
        let rel = source.source.relative.as_path();
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(Error::invalid(format!(
                "--fix: cannot place {} under {target}",
                rel.display()
            )));
        }
        if let Some(other) = seen.insert(rel, &source.source.display) {
            return Err(Error::invalid(format!(
                "--fix: {} and {other} would both be written to {}",
                source.source.display,
                dir.join(rel).display()
            )));
        }
    }
    for (i, source) in parsed.iter().enumerate() {
        let text = manifests::render_fixed(source, changes.get(i).unwrap_or(&empty), false)
            .with_context(|| format!("--fix: {}", source.source.display))?;
        let path = dir.join(&source.source.relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("--fix: cannot create {}", parent.display()), e))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("--fix: cannot write {}", path.display()), e))?;
    }
    Ok(())
}

pub fn execute(args: &CheckArgs) -> CommandResult {
    let timeout = deadline(args.timeout)?;
    if args.jobs == Some(0) {
        return Err(Error::invalid("--jobs must be at least 1").into());
    }
    if args.namespace.is_empty() {
        return Err(Error::invalid("--namespace must not be empty").into());
    }
    let settings = settings_from(args.settings_json.as_deref(), args.settings_path.as_deref())?;
    let user = match &args.service_account {
        Some(sa) => UserInfo::service_account(sa, &args.groups)?,
        None => UserInfo::user(args.user.as_deref(), &args.groups),
    };
    let operation = match (args.old.is_empty(), args.operation) {
        (false, _) => OperationMode::AgainstOld,
        (true, Op::Create) => OperationMode::Create,
        (true, Op::Update) => OperationMode::UpdateSelf,
    };
    if args
        .paths
        .iter()
        .chain(&args.old)
        .filter(|p| *p == "-")
        .count()
        > 1
    {
        return Err(Error::invalid("`-` (standard input) can be read only once").into());
    }

    let parsed = read_and_parse(&args.paths)?;
    let old = if args.old.is_empty() {
        Vec::new()
    } else {
        read_and_parse(&args.old)?
    };

    let options = HostOptions {
        timeout,
        log_to_stderr: args.policy_logs,
        cache_dir: args.cache.dir(),
        replay: args.replay.session()?,
        ..HostOptions::default()
    };
    let loading = Instant::now();
    let module = PolicyModule::load_with(&args.module, &options)?;
    let load_seconds = loading.elapsed().as_secs_f64();
    require_valid_settings(&module, &settings)?;

    let request_options = RequestOptions {
        default_namespace: args.namespace.clone(),
        user,
        operation,
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let mut outcome = manifests::check(&module, &settings, &parsed, &old, &request_options, jobs)
        .map_err(|e| match e {
        CheckError::Input(errors) => inputs(errors),
        CheckError::Host(e) => Failure::Error(e),
    })?;
    outcome.report.load_seconds = load_seconds;
    let report = &outcome.report;

    if report.objects.is_empty() {
        let kinds = module
            .metadata()
            .map(|m| Targets::from_metadata(m).known_kinds().join(", "))
            .unwrap_or_default();
        eprintln!("note: no object of a kind the policy evaluates ({kinds}) was found");
    }

    let rendered = match args.output {
        Output::Table => manifests::render_table(report, args.quiet),
        Output::Json => {
            let mut s = serde_json::to_string_pretty(&manifests::render_json(report))
                .map_err(|e| Error::internal(format!("cannot write the JSON report: {e}")))?;
            s.push('\n');
            s
        }
        Output::Junit => manifests::render_junit(report, "daemonset-csi-policy"),
    };
    if args.fix.as_deref() == Some("-") {
        eprint!("{rendered}");
    } else {
        std::io::stdout()
            .write_all(rendered.as_bytes())
            .map_err(|e| Error::io("cannot write the report", e))?;
    }
    if let Some(path) = &args.junit_file {
        std::fs::write(
            path,
            manifests::render_junit(report, "daemonset-csi-policy"),
        )
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    if let Some(target) = &args.fix {
        write_fix(target, &parsed, &outcome.changes)?;
    }
    Ok(if report.counts().rejected == 0 {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    })
}
