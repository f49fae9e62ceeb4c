//! A waPC host built from the engine crates of Kubewarden's policy-server
//! (wapc + wasmtime-provider + wasmtime, WASI preview1 linked, stdio
//! inherited), evaluating a policy module the way policy-evaluator does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wapc::WapcHost;
use wasmtime_provider::wasmtime;
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

use crate::error::{Error, ErrorKind, Result, ResultExt as _};
use crate::input::{admission_request, normalize_settings};
use crate::metadata::{ExecutionMode, Metadata, ProtocolVersion};
use crate::replay::{ReplaySession, requested_resource};
use crate::response::{AdmissionResponse, SettingsValidationResponse, ValidationResponse};

/// policy-server's default evaluation timeout (`--policy-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Period of the epoch ticker; the timeout is enforced with this precision.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// How to load a module.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Deadline of every guest call (`wapc_init` included), enforced with
    /// wasmtime epoch interruption like policy-server. `None`: no deadline.
    pub timeout: Option<Duration>,
    /// Refuse a module without the `io.kubewarden.metadata` section or
    /// without `protocolVersion: v1` in it (what policy-server does).
    /// Only the annotate tool turns this off.
    pub require_annotation: bool,
    /// Print the policy's log events (`kubewarden/tracing/log`) on stderr.
    /// They are always recorded on the [`PolicyInstance`] too.
    pub log_to_stderr: bool,
    /// Directory of wasmtime's compilation cache (compiled code is reused
    /// across processes). `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Recorded answers to the policy's `kubewarden/kubernetes/*` host
    /// calls (`--replay-host-capabilities-interactions`). `None`: every
    /// such call fails as on a policy-server without a cluster connection.
    pub replay: Option<Arc<ReplaySession>>,
    /// Write `/tmp/perf-<pid>.map` (wasmtime's perf map: the address range
    /// and name of every compiled wasm function), so that a profiler of
    /// the host process (`policy-bench`'s `instructions` under callgrind)
    /// can name the guest's functions. Off in every real use.
    pub perf_map: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            timeout: Some(DEFAULT_TIMEOUT),
            require_annotation: true,
            log_to_stderr: true,
            cache_dir: None,
            replay: None,
            perf_map: false,
        }
    }
}

/// A compiled policy: wasmtime `Engine` + `Module` (and the pre-linked
/// instance template) created once, from which any number of fresh waPC
/// instances are made. Cheap to share across threads (`Send + Sync`).
pub struct PolicyModule {
    engine: wasmtime::Engine,
    pre: WasmtimeEngineProviderPre,
    metadata: Option<Metadata>,
    deadlines: Option<EpochDeadlines>,
    log_to_stderr: bool,
    replay: Option<Arc<ReplaySession>>,
}

impl std::fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyModule")
            .field("metadata", &self.metadata)
            .field("deadlines", &self.deadlines)
            .finish_non_exhaustive()
    }
}

impl PolicyModule {
    /// Load an annotated module from a file with the default options.
    pub fn load(path: impl AsRef<Path>) -> Result<PolicyModule> {
        Self::load_with(path, &HostOptions::default())
    }

    /// Load a module from a file.
    pub fn load_with(path: impl AsRef<Path>, options: &HostOptions) -> Result<PolicyModule> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("cannot read wasm module {}", path.display()), e))?;
        Self::from_bytes_with(&bytes, options).with_context(|| format!("module {}", path.display()))
    }

    /// Load an annotated module from memory with the default options.
    pub fn from_bytes(bytes: &[u8]) -> Result<PolicyModule> {
        Self::from_bytes_with(bytes, &HostOptions::default())
    }

    /// Load a module from memory.
    pub fn from_bytes_with(bytes: &[u8], options: &HostOptions) -> Result<PolicyModule> {
        let metadata = Metadata::from_wasm(bytes)?;
        if options.require_annotation {
            check_annotation(metadata.as_ref())?;
        }

        let mut config = wasmtime::Config::new();
        if options.timeout.is_some() {
            config.epoch_interruption(true);
        }
        if options.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = &options.cache_dir {
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            let cache = wasmtime::Cache::new(cache_config).map_err(|e| {
                Error::new(
                    ErrorKind::Engine,
                    format!("cannot set up the wasmtime cache in {}: {e}", dir.display()),
                )
            })?;
            config.cache(Some(cache));
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| {
            Error::new(
                ErrorKind::Engine,
                format!("cannot create the wasmtime engine: {e}"),
            )
        })?;
        let module = wasmtime::Module::new(&engine, bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidModule,
                format!("cannot compile the wasm module: {e:?}"),
            )
        })?;
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module)
            .build_pre()
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidModule,
                    format!("cannot link the wasm module (waPC + WASI preview1): {e}"),
                )
            })?;

        let deadlines = options.timeout.map(|timeout| {
            start_epoch_ticker(&engine);
            let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
            let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
            EpochDeadlines {
                wapc_init: ticks,
                wapc_func: ticks,
            }
        });

        Ok(PolicyModule {
            engine,
            pre,
            metadata,
            deadlines,
            log_to_stderr: options.log_to_stderr,
            replay: options.replay.clone(),
        })
    }

    /// The metadata read from the module's custom section (always present for
    /// a module loaded with `require_annotation`).
    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// The wasmtime engine the module was compiled with.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// A fresh waPC instance (new store, `_start`/`wapc_init` run), what
    /// policy-server creates for every evaluation.
    pub fn instantiate(&self) -> Result<PolicyInstance> {
        self.instantiate_with(self.replay.clone())
    }

    /// A fresh instance whose context-aware host calls are answered from
    /// `replay` (instead of the module's [`HostOptions::replay`]).
    pub fn instantiate_with(&self, replay: Option<Arc<ReplaySession>>) -> Result<PolicyInstance> {
        let provider = self.pre.rehydrate(self.deadlines).map_err(|e| {
            Error::new(
                ErrorKind::Engine,
                format!("cannot create a wasmtime instance: {e}"),
            )
        })?;
        let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
        let granted = self
            .metadata
            .as_ref()
            .map(|m| {
                m.context_aware_resources
                    .iter()
                    .map(|r| (r.api_version.clone(), r.kind.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let cluster = Cluster { granted, replay };
        let callback = host_callback(logs.clone(), self.log_to_stderr, cluster);
        let host = WapcHost::new(Box::new(provider), Some(callback)).map_err(|e| {
            Error::new(
                ErrorKind::Guest,
                format!("cannot instantiate the policy: {e}"),
            )
        })?;
        Ok(PolicyInstance { host, logs })
    }

    /// Validate settings in a fresh instance.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidationResponse> {
        Ok(self.instantiate()?.validate_settings(settings))
    }

    /// Evaluate a request (a bare AdmissionRequest or an AdmissionReview) with
    /// settings in a fresh instance. Guest failures are part of the response
    /// (500); `Err` only for bad input or a module that cannot instantiate.
    pub fn evaluate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        self.instantiate()?.evaluate(request, settings)
    }

    /// [`PolicyModule::evaluate`] with the cluster answers of `replay`.
    pub fn evaluate_with(
        &self,
        request: &Value,
        settings: &Value,
        replay: Option<Arc<ReplaySession>>,
    ) -> Result<AdmissionResponse> {
        self.instantiate_with(replay)?.evaluate(request, settings)
    }

    /// Ask the module for its waPC protocol version (what `kwctl annotate`
    /// does).
    pub fn protocol_version(&self) -> Result<ProtocolVersion> {
        self.instantiate()?.protocol_version()
    }
}

/// Refuse a module policy-server would refuse.
fn check_annotation(metadata: Option<&Metadata>) -> Result<()> {
    let Some(metadata) = metadata else {
        return Err(Error::new(
            ErrorKind::NotAnnotated,
            format!(
                "the module is not annotated: it has no `{}` custom section; policy-server refuses to load it (annotate it first)",
                crate::metadata::METADATA_SECTION
            ),
        ));
    };
    if metadata.execution_mode != ExecutionMode::KubewardenWapc {
        return Err(Error::new(
            ErrorKind::InvalidModule,
            format!(
                "the module's metadata declares execution mode `{}`; this host only runs kubewarden-wapc policies",
                metadata.execution_mode
            ),
        ));
    }
    if metadata.protocol_version != Some(ProtocolVersion::V1) {
        return Err(Error::new(
            ErrorKind::NotAnnotated,
            format!(
                "the module's metadata does not declare `protocolVersion: v1` (found {:?}); policy-server refuses to load it",
                metadata.protocol_version
            ),
        ));
    }
    Ok(())
}

/// One waPC instance. Several calls may be made on it (faster than a fresh
/// instance per call, but state left by one call is seen by the next).
pub struct PolicyInstance {
    host: WapcHost,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl std::fmt::Debug for PolicyInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyInstance").finish_non_exhaustive()
    }
}

impl PolicyInstance {
    /// Raw waPC call.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, wapc::errors::Error> {
        self.host.call(operation, payload)
    }

    /// Call the guest's `validate_settings` with the settings JSON alone, as
    /// policy-evaluator does (including its messages on failure).
    pub fn validate_settings(&self, settings: &Value) -> SettingsValidationResponse {
        let settings = match normalize_settings(settings.clone()) {
            Ok(s) => s,
            Err(e) => {
                return SettingsValidationResponse {
                    valid: false,
                    message: Some(e.to_string()),
                };
            }
        };
        let payload = settings.to_string();
        match self.host.call("validate_settings", payload.as_bytes()) {
            Ok(res) => {
                serde_json::from_slice::<SettingsValidationResponse>(&res).unwrap_or_else(|e| {
                    SettingsValidationResponse {
                        valid: false,
                        message: Some(format!("error: cannot convert response: {e:?}")),
                    }
                })
            }
            Err(err) => SettingsValidationResponse {
                valid: false,
                message: Some(format!(
                    "Error invoking settings validation callback: {err:?}"
                )),
            },
        }
    }

    /// Call the guest's `validate` with `{"request": ..., "settings": ...}`
    /// and build the AdmissionResponse as policy-evaluator does.
    pub fn evaluate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        let request = admission_request(request.clone())?;
        let settings = normalize_settings(settings.clone())?;
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let payload = validate_payload(&request, &settings);
        let response = match self.host.call("validate", payload.as_bytes()) {
            Ok(res) => match serde_json::from_slice::<ValidationResponse>(&res) {
                Ok(vr) => AdmissionResponse::from_validation_response(
                    uid.clone(),
                    request.get("object"),
                    &vr,
                )
                .unwrap_or_else(|e| {
                    AdmissionResponse::reject_internal_server_error(uid, &e.to_string())
                }),
                Err(e) => AdmissionResponse::reject_internal_server_error(
                    uid,
                    &format!("cannot deserialize policy validation response: {e:?}"),
                ),
            },
            Err(e) => AdmissionResponse::reject_internal_server_error(uid, &e.to_string()),
        };
        Ok(response)
    }

    /// Call the guest's `protocol_version` (answers the JSON string `"v1"`).
    pub fn protocol_version(&self) -> Result<ProtocolVersion> {
        let res = self.host.call("protocol_version", &[]).map_err(|e| {
            Error::new(
                ErrorKind::Guest,
                format!("cannot invoke the 'protocol_version' waPC function: {e}"),
            )
        })?;
        serde_json::from_slice(&res).map_err(|e| {
            Error::new(
                ErrorKind::Guest,
                format!(
                    "cannot create a ProtocolVersion from {:?}: {e}",
                    String::from_utf8_lossy(&res)
                ),
            )
        })
    }

    /// The log events the policy sent so far (each the JSON event of the
    /// SDK's KubewardenDrain: `level`, `message`, `file`, `line`, ...).
    pub fn logs(&self) -> Vec<Value> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The payload of the guest's `validate`: `{"request": <AdmissionRequest>,
/// "settings": <settings>}`.
pub fn validate_payload(request: &Value, settings: &Value) -> String {
    json!({"request": request, "settings": settings}).to_string()
}

/// What the host knows of the cluster.
struct Cluster {
    /// The module's `contextAwareResources` as `(apiVersion, kind)`: what
    /// `kwctl run --allow-context-aware` grants.
    granted: Vec<(String, String)>,
    replay: Option<Arc<ReplaySession>>,
}

impl Cluster {
    /// A `kubewarden/kubernetes/<operation>` call, answered as
    /// policy-evaluator 0.30.4 does (`src/runtimes/callback.rs`): refused
    /// for a resource not granted, then from the recorded session, or the
    /// error of a host without a Kubernetes client.
    fn answer(&self, operation: &str, payload: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let (api_version, kind) = requested_resource(payload)?;
        if !self
            .granted
            .iter()
            .any(|(v, k)| *v == api_version && *k == kind)
        {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported."
            ));
        }
        match &self.replay {
            Some(session) => session.answer(operation, payload),
            None => Err("kube::Client was not initialized properly (no cluster connection; give recorded answers with --replay-host-capabilities-interactions)".into()),
        }
    }
}

/// Host calls: `kubewarden/tracing/log` is printed and recorded;
/// `kubewarden/kubernetes/*` answered by [`Cluster::answer`]; everything
/// else (sigstore, DNS, ...) answers an error.
fn host_callback(
    logs: Arc<Mutex<Vec<Value>>>,
    to_stderr: bool,
    cluster: Cluster,
) -> Box<wapc::HostCallback> {
    Box::new(
        move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
            match (binding, namespace, operation) {
                ("kubewarden", "tracing", "log") => {
                    let event: Value = serde_json::from_slice(payload)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into()));
                    if to_stderr {
                        eprintln!("{}", format_log_event(&event));
                    }
                    if let Ok(mut l) = logs.lock() {
                        l.push(event);
                    }
                    Ok(Vec::new())
                }
                ("kubewarden", "kubernetes", operation) => {
                    cluster.answer(operation, payload).map_err(Into::into)
                }
                _ => Err(format!(
                    "host call {binding}/{namespace}/{operation} is not supported by this host (only kubewarden/tracing/log and kubewarden/kubernetes/* are)"
                )
                .into()),
            }
        },
    )
}

/// One human line for a log event: `policy <LEVEL> <message> k=v ...`.
pub fn format_log_event(event: &Value) -> String {
    let Some(map) = event.as_object() else {
        return format!("policy log: {event}");
    };
    let level = map.get("level").and_then(Value::as_str).unwrap_or("info");
    let message = map.get("message").and_then(Value::as_str).unwrap_or("");
    let mut line = format!("policy {} {message}", level.to_uppercase());
    for (k, v) in map {
        if matches!(k.as_str(), "level" | "message" | "line" | "column" | "file") {
            continue;
        }
        match v {
            Value::String(s) => line.push_str(&format!(" {k}={s:?}")),
            other => line.push_str(&format!(" {k}={other}")),
        }
    }
    line
}

/// Tick the engine's epoch until the engine is dropped.
fn start_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        // Without a ticker the deadline never fires; say so rather than hang
        // silently later.
        eprintln!("warning: cannot start the epoch ticker thread, no evaluation timeout: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[u8] = br#"{"api_version":"storage.k8s.io/v1","kind":"StorageClass","label_selector":null,"field_selector":null,"field_masks":["metadata.name"]}"#;

    fn session() -> Arc<ReplaySession> {
        let yaml = "- type: Exchange\n  request: |\n    !KubernetesListResourceAll\n    api_version: storage.k8s.io/v1\n    kind: StorageClass\n    label_selector: null\n    field_selector: null\n  response:\n    type: Success\n    payload: '{\"items\": []}'\n";
        Arc::new(ReplaySession::from_yaml(yaml).expect("a session"))
    }

    #[test]
    fn only_granted_resources_are_answered() {
        let granted = vec![("storage.k8s.io/v1".to_string(), "StorageClass".to_string())];
        let cluster = Cluster {
            granted: granted.clone(),
            replay: Some(session()),
        };
        assert_eq!(
            cluster.answer("list_resources_all", LIST).unwrap(),
            br#"{"items": []}"#
        );
        let other = br#"{"api_version":"v1","kind":"Secret"}"#;
        assert_eq!(
            cluster.answer("list_resources_all", other).unwrap_err(),
            "Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported."
        );
        let ungranted = Cluster {
            granted: Vec::new(),
            replay: Some(session()),
        };
        assert!(ungranted.answer("list_resources_all", LIST).is_err());
        let unconnected = Cluster {
            granted,
            replay: None,
        };
        assert!(
            unconnected
                .answer("list_resources_all", LIST)
                .unwrap_err()
                .starts_with("kube::Client was not initialized properly")
        );
    }
}
