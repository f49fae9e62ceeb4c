//! From parsed manifests to AdmissionRequests, and their evaluation (in
//! parallel, one fresh instance per object, the module compiled once).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use serde_json::{Value, json};

use super::documents::{InputError, ParsedSource};
use super::targets::{Target, Targets, is_namespaced, split_api_version};
use crate::metadata::Operation;
use crate::{AdmissionResponse, PolicyModule};

/// Where an object was read: file, document number, item of a `List`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// 1-based document number in the file.
    pub document: usize,
    /// 0-based index in the `items` of a `List` document.
    pub item: Option<usize>,
    /// 1-based line where the document starts.
    pub line: usize,
}

impl fmt::Display for Location {
    /// `file:document`, or `file:document.items[i]` for an item of a List.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.document)?;
        if let Some(i) = self.item {
            write!(f, ".items[{i}]")?;
        }
        Ok(())
    }
}

/// Indexes of an object in the parsed sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectAt {
    pub source: usize,
    /// Index in `ParsedSource::documents` (not the document number).
    pub document: usize,
    pub item: Option<usize>,
}

/// An object found in the manifests.
#[derive(Debug, Clone)]
pub struct FoundObject<'a> {
    pub at: ObjectAt,
    pub location: Location,
    pub object: &'a Value,
}

/// Something in the manifests that is not a Kubernetes object (no
/// `apiVersion`/`kind`, or not a mapping): reported and skipped.
#[derive(Debug, Clone)]
pub struct NotAnObject {
    pub location: Location,
    pub reason: String,
}

/// Whether a document is a list of objects (`kind: List`, or any `*List`
/// kind with an `items` array, as `kubectl get -o yaml` prints).
pub fn is_list(object: &Value) -> bool {
    object
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && object.get("items").is_some_and(Value::is_array)
}

fn describe_json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

fn object_problem(value: &Value) -> Option<String> {
    if !value.is_object() {
        return Some(format!(
            "not a Kubernetes object: expected a mapping with apiVersion and kind, found {}",
            describe_json_type(value)
        ));
    }
    let has = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    match (has("apiVersion"), has("kind")) {
        (true, true) => None,
        (false, true) => Some("not a Kubernetes object: no apiVersion".into()),
        (true, false) => Some("not a Kubernetes object: no kind".into()),
        (false, false) => Some("not a Kubernetes object: no apiVersion and no kind".into()),
    }
}

/// Every object of the sources in order, `List` items expanded; empty
/// documents are left out.
pub fn find_objects(sources: &[ParsedSource]) -> (Vec<FoundObject<'_>>, Vec<NotAnObject>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        for (d, doc) in source.documents.iter().enumerate() {
            let Some(content) = &doc.content else {
                continue;
            };
            let location = |item| Location {
                file: source.source.display.clone(),
                document: doc.number,
                item,
                line: doc.line,
            };
            let value = &content.json;
            if is_list(value) {
                let items = value.get("items").and_then(Value::as_array);
                for (i, item) in items.into_iter().flatten().enumerate() {
                    match object_problem(item) {
                        Some(reason) => problems.push(NotAnObject {
                            location: location(Some(i)),
                            reason,
                        }),
                        None => found.push(FoundObject {
                            at: ObjectAt {
                                source: s,
                                document: d,
                                item: Some(i),
                            },
                            location: location(Some(i)),
                            object: item,
                        }),
                    }
                }
                continue;
            }
            match object_problem(value) {
                Some(reason) => problems.push(NotAnObject {
                    location: location(None),
                    reason,
                }),
                None => found.push(FoundObject {
                    at: ObjectAt {
                        source: s,
                        document: d,
                        item: None,
                    },
                    location: location(None),
                    object: value,
                }),
            }
        }
    }
    (found, problems)
}

/// The requesting user of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
}

/// Username used when no `--user` or `--service-account` is given (kubeadm's
/// admin).
pub const DEFAULT_USER: &str = "kubernetes-admin";
const AUTHENTICATED: &str = "system:authenticated";

impl UserInfo {
    /// A user: `username` (default [`DEFAULT_USER`], then in group
    /// `kubeadm:cluster-admins` unless groups are given), the groups given,
    /// and `system:authenticated`.
    pub fn user(username: Option<&str>, groups: &[String]) -> UserInfo {
        let mut all: Vec<String> = groups.to_vec();
        if username.is_none() && groups.is_empty() {
            all.push("kubeadm:cluster-admins".into());
        }
        if !all.iter().any(|g| g == AUTHENTICATED) {
            all.push(AUTHENTICATED.into());
        }
        UserInfo {
            username: username.unwrap_or(DEFAULT_USER).to_string(),
            groups: all,
        }
    }

    /// A ServiceAccount `namespace/name`: username
    /// `system:serviceaccount:<ns>:<name>`, groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<ns>`, `system:authenticated` (what the API
    /// server authenticates a ServiceAccount token as), plus `groups`.
    pub fn service_account(namespaced_name: &str, groups: &[String]) -> Result<UserInfo> {
        let Some((ns, name)) = namespaced_name.split_once('/') else {
            return Err(Error::invalid(format!(
                "--service-account {namespaced_name:?}: expected namespace/name"
            )));
        };
        if ns.is_empty() || name.is_empty() || name.contains('/') {
            return Err(Error::invalid(format!(
                "--service-account {namespaced_name:?}: expected namespace/name"
            )));
        }
        let mut all = vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
            AUTHENTICATED.to_string(),
        ];
        for g in groups {
            if !all.contains(g) {
                all.push(g.clone());
            }
        }
        Ok(UserInfo {
            username: format!("system:serviceaccount:{ns}:{name}"),
            groups: all,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({"username": self.username, "groups": self.groups})
    }
}

/// Which operation the requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationMode {
    /// Every object is created.
    Create,
    /// Every object updates itself (`oldObject` is the object): what
    /// re-applying unchanged manifests sends.
    UpdateSelf,
    /// An object with an old version (matched by group, kind, namespace and
    /// name) updates it; the others are created.
    AgainstOld,
}

/// How requests are built.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// Namespace of namespaced objects that have none.
    pub default_namespace: String,
    pub user: UserInfo,
    pub operation: OperationMode,
}

/// Identity used to match an object with its old version.
pub type ObjectKey = (String, String, String, String);

/// The namespace an object is created in: its own, the default one for a
/// namespaced kind, none for a cluster-scoped kind.
pub fn effective_namespace(object: &Value, default_namespace: &str) -> Option<String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, _) = split_api_version(api_version);
    if !is_namespaced(group, kind) {
        return None;
    }
    let own = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    Some(own.unwrap_or(default_namespace).to_string())
}

/// `(group, kind, namespace, name)` of an object.
pub fn object_key(object: &Value, default_namespace: &str) -> ObjectKey {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, _) = split_api_version(api_version);
    (
        group.to_string(),
        object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        effective_namespace(object, default_namespace).unwrap_or_default(),
        object_name(object).to_string(),
    )
}

/// `metadata.name`, or `""`.
pub fn object_name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Index old objects by [`object_key`]; two old objects with one key are an
/// input error.
pub fn index_old_objects(
    found: &[FoundObject<'_>],
    default_namespace: &str,
) -> Result<HashMap<ObjectKey, Value>, Vec<InputError>> {
    let mut map: HashMap<ObjectKey, (Value, Location)> = HashMap::new();
    let mut errors = Vec::new();
    for f in found {
        let key = object_key(f.object, default_namespace);
        if let Some((_, first)) = map.get(&key) {
            errors.push(InputError {
                file: f.location.file.clone(),
                document: Some(f.location.document),
                message: format!(
                    "old {} {} is also at {first}",
                    key.1,
                    display_name(key.2.as_str(), key.3.as_str())
                ),
            });
            continue;
        }
        map.insert(key, (f.object.clone(), f.location.clone()));
    }
    if errors.is_empty() {
        Ok(map.into_iter().map(|(k, (v, _))| (k, v)).collect())
    } else {
        Err(errors)
    }
}

/// `ns/name` or `name`.
pub fn display_name(namespace: &str, name: &str) -> String {
    let name = if name.is_empty() { "(no name)" } else { name };
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// An object to evaluate.
#[derive(Debug, Clone)]
pub struct Planned {
    pub at: ObjectAt,
    pub location: Location,
    pub target: Target,
    pub namespace: Option<String>,
    pub name: String,
    pub operation: Operation,
    pub request: Value,
    /// The namespace written into the request's object because the manifest
    /// had none (removed again from the `--fix` output).
    pub injected_namespace: Option<String>,
}

/// An object the policy does not see.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub location: Location,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub reason: String,
}

/// Give the object the namespace the API server would (namespaced kinds
/// only). Returns the namespace written, if any.
fn inject_namespace(object: &mut Value, namespace: &str) -> Option<String> {
    let has = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if has {
        return None;
    }
    let map = object.as_object_mut()?;
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let metadata = metadata.as_object_mut()?;
    metadata.insert("namespace".into(), Value::String(namespace.to_string()));
    Some(namespace.to_string())
}

/// A request uid: a UUID-shaped counter, stable from run to run.
pub fn request_uid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{:012x}", n + 1)
}

/// Plan every object: the targeted ones become AdmissionRequests, the rest
/// are skipped with the reason.
pub fn plan(
    found: &[FoundObject<'_>],
    targets: &Targets,
    options: &RequestOptions,
    old: &HashMap<ObjectKey, Value>,
) -> (Vec<Planned>, Vec<Skipped>) {
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for f in found {
        let object = f.object;
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = object_name(object).to_string();
        let key = object_key(object, &options.default_namespace);
        let old_object = match options.operation {
            OperationMode::Create => None,
            OperationMode::UpdateSelf => Some(object.clone()),
            OperationMode::AgainstOld => old.get(&key).cloned(),
        };
        let operation = if old_object.is_some() {
            Operation::Update
        } else {
            Operation::Create
        };
        let Some(target) = targets.resolve(api_version, kind, operation) else {
            skipped.push(Skipped {
                location: f.location.clone(),
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                namespace: effective_namespace(object, &options.default_namespace),
                name,
                reason: format!(
                    "{kind} ({api_version}) is not among the resources the policy evaluates"
                ),
            });
            continue;
        };
        let namespace = target
            .namespaced
            .then(|| key.2.clone())
            .filter(|s| !s.is_empty());
        let mut request_object = object.clone();
        let injected = namespace
            .as_deref()
            .and_then(|ns| inject_namespace(&mut request_object, ns));
        let old_object = old_object.map(|mut o| {
            if let Some(ns) = namespace.as_deref() {
                inject_namespace(&mut o, ns);
            }
            o
        });
        let request = build_request(
            &target,
            operation,
            namespace.as_deref(),
            &name,
            &options.user,
            request_object,
            old_object,
            planned.len(),
        );
        planned.push(Planned {
            at: f.at,
            location: f.location.clone(),
            target,
            namespace,
            name,
            operation,
            request,
            injected_namespace: injected,
        });
    }
    (planned, skipped)
}

/// An admission/v1 AdmissionRequest as the API server sends it.
#[allow(clippy::too_many_arguments)]
pub fn build_request(
    target: &Target,
    operation: Operation,
    namespace: Option<&str>,
    name: &str,
    user: &UserInfo,
    object: Value,
    old_object: Option<Value>,
    n: usize,
) -> Value {
    let kind = json!({"group": target.group, "version": target.version, "kind": target.kind});
    let resource =
        json!({"group": target.group, "version": target.version, "resource": target.resource});
    let (op, options_kind) = match operation {
        Operation::Update => ("UPDATE", "UpdateOptions"),
        _ => ("CREATE", "CreateOptions"),
    };
    let mut request = json!({
        "uid": request_uid(n),
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "operation": op,
        "userInfo": user.to_json(),
        "object": object,
        "oldObject": old_object.unwrap_or(Value::Null),
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
    });
    if let Some(map) = request.as_object_mut() {
        if !name.is_empty() {
            map.insert("name".into(), Value::String(name.to_string()));
        }
        if let Some(ns) = namespace {
            map.insert("namespace".into(), Value::String(ns.to_string()));
        }
    }
    request
}

/// The answer for one request, and how long it took.
#[derive(Debug)]
pub struct Evaluated {
    pub response: AdmissionResponse,
    pub duration: Duration,
}

/// Evaluate every request on `jobs` threads (a fresh instance per request,
/// like policy-server). Results are in request order. An `Err` is a request
/// the host could not run at all (not a rejection).
pub fn evaluate_all(
    module: &PolicyModule,
    settings: &Value,
    requests: &[&Value],
    jobs: usize,
) -> Vec<Result<Evaluated>> {
    let jobs = jobs.clamp(1, requests.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Evaluated>>> = Vec::new();
    results.resize_with(requests.len(), || None);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(request) = requests.get(i) else {
                            break;
                        };
                        let started = Instant::now();
                        let result = module
                            .evaluate(request, settings)
                            .map(|response| Evaluated {
                                response,
                                duration: started.elapsed(),
                            });
                        done.push((i, result));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, r) in done {
                        results[i] = Some(r);
                    }
                }
                Err(_) => {
                    // A panicking worker leaves its slots empty: reported below.
                }
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::internal("the evaluation thread panicked"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::documents::{Source, parse_source};
    use crate::metadata::Rule;

    fn parsed(text: &str) -> ParsedSource {
        parse_source(Source {
            display: "f.yaml".into(),
            relative: "f.yaml".into(),
            json: false,
            text: text.into(),
        })
        .unwrap()
    }

    fn targets() -> Targets {
        Targets::from_rules(vec![
            Rule {
                api_groups: vec!["apps".into()],
                api_versions: vec!["v1".into()],
                resources: vec!["daemonsets".into()],
                operations: vec![Operation::Create, Operation::Update],
            },
            Rule {
                api_groups: vec!["storage.k8s.io".into()],
                api_versions: vec!["v1".into()],
                resources: vec!["storageclasses".into()],
                operations: vec![Operation::Create, Operation::Update],
            },
        ])
    }

    #[test]
    fn lists_are_expanded_and_non_objects_reported() {
        let p = parsed(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- 42\n---\nfoo: bar\n",
        );
        let sources = [p];
        let (found, problems) = find_objects(&sources);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location.to_string(), "f.yaml:1.items[0]");
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].location.to_string(), "f.yaml:1.items[1]");
        assert!(problems[1].reason.contains("no apiVersion and no kind"));
    }

    #[test]
    fn requests_get_namespace_user_and_old_object() {
        let sources = [parsed(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: sc, namespace: ignored}\nprovisioner: x\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
        )];
        let (found, _) = find_objects(&sources);
        let old_sources = [parsed(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds, namespace: team}\nspec: {old: true}\n",
        )];
        let (old_found, _) = find_objects(&old_sources);
        let old = index_old_objects(&old_found, "team").unwrap();
        let options = RequestOptions {
            default_namespace: "team".into(),
            user: UserInfo::service_account("argocd/controller", &[]).unwrap(),
            operation: OperationMode::AgainstOld,
        };
        let (planned, skipped) = plan(&found, &targets(), &options, &old);
        assert_eq!(planned.len(), 2);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].kind, "Service");
        let ds = &planned[0].request;
        assert_eq!(ds["operation"], "UPDATE");
        assert_eq!(ds["namespace"], "team");
        assert_eq!(ds["object"]["metadata"]["namespace"], "team");
        assert_eq!(ds["oldObject"]["spec"]["old"], true);
        assert_eq!(planned[0].injected_namespace.as_deref(), Some("team"));
        assert_eq!(
            ds["userInfo"]["username"],
            "system:serviceaccount:argocd:controller"
        );
        assert_eq!(ds["kind"]["kind"], "DaemonSet");
        assert_eq!(ds["resource"]["resource"], "daemonsets");
        let sc = &planned[1].request;
        assert_eq!(sc["operation"], "CREATE");
        assert!(sc.get("namespace").is_none());
        assert!(sc["oldObject"].is_null());
        assert_eq!(sc["name"], "sc");
    }

    #[test]
    fn duplicate_old_objects_are_an_error() {
        let sources = [parsed(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds, namespace: default}\n",
        )];
        let (found, _) = find_objects(&sources);
        let errors = index_old_objects(&found, "default").unwrap_err();
        assert_eq!(errors[0].document, Some(2));
    }

    #[test]
    fn users() {
        let u = UserInfo::user(None, &[]);
        assert_eq!(u.username, DEFAULT_USER);
        assert_eq!(u.groups, ["kubeadm:cluster-admins", "system:authenticated"]);
        let u = UserInfo::user(Some("alice"), &["devs".into()]);
        assert_eq!(u.groups, ["devs", "system:authenticated"]);
        assert!(UserInfo::service_account("nope", &[]).is_err());
        assert!(UserInfo::service_account("a/b/c", &[]).is_err());
    }
}
