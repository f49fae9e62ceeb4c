//! The outcome of a check and its three renderings: a table for people,
//! one JSON document, JUnit XML for CI test reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use daemonset_csi_policy::violation::Rejection;
use serde_json::{Value, json};

use super::check::{Location, Skipped, display_name};
use crate::response::{operation_name, operation_path};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Allowed, unchanged, no warning.
    Accepted,
    /// Allowed with a patch (warnings possible).
    Mutated,
    /// Allowed unchanged, with warnings (warn mode, an exemption).
    Warn,
    /// Refused.
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "ACCEPTED",
            Verdict::Mutated => "MUTATED",
            Verdict::Warn => "WARN",
            Verdict::Rejected => "REJECTED",
        }
    }
}

/// One violation of a rejection: `path=value: reason [setting]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field path, when the message has the policy's
    /// `path=value: reason [rule]` shape.
    pub path: Option<String>,
    /// The rule id (one of `daemonset_csi_policy::rules::ALL`), likewise.
    pub rule: Option<String>,
    pub message: String,
}

/// Split a rejection message into its violations, read back by the policy's
/// own parser (`daemonset_csi_policy::violation::Rejection`, the type that
/// renders it); any other message is one violation.
pub fn split_violations(message: &str) -> Vec<Violation> {
    match Rejection::parse(message) {
        Some(rejection) => rejection
            .violations
            .into_iter()
            .map(|v| Violation {
                message: v.to_string(),
                path: Some(v.path),
                rule: Some(v.rule.to_string()),
            })
            .collect(),
        None if message.trim().is_empty() => Vec::new(),
        None => vec![Violation {
            path: None,
            rule: None,
            message: message.to_string(),
        }],
    }
}

/// The result for one evaluated object.
#[derive(Debug, Clone)]
pub struct ObjectResult {
    pub location: Location,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub operation: String,
    pub verdict: Verdict,
    pub allowed: bool,
    pub code: Option<u16>,
    pub message: Option<String>,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
    pub patch: Vec<json_patch::PatchOperation>,
    pub seconds: f64,
    /// The DaemonSet profile that judged the object (its audit annotation
    /// `profile`); `None`: the baseline.
    pub profile: Option<String>,
}

impl ObjectResult {
    /// `Kind ns/name`.
    pub fn label(&self) -> String {
        format!(
            "{} {}",
            self.kind,
            display_name(self.namespace.as_deref().unwrap_or(""), &self.name)
        )
    }

    /// The verdict from a response's fields.
    pub fn verdict_of(allowed: bool, patched: bool, warnings: bool) -> Verdict {
        match (allowed, patched, warnings) {
            (false, _, _) => Verdict::Rejected,
            (true, true, _) => Verdict::Mutated,
            (true, false, true) => Verdict::Warn,
            (true, false, false) => Verdict::Accepted,
        }
    }
}

/// Everything a check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every file read, in order.
    pub files: Vec<String>,
    pub documents: usize,
    pub objects: Vec<ObjectResult>,
    pub skipped: Vec<Skipped>,
    /// Seconds spent evaluating (all threads, wall clock).
    pub evaluation_seconds: f64,
    /// Seconds spent loading (compiling) the module.
    pub load_seconds: f64,
    pub threads: usize,
}

/// Counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub accepted: usize,
    pub mutated: usize,
    pub warned: usize,
    pub rejected: usize,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for o in &self.objects {
            match o.verdict {
                Verdict::Accepted => c.accepted += 1,
                Verdict::Mutated => c.mutated += 1,
                Verdict::Warn => c.warned += 1,
                Verdict::Rejected => c.rejected += 1,
            }
        }
        c
    }

    /// Evaluated objects per second of evaluation.
    pub fn objects_per_second(&self) -> f64 {
        if self.evaluation_seconds > 0.0 {
            self.objects.len() as f64 / self.evaluation_seconds
        } else {
            0.0
        }
    }

    /// Skipped objects per kind.
    pub fn skipped_kinds(&self) -> BTreeMap<String, usize> {
        let mut kinds = BTreeMap::new();
        for s in &self.skipped {
            let kind = if s.kind.is_empty() {
                "(no kind)".to_string()
            } else {
                s.kind.clone()
            };
            *kinds.entry(kind).or_insert(0) += 1;
        }
        kinds
    }

    /// The summary line of the table.
    pub fn summary_line(&self) -> String {
        let c = self.counts();
        let mut line = format!(
            "{} object{} checked ({} file{}, {} document{}) in {:.2} s ({:.0} objects/s on {} thread{}, module loaded in {:.2} s): {} accepted, {} mutated, {} warned, {} rejected",
            self.objects.len(),
            plural(self.objects.len()),
            self.files.len(),
            plural(self.files.len()),
            self.documents,
            plural(self.documents),
            self.evaluation_seconds,
            self.objects_per_second(),
            self.threads,
            plural(self.threads),
            self.load_seconds,
            c.accepted,
            c.mutated,
            c.warned,
            c.rejected
        );
        if !self.skipped.is_empty() {
            let kinds: Vec<String> = self
                .skipped_kinds()
                .into_iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = write!(
                line,
                "; {} skipped ({})",
                self.skipped.len(),
                kinds.join(", ")
            );
        }
        line
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `op path value` of a patch operation, the value as compact JSON.
pub fn describe_operation(op: &json_patch::PatchOperation) -> String {
    use json_patch::PatchOperation as P;
    let value = match op {
        P::Add(o) => Some(&o.value),
        P::Replace(o) => Some(&o.value),
        P::Test(o) => Some(&o.value),
        _ => None,
    };
    let from = match op {
        P::Move(o) => Some(o.from.to_string()),
        P::Copy(o) => Some(o.from.to_string()),
        _ => None,
    };
    let mut s = format!("{} {}", operation_name(op), operation_path(op));
    if let Some(v) = value {
        let _ = write!(s, " {v}");
    }
    if let Some(f) = from {
        let _ = write!(s, " from {f}");
    }
    s
}

/// The readable table: one line per object (verdict, `Kind ns/name`,
/// `file:document`), then its violations, warnings and patch operations,
/// then the summary. With `quiet`, accepted objects are left out.
pub fn render_table(report: &Report, quiet: bool) -> String {
    let mut out = String::new();
    let shown: Vec<&ObjectResult> = report
        .objects
        .iter()
        .filter(|o| !quiet || o.verdict != Verdict::Accepted)
        .collect();
    let width = shown
        .iter()
        .map(|o| o.label().chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 60);
    if !shown.is_empty() {
        let _ = writeln!(
            out,
            "{:<8}  {:<width$}  SOURCE (file:document)",
            "VERDICT", "OBJECT"
        );
    }
    for o in shown {
        let _ = writeln!(
            out,
            "{:<8}  {:<width$}  {}",
            o.verdict.as_str(),
            o.label(),
            o.location
        );
        if let Some(profile) = &o.profile {
            let _ = writeln!(out, "          profile:   {profile}");
        }
        if o.verdict == Verdict::Rejected {
            for v in &o.violations {
                let _ = writeln!(out, "          violation: {}", v.message);
            }
        }
        for w in &o.warnings {
            let _ = writeln!(out, "          warning:   {w}");
        }
        for op in &o.patch {
            let _ = writeln!(out, "          patch:     {}", describe_operation(op));
        }
    }
    let _ = writeln!(out, "{}", report.summary_line());
    out
}

/// The JSON report: `{"objects": [...], "skipped": [...], "summary": {...}}`.
pub fn render_json(report: &Report) -> Value {
    let location = |l: &Location| json!({"file": l.file, "document": l.document, "item": l.item, "line": l.line});
    let objects: Vec<Value> = report
        .objects
        .iter()
        .map(|o| {
            let mut v = location(&o.location);
            if let Some(map) = v.as_object_mut() {
                let fields = json!({
                    "apiVersion": o.api_version,
                    "kind": o.kind,
                    "namespace": o.namespace,
                    "name": o.name,
                    "operation": o.operation,
                    "verdict": o.verdict.as_str(),
                    "allowed": o.allowed,
                    "code": o.code,
                    "message": o.message,
                    "violations": o.violations.iter().map(|v| json!({"path": v.path, "rule": v.rule, "message": v.message})).collect::<Vec<_>>(),
                    "warnings": o.warnings,
                    "patch": o.patch,
                    "seconds": o.seconds,
                });
                if let Value::Object(fields) = fields {
                    map.extend(fields);
                }
                if let Some(profile) = &o.profile {
                    map.insert("profile".into(), json!(profile));
                }
            }
            v
        })
        .collect();
    let skipped: Vec<Value> = report
        .skipped
        .iter()
        .map(|s| {
            let mut v = location(&s.location);
            if let Some(map) = v.as_object_mut() {
                map.insert("apiVersion".into(), json!(s.api_version));
                map.insert("kind".into(), json!(s.kind));
                map.insert("namespace".into(), json!(s.namespace));
                map.insert("name".into(), json!(s.name));
                map.insert("reason".into(), json!(s.reason));
            }
            v
        })
        .collect();
    let c = report.counts();
    json!({
        "objects": objects,
        "skipped": skipped,
        "summary": {
            "files": report.files.len(),
            "documents": report.documents,
            "objects": report.objects.len(),
            "accepted": c.accepted,
            "mutated": c.mutated,
            "warned": c.warned,
            "rejected": c.rejected,
            "skipped": report.skipped.len(),
            "skippedKinds": report.skipped_kinds(),
            "evaluationSeconds": report.evaluation_seconds,
            "loadSeconds": report.load_seconds,
            "objectsPerSecond": report.objects_per_second(),
            "threads": report.threads,
        }
    })
}

/// Escape text for XML 1.0 content and attribute values. Characters XML 1.0
/// cannot carry at all (most C0 controls) become U+FFFD; in attributes,
/// newlines and tabs are written as character references so that attribute
/// normalisation keeps them.
pub fn xml_escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per file, one `<testcase>` per object
/// (`<failure>` with the violations for a rejected one, `<skipped>` for an
/// object the policy does not evaluate; warnings and patch operations in
/// `<system-out>`).
pub fn render_junit(report: &Report, suite_name: &str) -> String {
    struct Case<'a> {
        object: Option<&'a ObjectResult>,
        skipped: Option<&'a Skipped>,
        order: (usize, usize),
    }
    let mut per_file: BTreeMap<usize, Vec<Case<'_>>> = BTreeMap::new();
    let file_index = |file: &str| {
        report
            .files
            .iter()
            .position(|f| f == file)
            .unwrap_or(usize::MAX)
    };
    for o in &report.objects {
        per_file
            .entry(file_index(&o.location.file))
            .or_default()
            .push(Case {
                object: Some(o),
                skipped: None,
                order: (o.location.document, o.location.item.unwrap_or(0)),
            });
    }
    for s in &report.skipped {
        per_file
            .entry(file_index(&s.location.file))
            .or_default()
            .push(Case {
                object: None,
                skipped: Some(s),
                order: (s.location.document, s.location.item.unwrap_or(0)),
            });
    }
    let c = report.counts();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        xml_escape(suite_name, true),
        report.objects.len() + report.skipped.len(),
        c.rejected,
        report.skipped.len(),
        report.evaluation_seconds
    );
    for (index, mut cases) in per_file {
        cases.sort_by_key(|c| c.order);
        let file = report
            .files
            .get(index)
            .cloned()
            .or_else(|| {
                cases.first().and_then(|c| {
                    c.object
                        .map(|o| o.location.file.clone())
                        .or_else(|| c.skipped.map(|s| s.location.file.clone()))
                })
            })
            .unwrap_or_default();
        let failures = cases
            .iter()
            .filter(|c| c.object.is_some_and(|o| o.verdict == Verdict::Rejected))
            .count();
        let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
        let time: f64 = cases
            .iter()
            .filter_map(|c| c.object)
            .map(|o| o.seconds)
            .sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">",
            xml_escape(&file, true),
            cases.len()
        );
        for case in cases {
            if let Some(o) = case.object {
                let name = format!("{} [{}]", o.label(), doc_label(&o.location));
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                    xml_escape(&file, true),
                    xml_escape(&name, true),
                    o.seconds
                );
                let mut body = String::new();
                if o.verdict == Verdict::Rejected {
                    let text: Vec<&str> = o.violations.iter().map(|v| v.message.as_str()).collect();
                    let _ = writeln!(
                        body,
                        "      <failure type=\"REJECTED\" message=\"{}\">{}</failure>",
                        xml_escape(o.message.as_deref().unwrap_or("rejected"), true),
                        xml_escape(&text.join("\n"), false)
                    );
                }
                let mut system_out = Vec::new();
                system_out.push(format!("verdict: {}", o.verdict.as_str()));
                for w in &o.warnings {
                    system_out.push(format!("warning: {w}"));
                }
                for op in &o.patch {
                    system_out.push(format!("patch: {}", describe_operation(op)));
                }
                let _ = writeln!(
                    body,
                    "      <system-out>{}</system-out>",
                    xml_escape(&system_out.join("\n"), false)
                );
                let _ = writeln!(out, ">\n{body}    </testcase>");
            } else if let Some(s) = case.skipped {
                let name = format!(
                    "{} {} [{}]",
                    s.kind,
                    display_name(s.namespace.as_deref().unwrap_or(""), &s.name),
                    doc_label(&s.location)
                );
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml_escape(&file, true),
                    xml_escape(&name, true),
                    xml_escape(&s.reason, true)
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn doc_label(l: &Location) -> String {
    match l.item {
        Some(i) => format!("document {} item {i}", l.document),
        None => format!("document {}", l.document),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_are_split_with_paths_and_rules() {
        let m = "DaemonSet logging/fluent-bit violates the policy (2 violations): spec.a[0].b=\"x\\u003b y\": bad: really [daemonSets.allowNodeName]; spec.c={...}: worse [readable object]";
        let v = split_violations(m);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].path.as_deref(), Some("spec.a[0].b"));
        assert_eq!(v[0].rule.as_deref(), Some("daemonSets.allowNodeName"));
        assert_eq!(
            v[0].message,
            "spec.a[0].b=\"x\\u003b y\": bad: really [daemonSets.allowNodeName]"
        );
        assert_eq!(v[1].path.as_deref(), Some("spec.c"));
        assert_eq!(v[1].rule.as_deref(), Some("readable object"));
        let other = split_violations("DaemonSet CREATE without request.object cannot be judged");
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].path, None);
        assert_eq!(other[0].rule, None);
        let spaced = split_violations(
            "StorageClass x violates the policy (1 violation): parameters. Encrypted =\"false\": must be one of [\"true\"] (parameters[0].required) [storageClasses.parameters]",
        );
        assert_eq!(spaced[0].path.as_deref(), Some("parameters. Encrypted "));
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'\n\u{1}", true),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&#10;\u{FFFD}"
        );
        assert_eq!(xml_escape("x\ny", false), "x\ny");
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            ObjectResult::verdict_of(false, false, true),
            Verdict::Rejected
        );
        assert_eq!(ObjectResult::verdict_of(true, true, true), Verdict::Mutated);
        assert_eq!(ObjectResult::verdict_of(true, false, true), Verdict::Warn);
        assert_eq!(
            ObjectResult::verdict_of(true, false, false),
            Verdict::Accepted
        );
    }
}
