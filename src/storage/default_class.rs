//! At most one default StorageClass. A PVC without `storageClassName` gets
//! the default class from the API server's DefaultStorageClass admission
//! plugin (`plugin/pkg/admission/storage/storageclass/setdefault`), and the
//! PV controller assigns one retroactively (KEP-3333); both pick it with
//! `GetDefaultClass` (`pkg/volume/util/storageclass.go`), which since
//! Kubernetes 1.26 (kubernetes#110559) takes the newest of several defaults
//! silently, so PVCs land on whichever class was created last.
//!
//! A class is default as `IsDefaultAnnotation` (same file) reads it: either
//! `storageclass.kubernetes.io/is-default-class` or the beta
//! `storageclass.beta.kubernetes.io/is-default-class` equal to exactly
//! `"true"` (`"True"` and `"yes"` are not default).
//!
//! Judged on CREATE of a default class and on an UPDATE that makes a class
//! default; the other classes come from Kubewarden's context-aware host
//! capability `kubernetes/list_resources_all`, behind [`ClusterLookup`] so
//! this core knows nothing of waPC. Admission does not serialise requests:
//! two concurrent creates can both pass (kubernetes#48416).

use serde_json::{Map, Value};

use crate::fields::{Reported, object, string};
use crate::rules;
use crate::settings::{DefaultClassSettings, LookupFailure, Mode};
use crate::violation::{Findings, Violation, render_str};

pub const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
pub const BETA_DEFAULT_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The `kubernetes/list_resources_all` request (the SDK's
/// `ListAllResourcesRequest`): every StorageClass, metadata only. Hosts
/// that do not prune by `field_masks` (policy-evaluator 0.30) send whole
/// objects, which read the same.
pub const LIST_STORAGE_CLASSES: &str = r#"{"api_version":"storage.k8s.io/v1","kind":"StorageClass","label_selector":null,"field_selector":null,"field_masks":["metadata.annotations","metadata.name"]}"#;

/// The cluster, as the host shows it to the policy.
pub trait ClusterLookup {
    /// Answers a `kubernetes/list_resources_all` request (JSON) with the
    /// JSON list, or with the host's error (no cluster connection, the
    /// resource not granted in `contextAwareResources`, ...).
    fn list_resources_all(&self, request: &[u8]) -> Result<Vec<u8>, String>;
}

/// No host to ask (native callers, fuzz targets): every lookup fails.
pub struct NoCluster;

impl ClusterLookup for NoCluster {
    fn list_resources_all(&self, _request: &[u8]) -> Result<Vec<u8>, String> {
        Err("no host capabilities available".to_string())
    }
}

/// The default annotation that makes `class` default (GA first), if any;
/// `Err` when the annotations cannot be read (reported).
fn default_annotation(
    class: &Map<String, Value>,
    findings: &mut Findings,
) -> Result<Option<&'static str>, Reported> {
    let Some(metadata) = object(class, "metadata", || "metadata".into(), findings) else {
        return Ok(None);
    };
    let Some(annotations) = object(
        metadata,
        "annotations",
        || "metadata.annotations".into(),
        findings,
    ) else {
        return Ok(None);
    };
    for key in [DEFAULT_ANNOTATION, BETA_DEFAULT_ANNOTATION] {
        let value = string(
            annotations,
            key,
            || format!("metadata.annotations.{key}"),
            findings,
        )?;
        if value == Some("true") {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// True when a listed class (garbled entries are not default) is default.
fn is_default(class: &Map<String, Value>) -> bool {
    default_annotation(class, &mut Findings::default()).is_ok_and(|k| k.is_some())
}

/// The names of the listed default classes other than `name`, or why the
/// answer cannot be read.
fn other_defaults(answer: &[u8], name: &str) -> Result<Vec<String>, String> {
    let list: Value = serde_json::from_slice(answer)
        .map_err(|e| format!("the host's answer is not JSON: {e}"))?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .ok_or("the host's answer has no items list")?;
    Ok(items
        .iter()
        .filter_map(Value::as_object)
        .filter(|class| is_default(class))
        .filter_map(|class| class.get("metadata")?.get("name")?.as_str())
        .filter(|other| *other != name)
        .map(str::to_string)
        .collect())
}

/// Judges a StorageClass (`name`, as the request names it) made default;
/// `old` is the stored object of an UPDATE (when readable). Violations go
/// to `findings`, or as warnings to `warnings` in the rule's warn mode; a
/// failed lookup is a warning or a violation as the settings choose, never
/// an error.
pub fn check(
    class: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    name: &str,
    settings: &DefaultClassSettings,
    lookup: &dyn ClusterLookup,
    findings: &mut Findings,
    warnings: &mut Vec<String>,
) {
    if !settings.unique {
        return;
    }
    let Ok(Some(key)) = default_annotation(class, findings) else {
        return;
    };
    // Already default before the update: not made default by it (and a
    // class admitted before the policy keeps working).
    if old.is_some_and(is_default) {
        return;
    }
    let path = format!("metadata.annotations.{key}");
    let violation = match lookup
        .list_resources_all(LIST_STORAGE_CLASSES.as_bytes())
        .and_then(|answer| other_defaults(&answer, name))
    {
        Ok(others) if others.is_empty() => return,
        Ok(others) => Violation::new(
            path,
            render_str("true"),
            rules::DEFAULT_CLASS_UNIQUE,
            format!(
                "another StorageClass is already the default ({}): with several defaults, PVCs without storageClassName get the newest (GetDefaultClass), unset the annotation there first",
                others.join(", ")
            ),
        ),
        Err(error) if settings.on_lookup_failure == LookupFailure::Warn => {
            warnings.push(format!(
                "{path}: not checked against the cluster's other default StorageClasses [{}]: the host could not list them ({error}); accepted by {}: warn",
                rules::DEFAULT_CLASS_UNIQUE,
                rules::DEFAULT_CLASS_ON_LOOKUP_FAILURE,
            ));
            return;
        }
        Err(error) => Violation::new(
            path,
            render_str("true"),
            rules::DEFAULT_CLASS_ON_LOOKUP_FAILURE,
            format!(
                "cannot tell whether another StorageClass is already the default: the host could not list them ({error})"
            ),
        ),
    };
    match settings.mode {
        Mode::Enforce => findings.push(violation),
        Mode::Warn => warnings.push(violation.warning()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rstest::rstest;
    use serde_json::{Value, json};

    use super::*;
    use crate::evaluate::validate_with;
    use crate::test_support::*;

    /// A cluster holding `classes` (name, annotations); counts the calls.
    struct FakeCluster {
        answer: Result<Value, String>,
        calls: Cell<usize>,
    }

    impl FakeCluster {
        fn holding(classes: &[(&str, Value)]) -> Self {
            let items: Vec<Value> = classes
                .iter()
                .map(|(name, annotations)| {
                    json!({"metadata": {"name": name, "annotations": annotations}})
                })
                .collect();
            Self {
                answer: Ok(json!({"apiVersion": "v1", "kind": "List", "items": items})),
                calls: Cell::new(0),
            }
        }

        fn failing(error: &str) -> Self {
            Self {
                answer: Err(error.to_string()),
                calls: Cell::new(0),
            }
        }
    }

    impl ClusterLookup for FakeCluster {
        fn list_resources_all(&self, request: &[u8]) -> Result<Vec<u8>, String> {
            self.calls.set(self.calls.get() + 1);
            assert_eq!(request, LIST_STORAGE_CLASSES.as_bytes());
            self.answer
                .as_ref()
                .map(|v| v.to_string().into_bytes())
                .map_err(Clone::clone)
        }
    }

    fn judge(
        request: &Value,
        settings: Value,
        cluster: &FakeCluster,
    ) -> kubewarden_policy_sdk::response::ValidationResponse {
        let payload = json!({"request": request, "settings": settings}).to_string();
        validate_with(payload.as_bytes(), cluster)
    }

    /// The EBS gp3 class made default (the aws-ebs-csi-driver chart's
    /// `defaultStorageClass.enabled: true`).
    fn default_gp3(key: &str, value: &str) -> Value {
        edited("storageclass-ebs-gp3.json", |o| {
            o["metadata"]["annotations"] = json!({key: value});
        })
    }

    #[rstest]
    #[case::ga_annotation(DEFAULT_ANNOTATION)]
    #[case::beta_annotation(BETA_DEFAULT_ANNOTATION)]
    fn a_second_default_is_refused(#[case] key: &str) {
        let cluster = FakeCluster::holding(&[
            ("gp2", json!({BETA_DEFAULT_ANNOTATION: "true"})),
            ("standard-rwo", json!({DEFAULT_ANNOTATION: "false"})),
        ]);
        let response = judge(&default_gp3(key, "true"), json!({}), &cluster);
        assert_rejected(
            &response,
            &[&format!(
                "metadata.annotations.{key}=\"true\": another StorageClass is already the default (gp2): "
            )],
        );
        assert_eq!(violation_count(&response), 1);
        assert_eq!(cluster.calls.get(), 1);
    }

    #[test]
    fn the_only_default_is_accepted_and_itself_does_not_count() {
        let cluster = FakeCluster::holding(&[
            ("gp3", json!({DEFAULT_ANNOTATION: "true"})),
            ("gp2", json!({DEFAULT_ANNOTATION: "True"})),
            ("io2", json!({BETA_DEFAULT_ANNOTATION: "yes"})),
        ]);
        let response = judge(
            &default_gp3(DEFAULT_ANNOTATION, "true"),
            json!({}),
            &cluster,
        );
        assert_accepted_untouched(&response);
        assert!(response.warnings.is_none(), "{:?}", response.warnings);
    }

    #[rstest]
    #[case::capitalised("True")]
    #[case::yes("yes")]
    #[case::empty("")]
    fn only_exactly_true_is_default(#[case] value: &str) {
        let cluster = FakeCluster::holding(&[("gp2", json!({DEFAULT_ANNOTATION: "true"}))]);
        let response = judge(&default_gp3(DEFAULT_ANNOTATION, value), json!({}), &cluster);
        assert_accepted_untouched(&response);
        assert_eq!(
            cluster.calls.get(),
            0,
            "a class that is not default needs no lookup"
        );
    }

    #[test]
    fn warn_mode_accepts_with_the_violation_as_a_warning() {
        let cluster = FakeCluster::holding(&[("gp2", json!({DEFAULT_ANNOTATION: "true"}))]);
        let settings = json!({"storageClasses": {"defaultClass": {"mode": "warn"}}});
        let response = judge(&default_gp3(DEFAULT_ANNOTATION, "true"), settings, &cluster);
        assert_accepted_untouched(&response);
        let warned: Vec<Violation> = warnings(&response)
            .iter()
            .filter_map(|w| Violation::parse_warning(w))
            .collect();
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].rule, rules::DEFAULT_CLASS_UNIQUE);
    }

    #[test]
    fn an_update_making_a_class_default_is_judged_one_keeping_it_is_not() {
        let cluster = FakeCluster::holding(&[("gp2", json!({DEFAULT_ANNOTATION: "true"}))]);
        let mut request = default_gp3(DEFAULT_ANNOTATION, "true");
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["oldObject"]["metadata"]["annotations"] = json!({});
        assert_rejected(
            &judge(&request, json!({}), &cluster),
            &["already the default (gp2)"],
        );
        request["oldObject"]["metadata"]["annotations"] = json!({BETA_DEFAULT_ANNOTATION: "true"});
        assert_accepted_untouched(&judge(&request, json!({}), &cluster));
        assert_eq!(cluster.calls.get(), 1);
    }

    #[test]
    fn a_failed_lookup_warns_by_default_and_rejects_when_set() {
        let cluster = FakeCluster::failing("kube::Client was not initialized properly");
        let request = default_gp3(DEFAULT_ANNOTATION, "true");
        let response = judge(&request, json!({}), &cluster);
        assert_accepted_untouched(&response);
        assert_contains_all(
            &warnings(&response).join("\n"),
            &[
                "not checked against the cluster's other default StorageClasses",
                "kube::Client was not initialized properly",
                "storageClasses.defaultClass.onLookupFailure: warn",
            ],
        );
        let reject = json!({"storageClasses": {"defaultClass": {"onLookupFailure": "reject"}}});
        assert_rejected(
            &judge(&request, reject, &cluster),
            &[
                "cannot tell whether another StorageClass is already the default",
                "[storageClasses.defaultClass.onLookupFailure]",
            ],
        );
        // The native entry point has no host: the same fallback.
        assert!(run_default(&request).accepted);
    }

    fn run_default(request: &Value) -> kubewarden_policy_sdk::response::ValidationResponse {
        evaluate(request, json!({}))
    }

    #[rstest]
    #[case::not_json(Ok(b"<html>".to_vec()), "not JSON")]
    #[case::no_items(Ok(br#"{"kind": "List"}"#.to_vec()), "no items list")]
    fn an_unreadable_answer_is_a_failed_lookup(
        #[case] answer: Result<Vec<u8>, String>,
        #[case] fragment: &str,
    ) {
        struct Raw(Result<Vec<u8>, String>);
        impl ClusterLookup for Raw {
            fn list_resources_all(&self, _: &[u8]) -> Result<Vec<u8>, String> {
                self.0.clone()
            }
        }
        let payload = json!({"request": default_gp3(DEFAULT_ANNOTATION, "true"), "settings": {}});
        let response = validate_with(payload.to_string().as_bytes(), &Raw(answer));
        assert!(response.accepted);
        assert!(
            warnings(&response)[0].contains(fragment),
            "{:?}",
            response.warnings
        );
    }

    #[test]
    fn disabled_never_asks() {
        let cluster = FakeCluster::holding(&[("gp2", json!({DEFAULT_ANNOTATION: "true"}))]);
        let settings = json!({"storageClasses": {"defaultClass": {"unique": false}}});
        let response = judge(&default_gp3(DEFAULT_ANNOTATION, "true"), settings, &cluster);
        assert_accepted_untouched(&response);
        assert_eq!(cluster.calls.get(), 0);
    }

    #[test]
    fn unreadable_annotations_are_refused() {
        let cluster = FakeCluster::holding(&[]);
        let request = edited("storageclass-ebs-gp3.json", |o| {
            o["metadata"]["annotations"] = json!({DEFAULT_ANNOTATION: true});
        });
        assert_rejected(
            &judge(&request, json!({}), &cluster),
            &[
                "metadata.annotations.storageclass.kubernetes.io/is-default-class=true: expected a string, found a boolean [readable object]",
            ],
        );
    }

    #[rstest]
    #[case::mode(json!({"mode": "audit"}), "storageClasses.defaultClass.mode: unknown variant `audit`")]
    #[case::failure(json!({"onLookupFailure": "ignore"}), "storageClasses.defaultClass.onLookupFailure: unknown variant `ignore`")]
    #[case::unknown(json!({"enabled": true}), "storageClasses.defaultClass.enabled: unknown field `enabled`")]
    fn bad_settings_are_refused_with_their_path(#[case] section: Value, #[case] fragment: &str) {
        assert_settings_refused(
            &json!({"storageClasses": {"defaultClass": section}}),
            &[fragment],
        );
    }
}
