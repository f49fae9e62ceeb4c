//! Data-driven end-to-end cases: every `cases/**/*.yaml` file is one test,
//! named by its path relative to the cases directory (without `.yaml`), run
//! against the annotated policy (`$E2E_POLICY_WASM`, default
//! `annotated-policy.wasm` at the repository root; `$E2E_CASES_DIR` overrides
//! the cases directory). All failing cases are reported, each with all of its
//! failed expectations.
//!
//! The case format (every key, its type, meaning and default) is documented
//! once, in `policy-host/cases/README.md`.

mod common;

use std::path::{Path, PathBuf};

use daemonset_csi_policy::violation::{Rejection, Violation, WARN_MODE_PREFIX};
use libtest_mimic::{Arguments, Failed, Trial};
use policy_host::input::{admission_request, normalize_settings, read_settings_file};
use policy_host::replay::ReplaySession;
use policy_host::response::{operation_name, operation_path};
use policy_host::{AdmissionResponse, PolicyModule, apply_patch};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    description: String,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    request_overrides: Option<Value>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    settings_from: Option<String>,
    /// A host capabilities session file answering the policy's cluster
    /// lookups (the format of kwctl's `--replay-host-capabilities-interactions`).
    #[serde(default)]
    replay: Option<String>,
    /// Rules (settings paths) an accepting case exercises; see the README.
    #[serde(default)]
    rules: Vec<String>,
    expect: Expect,
}

/// One expected violation: the rule id and the field path, optionally the
/// rendered value.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct ExpectedViolation {
    rule: String,
    path: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    #[serde(default)]
    allowed: Option<bool>,
    #[serde(default)]
    settings_invalid: bool,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message_contains: Vec<String>,
    #[serde(default)]
    message_not_contains: Vec<String>,
    #[serde(default)]
    warnings_contain: Vec<String>,
    /// The response's audit annotations, exactly (`{}`: none).
    #[serde(default)]
    audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    violations: Option<Vec<ExpectedViolation>>,
    #[serde(default)]
    no_patch: bool,
    #[serde(default)]
    patched: Option<String>,
    #[serde(default)]
    patched_equals: Option<Value>,
    #[serde(default)]
    patch_only_touches: Option<Vec<String>>,
    #[serde(default)]
    remove_allowed: Vec<String>,
}

/// `$E2E_CASES_DIR`, or `policy-host/cases`.
fn cases_dir() -> PathBuf {
    match std::env::var_os("E2E_CASES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases"),
    }
}

/// Every `*.yaml` / `*.yml` file under `dir`, at any depth, sorted.
fn case_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn case_files() -> Vec<PathBuf> {
    case_files_under(&cases_dir())
}

/// The test name of a case file: its path relative to the cases directory,
/// with `/` separators and without the extension, e.g.
/// `daemonsets/host-paths/readonly-mutated-fluent-bit`.
fn case_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path).with_extension("");
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn parse_case(text: &str) -> Result<Case, String> {
    serde_yaml::from_str(text).map_err(|e| format!("invalid case file: {e}"))
}

fn read_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_case(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() {
    let args = Arguments::from_args();
    let root = cases_dir();
    let mut trials: Vec<Trial> = case_files()
        .into_iter()
        .map(|path| {
            let name = case_name(&root, &path);
            Trial::test(name, move || run_case_file(&path))
        })
        .collect();
    // A missing or empty cases/ directory must not pass silently.
    trials.push(Trial::test("harness::cases_directory_is_not_empty", || {
        if case_files().is_empty() {
            Err(format!("no *.yaml case in {}", cases_dir().display()).into())
        } else {
            Ok(())
        }
    }));
    trials.push(Trial::test(
        "harness::a_case_with_an_unknown_key_is_an_error",
        || unknown_keys_are_errors().map_err(Into::into),
    ));
    trials.push(Trial::test(
        "harness::every_rule_has_an_accept_and_a_reject_case",
        || rule_coverage().map_err(Into::into),
    ));
    libtest_mimic::run(&args, trials).exit();
}

fn run_case_file(path: &Path) -> Result<(), Failed> {
    let case = read_case(path)?;
    let policy = common::policy()?;
    let failures = run_case(policy, &case)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  {}\n  - {}",
            path.display(),
            case.description,
            failures.join("\n  - ")
        )
        .into())
    }
}

fn load_json(relative: &str) -> Result<Value, String> {
    let path = common::repo_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

fn case_settings(case: &Case) -> Result<Value, String> {
    match (&case.settings, &case.settings_from) {
        (Some(_), Some(_)) => Err("use either `settings` or `settingsFrom`, not both".into()),
        (Some(inline), None) => normalize_settings(inline.clone()).map_err(|e| e.to_string()),
        (None, Some(file)) => {
            read_settings_file(&common::repo_root().join(file)).map_err(|e| format!("{e:#}"))
        }
        (None, None) => Ok(Value::Object(Default::default())),
    }
}

fn case_replay(case: &Case) -> Result<Option<std::sync::Arc<ReplaySession>>, String> {
    case.replay
        .as_ref()
        .map(|file| {
            ReplaySession::load(&common::repo_root().join(file))
                .map(std::sync::Arc::new)
                .map_err(|e| format!("{e:#}"))
        })
        .transpose()
}

fn case_request(case: &Case) -> Result<Value, String> {
    let path = case.request.as_ref().ok_or("the case has no `request`")?;
    let mut request = admission_request(load_json(path)?).map_err(|e| format!("{path}: {e:#}"))?;
    if let Some(overrides) = &case.request_overrides {
        json_patch::merge(&mut request, overrides);
    }
    Ok(request)
}

/// Run one case; `Err` for a broken case file, `Ok(failures)` otherwise.
fn run_case(policy: &PolicyModule, case: &Case) -> Result<Vec<String>, String> {
    let expect = &case.expect;
    let settings = case_settings(case)?;
    let mut failures = Vec::new();

    let verdict = policy
        .validate_settings(&settings)
        .map_err(|e| format!("{e:#}"))?;
    if expect.settings_invalid {
        if expect.allowed.is_some() || expect.violations.is_some() {
            return Err("`allowed` and `violations` make no sense with `settingsInvalid`".into());
        }
        if verdict.valid {
            failures.push(format!(
                "settings {settings} were accepted, expected a refusal"
            ));
        }
        check_message(
            &mut failures,
            verdict.message.as_deref().unwrap_or(""),
            expect,
        );
        return Ok(failures);
    }
    if !verdict.valid {
        failures.push(format!(
            "settings {settings} were refused: {}",
            verdict.message.unwrap_or_default()
        ));
        return Ok(failures);
    }

    let allowed = expect.allowed.ok_or("`expect.allowed` is required")?;
    let request = case_request(case)?;
    let replay = case_replay(case)?;
    let response = policy
        .evaluate_with(&request, &settings, replay.clone())
        .map_err(|e| format!("{e:#}"))?;
    let message = response.message().unwrap_or("").to_string();

    if response.allowed != allowed {
        failures.push(format!(
            "allowed is {}, expected {allowed} (message: {message:?})",
            response.allowed
        ));
    }
    if let Some(code) = expect.code
        && response.code() != Some(code)
    {
        failures.push(format!("code is {:?}, expected {code}", response.code()));
    }
    check_message(&mut failures, &message, expect);
    let warnings = response.warnings.clone().unwrap_or_default();
    for wanted in &expect.warnings_contain {
        if !warnings.iter().any(|w| w.contains(wanted.as_str())) {
            failures.push(format!(
                "no warning contains {wanted:?}; warnings: {warnings:?}"
            ));
        }
    }

    if let Some(expected) = &expect.audit_annotations {
        let got = response.audit_annotations.clone().unwrap_or_default();
        if &got != expected {
            failures.push(format!(
                "audit annotations are {got:?}, expected {expected:?}"
            ));
        }
    }

    if let Some(expected) = &expect.violations {
        check_violations(
            &mut failures,
            expected,
            response.allowed,
            &message,
            &warnings,
        );
    }

    check_patch(
        policy,
        &mut failures,
        case,
        &request,
        &settings,
        &response,
        replay,
    )?;
    Ok(failures)
}

fn check_message(failures: &mut Vec<String>, message: &str, expect: &Expect) {
    for wanted in &expect.message_contains {
        if !message.contains(wanted.as_str()) {
            failures.push(format!(
                "message does not contain {wanted:?}; message: {message:?}"
            ));
        }
    }
    for unwanted in &expect.message_not_contains {
        if message.contains(unwanted.as_str()) {
            failures.push(format!(
                "message contains {unwanted:?}; message: {message:?}"
            ));
        }
    }
}

/// `path` is `prefix` or below it (JSON pointer segments).
fn under(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

fn check_patch(
    policy: &PolicyModule,
    failures: &mut Vec<String>,
    case: &Case,
    request: &Value,
    settings: &Value,
    response: &AdmissionResponse,
    replay: Option<std::sync::Arc<ReplaySession>>,
) -> Result<(), String> {
    let expect = &case.expect;
    let expected_object = match (&expect.patched, &expect.patched_equals) {
        (Some(_), Some(_)) => {
            return Err("use either `patched` or `patchedEquals`, not both".into());
        }
        (Some(path), None) => Some(load_json(path)?),
        (None, Some(inline)) => Some(inline.clone()),
        (None, None) => None,
    };
    if expect.no_patch && (expected_object.is_some() || expect.patch_only_touches.is_some()) {
        return Err("`noPatch` contradicts `patched`/`patchedEquals`/`patchOnlyTouches`".into());
    }

    let patch = match response.decoded_patch() {
        Ok(p) => p,
        Err(e) => {
            failures.push(format!("bad patch in the response: {e:#}"));
            return Ok(());
        }
    };
    let original = request.get("object").cloned().unwrap_or(Value::Null);

    let Some(patch) = patch else {
        if let Some(expected) = &expected_object
            && expected != &original
        {
            failures.push(
                "no patch, but a patched object different from the original was expected".into(),
            );
        }
        return Ok(());
    };

    let ops: Vec<String> = patch
        .0
        .iter()
        .map(|op| serde_json::to_string(op).unwrap_or_default())
        .collect();
    if expect.no_patch {
        failures.push(format!("expected no patch, got {}", ops.join(", ")));
        return Ok(());
    }
    if expected_object.is_none() && expect.patch_only_touches.is_none() {
        failures.push(format!(
            "unexpected patch (declare `patched`/`patchedEquals` and `patchOnlyTouches`): {}",
            ops.join(", ")
        ));
        return Ok(());
    }

    // Whole-object comparison.
    let patched = match apply_patch(&original, response) {
        Ok(p) => p,
        Err(e) => {
            failures.push(format!("the patch does not apply: {e:#}"));
            return Ok(());
        }
    };
    if let Some(expected) = &expected_object
        && &patched != expected
    {
        let diff = json_patch::diff(expected, &patched);
        let shown: Vec<String> = diff
            .0
            .iter()
            .take(10)
            .map(|op| serde_json::to_string(op).unwrap_or_default())
            .collect();
        failures.push(format!(
            "patched object differs from the expected one (ops turning expected into actual: {}{})",
            shown.join(", "),
            if diff.0.len() > 10 { ", ..." } else { "" }
        ));
    }

    // Minimality.
    match &expect.patch_only_touches {
        None => failures.push("mutation cases must list `patchOnlyTouches`".into()),
        Some(prefixes) => {
            for op in &patch.0 {
                let path = operation_path(op);
                if !prefixes.iter().any(|p| under(&path, p)) {
                    failures.push(format!(
                        "patch op {} touches {path}, outside {prefixes:?}",
                        operation_name(op)
                    ));
                }
                if operation_name(op) == "remove"
                    && !expect.remove_allowed.iter().any(|p| under(&path, p))
                {
                    failures.push(format!(
                        "patch removes {path} (a field the user set; list it in `removeAllowed` if intended)"
                    ));
                }
            }
        }
    }

    // Idempotence: the patched object needs no further patch.
    let mut again = request.clone();
    again["object"] = patched;
    match policy.evaluate_with(&again, settings, replay) {
        Ok(second) => {
            if !second.allowed {
                failures.push(format!(
                    "re-evaluating the patched object is rejected: {:?}",
                    second.message()
                ));
            }
            if second.patch.is_some() {
                let ops = second
                    .decoded_patch()
                    .ok()
                    .flatten()
                    .map(|p| serde_json::to_string(&p).unwrap_or_default())
                    .unwrap_or_default();
                failures.push(format!(
                    "not idempotent: the patched object is patched again: {ops}"
                ));
            }
        }
        Err(e) => failures.push(format!("re-evaluating the patched object failed: {e:#}")),
    }
    Ok(())
}

fn violation_yaml(rule: &str, path: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!(
            "{{rule: {}, path: {}, value: {}}}",
            yaml_scalar(rule),
            yaml_scalar(path),
            yaml_scalar(value)
        ),
        None => format!(
            "{{rule: {}, path: {}}}",
            yaml_scalar(rule),
            yaml_scalar(path)
        ),
    }
}

/// A YAML flow scalar for `text`, quoted when needed.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

fn matches(actual: &Violation, expected: &ExpectedViolation) -> bool {
    actual.rule == expected.rule
        && actual.path == expected.path
        && expected.value.as_ref().is_none_or(|v| v == &actual.value)
}

/// The violations of a response, read by the core crate's parser: those of
/// the rejection message, or, when allowed, those returned as warn-mode
/// warnings.
fn response_violations(
    allowed: bool,
    message: &str,
    warnings: &[String],
) -> Result<Vec<Violation>, String> {
    if allowed {
        warnings
            .iter()
            .filter(|w| w.starts_with(WARN_MODE_PREFIX))
            .map(|w| Violation::parse_warning(w).ok_or_else(|| format!("unreadable warning {w:?}")))
            .collect()
    } else {
        Rejection::parse(message)
            .map(|r| r.violations)
            .ok_or_else(|| format!("the message does not list violations: {message:?}"))
    }
}

fn check_violations(
    failures: &mut Vec<String>,
    expected: &[ExpectedViolation],
    allowed: bool,
    message: &str,
    warnings: &[String],
) {
    let actual = match response_violations(allowed, message, warnings) {
        Ok(actual) => actual,
        Err(e) => {
            failures.push(format!("cannot read the violations: {e}"));
            return;
        }
    };
    // Matched exactly, as a multiset: every expected violation is found
    // once, and nothing else is reported.
    let mut unmatched: Vec<&Violation> = actual.iter().collect();
    let mut missing = Vec::new();
    for wanted in expected {
        match unmatched.iter().position(|a| matches(a, wanted)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(wanted),
        }
    }
    if !missing.is_empty() || !unmatched.is_empty() {
        let show = |list: &mut dyn Iterator<Item = String>| list.collect::<Vec<_>>().join(", ");
        failures.push(format!(
            "violations differ: missing [{}], unexpected [{}]; actual:\n    violations:\n      - {}",
            show(&mut missing
                .iter()
                .map(|v| violation_yaml(&v.rule, &v.path, v.value.as_deref()))),
            show(&mut unmatched
                .iter()
                .map(|v| violation_yaml(v.rule, &v.path, None))),
            actual
                .iter()
                .map(|v| violation_yaml(v.rule, &v.path, None))
                .collect::<Vec<_>>()
                .join("\n      - ")
        ));
    }
}

fn unknown_keys_are_errors() -> Result<(), String> {
    let good = "description: d\nrequest: r.json\nexpect: {allowed: true}\n";
    parse_case(good).map_err(|e| format!("a valid case is refused: {e}"))?;
    for (text, key) in [
        (
            "description: d\nrequest: r.json\nbogus: 1\nexpect: {allowed: true}\n",
            "bogus",
        ),
        (
            "description: d\nexpect: {allowed: true, messageContain: [x]}\n",
            "messageContain",
        ),
        (
            "description: d\nexpect: {allowed: false, violations: [{rule: r, path: p, reason: x}]}\n",
            "reason",
        ),
    ] {
        match parse_case(text) {
            Ok(case) => return Err(format!("unknown key {key} accepted: {case:?}")),
            Err(e) if e.contains(key) => {}
            Err(e) => return Err(format!("the error for {key} does not name it: {e}")),
        }
    }
    Ok(())
}

/// Every rule id the policy can emit.
const RULES: &[&str] = daemonset_csi_policy::rules::ALL;

/// Every rule id has a reject case (one whose `expect.violations` names it)
/// and an accept case (an allowed case listing it in `rules`), and cases name
/// only rules that exist.
fn rule_coverage() -> Result<(), String> {
    let root = cases_dir();
    let mut rejects: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let mut accepts: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let mut problems = Vec::new();
    for path in case_files() {
        let name = case_name(&root, &path);
        let case = read_case(&path)?;
        let expect = &case.expect;
        if !case.rules.is_empty() && expect.allowed != Some(true) {
            problems.push(format!("{name}: `rules` is for accepted cases only"));
        }
        for rule in &case.rules {
            match RULES.iter().find(|r| **r == rule.as_str()) {
                Some(known) => accepts.entry(known).or_default().push(name.clone()),
                None => problems.push(format!("{name}: `rules` names unknown rule {rule:?}")),
            }
        }
        for violation in expect.violations.iter().flatten() {
            match RULES.iter().find(|r| **r == violation.rule.as_str()) {
                Some(known) => rejects.entry(known).or_default().push(name.clone()),
                None => problems.push(format!(
                    "{name}: `violations` names unknown rule {:?}",
                    violation.rule
                )),
            }
        }
    }
    for rule in RULES {
        if !accepts.contains_key(rule) {
            problems.push(format!(
                "rule {rule:?} has no accept case (list it in `rules`)"
            ));
        }
        if !rejects.contains_key(rule) {
            problems.push(format!(
                "rule {rule:?} has no reject case (name it in `expect.violations`)"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
