//! The `annotate`, `run` and `examples` subcommands of the tool, driven like a user
//! would, against tiny WAT guests.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Behavior, MOCK_METADATA_YML, Scratch, annotated_mock, daemonset_request, mock_guest};
use policy_host::metadata::{METADATA_SECTION, custom_sections};
use serde_json::{Value, json};

fn bin(name: &str) -> Command {
    common::tool(name)
}

fn output(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A mock whose `validate` adds a label to the DaemonSet of
/// `daemonset_request`, and whose settings are valid.
fn mutating_mock() -> Vec<u8> {
    let mut mutated = daemonset_request("CREATE")["object"].clone();
    mutated["metadata"]["labels"] = json!({"added": "yes"});
    annotated_mock(&[
        (
            "validate",
            Behavior::LogThenRespond {
                event: r#"{"level":"info","message":"mutating"}"#.into(),
                respond: json!({"accepted": true, "mutated_object": mutated}).to_string(),
            },
        ),
        (
            "validate_settings",
            Behavior::Respond(r#"{"valid":true}"#.into()),
        ),
    ])
}

#[test]
fn annotate_binary_writes_one_section() {
    let dir = Scratch::new("cli");
    let module = dir.write(
        "policy.wasm",
        mock_guest(&[("protocol_version", Behavior::Respond("\"v1\"".into()))]),
    );
    let metadata = dir.write("metadata.yml", MOCK_METADATA_YML);
    let readme = dir.write("README.md", "# Mock\n");
    let out1 = dir.0.join("annotated.wasm");
    let out2 = dir.0.join("annotated2.wasm");

    let (out, _, stderr) = output(bin("annotate").args([
        "--metadata-path",
        p(&metadata),
        "--usage-path",
        p(&readme),
        "-o",
        p(&out1),
        p(&module),
    ]));
    assert!(out.status.success(), "{stderr}");
    let (out, _, stderr) = output(bin("annotate").args([
        "--metadata-path",
        p(&metadata),
        "--usage-path",
        p(&readme),
        "--output-path",
        p(&out2),
        p(&out1),
    ]));
    assert!(out.status.success(), "{stderr}");
    let annotated = std::fs::read(&out2).unwrap();
    let sections = custom_sections(&annotated, METADATA_SECTION).unwrap();
    assert_eq!(sections.len(), 1);
    let section: Value = serde_json::from_slice(&sections[0]).unwrap();
    assert_eq!(section["protocolVersion"], "v1");
    assert_eq!(
        section["annotations"]["io.kubewarden.policy.usage"],
        "# Mock\n"
    );
    assert_eq!(std::fs::read(&out1).unwrap(), annotated);

    // Errors are clean messages with a non-zero exit.
    let (out, _, stderr) = output(bin("annotate").args([
        "--metadata-path",
        p(&dir.0.join("missing.yml")),
        "-o",
        p(&out1),
        p(&module),
    ]));
    assert_eq!(out.status.code(), Some(2), "input errors exit 2");
    assert!(stderr.contains("missing.yml"), "{stderr}");
    let bad = dir.write("bad.yml", "rules: []\n");
    let (out, _, stderr) =
        output(bin("annotate").args(["--metadata-path", p(&bad), "-o", p(&out1), p(&module)]));
    assert_eq!(out.status.code(), Some(2), "input errors exit 2");
    assert!(stderr.contains("mutating"), "{stderr}");
}

#[test]
fn run_prints_one_response_line_and_the_patched_object() {
    let dir = Scratch::new("cli");
    let module = dir.write("annotated.wasm", mutating_mock());
    let request = dir.write("req.json", daemonset_request("CREATE").to_string());

    let (out, stdout, stderr) =
        output(bin("run").args(["--request-path", p(&request), "--show-patched", p(&module)]));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {stdout}");
    let response: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(response["uid"], "mock-uid");
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    assert!(response["patch"].is_string());
    assert!(stderr.contains("policy INFO mutating"), "{stderr}");
    let patched = stderr
        .split_once("--- patched object ---\n")
        .map(|(_, rest)| rest)
        .expect("patched object on stderr");
    let patched: Value = serde_json::from_str(patched).unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({"added": "yes"}));
}

#[test]
fn run_reads_stdin_reviews_and_policy_settings() {
    let dir = Scratch::new("cli");
    let module = dir.write("annotated.wasm", mutating_mock());
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": daemonset_request("CREATE")});
    let cap = dir.write(
        "policy.yaml",
        "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  module: registry://example/p:v1\n  settings: {a: 1}\n",
    );
    let mut child = bin("run")
        .args([
            "--request-path",
            "-",
            "--settings-path",
            p(&cap),
            p(&module),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(review.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["uid"], "mock-uid");
}

#[test]
fn run_exits_one_on_rejection() {
    let dir = Scratch::new("cli");
    let module = dir.write(
        "annotated.wasm",
        annotated_mock(&[
            (
                "validate",
                Behavior::Respond(r#"{"accepted":false,"message":"nope"}"#.into()),
            ),
            (
                "validate_settings",
                Behavior::Respond(r#"{"valid":true}"#.into()),
            ),
        ]),
    );
    let request = dir.write("req.json", daemonset_request("CREATE").to_string());
    let (out, stdout, stderr) =
        output(bin("run").args(["-r", p(&request), "--settings-json", "{}", p(&module)]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout.trim_end(),
        r#"{"uid":"mock-uid","allowed":false,"status":{"message":"nope"},"auditAnnotations":null,"warnings":null}"#
    );
}

#[test]
fn run_refuses_invalid_settings_and_unannotated_modules() {
    let dir = Scratch::new("cli");
    let request = dir.write("req.json", daemonset_request("CREATE").to_string());
    let module = dir.write(
        "annotated.wasm",
        annotated_mock(&[
            ("validate", Behavior::Respond(r#"{"accepted":true}"#.into())),
            (
                "validate_settings",
                Behavior::Respond(r#"{"valid":false,"message":"bogus is not a setting"}"#.into()),
            ),
        ]),
    );
    let (out, stdout, stderr) = output(bin("run").args([
        "-r",
        p(&request),
        "--settings-json",
        r#"{"bogus": 1}"#,
        p(&module),
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("Provided settings are not valid: bogus is not a setting"),
        "{stderr}"
    );

    let plain = dir.write(
        "policy.wasm",
        mock_guest(&[("validate", Behavior::Respond(r#"{"accepted":true}"#.into()))]),
    );
    let (out, stdout, stderr) = output(bin("run").args(["-r", p(&request), p(&plain)]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("not annotated"), "{stderr}");

    let (out, _, stderr) = output(bin("run").args(["-r", p(&dir.0.join("nope.json")), p(&module)]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("nope.json"), "{stderr}");
}

#[test]
fn examples_prints_a_verdict_per_example() {
    let dir = Scratch::new("cli");
    let module = dir.write("annotated-policy.wasm", mutating_mock());
    dir.write(
        "test_data/requests/a-create.json",
        daemonset_request("CREATE").to_string(),
    );
    dir.write(
        "test_data/requests/b-review.json",
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": daemonset_request("CREATE")}).to_string(),
    );
    dir.write("test_data/requests/ignored.txt", "not a request");
    let settings = dir.write(
        "policy.yaml",
        "kind: ClusterAdmissionPolicy\nspec: {module: m, settings: {}}\n",
    );
    let (out, stdout, stderr) = output(bin("examples").current_dir(&dir.0).args([
        "--module",
        p(&module),
        "--settings-path",
        p(&settings),
        "--requests",
        "test_data/requests",
        "--quiet-logs",
    ]));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("a-create.json"), "{stdout}");
    assert!(lines[0].contains("DaemonSet default/ds"), "{stdout}");
    assert!(lines[0].contains("MUTATED"), "{stdout}");
    assert!(lines[1].starts_with("b-review.json"), "{stdout}");
    assert_eq!(lines[2], "2 examples: 0 allowed, 2 mutated, 0 rejected");
    assert!(!stderr.contains("policy INFO"), "{stderr}");
}
