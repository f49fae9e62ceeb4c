//! `CSIDriver.spec` fields per driver glob (`csiDrivers.spec`): allowed
//! values, and a value set on CREATE when the field is absent.
//!
//! The API server defaults most fields before admission
//! (`SetDefaults_CSIDriver`, `pkg/apis/storage/v1/defaults.go`:
//! `attachRequired` true, `podInfoOnMount`, `requiresRepublish`,
//! `storageCapacity` and `seLinuxMount` false, `fsGroupPolicy`
//! `ReadWriteOnceWithFSType`), so an absent field is judged as its
//! default; `nodeAllocatableUpdatePeriodSeconds` has none (absent: kubelet
//! never refreshes the node's allocatable count) and an absent one is not
//! judged. `set` therefore mostly acts on that field, on `seLinuxMount`
//! (defaulted only with its feature gate) and on manifests under `check`.
//!
//! On UPDATE only what an update can change is judged, and only when it
//! changes: `ValidateCSIDriverUpdate` (`pkg/apis/storage/validation/validation.go`)
//! keeps `attachRequired` and `volumeLifecycleModes` immutable and lets the
//! other fields change; nothing is mutated.

use serde_json::{Map, Value};

use crate::fields::{get, kind_of};
use crate::glob::DriverGlob;
use crate::rules;
use crate::settings::{CsiDriverSpecRules, FieldRule};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render};

const FS_GROUP_POLICIES: &[&str] = &["None", "File", "ReadWriteOnceWithFSType"];
/// `validateNodeAllocatableUpdatePeriodSeconds`: at least 10 seconds.
const MIN_UPDATE_PERIOD: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Int,
}

/// Field, type, API default, mutable on UPDATE.
const FIELDS: &[(&str, Kind, Option<&str>, bool)] = &[
    ("attachRequired", Kind::Bool, Some("true"), false),
    ("podInfoOnMount", Kind::Bool, Some("false"), true),
    ("requiresRepublish", Kind::Bool, Some("false"), true),
    ("storageCapacity", Kind::Bool, Some("false"), true),
    ("seLinuxMount", Kind::Bool, Some("false"), true),
    (
        "fsGroupPolicy",
        Kind::Str,
        Some("\"ReadWriteOnceWithFSType\""),
        true,
    ),
    ("nodeAllocatableUpdatePeriodSeconds", Kind::Int, None, true),
];

#[derive(Debug, Clone, PartialEq)]
struct FieldValues {
    field: usize,
    allowed: Option<Vec<Value>>,
    set: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledSpecRules {
    index: usize,
    driver: DriverGlob,
    fields: Vec<FieldValues>,
}

fn values<T: Clone + Into<Value>>(rule: &FieldRule<T>) -> (Option<Vec<Value>>, Option<Value>) {
    (
        rule.allowed
            .as_ref()
            .map(|a| a.iter().cloned().map(Into::into).collect()),
        rule.set.clone().map(Into::into),
    )
}

pub fn compile(
    entries: &[CsiDriverSpecRules],
    errors: &mut SettingErrors,
) -> Vec<CompiledSpecRules> {
    let mut compiled = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("{}[{i}]", rules::CSI_DRIVER_SPEC);
        let rules = [
            values(&entry.attach_required),
            values(&entry.pod_info_on_mount),
            values(&entry.requires_republish),
            values(&entry.storage_capacity),
            values(&entry.se_linux_mount),
            values(&entry.fs_group_policy),
            values(&entry.node_allocatable_update_period_seconds),
        ];
        let mut fields = Vec::new();
        for (f, (allowed, set)) in rules.into_iter().enumerate() {
            let name = FIELDS[f].0;
            let listed = allowed
                .iter()
                .flatten()
                .enumerate()
                .map(|(n, v)| (format!("allowed[{n}]"), v));
            for (at, value) in listed.chain(set.iter().map(|v| ("set".to_string(), v))) {
                let problem = match value {
                    Value::String(s) if !FS_GROUP_POLICIES.contains(&s.as_str()) => {
                        Some(format!("{s:?} is not one of {FS_GROUP_POLICIES:?}"))
                    }
                    Value::Number(n) if n.as_i64().is_some_and(|n| n < MIN_UPDATE_PERIOD) => Some(
                        format!("{n} is below the API's minimum of {MIN_UPDATE_PERIOD} seconds"),
                    ),
                    _ => None,
                };
                if let Some(problem) = problem {
                    errors.add(format!("{path}.{name}.{at}"), problem);
                }
            }
            if let (Some(set), Some(allowed)) = (&set, &allowed)
                && !allowed.contains(set)
            {
                errors.add(
                    format!("{path}.{name}.set"),
                    format!("{set} is not in allowed"),
                );
            }
            if allowed.is_some() || set.is_some() {
                fields.push(FieldValues {
                    field: f,
                    allowed,
                    set,
                });
            }
        }
        let Some(driver) = errors.parsed(
            format_args!("{path}.driver"),
            &entry.driver,
            DriverGlob::parse(&entry.driver),
        ) else {
            continue;
        };
        compiled.push(CompiledSpecRules {
            index: i,
            driver,
            fields,
        });
    }
    compiled
}

/// Sets, on CREATE, the `set` value of every absent field (the request's own
/// JSON: only that key is added), noting each change.
pub fn enforce(
    name: &str,
    object: &mut Map<String, Value>,
    rules: &[CompiledSpecRules],
    findings: &mut Findings,
) {
    let mut sets: Vec<(&'static str, &Value)> = Vec::new();
    for entry in rules.iter().filter(|e| e.driver.matches(name)) {
        for f in &entry.fields {
            let field = FIELDS[f.field].0;
            if let Some(set) = &f.set
                && !sets.iter().any(|(k, _)| *k == field)
            {
                sets.push((field, set));
            }
        }
    }
    if sets.is_empty() {
        return;
    }
    let spec = object
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    // An unreadable spec is reported by `check`: not edited.
    let Value::Object(spec) = spec else {
        return;
    };
    for (field, set) in sets {
        if get(spec, field).is_none() {
            spec.insert(field.to_string(), set.clone());
            findings.note(format!("spec.{field} set to {set} (csiDrivers.spec)"));
        }
    }
}

/// The value of a field as the API stores it (absent: its default), `None`
/// when absent without default; a wrong type is reported.
fn read(
    spec: &Map<String, Value>,
    field: usize,
    report: Option<&mut Findings>,
) -> Result<Option<Value>, ()> {
    let (name, kind, default, _) = FIELDS[field];
    let Some(value) = get(spec, name) else {
        return Ok(default.and_then(|d| serde_json::from_str(d).ok()));
    };
    let fits = match kind {
        Kind::Bool => value.is_boolean(),
        Kind::Str => value.is_string(),
        Kind::Int => value.as_i64().is_some(),
    };
    if fits {
        return Ok(Some(value.clone()));
    }
    if let Some(findings) = report {
        let expected = match kind {
            Kind::Bool => "a boolean",
            Kind::Str => "a string",
            Kind::Int => "an integer",
        };
        findings.push(Violation::new(
            format!("spec.{name}"),
            render(value),
            rules::UNREADABLE,
            format!("expected {expected}, found {}", kind_of(value)),
        ));
    }
    Err(())
}

/// Judges the spec fields of the CSIDriver `name` (`spec`), against the
/// stored object's spec on UPDATE.
pub fn check(
    name: &str,
    spec: &Map<String, Value>,
    old_spec: Option<&Map<String, Value>>,
    rules: &[CompiledSpecRules],
    findings: &mut Findings,
) {
    let mut read_fields: Vec<(usize, Result<Option<Value>, ()>)> = Vec::new();
    for entry in rules.iter().filter(|e| e.driver.matches(name)) {
        for f in &entry.fields {
            let Some(allowed) = &f.allowed else { continue };
            let (field, _, _, mutable) = FIELDS[f.field];
            if old_spec.is_some() && !mutable {
                continue;
            }
            let value = match read_fields.iter().find(|(k, _)| *k == f.field) {
                Some((_, v)) => v.clone(),
                None => {
                    let v = read(spec, f.field, Some(findings));
                    read_fields.push((f.field, v.clone()));
                    v
                }
            };
            let Ok(Some(value)) = value else { continue };
            if let Some(old) = old_spec
                && read(old, f.field, None) == Ok(Some(value.clone()))
            {
                continue;
            }
            if !allowed.contains(&value) {
                let shown: Vec<String> = allowed.iter().map(Value::to_string).collect();
                findings.push(Violation::new(
                    format!("spec.{field}"),
                    render(&value),
                    rules::CSI_DRIVER_SPEC,
                    format!(
                        "must be one of [{}] for {name} (csiDrivers.spec[{}].{field}.allowed)",
                        shown.join(", "),
                        entry.index
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::test_support::*;

    fn settings(entry: Value) -> Value {
        json!({"csiDrivers": {"tokenRequests": {"requireTokenInSecrets": false, "allowed": [
            {"driver": "file.csi.azure.com", "audiences": ["api://AzureADTokenExchange"]}]},
            "ephemeralAllowed": ["file.csi.azure.com", "secrets-store.csi.k8s.io"],
            "spec": [entry]}})
    }

    #[test]
    fn spec_fields_outside_their_allowed_values_are_refused() {
        let entry = json!({"driver": "file.csi.azure.com",
            "podInfoOnMount": {"allowed": [false]}, "requiresRepublish": {"allowed": [false]},
            "fsGroupPolicy": {"allowed": ["File", "ReadWriteOnceWithFSType"]},
            "storageCapacity": {"allowed": [false]}});
        let response = run("csidriver-azure-file.json", settings(entry));
        assert_violations(
            &response,
            2,
            &[
                "spec.podInfoOnMount=true: must be one of [false] for file.csi.azure.com (csiDrivers.spec[0].podInfoOnMount.allowed) [csiDrivers.spec]",
                "spec.requiresRepublish=true: must be one of [false]",
            ],
        );
    }

    #[test]
    fn an_absent_field_is_judged_as_its_default_and_set_on_create() {
        let entry = json!({"driver": "ebs.csi.aws.com",
            "nodeAllocatableUpdatePeriodSeconds": {"allowed": [60, 300], "set": 60},
            "attachRequired": {"allowed": [true]}, "storageCapacity": {"allowed": [false]}});
        let request = edited("csidriver-ebs.json", |o| {
            if let Some(spec) = o["spec"].as_object_mut() {
                spec.remove("attachRequired");
            }
        });
        let response = evaluate(&request, settings(entry.clone()));
        assert!(response.accepted, "{:?}", response.message);
        let mutated = response.mutated_object.clone().expect("mutated");
        assert_eq!(
            mutated["spec"]["nodeAllocatableUpdatePeriodSeconds"],
            json!(60)
        );
        assert!(mutated["spec"].get("attachRequired").is_none());
        assert_accepted_untouched(&reevaluate(&request, &response, settings(entry.clone())));
        let request = edited("csidriver-ebs.json", |o| {
            o["spec"]["nodeAllocatableUpdatePeriodSeconds"] = json!(10);
        });
        assert_rejected(
            &evaluate(&request, settings(entry)),
            &["spec.nodeAllocatableUpdatePeriodSeconds=10: must be one of [60, 300]"],
        );
    }

    #[test]
    fn an_update_is_judged_on_the_mutable_fields_it_changes() {
        let entry = json!({"driver": "file.csi.azure.com",
            "podInfoOnMount": {"allowed": [false]}, "attachRequired": {"allowed": [true]}});
        let mut request = fixture("csidriver-azure-file.json");
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["object"]["metadata"]["labels"]["team"] = json!("storage");
        // attachRequired: false is immutable, podInfoOnMount unchanged.
        assert_accepted_untouched(&evaluate(&request, settings(entry.clone())));
        request["oldObject"]["spec"]["podInfoOnMount"] = json!(false);
        assert_violations(
            &evaluate(&request, settings(entry)),
            1,
            &["spec.podInfoOnMount=true: must be one of [false]"],
        );
    }

    #[test]
    fn unreadable_spec_fields_are_refused() {
        let request = edited("csidriver-ebs.json", |o| {
            o["spec"]["podInfoOnMount"] = json!("no")
        });
        assert_rejected(
            &evaluate(
                &request,
                settings(
                    json!({"driver": "*.csi.aws.com", "podInfoOnMount": {"allowed": [false]}}),
                ),
            ),
            &["spec.podInfoOnMount=\"no\": expected a boolean, found a string [readable object]"],
        );
    }

    #[test]
    fn bad_spec_settings_are_refused_with_their_path() {
        assert_settings_refused(
            &settings(
                json!({"driver": "*..x", "fsGroupPolicy": {"allowed": ["Any"]},
                "nodeAllocatableUpdatePeriodSeconds": {"set": 5},
                "podInfoOnMount": {"allowed": [false], "set": true}}),
            ),
            &[
                "csiDrivers.spec[0].driver",
                "csiDrivers.spec[0].fsGroupPolicy.allowed[0]: \"Any\" is not one of",
                "csiDrivers.spec[0].nodeAllocatableUpdatePeriodSeconds.set: 5 is below",
                "csiDrivers.spec[0].podInfoOnMount.set: true is not in allowed",
            ],
        );
    }
}
