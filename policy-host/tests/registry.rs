//! Push / pull / inspect against a REAL registry (the CNCF distribution
//! registry on 127.0.0.1, see `common`), the success path with the built
//! policy module evaluated after the round trip, and every failure case.

mod common;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::registry::*;
use common::repo_root;
use policy_host::oci::registry::sha256_digest;
use policy_host::oci::{
    Blob, DockerConfig, ErrorKind, PolicyRef, Registry, RegistryOptions, Sources,
    WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
};
use serde_json::{Value, json};

const REPO: &str = "policies/daemonset-csi-policy";

fn policy_ref(text: &str) -> PolicyRef {
    PolicyRef::parse(text).expect("reference")
}

fn cli() -> Command {
    Command::new(common::TOOL)
}

fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = cli().args(args).output().expect("run daemonset-csi-policy");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_immutable_ref(text: &str, addr: &str) -> bool {
    text.strip_prefix(&format!("{addr}/{REPO}@"))
        .is_some_and(policy_host::oci::config::is_sha256_digest)
}

/// The built policy goes through the registry and comes back byte for byte,
/// by tag and by digest, through the library and the CLI; the pulled module
/// loads in the e2e host (policy-server's annotation check) and judges.
#[test]
fn the_policy_round_trips_and_still_judges() {
    let Some(module) = annotated_policy() else {
        return;
    };
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let client = reg.client();
    let tag_ref = format!("registry://{}/{REPO}:v0.1.0", reg.addr);

    let pushed = client
        .push_policy(&module, &policy_ref(&tag_ref), false)
        .expect("push");
    assert!(
        is_immutable_ref(&pushed.immutable_ref, &reg.addr),
        "{}",
        pushed.immutable_ref
    );

    let by_tag = client
        .pull_policy(&policy_ref(&tag_ref))
        .expect("pull by tag");
    assert_eq!(by_tag.module, module, "the module changed on the way");
    assert_eq!(by_tag.digest, pushed.digest);
    assert_eq!(by_tag.immutable_ref, pushed.immutable_ref);
    let by_digest = client
        .pull_policy(&policy_ref(&pushed.immutable_ref))
        .expect("pull by digest");
    assert_eq!(by_digest.module, module);
    assert_eq!(by_digest.digest, pushed.digest);

    // The pulled bytes are a policy policy-server would load and run.
    let host = policy_host::PolicyModule::from_bytes(&by_digest.module)
        .expect("the pulled module passes policy-server's metadata check");
    let metadata = host.metadata().expect("metadata");
    assert_eq!(
        metadata
            .annotations()
            .get("io.kubewarden.policy.title")
            .map(String::as_str),
        Some("daemonset-csi-policy")
    );
    assert!(
        host.validate_settings(&json!({}))
            .expect("validate_settings")
            .valid
    );
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("test_data/requests/daemonset-fluent-bit.json"))
            .expect("fixture"),
    )
    .expect("fixture JSON");
    let response = host.evaluate(&request, &json!({})).expect("evaluate");
    assert!(
        !response.allowed,
        "fluent-bit must be rejected by default: {response:?}"
    );
    let message = response.message().unwrap_or_default();
    assert!(message.contains("hostPath"), "{message}");
    assert_ne!(
        response.code(),
        Some(500),
        "a verdict, not a guest failure: {message}"
    );

    // The CLI: push -o json prints {"immutable_ref": ...} like kwctl.
    let dir = tempfile::tempdir().expect("tmp");
    let module_path = dir.path().join("annotated-policy.wasm");
    std::fs::write(&module_path, &module).expect("write module");
    let sources = reg.sources_file();
    let sources = sources.to_str().expect("utf-8 path");
    let (ok, stdout, stderr) = run_cli(&[
        "push",
        module_path.to_str().expect("utf-8 path"),
        &format!("{}/{REPO}:cli", reg.addr),
        "--sources-path",
        sources,
        "-o",
        "json",
    ]);
    assert!(ok, "{stderr}");
    let printed: Value = serde_json::from_str(stdout.trim()).expect("JSON output");
    assert_eq!(
        printed,
        json!({"immutable_ref": pushed.immutable_ref}),
        "same content, same digest"
    );

    let pulled_path = dir.path().join("pulled.wasm");
    let (ok, stdout, stderr) = run_cli(&[
        "pull",
        &format!("registry://{}/{REPO}:cli", reg.addr),
        "-o",
        pulled_path.to_str().expect("utf-8 path"),
        "--sources-path",
        sources,
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), pushed.immutable_ref);
    assert_eq!(std::fs::read(&pulled_path).expect("pulled"), module);
}

/// The manifest and config the registry serves are what `kwctl push` writes.
#[test]
fn the_manifest_is_what_kwctl_push_writes() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let module = annotated_policy_or_small();
    let client = reg.client();
    let reference = policy_ref(&format!("{}/{REPO}:v0.1.0", reg.addr));
    let pushed = client
        .push_policy(&module, &reference, false)
        .expect("push");

    let inspected = client.inspect(&reference).expect("inspect");
    eprintln!(
        "manifest served by the registry ({}):\n{}",
        inspected.digest,
        String::from_utf8_lossy(&inspected.raw_manifest)
    );
    assert_eq!(inspected.digest, pushed.digest);
    assert_eq!(sha256_digest(&inspected.raw_manifest), pushed.digest);
    let manifest: Value = serde_json::from_slice(&inspected.raw_manifest).expect("JSON");
    assert_eq!(manifest["schemaVersion"], 2);
    // Like kwctl push (oci-client's OciImageManifest::build), the body has no
    // `mediaType` field: the manifest is PUT with the Content-Type
    // application/vnd.oci.image.manifest.v1+json, which the registry records
    // and serves it with (checked by the_registry_serves_the_pushed_digest).
    // Adding the field would change the digest kwctl would produce.
    assert_eq!(manifest.get("mediaType"), None);
    assert_eq!(
        manifest["config"],
        json!({
            "mediaType": "application/vnd.wasm.config.v1+json",
            "digest": sha256_digest(b"{}"),
            "size": 2
        })
    );
    assert_eq!(inspected.config, b"{}");
    assert_eq!(
        manifest["layers"],
        json!([{
            "mediaType": "application/vnd.wasm.content.layer.v1+wasm",
            "digest": sha256_digest(&module),
            "size": module.len()
        }])
    );

    // Annotations: the metadata's, minus multi-line ones, plus the OCI source.
    let metadata = policy_host::oci::module::read_metadata(&module)
        .expect("wasm")
        .expect("annotated");
    let mut expected: BTreeMap<String, String> =
        policy_host::oci::module::metadata_annotations(&metadata).expect("annotations");
    assert!(expected["io.kubewarden.policy.usage"].contains('\n'));
    expected.retain(|_, v| !v.contains('\n'));
    expected.insert(
        "org.opencontainers.image.source".into(),
        expected["io.kubewarden.policy.source"].clone(),
    );
    let actual: BTreeMap<String, String> =
        serde_json::from_value(manifest["annotations"].clone()).expect("string annotations");
    assert_eq!(actual, expected);
    assert!(!actual.contains_key("io.kubewarden.policy.usage"));
    assert_eq!(
        actual["org.opencontainers.image.source"],
        "https://github.com/daemonset-csi-policy/daemonset-csi-policy"
    );

    // The CLI prints the same manifest.
    let sources = reg.sources_file();
    let (ok, stdout, stderr) = run_cli(&[
        "inspect",
        &format!("registry://{}/{REPO}:v0.1.0", reg.addr),
        "--sources-path",
        sources.to_str().expect("utf-8"),
        "--manifest",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim().as_bytes(), inspected.raw_manifest.as_slice());
    assert!(stderr.contains(&pushed.digest), "{stderr}");
}

/// A module without metadata is refused before anything is sent.
#[test]
fn an_unannotated_module_is_not_pushed() {
    let client = Registry::default();
    let err = client
        .push_policy(b"\0asm\x01\0\0\0", &policy_ref("127.0.0.1:9/p:v1"), false)
        .expect_err("unannotated");
    assert_eq!(err.kind(), ErrorKind::NotAnnotated, "{err}");
    let err = client
        .push_policy(b"not wasm", &policy_ref("127.0.0.1:9/p:v1"), false)
        .expect_err("not wasm");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// Using the real module when built, else a small annotated one.
fn annotated_policy_or_small() -> Vec<u8> {
    let path = repo_root().join("annotated-policy.wasm");
    std::fs::read(path).unwrap_or_else(|_| small_annotated_module())
}

#[test]
fn a_missing_tag_or_repository_is_not_found() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let client = reg.client();
    client
        .push_policy(
            &small_annotated_module(),
            &policy_ref(&format!("{}/{REPO}:v1", reg.addr)),
            false,
        )
        .expect("push");
    for missing in [
        format!("registry://{}/{REPO}:v9.9.9", reg.addr),
        format!("registry://{}/policies/nothing-here:v1", reg.addr),
        format!("{}/{REPO}@sha256:{}", reg.addr, "0".repeat(64)),
    ] {
        let err = client
            .pull_policy(&policy_ref(&missing))
            .expect_err(&missing);
        assert_eq!(err.kind(), ErrorKind::NotFound, "{missing}: {err}");
        assert!(err.message().contains("not found"), "{err}");
    }
    // The CLI exits 1 with the message, and writes nothing.
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("x.wasm");
    let sources = reg.sources_file();
    let (ok, _, stderr) = run_cli(&[
        "pull",
        &format!("registry://{}/{REPO}:v9.9.9", reg.addr),
        "-o",
        out.to_str().expect("utf-8"),
        "--sources-path",
        sources.to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("not found in the registry"), "{stderr}");
    assert!(!out.exists());
}

/// A manifest whose layer is not the wasm media type is refused by pull.
#[test]
fn another_layer_media_type_is_refused() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let client = reg.client();
    let module = small_annotated_module();
    let tar = policy_ref(&format!("{}/{REPO}:tar-layer", reg.addr));
    client
        .push_artifact(
            &tar,
            vec![Blob {
                data: module.clone(),
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            Blob {
                data: b"{}".to_vec(),
                media_type: WASM_CONFIG_MEDIA_TYPE.into(),
            },
            BTreeMap::new(),
        )
        .expect("push a non-policy artifact");
    let err = client.pull_policy(&tar).expect_err("wrong media type");
    assert_eq!(err.kind(), ErrorKind::WrongMediaType, "{err}");
    assert!(
        err.message()
            .contains("application/vnd.oci.image.layer.v1.tar"),
        "{err}"
    );
    assert!(err.message().contains(WASM_LAYER_MEDIA_TYPE), "{err}");

    // Two wasm layers: not a policy either.
    let two = policy_ref(&format!("{}/{REPO}:two-layers", reg.addr));
    let layer = Blob {
        data: module.clone(),
        media_type: WASM_LAYER_MEDIA_TYPE.into(),
    };
    let mut other = module.clone();
    other.extend_from_slice(b"\0\x04name\0");
    client
        .push_artifact(
            &two,
            vec![
                layer,
                Blob {
                    data: other,
                    media_type: WASM_LAYER_MEDIA_TYPE.into(),
                },
            ],
            Blob {
                data: b"{}".to_vec(),
                media_type: WASM_CONFIG_MEDIA_TYPE.into(),
            },
            BTreeMap::new(),
        )
        .expect("push two layers");
    let err = client.pull_policy(&two).expect_err("two layers");
    assert_eq!(err.kind(), ErrorKind::WrongMediaType, "{err}");
    assert!(err.message().contains("2 layers"), "{err}");
}

/// A blob altered in the registry's storage is caught by the digest check.
#[test]
fn a_tampered_layer_is_a_digest_mismatch() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let client = reg.client();
    let module = small_annotated_module();
    let reference = policy_ref(&format!("{}/{REPO}:v1", reg.addr));
    let pushed = client
        .push_policy(&module, &reference, false)
        .expect("push");
    let layer_digest = &pushed.manifest.layers[0].digest;
    let blob = reg.blob_file(layer_digest);
    let mut data = std::fs::read(&blob).expect("blob in storage");
    assert_eq!(data, module);
    // Same size, one byte changed (inside the metadata JSON).
    let last = data.len() - 2;
    data[last] ^= 0x01;
    std::fs::write(&blob, &data).expect("tamper");

    let err = client.pull_policy(&reference).expect_err("tampered");
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
    assert!(err.message().contains("digest mismatch"), "{err}");

    // Inspect does not read the layer but checks the config the same way.
    let config_blob = reg.blob_file(&pushed.manifest.config.digest);
    std::fs::write(&config_blob, b"[]").expect("tamper config");
    let err = client.inspect(&reference).expect_err("tampered config");
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");

    // The CLI writes nothing.
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("x.wasm");
    let sources = reg.sources_file();
    let (ok, _, stderr) = run_cli(&[
        "pull",
        &pushed.immutable_ref,
        "-o",
        out.to_str().expect("utf-8"),
        "--sources-path",
        sources.to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
    assert!(!out.exists());
}

/// A closed port: a clear error, at once.
#[test]
fn an_unreachable_registry_fails_fast() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let client = Registry::new(RegistryOptions {
        sources: Sources::from_yaml(&format!("insecure_sources: [\"{addr}\"]")).expect("sources"),
        ..Default::default()
    });
    let started = Instant::now();
    let err = client
        .pull_policy(&policy_ref(&format!("registry://{addr}/{REPO}:v1")))
        .expect_err("closed port");
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.message().contains("cannot reach the registry"), "{err}");
    assert!(err.message().contains(&addr), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let err = client
        .push_policy(
            &small_annotated_module(),
            &policy_ref(&format!("{addr}/{REPO}:v1")),
            false,
        )
        .expect_err("closed port");
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

/// A server that accepts connections and never answers: bounded by the
/// operation timeout, not a hang.
#[test]
fn a_silent_registry_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let client = Registry::new(RegistryOptions {
        sources: Sources::from_yaml(&format!("insecure_sources: [\"{addr}\"]")).expect("sources"),
        timeout: Duration::from_secs(2),
        ..Default::default()
    });
    let started = Instant::now();
    let err = client
        .pull_policy(&policy_ref(&format!("{addr}/{REPO}:v1")))
        .expect_err("silent server");
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("within 2 s"), "{err}");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    drop(keep);
}

/// A plain-HTTP registry that is not in `insecure_sources` is spoken to in
/// HTTPS only: the handshake fails with a hint, nothing goes in clear.
#[test]
fn plain_http_is_only_for_listed_insecure_sources() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let https_only = Registry::new(RegistryOptions {
        // Another registry is insecure, not this one.
        sources: Sources::from_yaml("insecure_sources: [\"127.0.0.1:1\"]").expect("sources"),
        ..Default::default()
    });
    assert_eq!(https_only.scheme_for(&reg.addr), "https");
    let started = Instant::now();
    let err = https_only
        .pull_policy(&policy_ref(&format!("{}/{REPO}:v1", reg.addr)))
        .expect_err("plain HTTP registry over HTTPS");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("insecure_sources"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = https_only
        .push_policy(
            &small_annotated_module(),
            &policy_ref(&format!("{}/{REPO}:v1", reg.addr)),
            false,
        )
        .expect_err("push over HTTPS");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // Nothing reached the registry.
    assert!(
        !reg.storage()
            .join("docker/registry/v2/repositories")
            .exists()
    );
}

/// Credentials from a Docker config file; anonymous or wrong ones refused.
#[test]
fn credentials_come_from_the_docker_config() {
    let Some(reg) = TestRegistry::start_with_user("alice", "s3cret") else {
        return;
    };
    let module = small_annotated_module();
    let reference = policy_ref(&format!("{}/{REPO}:v1", reg.addr));

    let anonymous = reg.client();
    let err = anonymous
        .push_policy(&module, &reference, false)
        .expect_err("anonymous push");
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");

    let wrong = reg.client_with(
        DockerConfig::from_json(&docker_config_json(&reg.addr, "alice", "nope")).expect("cfg"),
    );
    let err = wrong
        .push_policy(&module, &reference, false)
        .expect_err("wrong password");
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.message().contains("refused"), "{err}");

    // The right credentials, through the CLI's --docker-config.
    let config_path = reg.dir().join("docker-config.json");
    std::fs::write(
        &config_path,
        docker_config_json(&reg.addr, "alice", "s3cret"),
    )
    .expect("docker config");
    let module_path = reg.dir().join("m.wasm");
    std::fs::write(&module_path, &module).expect("module");
    let sources = reg.sources_file();
    let (ok, stdout, stderr) = run_cli(&[
        "push",
        module_path.to_str().expect("utf-8"),
        reference.as_str(),
        "--sources-path",
        sources.to_str().expect("utf-8"),
        "--docker-config",
        config_path.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{stderr}");
    assert!(is_immutable_ref(stdout.trim(), &reg.addr), "{stdout}");

    let err = anonymous
        .pull_policy(&reference)
        .expect_err("anonymous pull");
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    let good = reg.client_with(DockerConfig::from_path(&config_path).expect("cfg"));
    assert_eq!(good.pull_policy(&reference).expect("pull").module, module);
}

/// policy-host/registry.sh starts a usable registry and stops it (storage removed).
#[test]
fn the_registry_script_starts_and_stops() {
    if !registry_binary().is_file() {
        let _ =
            missing("the registry binary is not installed: `apt-get install -y docker-registry`");
        return;
    }
    let state = tempfile::tempdir().expect("tmp");
    let state_dir = state.path().join("registry");
    let script = repo_root().join("policy-host/registry.sh");
    let port = free_port();
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .args(args)
            .env("POLICY_OCI_REGISTRY_DIR", &state_dir)
            .env("DOCKER_REGISTRY_BIN", registry_binary())
            .output()
            .expect("run registry.sh")
    };
    let started = run(&["start", &port.to_string()]);
    let addr = format!("127.0.0.1:{port}");
    let stop_guard = StopOnDrop(&script, &state_dir);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&started.stdout).trim(), addr);
    assert!(run(&["status"]).status.success());

    let client = Registry::new(RegistryOptions {
        sources: Sources::from_yaml(&format!("insecure_sources: [\"{addr}\"]")).expect("sources"),
        ..Default::default()
    });
    let module = small_annotated_module();
    let reference = policy_ref(&format!("{addr}/{REPO}:v1"));
    client
        .push_policy(&module, &reference, false)
        .expect("push");
    assert_eq!(client.pull_policy(&reference).expect("pull").module, module);

    let stopped = run(&["stop"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    drop(stop_guard);
    assert!(!state_dir.exists(), "the storage is removed");
    assert!(!run(&["status"]).status.success());
    let err = client.pull_policy(&reference).expect_err("stopped");
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

/// Stops the script's registry even when an assertion fails.
struct StopOnDrop<'a>(&'a Path, &'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.0)
            .arg("stop")
            .env("POLICY_OCI_REGISTRY_DIR", self.1)
            .output();
    }
}

/// A raw HTTP look at the registry, independent of oci-client: the tag
/// resolves to the digest push printed.
#[test]
fn the_registry_serves_the_pushed_digest() {
    let Some(reg) = TestRegistry::start() else {
        return;
    };
    let pushed = reg
        .client()
        .push_policy(
            &small_annotated_module(),
            &policy_ref(&format!("{}/{REPO}:v1", reg.addr)),
            false,
        )
        .expect("push");
    let mut stream = std::net::TcpStream::connect(&reg.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "HEAD /v2/{REPO}/manifests/v1 HTTP/1.0\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let header = response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("docker-content-digest:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no digest header in {response}"));
    assert_eq!(header, pushed.digest);
    let content_type = response
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    assert_eq!(
        content_type, "application/vnd.oci.image.manifest.v1+json",
        "{response}"
    );
}
