//! Reading requests and settings the way `kwctl run` accepts them.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result, ResultExt as _};
use serde_json::{Map, Value};

/// Extract the AdmissionRequest from either a bare AdmissionRequest or a full
/// AdmissionReview (`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{...}}`).
pub fn admission_request(input: Value) -> Result<Value> {
    let Value::Object(mut map) = input else {
        return Err(Error::invalid(
            "the request must be a JSON object (an AdmissionRequest or an AdmissionReview)",
        ));
    };
    let is_review = map.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
        || (map.contains_key("request") && !map.contains_key("operation"));
    let request = if is_review {
        match map.remove("request") {
            Some(r @ Value::Object(_)) => r,
            Some(_) => {
                return Err(Error::invalid(
                    "the AdmissionReview's `request` is not an object",
                ));
            }
            None => return Err(Error::invalid("the AdmissionReview has no `request`")),
        }
    } else {
        Value::Object(map)
    };
    if request.get("kind").and_then(Value::as_object).is_none() {
        return Err(Error::invalid(
            "the AdmissionRequest has no `kind` object (`kind: {group, version, kind}`); is this a Kubernetes object instead of an AdmissionRequest?",
        ));
    }
    Ok(request)
}

/// Read and parse an AdmissionRequest/AdmissionReview from a file, or from
/// standard input when `path` is `-`.
pub fn read_request(path: &str) -> Result<Value> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("cannot read the request from standard input", e))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read request file {path}"), e))?
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::parse(format!("request {path} is not valid JSON"), &e))?;
    admission_request(value).with_context(|| format!("request {path}"))
}

/// Normalize settings: `null` becomes `{}`; anything but an object is refused
/// (policy-evaluator keeps settings as a JSON map).
pub fn normalize_settings(settings: Value) -> Result<Value> {
    match settings {
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        other => Err(Error::invalid(format!(
            "settings must be a map (a JSON/YAML object), got: {other}"
        ))),
    }
}

/// Parse settings text (YAML or JSON). When the document is a Kubewarden
/// (Cluster)AdmissionPolicy, its `spec.settings` is taken (absent means `{}`).
pub fn parse_settings(text: &str) -> Result<Value> {
    let value: Value = serde_yaml::from_str(text)
        .map_err(|e| Error::parse("settings are not valid YAML/JSON", &e))?;
    let kind = value.get("kind").and_then(Value::as_str);
    let value = match kind {
        Some("ClusterAdmissionPolicy" | "AdmissionPolicy") => value
            .get("spec")
            .and_then(|s| s.get("settings"))
            .cloned()
            .unwrap_or(Value::Null),
        _ => value,
    };
    normalize_settings(value)
}

/// Read settings from a YAML/JSON file (see [`parse_settings`]).
pub fn read_settings_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read settings file {}", path.display()), e))?;
    parse_settings(&text).with_context(|| format!("settings file {}", path.display()))
}

/// A short `Kind namespace/name` label of a request, for human output.
pub fn describe_request(request: &Value) -> String {
    let kind = request
        .pointer("/kind/kind")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let object = request
        .get("object")
        .filter(|o| !o.is_null())
        .or_else(|| request.get("oldObject"));
    let name = request
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| {
            object
                .and_then(|o| o.pointer("/metadata/name"))
                .and_then(Value::as_str)
        })
        .unwrap_or("-");
    let namespace = request
        .get("namespace")
        .and_then(Value::as_str)
        .or_else(|| {
            object
                .and_then(|o| o.pointer("/metadata/namespace"))
                .and_then(Value::as_str)
        });
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_request_and_review() {
        let req = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE"});
        assert_eq!(admission_request(req.clone()).unwrap(), req);
        let review =
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req});
        assert_eq!(admission_request(review).unwrap(), req);
        assert!(admission_request(json!({"kind": "Pod", "metadata": {}})).is_err());
        assert!(admission_request(json!([1])).is_err());
    }

    #[test]
    fn settings_forms() {
        assert_eq!(parse_settings("").unwrap(), json!({}));
        assert_eq!(parse_settings("a: 1").unwrap(), json!({"a": 1}));
        assert_eq!(parse_settings(r#"{"a": [1]}"#).unwrap(), json!({"a": [1]}));
        let cap = "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: x}\nspec:\n  module: registry://x\n  settings:\n    b: true\n";
        assert_eq!(parse_settings(cap).unwrap(), json!({"b": true}));
        let cap_no_settings = "kind: ClusterAdmissionPolicy\nspec: {module: m}\n";
        assert_eq!(parse_settings(cap_no_settings).unwrap(), json!({}));
        assert!(parse_settings("- 1").is_err());
    }
}
