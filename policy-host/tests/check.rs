//! The `check` binary against the real policy (`$E2E_POLICY_WASM`, default
//! `annotated-policy.wasm`) and the bundled manifests in
//! `examples/manifests/`, driven like a CI job would: files, folders, stdin,
//! broken input, the three report formats, `--fix`, exit codes, exemptions.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Scratch, policy_path, repo_root, wasmtime_cache_dir};
use serde_json::{Value, json};

fn examples() -> PathBuf {
    repo_root().join("examples/manifests")
}

fn policy_yaml() -> PathBuf {
    repo_root().join("policy.yaml")
}

/// `check --module <policy> --cache-dir <shared cache> ARGS...`
fn check(args: &[&str]) -> Command {
    let module = policy_path();
    assert!(
        module.exists(),
        "{} does not exist: run `make annotated-policy.wasm` first (or set E2E_POLICY_WASM)",
        module.display()
    );
    let mut cmd = common::tool("check");
    cmd.arg("--module")
        .arg(module)
        .arg("--cache-dir")
        .arg(wasmtime_cache_dir())
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null());
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Run {
    let out: Output = cmd.output().expect("check runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_with_stdin(mut cmd: Command, input: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("check starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn json_report(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document: {e}\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        )
    })
}

/// `name -> verdict` of a JSON report.
fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every YAML document of a text, parsed (empty ones left out).
fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn helm_rendered_file_table() {
    let file = examples().join("fluent-bit/rendered.yaml");
    let r = run(check(&["--settings-path", p(&policy_yaml()), p(&file)]));
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("VERDICT"), "{}", r.stdout);
    let ds = lines
        .iter()
        .position(|l| l.starts_with("MUTATED") && l.contains("DaemonSet logging/fluent-bit"))
        .unwrap_or_else(|| panic!("no MUTATED fluent-bit line:\n{}", r.stdout));
    assert!(
        lines[ds].ends_with("fluent-bit/rendered.yaml:6"),
        "{}",
        lines[ds]
    );
    assert!(
        lines[ds + 1..].iter().any(|l| l.trim()
            == "patch:     add /spec/template/spec/containers/0/volumeMounts/1/readOnly true"),
        "{}",
        r.stdout
    );
    assert!(
        lines[ds + 1..]
            .iter()
            .any(|l| l.trim_start().starts_with("warning:   mutated: ")),
        "{}",
        r.stdout
    );
    let summary = lines.last().unwrap();
    assert!(
        summary.starts_with("1 object checked (1 file, 6 documents)"),
        "{summary}"
    );
    assert!(
        summary.contains("1 mutated, 0 warned, 0 rejected"),
        "{summary}"
    );
    assert!(
        summary.contains("5 skipped (ClusterRole 1, ClusterRoleBinding 1, ConfigMap 1, Service 1, ServiceAccount 1)"),
        "{summary}"
    );
    assert!(summary.contains("objects/s"), "{summary}");
}

#[test]
fn folder_json_report() {
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "--output",
        "json",
        p(&examples()),
    ]));
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let report = json_report(&r);
    let summary = &report["summary"];
    assert_eq!(summary["files"], 4, "{summary}");
    assert_eq!(summary["objects"], 10, "{summary}");
    // gp3 is a default StorageClass: without a cluster to ask it is
    // accepted with the "not checked" warning (defaultClass.onLookupFailure).
    assert_eq!(summary["accepted"], 3, "{summary}");
    assert_eq!(summary["mutated"], 2, "{summary}");
    assert_eq!(summary["warned"], 2, "{summary}");
    assert_eq!(summary["rejected"], 3, "{summary}");
    assert_eq!(summary["skipped"], 15, "{summary}");
    assert_eq!(summary["skippedKinds"]["ServiceAccount"], 5, "{summary}");
    assert!(summary["objectsPerSecond"].as_f64().unwrap() > 0.0);

    let expected: BTreeMap<String, String> = [
        ("ebs-csi-node", "ACCEPTED"),
        ("ebs.csi.aws.com", "ACCEPTED"),
        ("gp3", "WARN"),
        ("gp2-legacy", "REJECTED"),
        ("io1-scratch", "REJECTED"),
        ("fluent-bit", "MUTATED"),
        ("kube-prometheus-stack-prometheus-node-exporter", "WARN"),
        ("promtail", "REJECTED"),
        ("standard", "MUTATED"),
        ("secrets-store.csi.k8s.io", "ACCEPTED"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(verdicts(&report), expected);

    let objects = report["objects"].as_array().unwrap();
    let find = |name: &str| objects.iter().find(|o| o["name"] == name).unwrap();
    let promtail = find("promtail");
    assert_eq!(
        promtail["file"],
        p(&examples().join("kustomize/build.yaml"))
    );
    assert_eq!(promtail["document"], 6);
    assert_eq!(promtail["kind"], "DaemonSet");
    assert_eq!(promtail["namespace"], "monitoring");
    assert_eq!(promtail["allowed"], false);
    assert_eq!(promtail["operation"], "CREATE");
    let violations = promtail["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{promtail}");
    assert_eq!(
        violations[0]["path"],
        "spec.template.spec.volumes[1].hostPath.path"
    );
    let message = violations[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.template.spec.volumes[1].hostPath.path=\"/run/promtail\": ")
            && message.ends_with("[daemonSets.hostPaths.allowed]"),
        "{message}"
    );
    let gp2 = find("gp2-legacy");
    let paths: Vec<&str> = gp2["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["provisioner", "parameters.type"]);
    assert_eq!(gp2["namespace"], Value::Null);

    let standard = find("standard");
    assert_eq!(standard["item"], 0);
    assert_eq!(standard["document"], 1);
    assert_eq!(
        standard["patch"],
        json!([
            {"op": "add", "path": "/allowVolumeExpansion", "value": true},
            {"op": "add", "path": "/volumeBindingMode", "value": "WaitForFirstConsumer"}
        ])
    );
    // Two mutation notes, and the default class not checked (no cluster).
    assert_eq!(standard["warnings"].as_array().unwrap().len(), 3);
    let exempted = find("kube-prometheus-stack-prometheus-node-exporter");
    assert!(
        exempted["warnings"][0]
            .as_str()
            .unwrap()
            .contains("exempted by exemptions.names[0]"),
        "{exempted}"
    );
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["kind"] == "Deployment" && s["name"] == "ebs-csi-controller"),
        "{skipped:?}"
    );
}

#[test]
fn stdin_yaml_and_json() {
    let text =
        std::fs::read_to_string(examples().join("aws-ebs-csi-driver/rendered.yaml")).unwrap();
    let r = run_with_stdin(
        check(&["--settings-path", p(&policy_yaml()), "-o", "json", "-"]),
        &text,
    );
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["summary"]["rejected"], 2);
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["file"] == "<stdin>")
    );

    // A JSON List on stdin, as `kubectl get -o json` prints it.
    let list = json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "ebs.csi.aws.com"}, "spec": {"attachRequired": true}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}}
        ]
    });
    let r = run_with_stdin(
        check(&["--settings-path", p(&policy_yaml()), "-"]),
        &serde_json::to_string_pretty(&list).unwrap(),
    );
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ACCEPTED  CSIDriver ebs.csi.aws.com  <stdin>:1.items[0]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 skipped (ConfigMap 1)"), "{}", r.stdout);
}

/// PersistentVolumes (core v1, cluster-scoped) are judged from manifests:
/// the NFS PV of the Kubernetes docs has no CSI driver to judge, the static
/// EBS PV names an allowed driver and kube-system secrets.
#[test]
fn persistent_volumes_are_judged() {
    let text = "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv0003}\nspec:\n  capacity: {storage: 5Gi}\n  accessModes: [ReadWriteOnce]\n  nfs: {path: /tmp, server: 172.17.0.2}\n---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: test-pv}\nspec:\n  capacity: {storage: 5Gi}\n  accessModes: [ReadWriteOnce]\n  csi:\n    driver: ebs.csi.aws.com\n    volumeHandle: vol-03c604538dd7d2f41\n    nodeStageSecretRef: {name: aws-secret, namespace: kube-system}\n";
    let r = run_with_stdin(check(&["--settings-path", p(&policy_yaml()), "-"]), text);
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("REJECTED  PersistentVolume pv0003"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[persistentVolumes.allowedSources]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ACCEPTED  PersistentVolume test-pv"),
        "{}",
        r.stdout
    );
}

#[test]
fn broken_document_is_an_input_error() {
    let dir = Scratch::new("check");
    let good = dir.write(
        "manifests/good.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: ebs.csi.aws.com}\n",
    );
    let bad = dir.write(
        "manifests/nested/bad.yaml",
        "---\n# Source: chart/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# empty\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  labels: a: b\n",
    );
    let r = run(check(&[p(&dir.0.join("manifests"))]));
    assert_eq!(r.code, 2, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "nothing is evaluated: {}", r.stdout);
    let expected = format!(
        "error: {}: document 3: mapping values are not allowed in this context at line 13 column",
        bad.display()
    );
    assert!(
        r.stderr.contains(&expected),
        "{}\nexpected: {expected}",
        r.stderr
    );

    // The good file alone passes.
    let r = run(check(&[p(&good)]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Broken JSON, a missing path, an empty folder.
    let json = dir.write("broken.json", "{\"apiVersion\": \"v1\"}\n{\"kind\": }\n");
    let r = run(check(&[p(&json)]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(&format!("{}: document 2: expected value", json.display())),
        "{}",
        r.stderr
    );
    let r = run(check(&[p(&dir.0.join("missing.yaml"))]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("missing.yaml: cannot read"),
        "{}",
        r.stderr
    );
    std::fs::create_dir_all(dir.0.join("empty")).unwrap();
    let r = run(check(&[p(&dir.0.join("empty"))]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no *.yaml, *.yml or *.json file"),
        "{}",
        r.stderr
    );
}

#[test]
fn junit_report() {
    let dir = Scratch::new("check");
    // A name that needs escaping, inside every attribute and text it reaches.
    let odd = dir.write(
        "odd.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: \"a<b&\\\"c'\"\nprovisioner: kubernetes.io/aws-ebs\n",
    );
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "--output",
        "junit",
        p(&examples()),
        p(&odd),
    ]));
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let doc = roxmltree::Document::parse(&r.stdout)
        .unwrap_or_else(|e| panic!("not XML: {e}\n{}", r.stdout));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("26"));
    assert_eq!(root.attribute("failures"), Some("4"));
    assert_eq!(root.attribute("skipped"), Some("15"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
    let expected_files = [
        examples().join("aws-ebs-csi-driver/rendered.yaml"),
        examples().join("fluent-bit/rendered.yaml"),
        examples().join("kustomize/build.yaml"),
        examples().join("list.yaml"),
        odd.clone(),
    ];
    assert_eq!(
        names,
        expected_files.iter().map(|f| p(f)).collect::<Vec<_>>()
    );
    for suite in &suites {
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            suite.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        let failures = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
            .count();
        assert_eq!(
            suite.attribute("failures"),
            Some(failures.to_string().as_str())
        );
        let skipped = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
            .count();
        assert_eq!(
            suite.attribute("skipped"),
            Some(skipped.to_string().as_str())
        );
    }
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name:?}"))
    };
    let promtail = case("DaemonSet monitoring/promtail [document 6]");
    let failure = promtail
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .starts_with("DaemonSet monitoring/promtail violates the policy (1 violation): ")
    );
    let text = failure.text().unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("spec.template.spec.volumes[1].hostPath.path=\"/run/promtail\": ")
            && text.ends_with("[daemonSets.hostPaths.allowed]"),
        "{text}"
    );
    let gp2 = case("StorageClass gp2-legacy [document 9]");
    let text = gp2
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.text())
        .unwrap();
    assert_eq!(text.lines().count(), 2, "one violation per line: {text}");
    let fluent = case("DaemonSet logging/fluent-bit [document 6]");
    assert!(!fluent.children().any(|n| n.has_tag_name("failure")));
    let out = fluent
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(out.contains("verdict: MUTATED"), "{out}");
    assert!(
        out.contains("patch: add /spec/template/spec/containers/0/volumeMounts/1/readOnly true"),
        "{out}"
    );
    let cm = case("ConfigMap logging/fluent-bit [document 2]");
    assert!(cm.children().any(|n| n.has_tag_name("skipped")));
    // Escaping: the odd name comes back exactly.
    let odd_case = case("StorageClass a<b&\"c' [document 1]");
    let message = odd_case
        .children()
        .find(|n| n.has_tag_name("failure"))
        .and_then(|f| f.attribute("message"))
        .unwrap();
    assert!(
        message.starts_with("StorageClass a<b&\"c' violates"),
        "{message}"
    );
}

#[test]
fn junit_file_next_to_table() {
    let dir = Scratch::new("check");
    let junit = dir.0.join("report.xml");
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "--junit-file",
        p(&junit),
        "-q",
        p(&examples().join("list.yaml")),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // --quiet: the plainly accepted CSIDriver is not listed.
    assert!(
        r.stdout.contains("MUTATED   StorageClass standard"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("secrets-store"), "{}", r.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("tests"), Some("3"));
}

/// Apply a JSON patch (as the report lists it) to an object.
fn patched(object: &Value, patch: &Value) -> Value {
    let patch: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
    let mut doc = object.clone();
    json_patch::patch(&mut doc, &patch).unwrap();
    doc
}

#[test]
fn fix_writes_the_patched_objects() {
    let dir = Scratch::new("check");
    let out = dir.0.join("fixed");
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "-o",
        "json",
        "--fix",
        p(&out),
        p(&examples()),
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = json_report(&r);

    for rel in [
        "aws-ebs-csi-driver/rendered.yaml",
        "fluent-bit/rendered.yaml",
        "kustomize/build.yaml",
        "list.yaml",
    ] {
        let original = std::fs::read_to_string(examples().join(rel)).unwrap();
        let fixed = std::fs::read_to_string(out.join(rel))
            .unwrap_or_else(|e| panic!("{rel} not written: {e}"));
        let file = p(&examples().join(rel)).to_string();
        let mutated: Vec<&Value> = report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["file"] == file.as_str() && o["verdict"] == "MUTATED")
            .collect();
        if mutated.is_empty() {
            assert_eq!(
                fixed, original,
                "{rel}: unchanged files are copied verbatim"
            );
            continue;
        }
        let before = yaml_documents(&original);
        let after = yaml_documents(&fixed);
        assert_eq!(
            before.len(),
            after.len(),
            "{rel}: same documents, same order"
        );
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let document = i + 1; // no empty document in the examples
            let mine: Vec<&&Value> = mutated
                .iter()
                .filter(|o| o["document"] == document)
                .collect();
            let mut expected = b.clone();
            for o in mine {
                match o["item"].as_u64() {
                    None => expected = patched(&expected, &o["patch"]),
                    Some(item) => {
                        let slot = &mut expected["items"][item as usize];
                        *slot = patched(slot, &o["patch"]);
                    }
                }
            }
            assert_eq!(a, &expected, "{rel} document {document}");
        }
    }
    // Comments of changed documents' heads and of unchanged documents survive.
    let fluent = std::fs::read_to_string(out.join("fluent-bit/rendered.yaml")).unwrap();
    assert!(
        fluent
            .contains("---\n# Source: fluent-bit/templates/daemonset.yaml\napiVersion: apps/v1\n"),
        "{fluent}"
    );
    assert!(
        fluent.contains("# Source: fluent-bit/templates/configmap.yaml\n"),
        "{fluent}"
    );

    // The fixed manifests pass without further mutation.
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "-o",
        "json",
        p(&out.join("fluent-bit")),
        p(&out.join("list.yaml")),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let again = json_report(&r);
    assert_eq!(again["summary"]["mutated"], 0, "{}", again["summary"]);
    // The default class `standard` of list.yaml is warned as not checked.
    assert_eq!(again["summary"]["accepted"], 2, "{}", again["summary"]);
    assert_eq!(again["summary"]["warned"], 1, "{}", again["summary"]);
}

/// `--replay-host-capabilities-interactions`: the default gp3 of the EBS
/// chart is checked against a recorded cluster whose gp2 is already default.
#[test]
fn replayed_cluster_answers_the_default_class_lookup() {
    let chart = examples().join("aws-ebs-csi-driver");
    let replay = repo_root().join("test_data/requests/replay/kops-gp2-beta-default.yml");
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "-o",
        "json",
        "--replay-host-capabilities-interactions",
        p(&replay),
        p(&chart),
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = json_report(&r);
    assert_eq!(verdicts(&report)["gp3"], "REJECTED", "{report}");
    let replay = repo_root().join("test_data/requests/replay/eks-gp3-only-default.yml");
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "-o",
        "json",
        "--replay-host-capabilities-interactions",
        p(&replay),
        p(&chart),
    ]));
    assert_eq!(
        verdicts(&json_report(&r))["gp3"],
        "ACCEPTED",
        "{}",
        r.stdout
    );
    let r = run(check(&[
        "--replay-host-capabilities-interactions",
        "/nonexistent/session.yml",
        p(&chart),
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/session.yml"),
        "{}",
        r.stderr
    );
}

#[test]
fn fix_to_stdout_is_one_yaml_stream() {
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "--fix",
        "-",
        p(&examples().join("fluent-bit/rendered.yaml")),
        p(&examples().join("list.yaml")),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The report went to stderr, the manifests to stdout.
    assert!(
        r.stderr.contains("MUTATED   DaemonSet logging/fluent-bit"),
        "{}",
        r.stderr
    );
    let docs = yaml_documents(&r.stdout);
    assert_eq!(docs.len(), 7, "{}", r.stdout);
    assert_eq!(
        docs[5]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["readOnly"],
        true
    );
    assert_eq!(docs[6]["kind"], "List");
    assert_eq!(
        docs[6]["items"][0]["volumeBindingMode"],
        "WaitForFirstConsumer"
    );
    assert_eq!(docs[6]["items"][0]["allowVolumeExpansion"], true);
}

#[test]
fn exit_codes() {
    let fluent = examples().join("fluent-bit/rendered.yaml");
    let ebs = examples().join("aws-ebs-csi-driver/rendered.yaml");
    let settings = p(&policy_yaml()).to_string();
    assert_eq!(
        run(check(&["--settings-path", &settings, p(&fluent)])).code,
        0
    );
    assert_eq!(run(check(&["--settings-path", &settings, p(&ebs)])).code, 1);

    let r = run(check(&[
        "--settings-json",
        r#"{"daemonSets": {"hostPaths": {"allowed": [{"pathPrefix": "var/log"}]}}}"#,
        p(&fluent),
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.starts_with("Provided settings are not valid: ")
            && r.stderr
                .contains("daemonSets.hostPaths.allowed[0].pathPrefix"),
        "{}",
        r.stderr
    );
    let r = run(check(&["--no-such-flag", p(&fluent)]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(check(&[]));
    assert_eq!(r.code, 2, "a path is required: {}", r.stderr);
    let r = run(check(&["--service-account", "no-slash", p(&fluent)]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("expected namespace/name"), "{}", r.stderr);
    let r = run(check(&["--module", "/nonexistent.wasm", p(&fluent)]));
    assert_eq!(r.code, 2);
    // Nothing the policy evaluates: accepted, with a note.
    let dir = Scratch::new("check");
    let cm = dir.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    let r = run(check(&[p(&cm)]));
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains(
            "no object of a kind the policy evaluates (DaemonSet, StorageClass, CSIDriver, VolumeAttributesClass, PersistentVolume)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn exemptions_by_service_account_user_and_group() {
    let ebs = examples().join("aws-ebs-csi-driver/rendered.yaml");
    let settings = json!({
        "csiDrivers": {"allowed": ["ebs.csi.aws.com"]},
        "exemptions": {
            "serviceAccounts": ["argocd/argocd-application-controller"],
            "users": ["release-bot"],
            "groups": ["platform-admins"]
        }
    })
    .to_string();
    let base = ["--settings-json", settings.as_str(), "-o", "json"];

    let r = run(check(&[&base[..], &[p(&ebs)]].concat()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(verdicts(&json_report(&r))["gp2-legacy"], "REJECTED");

    let r = run(check(
        &[
            &base[..],
            &[
                "--service-account",
                "argocd/argocd-application-controller",
                p(&ebs),
            ],
        ]
        .concat(),
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_report(&r);
    assert!(verdicts(&report).values().all(|v| v == "WARN"), "{report}");
    let warning = report["objects"][0]["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("exemptions.serviceAccounts[0] (argocd/argocd-application-controller)"),
        "{warning}"
    );

    // Another ServiceAccount is not exempted.
    let r = run(check(
        &[&base[..], &["--service-account", "argocd/other", p(&ebs)]].concat(),
    ));
    assert_eq!(r.code, 1);

    let r = run(check(
        &[&base[..], &["--user", "release-bot", p(&ebs)]].concat(),
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(check(
        &[
            &base[..],
            &["--user", "alice", "--group", "platform-admins", p(&ebs)],
        ]
        .concat(),
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(check(
        &[
            &base[..],
            &["--user", "alice", "--group", "developers", p(&ebs)],
        ]
        .concat(),
    ));
    assert_eq!(r.code, 1);
}

#[test]
fn default_namespace_and_update() {
    let dir = Scratch::new("check");
    // A DaemonSet without namespace: --namespace places it, and a namespace
    // exemption sees it there; --fix does not write the namespace in.
    let ds = dir.write(
        "ds.yaml",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: a\n        volumeMounts:\n        - {name: logs, mountPath: /var/log}\n      volumes:\n      - name: logs\n        hostPath: {path: /var/log}\n",
    );
    let settings = json!({
        "exemptions": {"namespaces": ["team-a"]},
        "daemonSets": {"hostPaths": {"mutate": true, "allowed": [{"pathPrefix": "/var/log", "readOnly": true}]}}
    })
    .to_string();
    let r = run(check(&[
        "--settings-json",
        &settings,
        "-o",
        "json",
        "-n",
        "team-a",
        p(&ds),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["objects"][0]["namespace"], "team-a");
    assert_eq!(report["objects"][0]["verdict"], "WARN");

    let fixed = dir.0.join("fixed");
    let r = run(check(&[
        "--settings-json",
        &settings,
        "-o",
        "json",
        "--fix",
        p(&fixed),
        p(&ds),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_report(&r);
    assert_eq!(report["objects"][0]["namespace"], "default");
    assert_eq!(report["objects"][0]["verdict"], "MUTATED");
    let text = std::fs::read_to_string(fixed.join("ds.yaml")).unwrap();
    let doc = &yaml_documents(&text)[0];
    assert!(doc["metadata"].get("namespace").is_none(), "{text}");
    assert_eq!(
        doc["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"],
        true
    );

    // UPDATE: StorageClass fields are immutable, so an update is never
    // mutated (on CREATE the same object is).
    let list = examples().join("list.yaml");
    let settings = p(&policy_yaml()).to_string();
    let create = json_report(&run(check(&[
        "--settings-path",
        &settings,
        "-o",
        "json",
        p(&list),
    ])));
    assert_eq!(verdicts(&create)["standard"], "MUTATED");
    let update = json_report(&run(check(&[
        "--settings-path",
        &settings,
        "-o",
        "json",
        "--operation",
        "update",
        p(&list),
    ])));
    assert_eq!(verdicts(&update)["standard"], "ACCEPTED");
    assert!(
        update["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["operation"] == "UPDATE")
    );
    // --old: matched objects are updates, the others creations.
    let old = dir.write(
        "old.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: standard}\nprovisioner: ebs.csi.aws.com\nparameters: {type: gp3, encrypted: \"true\"}\n",
    );
    let r = run(check(&[
        "--settings-path",
        &settings,
        "-o",
        "json",
        "--old",
        p(&old),
        p(&list),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json_report(&r);
    let ops: BTreeMap<&str, &str> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap(),
                o["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ops["standard"], "UPDATE");
    assert_eq!(ops["secrets-store.csi.k8s.io"], "CREATE");
    let r = run(check(&[
        "--old",
        p(&old),
        "--operation",
        "UPDATE",
        p(&list),
    ]));
    assert_eq!(r.code, 2, "--old and --operation conflict: {}", r.stderr);
}

#[test]
fn a_thousand_objects_take_seconds() {
    // 1000 documents: DaemonSets and StorageClasses of the examples, renamed.
    let fluent = std::fs::read_to_string(examples().join("fluent-bit/rendered.yaml")).unwrap();
    let ds = fluent
        .split("\n---\n")
        .find(|d| d.contains("kind: DaemonSet"))
        .unwrap()
        .to_string();
    let sc = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: gp3-NAME\nprovisioner: ebs.csi.aws.com\nparameters: {type: gp3, encrypted: \"true\"}\nreclaimPolicy: Delete\nallowVolumeExpansion: true\nvolumeBindingMode: WaitForFirstConsumer\n";
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str("---\n");
        if i % 2 == 0 {
            text.push_str(&ds.replacen(
                "name: fluent-bit\n",
                &format!("name: fluent-bit-{i}\n"),
                1,
            ));
            text.push('\n');
        } else {
            text.push_str(&sc.replace("NAME", &i.to_string()));
        }
    }
    let dir = Scratch::new("check");
    let file = dir.write("thousand.yaml", text);
    let r = run(check(&[
        "--settings-path",
        p(&policy_yaml()),
        "-o",
        "json",
        p(&file),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = &json_report(&r)["summary"];
    assert_eq!(summary["objects"], 1000, "{summary}");
    assert_eq!(summary["mutated"], 500, "{summary}");
    assert_eq!(summary["accepted"], 500, "{summary}");
    let seconds = summary["evaluationSeconds"].as_f64().unwrap();
    eprintln!(
        "1000 objects in {seconds:.2} s: {:.0} objects/s on {} threads",
        summary["objectsPerSecond"].as_f64().unwrap(),
        summary["threads"]
    );
    // Generous: a debug build on a busy 2-core machine does it in ~5 s.
    assert!(seconds < 60.0, "{summary}");
}

/// VolumeAttributesClasses are judged too: the GCE PD class of the
/// driver's demo names a driver policy.yaml does not allow, the EBS one is
/// accepted.
#[test]
fn volume_attributes_classes_are_judged() {
    let dir = Scratch::new("check");
    let file = dir.write(
        "vac.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: VolumeAttributesClass\nmetadata: {name: silver}\ndriverName: pd.csi.storage.gke.io\nparameters: {iops: \"3000\", throughput: 150Mi}\n---\napiVersion: storage.k8s.io/v1\nkind: VolumeAttributesClass\nmetadata: {name: io2-class}\ndriverName: ebs.csi.aws.com\nparameters: {type: io2, iops: \"3000\"}\n",
    );
    let r = run(check(&["--settings-path", p(&policy_yaml()), p(&file)]));
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("REJECTED  VolumeAttributesClass silver"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("ACCEPTED  VolumeAttributesClass io2-class"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("[csiDrivers.allowed]"), "{}", r.stdout);
}
