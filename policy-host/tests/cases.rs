//! Data-driven end-to-end cases: every `e2e-tests/cases/*.yaml` file is one
//! test, run against the annotated policy (`$E2E_POLICY_WASM`, default
//! `annotated-policy.wasm` at the repository root; `$E2E_CASES_DIR` overrides
//! the cases directory). All failing cases are
//! reported, each with all of its failed expectations.
//!
//! Case file format (paths are relative to the repository root):
//!
//! ```yaml
//! description: What the case shows            # required
//! request: test_data/requests/some-request.json        # bare AdmissionRequest (or AdmissionReview) JSON
//! requestOverrides:                           # optional JSON merge patch (RFC 7386) applied
//!   operation: UPDATE                         #   to the request; arrays are replaced whole,
//!   object: {spec: {updateStrategy: null}}    #   null deletes a key
//! settings: {key: value}                      # inline settings, or:
//! settingsFrom: policy.yaml                   # YAML/JSON file or ClusterAdmissionPolicy (spec.settings)
//!                                             # neither: settings are {}
//! expect:
//!   allowed: true                             # required unless settingsInvalid
//!   code: 403                                 # status.code
//!   messageContains: [..]                     # substrings of status.message (or of the
//!   messageNotContains: [..]                  #   settings message when settingsInvalid)
//!   warningsContain: [..]                     # each is a substring of some warning
//!   noPatch: true                             # no patch at all
//!   patched: test_data/requests/expected.json # whole object expected after applying the patch
//!   patchedEquals: {...}                      # same, inline
//!   patchOnlyTouches: [/metadata/labels]      # every op path is under one of these pointers
//!   removeAllowed: [/spec/x]                  # `remove` ops only under these (default: none)
//!   settingsInvalid: true                     # validate_settings must refuse the settings;
//!                                             #   no evaluation (request may be omitted)
//! ```
//!
//! A case whose response carries a patch must declare it (`patched` or
//! `patchedEquals`, plus `patchOnlyTouches`); an undeclared patch fails.
//! Every patch is checked for minimality (op paths within
//! `patchOnlyTouches`, no `remove` outside `removeAllowed`) and idempotence
//! (evaluating the patched object yields no further patch).

mod common;

use std::path::{Path, PathBuf};

use policy_host::input::{admission_request, normalize_settings, read_settings_file};
use policy_host::response::{operation_name, operation_path};
use policy_host::{AdmissionResponse, PolicyModule, apply_patch};
use libtest_mimic::{Arguments, Failed, Trial};
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
    expect: Expect,
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

/// `$E2E_CASES_DIR`, or `e2e-tests/cases`.
fn cases_dir() -> PathBuf {
    match std::env::var_os("E2E_CASES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases"),
    }
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn main() {
    let args = Arguments::from_args();
    let files = case_files();
    let mut trials: Vec<Trial> = files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Trial::test(format!("case::{name}"), move || run_case_file(&path))
        })
        .collect();
    // A missing or empty cases/ directory must not pass silently.
    trials.push(Trial::test("cases_directory_is_not_empty", || {
        if case_files().is_empty() {
            Err(format!("no *.yaml case in {}", cases_dir().display()).into())
        } else {
            Ok(())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}

fn run_case_file(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let case: Case = serde_yaml::from_str(&text)
        .map_err(|e| format!("{}: invalid case file: {e}", path.display()))?;
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
        if expect.allowed.is_some() {
            return Err("`allowed` makes no sense with `settingsInvalid`".into());
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
    let response = policy
        .evaluate(&request, &settings)
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

    check_patch(policy, &mut failures, case, &request, &settings, &response)?;
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
    match policy.evaluate(&again, settings) {
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
