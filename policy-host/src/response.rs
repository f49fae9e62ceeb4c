//! The guest's `ValidationResponse` and the `AdmissionResponse` the host
//! builds from it, following policy-evaluator's `admission_response.rs`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the guest's `validate` answers (snake_case keys, as the SDK writes them).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// What the guest's `validate_settings` answers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SettingsValidationResponse {
    pub valid: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// The only patch type Kubernetes accepts from a webhook.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatchType {
    #[serde(rename = "JSONPatch")]
    #[default]
    JsonPatch,
}

/// `status` of a rejected AdmissionResponse.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct AdmissionResponseStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

/// admission/v1 AdmissionResponse as kwctl prints it and policy-server sends
/// it: `uid`, `allowed`, `patchType`/`patch`/`status` only when set,
/// `auditAnnotations` and `warnings` always (possibly `null`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// base64 (standard alphabet) of the JSON Patch document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    #[serde(default)]
    pub audit_annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// Message policy-evaluator uses when a policy mutates a DELETE request.
pub const MUTATION_ON_DELETE_MESSAGE: &str = "Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    /// A rejection with a message and a code.
    pub fn reject(uid: impl Into<String>, message: impl Into<String>, code: u16) -> Self {
        AdmissionResponse {
            uid: uid.into(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some(message.into()),
                code: Some(code),
            }),
            ..Default::default()
        }
    }

    /// `allowed: false`, code 500, "internal server error: <message>".
    pub fn reject_internal_server_error(uid: impl Into<String>, message: &str) -> Self {
        Self::reject(uid, format!("internal server error: {message}"), 500)
    }

    /// Build the response from the guest's answer, exactly as
    /// policy-evaluator does: the patch is `json_patch::diff(object,
    /// mutated_object)`, serialized to JSON then base64; an empty diff gives
    /// no patch; a mutation of a null object (DELETE) becomes a rejection.
    pub fn from_validation_response(
        uid: impl Into<String>,
        request_object: Option<&Value>,
        response: &ValidationResponse,
    ) -> Result<Self> {
        let uid = uid.into();
        let request_object = request_object.filter(|o| !o.is_null());
        let patch = match (&response.mutated_object, request_object) {
            (Some(_), None) => {
                return Ok(AdmissionResponse {
                    uid,
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some(MUTATION_ON_DELETE_MESSAGE.to_string()),
                        code: None,
                    }),
                    ..Default::default()
                });
            }
            (Some(mutated), Some(original)) => {
                let diff = json_patch::diff(original, mutated);
                if diff.0.is_empty() {
                    None
                } else {
                    let json = serde_json::to_string(&diff)
                        .map_err(|e| Error::internal(format!("cannot serialize JSONPatch: {e}")))?;
                    Some(STANDARD.encode(json))
                }
            }
            (None, _) => None,
        };
        let status = if response.message.is_some() || response.code.is_some() {
            Some(AdmissionResponseStatus {
                message: response.message.clone(),
                code: response.code,
            })
        } else {
            None
        };
        Ok(AdmissionResponse {
            uid,
            allowed: response.accepted,
            patch_type: patch.as_ref().map(|_| PatchType::JsonPatch),
            patch,
            status,
            audit_annotations: response.audit_annotations.clone(),
            warnings: response.warnings.clone(),
        })
    }

    /// The status message, if any.
    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }

    /// The status code, if any.
    pub fn code(&self) -> Option<u16> {
        self.status.as_ref().and_then(|s| s.code)
    }

    /// Decode the patch (base64 of a JSON Patch). `Ok(None)` without patch.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>> {
        let Some(patch) = &self.patch else {
            return Ok(None);
        };
        if self.patch_type != Some(PatchType::JsonPatch) {
            return Err(Error::invalid(
                "response has a patch but patchType is not JSONPatch",
            ));
        }
        let bytes = STANDARD
            .decode(patch)
            .map_err(|e| Error::parse("the patch is not valid base64", &e))?;
        let patch: json_patch::Patch = serde_json::from_slice(&bytes)
            .map_err(|e| Error::parse("the patch is not a valid JSON Patch", &e))?;
        Ok(Some(patch))
    }

    /// Serialize to one JSON line (as kwctl prints it).
    pub fn to_json_line(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::internal(format!("cannot serialize the AdmissionResponse: {e}")))
    }
}

/// Apply the response's patch (if any) to `original` with json-patch, as the
/// API server would. Without a patch the original is returned unchanged.
pub fn apply_patch(original: &Value, response: &AdmissionResponse) -> Result<Value> {
    let mut doc = original.clone();
    if let Some(patch) = response.decoded_patch()? {
        json_patch::patch(&mut doc, &patch)
            .map_err(|e| Error::parse("the patch does not apply to the object", &e))?;
    }
    Ok(doc)
}

/// The JSON pointer path of a patch operation.
pub fn operation_path(op: &json_patch::PatchOperation) -> String {
    use json_patch::PatchOperation as P;
    match op {
        P::Add(o) => o.path.to_string(),
        P::Remove(o) => o.path.to_string(),
        P::Replace(o) => o.path.to_string(),
        P::Move(o) => o.path.to_string(),
        P::Copy(o) => o.path.to_string(),
        P::Test(o) => o.path.to_string(),
    }
}

/// The name of a patch operation (`add`, `remove`, ...).
pub fn operation_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation as P;
    match op {
        P::Add(_) => "add",
        P::Remove(_) => "remove",
        P::Replace(_) => "replace",
        P::Move(_) => "move",
        P::Copy(_) => "copy",
        P::Test(_) => "test",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accept_serializes_like_kwctl() {
        let r = AdmissionResponse::from_validation_response(
            "u1",
            Some(&json!({"a": 1})),
            &ValidationResponse {
                accepted: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            r.to_json_line().unwrap(),
            r#"{"uid":"u1","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn mutation_becomes_base64_json_patch() {
        let original = json!({"metadata": {"name": "x"}, "spec": {"a": 1}});
        let mutated = json!({"metadata": {"name": "x", "labels": {"k": "v"}}, "spec": {"a": 1}});
        let r = AdmissionResponse::from_validation_response(
            "u",
            Some(&original),
            &ValidationResponse {
                accepted: true,
                mutated_object: Some(mutated.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.patch_type, Some(PatchType::JsonPatch));
        let raw = String::from_utf8(STANDARD.decode(r.patch.as_ref().unwrap()).unwrap()).unwrap();
        assert_eq!(
            raw,
            r#"[{"op":"add","path":"/metadata/labels","value":{"k":"v"}}]"#
        );
        assert_eq!(apply_patch(&original, &r).unwrap(), mutated);
        let line = r.to_json_line().unwrap();
        assert!(line.contains(r#""patchType":"JSONPatch""#), "{line}");
    }

    #[test]
    fn identical_mutation_gives_no_patch() {
        let original = json!({"a": [1, 2]});
        let r = AdmissionResponse::from_validation_response(
            "u",
            Some(&original),
            &ValidationResponse {
                accepted: true,
                mutated_object: Some(original.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.patch, None);
        assert_eq!(r.patch_type, None);
    }

    #[test]
    fn mutation_on_delete_is_rejected() {
        let r = AdmissionResponse::from_validation_response(
            "u",
            Some(&Value::Null),
            &ValidationResponse {
                accepted: true,
                mutated_object: Some(json!({})),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!r.allowed);
        assert_eq!(r.message(), Some(MUTATION_ON_DELETE_MESSAGE));
        assert_eq!(r.code(), None);
    }

    #[test]
    fn rejection_carries_status_warnings_annotations() {
        let r = AdmissionResponse::from_validation_response(
            "u",
            Some(&json!({})),
            &ValidationResponse {
                accepted: false,
                message: Some("no".into()),
                code: Some(403),
                warnings: Some(vec!["w".into()]),
                audit_annotations: Some([("k".to_string(), "v".to_string())].into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            r.to_json_line().unwrap(),
            r#"{"uid":"u","allowed":false,"status":{"message":"no","code":403},"auditAnnotations":{"k":"v"},"warnings":["w"]}"#
        );
    }
}
