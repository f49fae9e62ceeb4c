//! Checking plain manifests with the policy, before they reach a cluster
//! (what the `check` binary does, in the spirit of `kyverno apply
//! --resource`).
//!
//! ```no_run
//! use policy_host::PolicyModule;
//! use policy_host::manifests::{self, OperationMode, RequestOptions, UserInfo};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = PolicyModule::load("annotated-policy.wasm")?;
//! let sources = manifests::read_sources(&["examples/manifests".to_string()])
//!     .map_err(|e| format!("{e:?}"))?;
//! let parsed: Vec<_> = sources
//!     .into_iter()
//!     .map(manifests::parse_source)
//!     .collect::<Result<_, _>>()
//!     .map_err(|e| format!("{e:?}"))?;
//! let options = RequestOptions {
//!     default_namespace: "default".into(),
//!     user: UserInfo::user(None, &[]),
//!     operation: OperationMode::Create,
//! };
//! let outcome = manifests::check(&module, &serde_json::json!({}), &parsed, &[], &options, 2)?;
//! print!("{}", manifests::render_table(&outcome.report, false));
//! # Ok(()) }
//! ```
//!
//! 1. [`read_sources`] reads files, folders (recursively) and standard input;
//!    [`parse_source`] splits each into documents (`---`, or a JSON stream)
//!    and parses them, reporting every broken document with its number.
//! 2. [`find_objects`] expands `List`s; [`plan`] keeps the objects whose
//!    group/version/resource the module's metadata rules target and builds
//!    their AdmissionRequests (namespace, user, CREATE or UPDATE).
//! 3. [`evaluate_all`] runs them on several threads, one fresh instance each.
//! 4. [`Report`] is rendered as a table, JSON or JUnit; [`render_fixed`]
//!    writes the patched manifests.

pub mod check;
pub mod documents;
pub mod fix;
pub mod report;
pub mod targets;

use std::time::Instant;

use serde_json::Value;

pub use check::{
    Location, ObjectAt, OperationMode, Planned, RequestOptions, Skipped, UserInfo, evaluate_all,
    find_objects, index_old_objects, plan,
};
pub use documents::{InputError, ParsedSource, Source, parse_source, read_sources};
pub use fix::{Change, Changes, render_fixed};
pub use report::{
    ObjectResult, Report, Verdict, Violation, render_json, render_junit, render_table,
    split_violations,
};
pub use targets::Targets;

use crate::PolicyModule;
use crate::error::{Error, ErrorKind};

/// Why a check could not produce a report.
#[derive(Debug)]
pub enum CheckError {
    /// Problems in the manifests (e.g. duplicate old objects).
    Input(Vec<InputError>),
    /// The host could not run the module.
    Host(Error),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Input(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                f.write_str(&lines.join("\n"))
            }
            CheckError::Host(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CheckError {}

impl From<Error> for CheckError {
    fn from(e: Error) -> Self {
        CheckError::Host(e)
    }
}

/// A report and, per source, what `--fix` changes.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// Indexed like the sources given to [`check`].
    pub changes: Vec<Changes>,
}

/// Check parsed manifests: `old` holds the previous versions used with
/// [`OperationMode::AgainstOld`]. The module must carry its metadata (rules).
pub fn check(
    module: &PolicyModule,
    settings: &Value,
    sources: &[ParsedSource],
    old: &[ParsedSource],
    options: &RequestOptions,
    jobs: usize,
) -> Result<Outcome, CheckError> {
    let metadata = module.metadata().ok_or_else(|| {
        Error::new(
            ErrorKind::NotAnnotated,
            "the module has no metadata: the kinds it evaluates are unknown (annotate it)",
        )
    })?;
    let targets = Targets::from_metadata(metadata);

    let (found, not_objects) = find_objects(sources);
    let (old_found, _) = find_objects(old);
    let old_index =
        index_old_objects(&old_found, &options.default_namespace).map_err(CheckError::Input)?;
    let (planned, mut skipped) = plan(&found, &targets, options, &old_index);
    for n in not_objects {
        let object = object_at(sources, &n.location);
        let field = |f: &str| {
            object
                .and_then(|o| o.get(f))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        skipped.push(Skipped {
            api_version: field("apiVersion"),
            kind: field("kind"),
            namespace: None,
            name: object
                .map(check::object_name)
                .unwrap_or_default()
                .to_string(),
            location: n.location,
            reason: n.reason,
        });
    }
    skipped.sort_by(|a, b| {
        (&a.location.file, a.location.document, a.location.item).cmp(&(
            &b.location.file,
            b.location.document,
            b.location.item,
        ))
    });

    let jobs = jobs.max(1);
    let requests: Vec<&Value> = planned.iter().map(|p| &p.request).collect();
    let started = Instant::now();
    let evaluated = evaluate_all(module, settings, &requests, jobs);
    let evaluation_seconds = started.elapsed().as_secs_f64();

    let mut objects = Vec::with_capacity(planned.len());
    let mut changes: Vec<Changes> = vec![Changes::new(); sources.len()];
    for (p, result) in planned.iter().zip(evaluated) {
        let evaluated = result.map_err(|e| {
            CheckError::Host(e.context(format!(
                "cannot evaluate {} {} ({})",
                p.target.kind,
                check::display_name(p.namespace.as_deref().unwrap_or(""), &p.name),
                p.location
            )))
        })?;
        let response = &evaluated.response;
        let patch = response
            .decoded_patch()
            .map_err(|e| CheckError::Host(e.context(format!("patch of {}", p.location))))?
            .map(|p| p.0)
            .unwrap_or_default();
        let warnings = response.warnings.clone().unwrap_or_default();
        let verdict =
            ObjectResult::verdict_of(response.allowed, !patch.is_empty(), !warnings.is_empty());
        let message = response.message().map(str::to_string);
        let violations = if response.allowed {
            Vec::new()
        } else {
            split_violations(message.as_deref().unwrap_or("rejected without a message"))
        };
        if response.allowed && !patch.is_empty() {
            let object = p.request.get("object").unwrap_or(&Value::Null);
            let patched = fix::patched_object(object, response, p.injected_namespace.as_deref())
                .map_err(|e| CheckError::Host(e.context(format!("patch of {}", p.location))))?;
            if let Some(c) = changes.get_mut(p.at.source) {
                c.insert(
                    (p.at.document, p.at.item),
                    Change {
                        patch: patch.clone(),
                        patched,
                    },
                );
            }
        }
        objects.push(ObjectResult {
            location: p.location.clone(),
            api_version: p
                .request
                .pointer("/object/apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            kind: p.target.kind.clone(),
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            operation: p
                .request
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            verdict,
            allowed: response.allowed,
            code: response.code(),
            message,
            violations,
            warnings,
            patch,
            seconds: evaluated.duration.as_secs_f64(),
            profile: response
                .audit_annotations
                .as_ref()
                .and_then(|a| a.get(daemonset_csi_policy::evaluate::PROFILE_ANNOTATION))
                .cloned(),
        });
    }
    let report = Report {
        files: sources.iter().map(|s| s.source.display.clone()).collect(),
        documents: sources.iter().map(|s| s.documents.len()).sum(),
        objects,
        skipped,
        evaluation_seconds,
        load_seconds: 0.0,
        threads: jobs.min(planned.len().max(1)),
    };
    Ok(Outcome { report, changes })
}

/// The object at a location (a document, or an item of a List document).
fn object_at<'a>(sources: &'a [ParsedSource], location: &Location) -> Option<&'a Value> {
    let source = sources.iter().find(|s| s.source.display == location.file)?;
    let doc = source
        .documents
        .iter()
        .find(|d| d.number == location.document)?;
    let json = &doc.content.as_ref()?.json;
    match location.item {
        Some(i) => json.get("items")?.get(i),
        None => Some(json),
    }
}
