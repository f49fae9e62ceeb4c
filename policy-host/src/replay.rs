//! Recorded answers to a policy's context-aware host calls, in the session
//! file format of `kwctl run --replay-host-capabilities-interactions FILE`
//! (kwctl `src/callback_handler/proxy.rs`): a YAML list of
//!
//! ```yaml
//! - type: Exchange
//!   request: |
//!     !KubernetesListResourceAll
//!     api_version: storage.k8s.io/v1
//!     kind: StorageClass
//!     label_selector: null
//!     field_selector: null
//!   response:
//!     type: Success          # or `type: Error` with `message: ...`
//!     payload: '{"apiVersion": "v1", "kind": "List", "items": [...]}'
//! ```
//!
//! `request` is the YAML of policy-evaluator's `CallbackRequestType`
//! (`src/callback_requests.rs`); the guest's JSON request is turned into
//! that value (as policy-evaluator's `From<ListAllResourcesRequest>` does,
//! dropping `field_masks`) and compared with it. kwctl answers the
//! exchanges in order, one per call; here an exchange answers every call
//! equal to its request (`check` evaluates many objects), so a file with
//! one exchange per distinct request means the same to both.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The `kubewarden/kubernetes/*` operations, their `CallbackRequestType`
/// variant and its fields (policy-evaluator 0.30.4).
const KUBERNETES_OPERATIONS: &[(&str, &str, &[&str])] = &[
    (
        "list_resources_all",
        "KubernetesListResourceAll",
        &["api_version", "kind", "label_selector", "field_selector"],
    ),
    (
        "list_resources_by_namespace",
        "KubernetesListResourceNamespace",
        &[
            "api_version",
            "kind",
            "namespace",
            "label_selector",
            "field_selector",
        ],
    ),
    (
        "get_resource",
        "KubernetesGetResource",
        &["api_version", "kind", "name", "namespace", "disable_cache"],
    ),
];

#[derive(Deserialize)]
#[serde(tag = "type")]
enum RecordedExchange {
    Exchange {
        request: String,
        response: RecordedResponse,
    },
}

#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "type")]
enum RecordedResponse {
    Success { payload: String },
    Error { message: String },
}

#[derive(Debug, Clone)]
struct Exchange {
    variant: String,
    fields: Map<String, Value>,
    response: RecordedResponse,
}

/// A loaded session file.
#[derive(Debug, Clone, Default)]
pub struct ReplaySession {
    exchanges: Vec<Exchange>,
}

impl ReplaySession {
    /// Read a session file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!(
                    "cannot read host capabilities interactions file {}",
                    path.display()
                ),
                e,
            )
        })?;
        Self::from_yaml(&text).map_err(|e| {
            Error::invalid(format!(
                "host capabilities interactions file {}: {e}",
                path.display()
            ))
        })
    }

    /// Parse a session (YAML), refusing what kwctl could not replay.
    pub fn from_yaml(text: &str) -> std::result::Result<Self, String> {
        let recorded: Vec<RecordedExchange> =
            serde_yaml::from_str(text).map_err(|e| format!("not a list of exchanges: {e}"))?;
        let exchanges = recorded
            .into_iter()
            .enumerate()
            .map(|(i, RecordedExchange::Exchange { request, response })| {
                let (variant, fields) =
                    recorded_request(&request).map_err(|e| format!("[{i}].request: {e}"))?;
                Ok(Exchange {
                    variant,
                    fields,
                    response,
                })
            })
            .collect::<std::result::Result<_, String>>()?;
        Ok(Self { exchanges })
    }

    /// Answer a `kubewarden/kubernetes/<operation>` call of the guest.
    pub fn answer(&self, operation: &str, payload: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let (variant, fields) = guest_request(operation, payload)?;
        let exchange = self
            .exchanges
            .iter()
            .find(|e| e.variant == variant && same_fields(&e.fields, &fields))
            .ok_or_else(|| {
                format!(
                    "Replay error: no recorded exchange answers {variant} {}",
                    Value::Object(fields.clone())
                )
            })?;
        match &exchange.response {
            RecordedResponse::Success { payload } => Ok(payload.clone().into_bytes()),
            RecordedResponse::Error { message } => Err(message.clone()),
        }
    }
}

/// The variant and fields of a recorded `CallbackRequestType` (YAML with
/// the variant as tag, `!KubernetesListResourceAll`).
fn recorded_request(text: &str) -> std::result::Result<(String, Map<String, Value>), String> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let serde_yaml::Value::Tagged(tagged) = value else {
        return Err("expected a tagged request such as `!KubernetesListResourceAll`".into());
    };
    let variant = tagged.tag.to_string().trim_start_matches('!').to_string();
    let fields: Value = serde_yaml::from_value(tagged.value).map_err(|e| e.to_string())?;
    match fields {
        Value::Object(map) => Ok((variant, map)),
        Value::Null => Ok((variant, Map::new())),
        other => Err(format!(
            "the fields of {variant} are not a mapping: {other}"
        )),
    }
}

/// The guest's JSON request as the `CallbackRequestType` it becomes.
fn guest_request(
    operation: &str,
    payload: &[u8],
) -> std::result::Result<(String, Map<String, Value>), String> {
    let (_, variant, names) = KUBERNETES_OPERATIONS
        .iter()
        .find(|(op, _, _)| *op == operation)
        .ok_or_else(|| format!("unknown operation kubernetes/{operation}"))?;
    let request: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("cannot read the {operation} request: {e}"))?;
    let fields = names
        .iter()
        .map(|name| {
            let value = request.get(*name).cloned().unwrap_or(Value::Null);
            (name.to_string(), value)
        })
        .collect();
    Ok((variant.to_string(), fields))
}

/// Field by field, an absent field being `null` (serde's `None`).
fn same_fields(recorded: &Map<String, Value>, guest: &Map<String, Value>) -> bool {
    guest
        .iter()
        .all(|(k, v)| recorded.get(k).unwrap_or(&Value::Null) == v)
}

/// The resource a `kubewarden/kubernetes/*` request reads: `(apiVersion,
/// kind)`, checked against the module's `contextAwareResources`.
pub fn requested_resource(payload: &[u8]) -> std::result::Result<(String, String), String> {
    let request: Value =
        serde_json::from_slice(payload).map_err(|e| format!("cannot read the request: {e}"))?;
    let field = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("the request has no `{name}`"))
    };
    Ok((field("api_version")?, field("kind")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = r#"
- type: Exchange
  request: |
    !KubernetesListResourceAll
    api_version: storage.k8s.io/v1
    kind: StorageClass
    label_selector: null
    field_selector: null
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"List","items":[]}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: kube-system
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: namespaces "kube-system" is forbidden
"#;

    #[test]
    fn a_recorded_request_answers_every_equal_call() {
        let session = ReplaySession::from_yaml(SESSION).unwrap();
        let request = br#"{"api_version":"storage.k8s.io/v1","kind":"StorageClass","label_selector":null,"field_selector":null,"field_masks":["metadata.name"]}"#;
        for _ in 0..2 {
            assert_eq!(
                session.answer("list_resources_all", request).unwrap(),
                br#"{"apiVersion":"v1","kind":"List","items":[]}"#
            );
        }
        let other = br#"{"api_version":"storage.k8s.io/v1","kind":"CSIDriver"}"#;
        assert!(
            session
                .answer("list_resources_all", other)
                .unwrap_err()
                .starts_with(
                    "Replay error: no recorded exchange answers KubernetesListResourceAll"
                )
        );
        let selected =
            br#"{"api_version":"storage.k8s.io/v1","kind":"StorageClass","label_selector":"a=b"}"#;
        assert!(session.answer("list_resources_all", selected).is_err());
    }

    #[test]
    fn a_recorded_error_is_the_answer() {
        let session = ReplaySession::from_yaml(SESSION).unwrap();
        let request = br#"{"api_version":"v1","kind":"Namespace","name":"kube-system","namespace":null,"disable_cache":false}"#;
        assert_eq!(
            session.answer("get_resource", request).unwrap_err(),
            "namespaces \"kube-system\" is forbidden"
        );
    }

    #[test]
    fn broken_sessions_are_refused() {
        assert!(ReplaySession::from_yaml("{}").is_err());
        let untagged = "- type: Exchange\n  request: 'api_version: v1'\n  response: {type: Success, payload: ''}\n";
        assert!(
            ReplaySession::from_yaml(untagged)
                .unwrap_err()
                .starts_with("[0].request: expected a tagged request")
        );
        let no_type = "- request: '!KubernetesListResourceAll {}'\n  response: {type: Success, payload: ''}\n";
        assert!(ReplaySession::from_yaml(no_type).is_err());
    }
}
