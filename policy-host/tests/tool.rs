//! The tool's contract as a whole: the subcommands it offers, the generated
//! reference in docs/cli.md, shell completions, and the exit-code contract
//! (0 ok, 1 rejected or out of date, 2 usage/settings/input error) for every
//! subcommand. Per-subcommand behaviour is tested in cli.rs, check.rs,
//! registry.rs and artifacthub.rs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Scratch, repo_root, tool};
use rstest::rstest;

const SUBCOMMANDS: &[&str] = &[
    "check",
    "run",
    "examples",
    "annotate",
    "inspect",
    "push",
    "pull",
    "artifacthub",
    "check-version",
    "completions",
    "reference",
];

fn status(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("the tool runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn the_clap_definition_is_consistent() {
    policy_host::cli::command().debug_assert();
}

#[test]
fn help_lists_every_subcommand() {
    let (code, stdout, stderr) = status(Command::new(common::TOOL).arg("--help"));
    assert_eq!(code, Some(0), "{stderr}");
    for sub in SUBCOMMANDS {
        assert!(
            stdout.contains(&format!("  {sub} ")) || stdout.contains(&format!("  {sub}\n")),
            "--help lacks {sub}: {stdout}"
        );
    }
    assert!(stdout.contains("Exit status: 0"), "{stdout}");
}

#[test]
fn the_cli_reference_is_up_to_date() {
    let generated = policy_host::cli::reference::markdown(&policy_host::cli::command());
    let path = repo_root().join("docs/cli.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `make cli-docs` and commit it",
        path.display()
    );
    for sub in SUBCOMMANDS {
        assert!(
            generated.contains(&format!("## `daemonset-csi-policy {sub}`")),
            "reference lacks {sub}"
        );
    }
}

#[test]
fn the_reference_subcommand_prints_the_reference() {
    let (code, stdout, stderr) = status(&mut tool("reference"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        policy_host::cli::reference::markdown(&policy_host::cli::command())
    );
}

#[rstest]
#[case::bash("bash")]
#[case::zsh("zsh")]
#[case::fish("fish")]
#[case::elvish("elvish")]
#[case::powershell("powershell")]
fn completions_are_printed(#[case] shell: &str) {
    let (code, stdout, stderr) = status(tool("completions").arg(shell));
    assert_eq!(code, Some(0), "{shell}: {stderr}");
    assert!(stdout.contains("daemonset-csi-policy"), "{shell}");
    assert!(
        stdout.contains("check-version"),
        "{shell}: subcommands completed"
    );
}

#[test]
fn completions_for_an_unknown_shell_are_a_usage_error() {
    let (code, _, _) = status(tool("completions").arg("tcsh"));
    assert_eq!(code, Some(2));
}

#[test]
fn no_or_an_unknown_subcommand_is_a_usage_error() {
    let (code, _, _) = status(&mut Command::new(common::TOOL));
    assert_eq!(code, Some(2), "no subcommand");
    let (code, _, _) = status(Command::new(common::TOOL).arg("frobnicate"));
    assert_eq!(code, Some(2), "unknown subcommand");
}

#[rstest]
#[case::check("check")]
#[case::run("run")]
#[case::examples("examples")]
#[case::annotate("annotate")]
#[case::inspect("inspect")]
#[case::push("push")]
#[case::pull("pull")]
#[case::artifacthub("artifacthub")]
#[case::check_version("check-version")]
#[case::completions("completions")]
#[case::reference("reference")]
fn every_subcommand_has_help_and_refuses_unknown_flags(#[case] sub: &str) {
    assert!(SUBCOMMANDS.contains(&sub));
    let (code, _, stderr) = status(tool(sub).arg("--no-such-flag"));
    assert_eq!(code, Some(2), "{sub}: {stderr}");
    let (code, stdout, stderr) = status(tool(sub).arg("--help"));
    assert_eq!(code, Some(0), "{sub} --help: {stderr}");
    assert!(
        stdout.contains(&format!("Usage: daemonset-csi-policy {sub}")),
        "{stdout}"
    );
}

/// examples: 0 all allowed, 1 one rejected, 2 invalid settings or no example.
#[test]
fn examples_exit_codes() {
    let module = common::policy_path();
    let dir = Scratch::new("tool");
    let requests = repo_root().join("test_data/requests");
    let accepted = dir.write(
        "accepted/ebs.json",
        std::fs::read_to_string(requests.join("storageclass-ebs-gp3.json")).expect("fixture"),
    );
    let rejected = dir.write(
        "rejected/gce.json",
        std::fs::read_to_string(requests.join("storageclass-gce-pd-intree.json")).expect("fixture"),
    );
    let settings = dir.write(
        "settings.json",
        r#"{"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}}"#,
    );
    let run = |folder: &Path, settings: &Path| {
        status(tool("examples").args([
            "--cache-dir",
            p(&common::wasmtime_cache_dir()),
            "--module",
            p(&module),
            "--settings-path",
            p(settings),
            "--requests",
            p(folder),
            "--quiet-logs",
        ]))
    };
    let parent = |f: &Path| f.parent().expect("folder").to_path_buf();
    let (code, stdout, stderr) = run(&parent(&accepted), &settings);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, stderr) = run(&parent(&rejected), &settings);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let bad = dir.write("bad.json", r#"{"csiDrivers": {"allowed": [""]}}"#);
    let (code, _, stderr) = run(&parent(&accepted), &bad);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("Provided settings are not valid: "),
        "{stderr}"
    );
    let empty = dir.write("empty/.keep", "");
    let (code, _, stderr) = run(&parent(&empty), &settings);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no *.json example"), "{stderr}");
}

/// run: 0 allowed, 1 rejected, 2 invalid settings, with the real policy.
#[test]
fn run_exit_codes_with_the_policy() {
    let module = common::policy_path();
    let requests = repo_root().join("test_data/requests");
    let run = |request: &str, settings: &str| {
        status(tool("run").args([
            "--cache-dir",
            p(&common::wasmtime_cache_dir()),
            "-r",
            p(&requests.join(request)),
            "--settings-json",
            settings,
            p(&module),
        ]))
    };
    let allow_ebs = r#"{"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}}"#;
    assert_eq!(run("storageclass-ebs-gp3.json", allow_ebs).0, Some(0));
    let (code, stdout, _) = run("storageclass-gce-pd-intree.json", allow_ebs);
    assert_eq!(code, Some(1));
    assert!(stdout.contains(r#""allowed":false"#), "{stdout}");
    let (code, stdout, stderr) = run("storageclass-ebs-gp3.json", r#"{"nope": 1}"#);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("Provided settings are not valid: "),
        "{stderr}"
    );
}

/// check: 0 accepted, 1 rejected, 2 input error.
#[test]
fn check_exit_codes() {
    let module = common::policy_path();
    let dir = Scratch::new("tool");
    let sc = dir.write(
        "sc.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3}\nprovisioner: ebs.csi.aws.com\n",
    );
    let broken = dir.write("broken.yaml", "kind: [\n");
    let check = |settings: &str, path: &Path| {
        status(tool("check").args([
            "--cache-dir",
            p(&common::wasmtime_cache_dir()),
            "--module",
            p(&module),
            "--settings-json",
            settings,
            p(path),
        ]))
    };
    assert_eq!(
        check(r#"{"csiDrivers": {"allowed": ["ebs.csi.aws.com"]}}"#, &sc).0,
        Some(0)
    );
    assert_eq!(check(r#"{"csiDrivers": {"allowed": []}}"#, &sc).0, Some(1));
    assert_eq!(check("{}", &broken).0, Some(2));
    assert_eq!(check(r#"{"daemonSets": 3}"#, &sc).0, Some(2));
}

/// annotate and inspect: 0 done, 2 unreadable or unannotated input.
#[test]
fn annotate_and_inspect_exit_codes() {
    let dir = Scratch::new("tool");
    let raw = dir.write("raw.wasm", b"\0asm\x01\0\0\0".as_slice());
    let out = dir.0.join("annotated.wasm");
    let metadata = repo_root().join("metadata.yml");
    let (code, _, stderr) = status(tool("annotate").args([
        "-m",
        p(&metadata),
        "-o",
        p(&out),
        p(&dir.0.join("missing.wasm")),
    ]));
    assert_eq!(code, Some(2), "{stderr}");

    // The real module: inspect prints what policy-server reads.
    let module = common::policy_path();
    let (code, stdout, stderr) = status(tool("inspect").arg(p(&module)));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("protocol version:     v1"), "{stdout}");
    assert!(stdout.contains("apps v1 daemonsets"), "{stdout}");
    assert!(
        !stdout.contains("# daemonset-csi-policy"),
        "usage only with --show-usage"
    );
    let (code, stdout, _) = status(tool("inspect").args(["-o", "json", p(&module)]));
    assert_eq!(code, Some(0));
    let section: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(section["protocolVersion"], "v1");
    assert!(
        section["annotations"]
            .get("io.kubewarden.policy.usage")
            .is_none()
    );
    let (code, stdout, _) = status(tool("inspect").args([
        "-o",
        "yaml",
        "--show-usage",
        &format!("file://{}", p(&module)),
    ]));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("io.kubewarden.policy.usage"), "{stdout}");

    let (code, _, stderr) = status(tool("inspect").arg(p(&raw)));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not annotated"), "{stderr}");
    let (code, _, _) = status(tool("inspect").arg(p(&dir.0.join("missing.wasm"))));
    assert_eq!(code, Some(2));
    let (code, _, stderr) = status(tool("inspect").args(["--manifest", p(&module)]));
    assert_eq!(code, Some(2), "{stderr}");
}

/// push and pull: 2 when the registry cannot be reached (the registry tests
/// cover 0 against a real registry).
#[test]
fn push_and_pull_exit_codes_without_a_registry() {
    let module = common::policy_path();
    let dir = Scratch::new("tool");
    let sources = dir.write("sources.yml", "insecure_sources: [\"127.0.0.1:9\"]\n");
    let (code, _, stderr) = status(tool("push").args([
        p(&module),
        "127.0.0.1:9/p:v1",
        "--sources-path",
        p(&sources),
        "--timeout",
        "5",
        "--connect-timeout",
        "1",
    ]));
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = status(tool("pull").args([
        "registry://127.0.0.1:9/p:v1",
        "-o",
        p(&dir.0.join("pulled.wasm")),
        "--sources-path",
        p(&sources),
        "--timeout",
        "5",
        "--connect-timeout",
        "1",
    ]));
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, _) = status(tool("pull").args(["not a reference", "-o", "x.wasm"]));
    assert_eq!(code, Some(2));
}

/// check-version: 0 agree, 1 disagree, 2 unreadable file.
#[test]
fn check_version_exit_codes() {
    let root = repo_root();
    let (code, stdout, stderr) = status(tool("check-version").current_dir(&root));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.trim().is_empty());
    let dir = Scratch::new("tool");
    let cargo = dir.write(
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = \"9.9.9\"\n",
    );
    let (code, _, stderr) = status(
        tool("check-version")
            .current_dir(&root)
            .args(["--cargo-toml", p(&cargo)]),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the versions disagree"), "{stderr}");
    let (code, _, _) = status(
        tool("check-version")
            .current_dir(&root)
            .args(["--cargo-toml", p(&dir.0.join("missing.toml"))]),
    );
    assert_eq!(code, Some(2));
}

/// artifacthub: 0 written or up to date, 1 --check finds it stale, 2 bad input.
#[test]
fn artifacthub_exit_codes() {
    let root = repo_root();
    let dir = Scratch::new("tool");
    let output = dir.0.join("artifacthub-pkg.yml");
    let run = |extra: &[&str]| {
        status(
            tool("artifacthub")
                .current_dir(&root)
                .args([
                    "--questions",
                    "questions-ui.yml",
                    "--version",
                    "0.1.0",
                    "-o",
                ])
                .arg(&output)
                .args(extra)
                .env("SOURCE_DATE_EPOCH", "1700000000"),
        )
    };
    assert_eq!(run(&["--check"]).0, Some(1), "missing file");
    assert_eq!(run(&[]).0, Some(0));
    assert_eq!(run(&["--check"]).0, Some(0));
    assert_eq!(run(&["--metadata", "missing.yml"]).0, Some(2));
}
