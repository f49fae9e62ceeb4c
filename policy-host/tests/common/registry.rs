//! Test harness: a real OCI registry (the CNCF distribution registry, Debian
//! package `docker-registry`) on 127.0.0.1, one per test, with its storage
//! in a temporary directory; stopped (killed) and deleted on drop, whatever
//! the outcome of the test.
//!
//! Without the registry binary, a test FAILS when `POLICY_OCI_REQUIRE_REGISTRY`
//! is set (`make oci-tests` sets it) and is skipped with a loud message
//! otherwise (plain `cargo test --workspace` on a machine without it).

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use policy_host::oci::{DockerConfig, Registry, RegistryOptions, Sources};

use super::repo_root;

pub const REQUIRE_ENV: &str = "POLICY_OCI_REQUIRE_REGISTRY";

pub fn registry_binary() -> PathBuf {
    std::env::var_os("DOCKER_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

fn required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Fail (when required) or skip loudly; `None` means skip.
pub fn missing(what: &str) -> Option<std::convert::Infallible> {
    if required() {
        panic!("{what} ({REQUIRE_ENV} is set, so this is a failure, not a skip)");
    }
    // Straight to the process's stderr: libtest does not capture this, so
    // the skip shows even in a passing run.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n!!!!!!!! SKIPPED: {what} (set {REQUIRE_ENV}=1 to make this a failure) !!!!!!!!\n"
    );
    None
}

pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:<port>`
    pub addr: String,
}

impl TestRegistry {
    /// An open registry (no authentication).
    pub fn start() -> Option<TestRegistry> {
        Self::start_inner(None)
    }

    /// A registry with htpasswd (bcrypt) basic authentication.
    pub fn start_with_user(user: &str, password: &str) -> Option<TestRegistry> {
        Self::start_inner(Some((user, password)))
    }

    fn start_inner(user: Option<(&str, &str)>) -> Option<TestRegistry> {
        let bin = registry_binary();
        if !bin.is_file() {
            missing(&format!(
                "the registry binary {} is not installed: `apt-get install -y docker-registry` (or set DOCKER_REGISTRY_BIN)",
                bin.display()
            ))?;
        }
        let mut last_log = String::new();
        // A freshly freed port can be taken in between: retry a few times.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let mut config = format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {addr}\n  secret: daemonset-csi-policy-tests\n",
                dir.path().join("data").display()
            );
            if let Some((user, password)) = user {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: daemonset-csi-policy-tests\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("registry config");
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).expect("registry log");
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut registry = TestRegistry { child, dir, addr };
            match registry.wait_ready(Duration::from_secs(15)) {
                Ok(()) => return Some(registry),
                Err(e) => {
                    last_log = format!("{e}\n{}", registry.log());
                    drop(registry);
                }
            }
        }
        panic!("the registry did not start:\n{last_log}");
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let addr: SocketAddr = self.addr.parse().map_err(|e| format!("{e}"))?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the registry exited at start ({status})"));
            }
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let _ = stream.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "the registry did not listen on {} within {within:?}",
            self.addr
        ))
    }

    /// The registry's storage root (`docker/registry/v2/...` below it).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file holding a blob's content in the filesystem storage driver.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// A sources file listing this registry as insecure (plain HTTP).
    pub fn sources(&self) -> Sources {
        Sources::from_yaml(&self.sources_yaml()).expect("sources")
    }

    pub fn sources_yaml(&self) -> String {
        format!("insecure_sources: [\"{}\"]\n", self.addr)
    }

    /// Write the sources file in the registry's temp dir; returns its path.
    pub fn sources_file(&self) -> PathBuf {
        let path = self.dir.path().join("sources.yml");
        std::fs::write(&path, self.sources_yaml()).expect("sources file");
        path
    }

    /// A client that speaks plain HTTP to this registry.
    pub fn client(&self) -> Registry {
        Registry::new(RegistryOptions {
            sources: self.sources(),
            timeout: Duration::from_secs(60),
            ..Default::default()
        })
    }

    pub fn client_with(&self, docker_config: DockerConfig) -> Registry {
        Registry::new(RegistryOptions {
            sources: self.sources(),
            docker_config,
            timeout: Duration::from_secs(60),
            ..Default::default()
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The annotated policy module built by `make annotated-policy.wasm`
/// (`POLICY_OCI_MODULE` overrides the path). `None` (skip) when missing,
/// unless required.
pub fn annotated_policy() -> Option<Vec<u8>> {
    let path = std::env::var_os("POLICY_OCI_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("annotated-policy.wasm"));
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            missing(&format!(
                "the annotated module {} cannot be read ({e}): run `make annotated-policy.wasm`",
                path.display()
            ))?;
            None
        }
    }
}

/// A tiny annotated module: an empty wasm module carrying the policy's
/// real metadata (from metadata.yml, with a multi-line usage annotation),
/// for the tests that do not evaluate anything.
pub fn small_annotated_module() -> Vec<u8> {
    let text = std::fs::read_to_string(repo_root().join("metadata.yml")).expect("metadata.yml");
    let mut metadata = policy_host::Metadata::from_yaml(&text).expect("metadata");
    metadata.protocol_version = Some(policy_host::metadata::ProtocolVersion::V1);
    let mut annotations = metadata.annotations();
    annotations.insert(
        "io.kubewarden.policy.usage".into(),
        "# daemonset-csi-policy\n\nA multi-line README.\n".into(),
    );
    metadata.annotations = Some(annotations);
    policy_host::metadata::write_metadata_section(b"\0asm\x01\0\0\0", &metadata)
        .expect("annotate the small module")
}

pub fn docker_config_json(addr: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths":{{"{addr}":{{"auth":"{auth}"}}}}}}"#)
}
