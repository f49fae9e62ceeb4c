//! Helpers shared by the integration tests: where the policy lives, a shared
//! compiled module, and a generator of tiny waPC guests written in WAT.
#![allow(dead_code)]

pub mod registry;

/// The project's command-line tool, built by cargo for these tests.
pub const TOOL: &str = env!("CARGO_BIN_EXE_daemonset-csi-policy");

/// `daemonset-csi-policy SUBCOMMAND`.
pub fn tool(subcommand: &str) -> std::process::Command {
    let mut command = std::process::Command::new(TOOL);
    command.arg(subcommand);
    command
}

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use policy_host::{HostOptions, PolicyModule};

/// Environment variable naming the annotated module to test.
pub const POLICY_ENV: &str = "E2E_POLICY_WASM";

/// The repository root (the parent of policy-host/).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `$E2E_POLICY_WASM`, or `annotated-policy.wasm` at the repository root.
pub fn policy_path() -> PathBuf {
    match std::env::var_os(POLICY_ENV) {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("annotated-policy.wasm"),
    }
}

/// wasmtime's compilation cache for the tests: nextest runs every test in its
/// own process, and compiling the policy with a debug-built Cranelift takes
/// seconds, so compiled code is shared through `target/tmp`.
pub fn wasmtime_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")
}

/// The annotated policy, compiled once per test process (and cached across
/// processes).
pub fn policy() -> Result<&'static PolicyModule, String> {
    static POLICY: OnceLock<Result<PolicyModule, String>> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            let path = policy_path();
            if !path.exists() {
                return Err(format!(
                    "{} does not exist: run `make annotated-policy.wasm` (or `make host-tests`) first, or set {POLICY_ENV}",
                    path.display()
                ));
            }
            let options = HostOptions {
                log_to_stderr: false,
                cache_dir: Some(wasmtime_cache_dir()),
                ..HostOptions::default()
            };
            PolicyModule::load_with(&path, &options).map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What a mock guest does when one of its waPC operations is called.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Answer these bytes.
    Respond(String),
    /// Answer the request payload itself.
    Echo,
    /// Execute `unreachable` (what a Rust panic becomes).
    Trap,
    /// Loop forever (only an epoch deadline stops it).
    Loop,
    /// Report a guest error (what an `Err` from a waPC handler becomes).
    GuestError(String),
    /// Send this log event through `kubewarden/tracing/log`, then answer.
    LogThenRespond { event: String, respond: String },
    /// Make the host call `binding/namespace/operation`, then answer `true`
    /// when the host answered success, `false` otherwise.
    HostCall {
        binding: String,
        namespace: String,
        operation: String,
    },
    /// Answer the bytes on the first call made on this instance, trap on the
    /// next ones (shows whether an instance is reused).
    RespondOnceThenTrap(String),
}

/// Build a waPC guest module (WAT compiled to wasm) answering `operations`.
/// An operation it does not know answers a guest error, like wapc-guest.
pub fn mock_guest(operations: &[(&str, Behavior)]) -> Vec<u8> {
    let mut data = DataSegments::default();
    let mut body = String::new();
    for (op, behavior) in operations {
        let (op_ptr, op_len) = data.add(op.as_bytes());
        let action = match behavior {
            Behavior::Respond(s) => {
                let (p, l) = data.add(s.as_bytes());
                format!("(call $guest_response (i32.const {p}) (i32.const {l})) (return (i32.const 1))")
            }
            Behavior::Echo => {
                "(call $guest_response (i32.const 65536) (local.get $msg_len)) (return (i32.const 1))"
                    .to_string()
            }
            Behavior::Trap => "unreachable".to_string(),
            Behavior::Loop => "(loop $forever (br $forever)) (return (i32.const 0))".to_string(),
            Behavior::GuestError(s) => {
                let (p, l) = data.add(s.as_bytes());
                format!("(call $guest_error (i32.const {p}) (i32.const {l})) (return (i32.const 0))")
            }
            Behavior::LogThenRespond { event, respond } => {
                let (bp, bl) = data.add(b"kubewarden");
                let (np, nl) = data.add(b"tracing");
                let (op2, ol) = data.add(b"log");
                let (ep, el) = data.add(event.as_bytes());
                let (rp, rl) = data.add(respond.as_bytes());
                format!(
                    "(drop (call $host_call (i32.const {bp}) (i32.const {bl}) (i32.const {np}) (i32.const {nl}) (i32.const {op2}) (i32.const {ol}) (i32.const {ep}) (i32.const {el})))
                     (call $guest_response (i32.const {rp}) (i32.const {rl})) (return (i32.const 1))"
                )
            }
            Behavior::HostCall {
                binding,
                namespace,
                operation,
            } => {
                let (bp, bl) = data.add(binding.as_bytes());
                let (np, nl) = data.add(namespace.as_bytes());
                let (op2, ol) = data.add(operation.as_bytes());
                let (tp, tl) = data.add(b"true");
                let (fp, fl) = data.add(b"false");
                format!(
                    "(if (call $host_call (i32.const {bp}) (i32.const {bl}) (i32.const {np}) (i32.const {nl}) (i32.const {op2}) (i32.const {ol}) (i32.const 0) (i32.const 0))
                       (then (call $guest_response (i32.const {tp}) (i32.const {tl})))
                       (else (call $guest_response (i32.const {fp}) (i32.const {fl}))))
                     (return (i32.const 1))"
                )
            }
            Behavior::RespondOnceThenTrap(s) => {
                let (p, l) = data.add(s.as_bytes());
                format!(
                    "(if (global.get $calls) (then unreachable))
                     (global.set $calls (i32.const 1))
                     (call $guest_response (i32.const {p}) (i32.const {l})) (return (i32.const 1))"
                )
            }
        };
        body.push_str(&format!(
            "(if (call $eq (local.get $op_len) (i32.const {op_ptr}) (i32.const {op_len})) (then {action}))\n"
        ));
    }
    let (np, nl) = data.add(b"No handler registered for the requested operation");
    let wat = format!(
        r#"(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 64)
  (global $calls (mut i32) (i32.const 0))
  {segments}
  ;; compare the operation name (at 0, length $len) with the bytes at $p
  (func $eq (param $len i32) (param $p i32) (param $plen i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $len) (local.get $plen)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (local.get $i))
                    (i32.load8_u (i32.add (local.get $p) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    ;; operation name at 0 (< 1 KiB), payload at 64 KiB (< 4 MiB - 64 KiB)
    (call $guest_request (i32.const 0) (i32.const 65536))
    {body}
    (call $guest_error (i32.const {np}) (i32.const {nl}))
    (i32.const 0)))"#,
        segments = data.wat(),
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("mock guest does not assemble: {e}\n{wat}"))
}

/// Static data placed from 1 KiB up (the operation name goes at 0).
#[derive(Default)]
struct DataSegments {
    next: usize,
    segments: Vec<(usize, Vec<u8>)>,
}

impl DataSegments {
    fn add(&mut self, bytes: &[u8]) -> (usize, usize) {
        let ptr = 1024 + self.next;
        self.next += bytes.len() + 1;
        assert!(ptr + bytes.len() < 65536, "mock guest data too large");
        self.segments.push((ptr, bytes.to_vec()));
        (ptr, bytes.len())
    }

    fn wat(&self) -> String {
        self.segments
            .iter()
            .map(|(ptr, bytes)| {
                let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
                format!("(data (i32.const {ptr}) \"{escaped}\")\n")
            })
            .collect()
    }
}

/// A `metadata.yml` for mock guests.
pub const MOCK_METADATA_YML: &str = r#"
rules:
  - apiGroups: ["apps"]
    apiVersions: ["v1"]
    resources: ["daemonsets"]
    operations: ["CREATE", "UPDATE"]
mutating: true
annotations:
  io.kubewarden.policy.title: mock
"#;

/// A mock guest that answers `protocol_version` with `"v1"` plus `operations`,
/// annotated with [`MOCK_METADATA_YML`].
pub fn annotated_mock(operations: &[(&str, Behavior)]) -> Vec<u8> {
    let mut ops: Vec<(&str, Behavior)> =
        vec![("protocol_version", Behavior::Respond("\"v1\"".into()))];
    ops.extend(operations.iter().cloned());
    let module = mock_guest(&ops);
    policy_host::annotate(&module, MOCK_METADATA_YML, Some("mock usage"))
        .expect("mock guest annotates")
        .0
}

/// Options for mock guests: quiet, short deadline.
pub fn quiet_options() -> HostOptions {
    HostOptions {
        log_to_stderr: false,
        ..HostOptions::default()
    }
}

/// A DaemonSet AdmissionRequest for host tests.
pub fn daemonset_request(operation: &str) -> serde_json::Value {
    let object = if operation == "DELETE" {
        serde_json::Value::Null
    } else {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "ds", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
        })
    };
    serde_json::json!({
        "uid": "mock-uid",
        "kind": {"group": "apps", "version": "v1", "kind": "DaemonSet"},
        "resource": {"group": "apps", "version": "v1", "resource": "daemonsets"},
        "name": "ds", "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "tester"},
        "object": object
    })
}

/// A scratch directory, unique per process and call, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "e2e-{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
