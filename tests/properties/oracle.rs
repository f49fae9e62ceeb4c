//! The invariants every verdict must satisfy, shared by the property tests
//! and the `structured` fuzz target. Each check returns `Err(description)`
//! instead of panicking, so proptest can shrink and the fuzz target can
//! decide how to fail.
//!
//! The semantic checks re-derive what an accepted object may contain from
//! the settings alone, with their own path normalisation and glob matching,
//! so they do not share the policy's code paths.

#![allow(dead_code)]

use std::collections::BTreeMap;

use daemonset_csi_policy::drivers::{IN_TREE_TO_CSI, NO_PROVISIONER};
use daemonset_csi_policy::evaluate::{validate, validate_settings, validate_to_json};
use daemonset_csi_policy::policy::parse_settings;
use daemonset_csi_policy::rules;
use daemonset_csi_policy::settings::{
    AllowedHostPath, DEFAULT_FORBIDDEN_HOST_PATHS, LookupFailure, Mode, RecursiveReadOnly, Settings,
};
use daemonset_csi_policy::storage::default_class::NoCluster;
use daemonset_csi_policy::violation::{
    Rejection, UNCHANGED_TEMPLATE_PREFIX, Violation, WARN_MODE_PREFIX,
};
use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::{Map, Value};

use super::generators::{Case, Gen, Kind, shuffle_lists, with_mode};

pub type Outcome = Result<(), String>;

/// Bugs found in `src/` and not fixed yet, each with a reproducer in
/// `fuzz/regressions/`. The checks tolerate the ones listed in [`PENDING`]
/// so that fuzzing keeps looking for new bugs; the `#[ignore]`d tests in
/// `tests/properties.rs` run with none tolerated. Empty `PENDING` once fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownBug {
    /// `required` and `allowedValues` parameter rules are satisfied by keys
    /// and values that only match once trimmed and lower-cased, which the
    /// drivers read differently (`fuzz/regressions/parameter-value-case-ebs.json`,
    /// `fuzz/regressions/parameter-key-case-ceph.json`).
    ParameterNormalisation,
}

pub const PENDING: &[KnownBug] = &[];

pub const MUTATED_PREFIX: &str = "mutated: ";
pub const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// The verdict on a case; what the module hands the host for it
/// (`validate_to_json`: a mutated DaemonSet written as the request's text
/// with the changed nodes spliced in) must read as the same response.
pub fn run(case: &Case) -> ValidationResponse {
    let payload = case.payload();
    let response = validate(&payload);
    let written: Value = serde_json::from_slice(&validate_to_json(&payload, &NoCluster))
        .expect("the verdict written for the host is JSON");
    assert_eq!(
        Some(written),
        serde_json::to_value(&response).ok(),
        "the verdict written for the host reads otherwise"
    );
    response
}

fn warnings(r: &ValidationResponse) -> &[String] {
    r.warnings.as_deref().unwrap_or(&[])
}

pub fn is_exempted(r: &ValidationResponse) -> bool {
    warnings(r)
        .iter()
        .any(|w| w.contains(" exempted by exemptions."))
}

/// The violations listed by a rejection message (read back by the core's
/// own parser, `Rejection::parse`), or the whole message when it is not a
/// list of violations.
pub fn listed_violations(message: &str) -> Vec<String> {
    match Rejection::parse(message) {
        Some(rejection) => rejection
            .violations
            .iter()
            .map(ToString::to_string)
            .collect(),
        None => vec![message.to_string()],
    }
}

/// The violations of a verdict: listed in the rejection, or as warn-mode
/// warnings.
pub fn violations(r: &ValidationResponse) -> Vec<String> {
    if r.accepted {
        warnings(r)
            .iter()
            .filter_map(|w| Violation::parse_warning(w).map(|v| v.to_string()))
            .collect()
    } else {
        listed_violations(r.message.as_deref().unwrap_or(""))
    }
}

/// `path=value [rule]` of a rendered violation (`path=value: reason [rule]`):
/// the reason may name the first of several matching settings entries. A
/// text that is not a violation is its own signature.
pub fn signature(violation: &str) -> String {
    match Violation::parse(violation) {
        Some(v) => format!("{}={} [{}]", v.path, v.value, v.rule),
        None => violation.to_string(),
    }
}

/// The rule of a rendered violation (empty for a text that is not one).
pub fn rule_of(violation: &str) -> String {
    Violation::parse(violation).map_or(String::new(), |v| v.rule.to_string())
}

/// What must not change when settings lists are reordered.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    accepted: bool,
    violations: Vec<String>,
    notes: Vec<String>,
    mutated: Option<Value>,
}

pub fn verdict(r: &ValidationResponse) -> Verdict {
    let mut violations: Vec<String> = violations(r).iter().map(|v| signature(v)).collect();
    violations.sort();
    let mut notes: Vec<String> = warnings(r)
        .iter()
        .filter(|w| !w.starts_with(WARN_MODE_PREFIX) && !w.starts_with(UNCHANGED_TEMPLATE_PREFIX))
        .map(|w| {
            if w.contains(" exempted by exemptions.") {
                "exempted".to_string()
            } else {
                w.clone()
            }
        })
        .collect();
    notes.sort();
    // Required tolerations are met in an order of their own (broadest
    // first), so the mutated object, tolerations in order, must not depend
    // on the order of `required`.
    let mutated = r.mutated_object.clone();
    Verdict {
        accepted: r.accepted,
        violations,
        notes,
        mutated,
    }
}

fn parsed_settings(case: &Case) -> Result<Settings, String> {
    parse_settings(case.settings.to_string().as_bytes())
        .map_err(|e| format!("generated settings do not parse: {e}"))
}

// ---------------------------------------------------------------------------
// Shape of any verdict.

pub fn check_shape(case: &Case, r: &ValidationResponse) -> Outcome {
    if !r.accepted {
        let message = r.message.as_deref().unwrap_or("");
        if message.is_empty() {
            return Err("rejection without a message".into());
        }
        if message.starts_with("policy settings are invalid") {
            return Err(format!("valid settings refused by validate: {message}"));
        }
        if message.starts_with("cannot read the admission request") {
            return Err(format!("well-formed payload not read: {message}"));
        }
        if r.mutated_object.is_some() {
            return Err("rejection with a mutated object".into());
        }
    }
    if let Some(m) = &r.mutated_object {
        if !matches!(case.operation, "CREATE" | "UPDATE") {
            return Err(format!("mutation on {}", case.operation));
        }
        if !m.is_object() {
            return Err("mutated object is not an object".into());
        }
        if case.kind == Kind::PersistentVolume {
            return Err("PersistentVolume mutated".into());
        }
        // csiDrivers.spec `set` adds absent fields on CREATE only.
        if case.kind == Kind::CsiDriver && case.operation != "CREATE" {
            return Err("CSIDriver UPDATE mutated".into());
        }
        if case.kind == Kind::VolumeAttributesClass {
            return Err("VolumeAttributesClass mutated".into());
        }
        if case.kind == Kind::StorageClass
            && case.operation == "UPDATE"
            && case.old_object.is_object()
        {
            return Err("StorageClass UPDATE mutated".into());
        }
        if !warnings(r).iter().any(|w| w.starts_with(MUTATED_PREFIX)) {
            return Err("mutation without a 'mutated:' warning".into());
        }
    }
    if case.operation == "DELETE" && !r.accepted {
        return Err("DELETE rejected".into());
    }
    if case.kind == Kind::DaemonSet && unchanged_pod_template(case) {
        if !r.accepted {
            return Err("UPDATE with an unchanged pod template rejected".into());
        }
        if r.mutated_object.is_some() {
            return Err("UPDATE with an unchanged pod template mutated".into());
        }
    }
    Ok(())
}

/// A DaemonSet UPDATE whose readable oldObject has the same
/// `spec.template.spec` (missing in both counts as the same): accepted
/// with the violations as warnings, never mutated (Pod Security
/// Admission's exemption for updates that leave the pod spec alone).
pub fn unchanged_pod_template(case: &Case) -> bool {
    case.operation == "UPDATE"
        && case.old_object.is_object()
        && case.object.is_object()
        && case.object.pointer("/spec/template/spec")
            == case.old_object.pointer("/spec/template/spec")
}

// ---------------------------------------------------------------------------
// Mutation: idempotent, valid, and touching only what it means to.

/// The object without the fields the mutating rules set.
pub fn strip_targeted(kind: Kind, object: &Value) -> Value {
    let mut object = object.clone();
    match kind {
        Kind::DaemonSet | Kind::Pod => {
            if let Some(Value::Object(pod)) = object.pointer_mut(pod_spec_pointer(kind)) {
                if kind == Kind::DaemonSet {
                    pod.remove("tolerations");
                }
                for list in CONTAINER_LISTS {
                    for container in pod
                        .get_mut(*list)
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        for mount in container
                            .get_mut("volumeMounts")
                            .and_then(Value::as_array_mut)
                            .into_iter()
                            .flatten()
                        {
                            if let Value::Object(m) = mount {
                                m.remove("readOnly");
                                m.remove("recursiveReadOnly");
                            }
                        }
                    }
                }
            }
        }
        Kind::StorageClass => {
            if let Value::Object(sc) = &mut object {
                for field in ["reclaimPolicy", "volumeBindingMode", "allowVolumeExpansion"] {
                    sc.remove(field);
                }
            }
        }
        Kind::CsiDriver => {
            if let Some(Value::Object(spec)) = object.get_mut("spec") {
                for field in SPEC_FIELDS {
                    spec.remove(*field);
                }
            }
        }
        Kind::VolumeAttributesClass | Kind::PersistentVolume => {}
    }
    object
}

/// The CSIDriver spec fields `csiDrivers.spec` judges (and may set).
const SPEC_FIELDS: &[&str] = &[
    "attachRequired",
    "podInfoOnMount",
    "requiresRepublish",
    "storageCapacity",
    "seLinuxMount",
    "fsGroupPolicy",
    "nodeAllocatableUpdatePeriodSeconds",
];

/// Mutation keeps every toleration, in order (required ones are appended or
/// inserted), and changes a `tolerationSeconds` only to tolerate longer.
fn kept_in_order(before: &[Value], after: &[Value]) -> Outcome {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Value::Object(m) = &mut t {
            m.remove("tolerationSeconds");
        }
        t
    };
    let mut rest = after.iter();
    for b in before {
        let Some(a) = rest.find(|a| without_seconds(a) == without_seconds(b)) else {
            return Err(format!("toleration {b} dropped or changed: {after:?}"));
        };
        let seconds = |t: &Value| t.get("tolerationSeconds").cloned();
        let (sb, sa) = (seconds(b), seconds(a));
        let longer = match (sb.as_ref().and_then(Value::as_i64), &sa) {
            _ if sb == sa => true,
            (Some(_), None) => true,
            (Some(x), Some(y)) => y.as_i64().is_some_and(|y| y > x),
            _ => false,
        };
        if !longer {
            return Err(format!("tolerationSeconds of {b} changed to {sa:?}"));
        }
    }
    Ok(())
}

/// Where the pod spec of an object of `kind` is.
pub fn pod_spec_pointer(kind: Kind) -> &'static str {
    if kind == Kind::Pod {
        "/spec"
    } else {
        "/spec/template/spec"
    }
}

fn mounts_of(kind: Kind, object: &Value) -> Vec<Value> {
    let mut mounts = Vec::new();
    for list in CONTAINER_LISTS {
        let pointer = format!("{}/{list}", pod_spec_pointer(kind));
        for container in object
            .pointer(&pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for mount in container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                mounts.push(mount.clone());
            }
        }
    }
    mounts
}

/// Only the targeted fields differ, and only in the intended direction.
pub fn check_preserved(case: &Case, mutated: &Value) -> Outcome {
    let original = &case.object;
    if strip_targeted(case.kind, original) != strip_targeted(case.kind, mutated) {
        return Err(format!(
            "mutation changed untargeted fields:\n  before: {}\n  after:  {}",
            strip_targeted(case.kind, original),
            strip_targeted(case.kind, mutated)
        ));
    }
    match case.kind {
        Kind::DaemonSet => {
            let pointer = "/spec/template/spec/tolerations";
            let before = original.pointer(pointer);
            let after = mutated.pointer(pointer);
            match (before, after) {
                (Some(Value::Array(b)), Some(Value::Array(a))) => kept_in_order(b, a)?,
                (None | Some(Value::Null), Some(Value::Array(_)) | None) => {}
                (b, a) if b == a => {}
                (b, a) => {
                    return Err(format!("tolerations not kept: {b:?} -> {a:?}"));
                }
            }
            check_mounts_preserved(case.kind, original, mutated)?;
        }
        Kind::Pod => check_mounts_preserved(case.kind, original, mutated)?,
        Kind::StorageClass => {
            let settings = parsed_settings(case)?;
            let sc = &settings.storage_classes;
            let strings = |v: &Option<Vec<String>>| {
                v.as_ref()
                    .map(|a| a.iter().cloned().map(Value::from).collect::<Vec<_>>())
            };
            let wanted = [
                (
                    "reclaimPolicy",
                    sc.reclaim_policy.set.clone().map(Value::from),
                    Some(Value::from("Delete")),
                    strings(&sc.reclaim_policy.allowed),
                ),
                (
                    "volumeBindingMode",
                    sc.volume_binding_mode.set.clone().map(Value::from),
                    Some(Value::from("Immediate")),
                    strings(&sc.volume_binding_mode.allowed),
                ),
                (
                    "allowVolumeExpansion",
                    sc.allow_volume_expansion.set.map(Value::from),
                    None,
                    sc.allow_volume_expansion
                        .allowed
                        .as_ref()
                        .map(|a| a.iter().copied().map(Value::from).collect()),
                ),
            ];
            for (field, set, default, allowed) in wanted {
                let (b, a) = (original.get(field), mutated.get(field));
                if b != a && a != set.as_ref() {
                    return Err(format!(
                        "{field} changed from {b:?} to {a:?}, setting is {set:?}"
                    ));
                }
                // `set` replaces only the API default (or unset) and a value
                // outside `allowed`, never another chosen value.
                let b = b.filter(|v| !v.is_null());
                let replaceable = b.is_none()
                    || b == default.as_ref()
                    || allowed
                        .as_ref()
                        .is_some_and(|a| b.is_some_and(|b| !a.contains(b)));
                if b != a.filter(|v| !v.is_null()) && !replaceable {
                    return Err(format!(
                        "{field}: the chosen {b:?} was replaced by {a:?} (allowed {allowed:?})"
                    ));
                }
            }
        }
        Kind::CsiDriver | Kind::PersistentVolume | Kind::VolumeAttributesClass => {}
    }
    Ok(())
}

/// A mutated mount becomes read-only, and recursively read-only only in a
/// shape the API server accepts (`readOnly: true`, no propagation).
fn check_mounts_preserved(kind: Kind, original: &Value, mutated: &Value) -> Outcome {
    for (b, a) in mounts_of(kind, original)
        .iter()
        .zip(mounts_of(kind, mutated).iter())
    {
        let (rb, ra) = (b.get("readOnly"), a.get("readOnly"));
        if rb != ra && ra != Some(&Value::Bool(true)) {
            return Err(format!("readOnly changed from {rb:?} to {ra:?}"));
        }
        let (xb, xa) = (b.get("recursiveReadOnly"), a.get("recursiveReadOnly"));
        if xb != xa {
            let propagation = a.get("mountPropagation").and_then(Value::as_str);
            if xa != Some(&Value::from("IfPossible"))
                || ra != Some(&Value::Bool(true))
                || !matches!(propagation, None | Some("None"))
            {
                return Err(format!(
                    "recursiveReadOnly changed from {xb:?} to {xa:?} on {a} (invalid for the API server)"
                ));
            }
        }
    }
    Ok(())
}

/// Evaluating the mutated object changes nothing more and adds no violation.
pub fn check_idempotent(case: &Case, r: &ValidationResponse, mutated: &Value) -> Outcome {
    let again = run(&case.with_object(mutated.clone()));
    if !again.accepted {
        return Err(format!(
            "mutated object rejected: {}",
            again.message.unwrap_or_default()
        ));
    }
    if let Some(m) = &again.mutated_object {
        return Err(format!("mutation is not idempotent: second pass gave {m}"));
    }
    let before: Vec<String> = violations(r).iter().map(|v| signature(v)).collect();
    for v in violations(&again) {
        if !before.contains(&signature(&v)) && !moved_toleration(case, mutated, r, &v) {
            return Err(format!("mutated object has a new violation: {v}"));
        }
    }
    Ok(())
}

/// A violation of `tolerations[j]` in the mutated object that the original
/// object had on the same toleration at another index: an inserted required
/// toleration moves the ones after it (`tolerationSeconds` aside, which only
/// a requirement lengthens and no judgement of a single toleration reads).
fn moved_toleration(case: &Case, mutated: &Value, r: &ValidationResponse, v: &str) -> bool {
    const BASE: &str = "spec.template.spec.tolerations[";
    let Some(v) = Violation::parse(v) else {
        return false;
    };
    let Some((index, tail)) = v
        .path
        .strip_prefix(BASE)
        .and_then(|rest| rest.split_once(']'))
    else {
        return false;
    };
    let Ok(j) = index.parse::<usize>() else {
        return false;
    };
    let pointer = "/spec/template/spec/tolerations";
    let list = |o: &Value| o.pointer(pointer).and_then(Value::as_array).cloned();
    let (Some(original), Some(after)) = (list(&case.object), list(mutated)) else {
        return false;
    };
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Value::Object(m) = &mut t {
            m.remove("tolerationSeconds");
        }
        t
    };
    let Some(moved) = after.get(j).map(without_seconds) else {
        return false;
    };
    let earlier: Vec<(String, String)> = violations(r)
        .iter()
        .filter_map(|w| Violation::parse(w).map(|w| (w.path.to_string(), w.rule.to_string())))
        .collect();
    original.iter().enumerate().any(|(i, t)| {
        without_seconds(t) == moved
            && earlier.contains(&(format!("{BASE}{i}]{tail}"), v.rule.to_string()))
    })
}

pub fn check_mutation(case: &Case, r: &ValidationResponse) -> Outcome {
    let Some(mutated) = &r.mutated_object else {
        return Ok(());
    };
    check_preserved(case, mutated)?;
    check_idempotent(case, r, mutated)
}

// ---------------------------------------------------------------------------
// Modes and settings order.

/// `warn` accepts exactly what `enforce` rejects, listing the same
/// violations, except unreadable objects (rejected in both modes).
pub fn check_warn_matches_enforce(case: &Case) -> Outcome {
    let enforce = run(&case.with_settings(with_mode(&case.settings, "enforce")));
    let warn = run(&case.with_settings(with_mode(&case.settings, "warn")));
    if enforce.accepted {
        if !warn.accepted
            || warn.warnings != enforce.warnings
            || warn.mutated_object != enforce.mutated_object
        {
            return Err(format!(
                "enforce accepted, warn differs: enforce {:?} / warn {:?}",
                enforce.warnings, warn
            ));
        }
        return Ok(());
    }
    let message = enforce.message.clone().unwrap_or_default();
    let Some(rejection) = Rejection::parse(&message) else {
        // Not a rule verdict (e.g. a missing object): same in both modes.
        if warn.accepted || warn.message != enforce.message {
            return Err(format!("enforce: {message}\nwarn: {warn:?}"));
        }
        return Ok(());
    };
    if rejection
        .violations
        .iter()
        .any(|v| v.rule == rules::UNREADABLE)
    {
        if warn.accepted || warn.message.as_deref() != Some(message.as_str()) {
            return Err(format!(
                "unreadable object: warn must reject like enforce\n  enforce: {message}\n  warn: {warn:?}"
            ));
        }
        return Ok(());
    }
    if !warn.accepted {
        return Err(format!(
            "warn rejected: {}\n  enforce: {message}",
            warn.message.unwrap_or_default()
        ));
    }
    let warned: Vec<Violation> = warnings(&warn)
        .iter()
        .filter_map(|w| Violation::parse_warning(w))
        .collect();
    // A rule with a mode of its own (storageClasses.defaultClass.mode:
    // warn) warns in both runs, after the group's violations.
    let mut expected = rejection.violations.clone();
    expected.extend(
        warnings(&enforce)
            .iter()
            .filter_map(|w| Violation::parse_warning(w)),
    );
    if warned != expected {
        return Err(format!(
            "warn-mode warnings differ from the enforce violations\n  enforce: {message}\n  warn:    {:?}",
            warnings(&warn)
        ));
    }
    Ok(())
}

/// Reordering every settings list changes neither validity nor verdict.
pub fn check_order_free(case: &Case, g: &mut Gen) -> Outcome {
    let mut shuffled = case.settings.clone();
    shuffle_lists(g, &mut shuffled);
    let valid = |s: &Value| validate_settings(s.to_string().as_bytes()).valid;
    if valid(&case.settings) != valid(&shuffled) {
        return Err(format!(
            "settings validity depends on order: {} vs {shuffled}",
            case.settings
        ));
    }
    let a = verdict(&run(case));
    let b = verdict(&run(&case.with_settings(shuffled.clone())));
    if a != b {
        return Err(format!(
            "verdict depends on settings order\n  shuffled settings: {shuffled}\n  original: {a:?}\n  shuffled: {b:?}"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reference semantics of an accepted object.

/// `hostPaths.forbidden` as the settings say it, or the default list when
/// they leave it out.
fn forbidden_or_default(forbidden: &Option<Vec<String>>) -> Vec<&str> {
    match forbidden {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => DEFAULT_FORBIDDEN_HOST_PATHS.to_vec(),
    }
}

/// Segments of an absolute path, `None` when relative, empty or with `..`.
pub fn ref_segments(path: &str) -> Option<Vec<&str>> {
    if !path.starts_with('/') {
        return None;
    }
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segments.contains(&"..") {
        return None;
    }
    Some(segments)
}

fn overlaps(a: &[&str], b: &[&str]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `/var/run/...` read as `/run/...` (`/var/run` is a symlink to `/run`).
fn run_twin<'a>(segments: &[&'a str]) -> Vec<&'a str> {
    match segments {
        ["var", "run", rest @ ..] => std::iter::once("run").chain(rest.iter().copied()).collect(),
        other => other.to_vec(),
    }
}

/// `*` is one or more characters other than `.`; anchored.
pub fn ref_glob(pattern: &str, name: &str) -> bool {
    fn label(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => {
                (1..=n.len()).any(|k| n.get(k..).is_some_and(|tail| label(rest, tail)))
            }
            Some((c, rest)) => {
                n.first() == Some(c) && n.get(1..).is_some_and(|tail| label(rest, tail))
            }
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let n: Vec<&str> = name.split('.').collect();
    p.len() == n.len()
        && p.iter()
            .zip(&n)
            .all(|(p, n)| label(p.as_bytes(), n.as_bytes()))
}

fn ref_glob_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| ref_glob(p, name))
}

fn normalize(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

fn str_field<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("accepted {what}.{key} = {other}")),
    }
}

fn list_field<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<&'a [Value], String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("accepted {what}.{key} = {other}")),
    }
}

struct HostVolume<'a> {
    name: String,
    path: String,
    segments: Vec<&'a str>,
}

/// What a node resolves on its own and the policy must refuse, in a
/// normalised object path: `..` once `\` is a separator (Windows nodes),
/// or a link the kernel defines on every node (`/proc/<pid>/root`, ...),
/// which the runtime resolves before mounting.
pub fn ref_node_resolved(path: &str, segments: &[&str]) -> Option<String> {
    if path.contains('\\') && path.split(['/', '\\']).any(|s| s == "..") {
        return Some("a '..' segment once '\\' is a separator".into());
    }
    let pid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let pid_link = |s: &str| ["root", "cwd", "exe", "fd", "map_files", "ns"].contains(&s);
    let hit = match segments {
        ["proc", "self" | "thread-self", ..] => true,
        ["proc", p, "task", t, e, ..] if pid(p) && pid(t) && pid_link(e) => true,
        ["proc", p, e, ..] if pid(p) && pid_link(e) => true,
        ["dev", "fd" | "stdin" | "stdout" | "stderr", ..] => true,
        _ => false,
    };
    hit.then(|| format!("kernel link in /{}", segments.join("/")))
}

/// The segments a mount exposes: the volume's, then `subPath`'s (kubelet
/// joins them); a `subPathExpr` may expand to anything inside the volume,
/// so it exposes the whole volume, and so does a refused `subPath`.
fn exposed_segments<'a>(
    volume: &[&'a str],
    mount: &'a Map<String, Value>,
    at: &str,
) -> Result<Vec<&'a str>, String> {
    let mut segments = volume.to_vec();
    let expr = str_field(mount, "subPathExpr", at)?.unwrap_or("");
    if let Some(sub) = str_field(mount, "subPath", at)?
        && expr.is_empty()
        && !sub.starts_with('/')
    {
        let parts: Vec<&str> = sub
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if !parts.contains(&"..") {
            segments.extend(parts);
        }
    }
    Ok(segments)
}

/// An accepted DaemonSet (enforce mode, not exempted) holds nothing the
/// settings refuse.
pub fn check_accepted_daemon_set(settings: &Settings, object: &Value) -> Outcome {
    let ds = &settings.daemon_sets;
    let pod = object
        .pointer("/spec/template/spec")
        .and_then(Value::as_object)
        .ok_or("accepted a DaemonSet without a readable pod template")?;
    let allowed: Vec<(Vec<&str>, &AllowedHostPath)> = ds
        .host_paths
        .allowed
        .iter()
        .filter_map(|a| Some((ref_segments(&a.path_prefix)?, a)))
        .collect();
    let forbidden_list = forbidden_or_default(&ds.host_paths.forbidden);
    let forbidden: Vec<Vec<&str>> = forbidden_list
        .iter()
        .filter_map(|f| ref_segments(f))
        .collect();
    let default_forbidden = forbidden_list
        .iter()
        .copied()
        .eq(DEFAULT_FORBIDDEN_HOST_PATHS.iter().copied());
    let volumes = list_field(pod, "volumes", "pod spec")?;
    // Mounts refer to volumes by name: a name used twice cannot be judged.
    let mut names = std::collections::HashSet::new();
    for name in volumes
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
    {
        if !names.insert(name) {
            return Err(format!("accepted two volumes named {name:?}"));
        }
    }
    let mut host_volumes: Vec<HostVolume> = Vec::new();
    for volume in volumes {
        let volume = volume
            .as_object()
            .ok_or_else(|| format!("accepted volume {volume}"))?;
        match volume.get("hostPath") {
            None | Some(Value::Null) => {}
            Some(Value::Object(hp)) => {
                let path = str_field(hp, "path", "hostPath")?
                    .ok_or("accepted a hostPath without a path")?;
                let segments = ref_segments(path).ok_or_else(|| {
                    format!("accepted hostPath {path:?}: relative, empty or with a '..' segment")
                })?;
                if let Some(f) = forbidden.iter().find(|f| {
                    overlaps(&segments, f)
                        || (default_forbidden && overlaps(&run_twin(&segments), &run_twin(f)))
                }) {
                    return Err(format!(
                        "accepted hostPath {path:?}, which overlaps forbidden /{}",
                        f.join("/")
                    ));
                }
                if let Some(what) = ref_node_resolved(path, &segments) {
                    return Err(format!("accepted hostPath {path:?} with {what}"));
                }
                let (_, rule) = allowed
                    .iter()
                    .filter(|(p, _)| segments.starts_with(p))
                    .max_by_key(|(p, _)| p.len())
                    .ok_or_else(|| format!("accepted hostPath {path:?} under no allowed prefix"))?;
                if let Some(types) = &rule.types {
                    let ty = str_field(hp, "type", "hostPath")?.unwrap_or("");
                    if !types.iter().any(|t| t == ty) {
                        return Err(format!(
                            "accepted hostPath {path:?} of type {ty:?}, allowed {types:?}"
                        ));
                    }
                }
                if let Some(name) = str_field(volume, "name", "volume")? {
                    host_volumes.push(HostVolume {
                        name: name.to_string(),
                        path: path.to_string(),
                        segments: segments.clone(),
                    });
                }
            }
            Some(other) => return Err(format!("accepted hostPath {other}")),
        }
        if let Some(allowed) = &settings.csi_drivers.allowed {
            match volume.get("csi") {
                None | Some(Value::Null) => {}
                Some(Value::Object(csi)) => {
                    let driver = str_field(csi, "driver", "csi")?
                        .ok_or("accepted inline CSI without driver")?;
                    if !ref_glob_any(allowed, driver) {
                        return Err(format!(
                            "accepted inline CSI driver {driver:?}, allowed {allowed:?}"
                        ));
                    }
                }
                Some(other) => return Err(format!("accepted csi {other}")),
            }
        }
        if let Some(Value::Object(csi)) = volume.get("csi")
            && let Some(driver) = csi.get("driver").and_then(Value::as_str)
        {
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            check_accepted_inline(settings, csi, driver, namespace)?;
        }
    }
    if !host_volumes.is_empty() {
        for list in CONTAINER_LISTS {
            for (c, container) in list_field(pod, list, "pod spec")?.iter().enumerate() {
                let container = container
                    .as_object()
                    .ok_or_else(|| format!("accepted {list}[{c}] = {container}"))?;
                let mounts = list_field(container, "volumeMounts", list)?;
                for (m, mount) in mounts.iter().enumerate() {
                    let at = format!("{list}[{c}].volumeMounts[{m}]");
                    let mount = mount
                        .as_object()
                        .ok_or_else(|| format!("accepted {at} = {mount}"))?;
                    let Some(name) = str_field(mount, "name", &at)? else {
                        continue;
                    };
                    for volume in host_volumes.iter().filter(|v| v.name == name) {
                        let exposed = exposed_segments(&volume.segments, mount, &at)?;
                        let shown = format!("/{}", exposed.join("/"));
                        // The prefix the exposed path lies under decides, and
                        // every prefix inside the exposed tree binds too.
                        let under = allowed
                            .iter()
                            .filter(|(p, _)| exposed.starts_with(p))
                            .max_by_key(|(p, _)| p.len())
                            .map(|(_, rule)| *rule)
                            .ok_or_else(|| {
                                format!("accepted {at} exposing {shown}, under no prefix")
                            })?;
                        let inside: Vec<&AllowedHostPath> = allowed
                            .iter()
                            .filter(|(p, _)| p.len() > exposed.len() && p.starts_with(&exposed))
                            .map(|(_, rule)| *rule)
                            .collect();
                        let read_only = std::iter::once(under)
                            .chain(inside.iter().copied())
                            .find(|r| r.read_only);
                        if let Some(ro) = read_only
                            && mount.get("readOnly") != Some(&Value::Bool(true))
                        {
                            return Err(format!(
                                "accepted {at} of {} exposing {shown} (read-only prefix {}) with readOnly {:?}",
                                volume.path,
                                ro.path_prefix,
                                mount.get("readOnly")
                            ));
                        }
                        // Bidirectional: the exposed path's prefix must allow
                        // it, and so must any read-only prefix inside the tree
                        // (a mount made in the container would cover it).
                        let refuses_bidirectional =
                            Some(under).filter(|r| !r.allow_bidirectional).or_else(|| {
                                inside
                                    .iter()
                                    .copied()
                                    .find(|r| r.read_only && !r.allow_bidirectional)
                            });
                        if str_field(mount, "mountPropagation", &at)? == Some("Bidirectional")
                            && let Some(no) = refuses_bidirectional
                        {
                            return Err(format!(
                                "accepted Bidirectional {at} of {} exposing {shown} ({} refuses it)",
                                volume.path, no.path_prefix
                            ));
                        }
                        let propagation = str_field(mount, "mountPropagation", &at)?;
                        if propagation == Some("HostToContainer")
                            && !(under.allow_host_to_container || under.allow_bidirectional)
                        {
                            return Err(format!(
                                "accepted HostToContainer {at} of {} exposing {shown} ({} grants no propagation)",
                                volume.path, under.path_prefix
                            ));
                        }
                        // A read-only mount of a tree a prefix requires to be
                        // recursively read-only sets IfPossible or Enabled.
                        let required = std::iter::once(under)
                            .chain(inside.iter().copied())
                            .find(|r| r.recursive_read_only == RecursiveReadOnly::Required);
                        if let Some(req) = required
                            && mount.get("readOnly") == Some(&Value::Bool(true))
                            && !matches!(
                                str_field(mount, "recursiveReadOnly", &at)?,
                                Some("IfPossible" | "Enabled")
                            )
                        {
                            return Err(format!(
                                "accepted {at} of {} exposing {shown} without recursive read-only ({} requires it)",
                                volume.path, req.path_prefix
                            ));
                        }
                        if let Some(sub) = str_field(mount, "subPath", &at)?
                            && (sub.starts_with('/') || sub.split('/').any(|s| s == ".."))
                        {
                            return Err(format!("accepted {at}.subPath {sub:?}"));
                        }
                    }
                }
            }
        }
    }
    let tolerations = &ds.tolerations;
    for toleration in list_field(pod, "tolerations", "pod spec")? {
        let t = toleration
            .as_object()
            .ok_or_else(|| format!("accepted toleration {toleration}"))?;
        let key = str_field(t, "key", "toleration")?.unwrap_or("");
        let operator = match str_field(t, "operator", "toleration")?.unwrap_or("") {
            "" => "Equal",
            op => op,
        };
        let effect = str_field(t, "effect", "toleration")?.unwrap_or("");
        str_field(t, "value", "toleration")?;
        if key.is_empty() && operator == "Exists" {
            let effect_allowed = !effect.is_empty()
                && tolerations
                    .allowed_wildcard_effects
                    .iter()
                    .any(|e| e == effect);
            if !tolerations.allow_wildcard && !effect_allowed {
                return Err(format!("accepted wildcard toleration {toleration}"));
            }
            continue;
        }
        for f in &tolerations.forbidden {
            let effect_hit = match f.effect.as_deref().filter(|e| !e.is_empty()) {
                None => true,
                Some(e) => effect.is_empty() || effect == e,
            };
            if key.trim().eq_ignore_ascii_case(f.key.trim()) && effect_hit {
                return Err(format!("accepted forbidden toleration {toleration}"));
            }
        }
    }
    check_required_tolerations(settings, list_field(pod, "tolerations", "pod spec")?)?;
    if let Some(node) = str_field(pod, "nodeName", "pod spec")?
        && !node.is_empty()
        && !ds.allow_node_name
    {
        return Err(format!("accepted nodeName {node:?}"));
    }
    for volume in volumes.iter().filter_map(Value::as_object) {
        check_accepted_ephemeral(settings, volume)?;
        check_accepted_image(settings, volume)?;
    }
    Ok(())
}

/// A generic ephemeral volume names a listed class; no class at all only
/// with `allowDefaultClass`.
fn check_accepted_ephemeral(settings: &Settings, volume: &Map<String, Value>) -> Outcome {
    let rules = &settings.daemon_sets.ephemeral_volumes;
    let Some(spec) = volume
        .get("ephemeral")
        .filter(|e| !e.is_null())
        .and_then(|e| e.get("volumeClaimTemplate"))
        .filter(|t| !t.is_null())
        .and_then(|t| t.get("spec"))
        .filter(|s| !s.is_null())
    else {
        return Ok(());
    };
    let spec = spec
        .as_object()
        .ok_or_else(|| format!("accepted claim template spec {spec}"))?;
    if let Some(allowed) = &rules.storage_class_names {
        match str_field(spec, "storageClassName", "claim template")? {
            None if !rules.allow_default_class => {
                return Err("accepted an ephemeral volume of the default class".into());
            }
            Some(name) if !allowed.iter().any(|a| a == name) => {
                return Err(format!(
                    "accepted ephemeral class {name:?}, allowed {allowed:?}"
                ));
            }
            _ => {}
        }
    }
    if let Some(allowed) = &rules.volume_attributes_class_names
        && let Some(name) = str_field(spec, "volumeAttributesClassName", "claim template")?
        && !name.is_empty()
        && !allowed.iter().any(|a| a == name)
    {
        return Err(format!(
            "accepted attributes class {name:?}, allowed {allowed:?}"
        ));
    }
    Ok(())
}

/// `*` is one or more characters within a `/` segment; a last `**` any
/// one or more segments.
fn ref_repository_glob(pattern: &str, repository: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let r: Vec<&str> = repository.split('/').collect();
    let segment = |p: &str, n: &str| ref_glob(&p.replace('.', "\u{0}"), &n.replace('.', "\u{0}"));
    match p.split_last() {
        Some((&"**", head)) => {
            r.len() > head.len() && head.iter().zip(&r).all(|(p, n)| segment(p, n))
        }
        _ => p.len() == r.len() && p.iter().zip(&r).all(|(p, n)| segment(p, n)),
    }
}

/// An image volume comes from an allowed repository (by the table of
/// normalised references the generator draws from), pinned when required,
/// with an allowed pull policy after defaulting.
fn check_accepted_image(settings: &Settings, volume: &Map<String, Value>) -> Outcome {
    let rules = &settings.daemon_sets.image_volumes;
    let Some(image) = volume.get("image").filter(|i| !i.is_null()) else {
        return Ok(());
    };
    let image = image
        .as_object()
        .ok_or_else(|| format!("accepted image volume {image}"))?;
    let reference = str_field(image, "reference", "image volume")?.unwrap_or("");
    let known = super::generators::IMAGE_REFERENCES
        .iter()
        .find(|(r, _)| *r == reference)
        .map(|(_, parsed)| *parsed);
    let restricted = rules.allowed.is_some() || rules.require_digest;
    let parsed = match known {
        Some(Some(parsed)) => Some(parsed),
        Some(None) if restricted => {
            return Err(format!("accepted unparseable reference {reference:?}"));
        }
        None if restricted && reference.is_empty() => {
            return Err("accepted an image volume without reference".into());
        }
        _ => None,
    };
    if let Some((repository, digest, default_policy)) = parsed {
        if let Some(allowed) = &rules.allowed
            && !allowed.iter().any(|p| ref_repository_glob(p, repository))
        {
            return Err(format!("accepted image {repository}, allowed {allowed:?}"));
        }
        if rules.require_digest && !digest {
            return Err(format!("accepted {reference:?} without digest"));
        }
        if let Some(policies) = &rules.pull_policies {
            let policy = str_field(image, "pullPolicy", "image volume")?
                .filter(|p| !p.is_empty())
                .unwrap_or(default_policy);
            if !policies.iter().any(|p| p == policy) {
                return Err(format!(
                    "accepted pull policy {policy}, allowed {policies:?}"
                ));
            }
        }
    }
    Ok(())
}

/// An accepted PersistentVolume CREATE (enforce mode, not exempted): every
/// source is one the settings allow.
pub fn check_accepted_persistent_volume(
    settings: &Settings,
    object: &Value,
    username: &str,
) -> Outcome {
    let spec = object
        .get("spec")
        .and_then(Value::as_object)
        .ok_or("accepted a PersistentVolume without a readable spec")?;
    let pv = &settings.persistent_volumes;
    let forbidden: Vec<Vec<&str>> = forbidden_or_default(&pv.host_paths.forbidden)
        .into_iter()
        .filter_map(ref_segments)
        .collect();
    let account = username
        .strip_prefix("system:serviceaccount:")
        .map(|rest| rest.replacen(':', "/", 1));
    for source in ["hostPath", "local"] {
        let Some(volume) = spec.get(source).filter(|v| !v.is_null()) else {
            continue;
        };
        let volume = volume
            .as_object()
            .ok_or_else(|| format!("accepted {source} {volume}"))?;
        let path = str_field(volume, "path", source)?
            .ok_or_else(|| format!("accepted {source} without a path"))?;
        let segments =
            ref_segments(path).ok_or_else(|| format!("accepted {source} path {path:?}"))?;
        if let Some(what) = ref_node_resolved(path, &segments) {
            return Err(format!("accepted {source} {path:?} with {what}"));
        }
        if let Some(f) = forbidden.iter().find(|f| overlaps(&segments, f)) {
            return Err(format!(
                "accepted {source} {path:?} overlapping /{}",
                f.join("/")
            ));
        }
        let rule = pv
            .host_paths
            .allowed
            .iter()
            .filter(|a| ref_segments(&a.path_prefix).is_some_and(|p| segments.starts_with(&p)))
            .filter(|a| {
                a.service_accounts.as_ref().is_none_or(|sas| {
                    account
                        .as_ref()
                        .is_some_and(|me| sas.iter().any(|sa| sa == me))
                })
            })
            .max_by_key(|a| ref_segments(&a.path_prefix).map_or(0, |p| p.len()))
            .ok_or_else(|| {
                format!("accepted {source} {path:?} for {username:?} under no prefix")
            })?;
        if source == "hostPath"
            && let Some(types) = &rule.types
        {
            let ty = str_field(volume, "type", source)?.unwrap_or("");
            if !types.iter().any(|t| t == ty) {
                return Err(format!("accepted hostPath type {ty:?}, allowed {types:?}"));
            }
        }
    }
    let claim_namespace = spec
        .get("claimRef")
        .and_then(|c| c.get("namespace"))
        .and_then(Value::as_str);
    let secrets = &settings.storage_classes.secrets;
    let namespace_ok = |ns: &str| {
        (secrets.allow_pvc_namespace_template && claim_namespace == Some(ns))
            || secrets
                .allowed_namespaces
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a == ns))
    };
    let reference_ok = |parent: &Map<String, Value>, key: &str| -> Outcome {
        match parent.get(key) {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Object(r)) => match str_field(r, "namespace", key)? {
                Some(ns) if !ns.is_empty() && !namespace_ok(ns) => {
                    Err(format!("accepted {key} in namespace {ns:?}"))
                }
                _ => Ok(()),
            },
            Some(other) => Err(format!("accepted {key} = {other}")),
        }
    };
    let driver_ok = |driver: &str| {
        settings
            .csi_drivers
            .allowed
            .as_ref()
            .is_none_or(|allowed| ref_glob_any(allowed, driver))
    };
    if let Some(csi) = spec.get("csi").filter(|c| !c.is_null()) {
        let csi = csi
            .as_object()
            .ok_or_else(|| format!("accepted csi {csi}"))?;
        let driver = str_field(csi, "driver", "csi")?.ok_or("accepted a CSI PV without driver")?;
        if !driver_ok(driver) {
            return Err(format!("accepted CSI PV driver {driver:?}"));
        }
        for key in super::generators::PV_SECRET_REFS {
            reference_ok(csi, key)?;
        }
    }
    for (source, driver) in super::generators::PV_TRANSLATED {
        let Some(volume) = spec.get(*source).filter(|v| !v.is_null()) else {
            continue;
        };
        let volume = volume
            .as_object()
            .ok_or_else(|| format!("accepted {source} {volume}"))?;
        if !settings.storage_classes.allow_in_tree_provisioners {
            return Err(format!("accepted in-tree {source}"));
        }
        if !driver_ok(driver) {
            return Err(format!("accepted in-tree {source} as {driver}"));
        }
        if *source == "azureFile" {
            let ns = str_field(volume, "secretNamespace", source)?.unwrap_or("default");
            if !namespace_ok(ns) {
                return Err(format!("accepted azureFile secretNamespace {ns:?}"));
            }
        } else {
            reference_ok(volume, "secretRef")?;
        }
    }
    for source in super::generators::PV_UNTRANSLATED {
        let Some(volume) = spec.get(*source).filter(|v| !v.is_null()) else {
            continue;
        };
        let volume = volume
            .as_object()
            .ok_or_else(|| format!("accepted {source} {volume}"))?;
        if !pv.allowed_sources.iter().any(|s| s == source) {
            return Err(format!(
                "accepted {source}, allowed {:?}",
                pv.allowed_sources
            ));
        }
        reference_ok(volume, "secretRef")?;
    }
    Ok(())
}

/// An accepted debug-container request: judged (a DaemonSet controls the
/// Pod, or `allPods`), its new ephemeral containers (names not in the old
/// Pod) mount the hostPath volumes as a DaemonSet's containers may. Read
/// as the DaemonSet template holding only those containers and the volumes
/// they mount, judged by the hostPath rules alone.
pub fn check_accepted_pod(settings: &Settings, object: &Value, old: &Value) -> Outcome {
    let controlled = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|o| {
            o.get("controller") == Some(&Value::Bool(true))
                && o.get("kind").and_then(Value::as_str) == Some("DaemonSet")
                && o.get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.split('/').next() == Some("apps"))
        });
    if !controlled && !settings.daemon_sets.ephemeral_containers.all_pods {
        return Ok(());
    }
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
    let existing: Vec<String> = old
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(name)
        .collect();
    let new: Vec<Value> = object
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| name(c).is_none_or(|n| !existing.contains(&n)))
        .cloned()
        .collect();
    let mounted: Vec<&str> = new
        .iter()
        .filter_map(|c| c.get("volumeMounts")?.as_array())
        .flatten()
        .filter_map(|m| m.get("name")?.as_str())
        .collect();
    let volumes: Vec<Value> = object
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| {
            v.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| mounted.contains(&n))
        })
        .cloned()
        // Only the hostPath rules judge debug containers: image and
        // generic ephemeral volumes of the Pod are not theirs to judge.
        .map(|mut v| {
            if let Some(v) = v.as_object_mut() {
                v.remove("image");
                v.remove("ephemeral");
            }
            v
        })
        .collect();
    let template = serde_json::json!({"spec": {"template": {"spec": {
        "volumes": volumes,
        "ephemeralContainers": new,
    }}}});
    let mut host_paths_only = Settings::default();
    host_paths_only.daemon_sets.host_paths = settings.daemon_sets.host_paths.clone();
    check_accepted_daemon_set(&host_paths_only, &template)
}

/// `ToleratesTaint` (k8s.io/api `core/v1/toleration.go`), with the alpha
/// gate `TaintTolerationComparisonOperators` on or off.
fn ref_tolerates(t: &Value, taint: (&str, &str, &str), gate: bool) -> bool {
    let (key, value, effect) = taint;
    let field = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
    if !field("effect").is_empty() && field("effect") != effect {
        return false;
    }
    if !field("key").is_empty() && field("key") != key {
        return false;
    }
    match field("operator") {
        "" | "Equal" => field("value") == value,
        "Exists" => true,
        op @ ("Lt" | "Gt") if gate => match (ref_integer(field("value")), ref_integer(value)) {
            (Some(threshold), Some(taint)) => {
                if op == "Lt" {
                    taint < threshold
                } else {
                    taint > threshold
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// apimachinery `content.IsDecimalInteger`, then `strconv.ParseInt`.
fn ref_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = text == "0"
        || (!digits.is_empty()
            && !digits.starts_with('0')
            && digits.chars().all(|c| c.is_ascii_digit()));
    if canonical { text.parse().ok() } else { None }
}

/// Every required toleration holds on every taint it tolerates: the first
/// toleration that tolerates the taint (the taint manager's
/// `GetMatchingTolerations`) exists and, for `NoExecute`, keeps the pod at
/// least as long (`getMinTolerationTime`: absent forever, <= 0 at once).
/// A non-threshold requirement must hold with the gate off too (then `Lt`
/// and `Gt` match nothing).
fn check_required_tolerations(settings: &Settings, present: &[Value]) -> Outcome {
    for r in &settings.daemon_sets.tolerations.required {
        let operator = r.operator.as_deref().unwrap_or("Equal");
        let value = r.value.as_deref().unwrap_or("");
        let values: Vec<String> = match operator {
            "Exists" => ["", "true", "gpu", "5", "-3", "1000"]
                .iter()
                .map(|v| v.to_string())
                .collect(),
            "Lt" => ref_integer(value)
                .and_then(|v| v.checked_sub(1))
                .map(|v| vec![v.to_string()])
                .unwrap_or_default(),
            "Gt" => ref_integer(value)
                .and_then(|v| v.checked_add(1))
                .map(|v| vec![v.to_string()])
                .unwrap_or_default(),
            _ => vec![value.to_string()],
        };
        let effects: Vec<&str> = match r.effect.as_deref() {
            None | Some("") => vec!["NoSchedule", "PreferNoSchedule", "NoExecute"],
            Some(e) => vec![e],
        };
        let gates: &[bool] = if matches!(operator, "Lt" | "Gt") {
            &[true]
        } else {
            &[false, true]
        };
        for &gate in gates {
            for v in &values {
                for effect in &effects {
                    let taint = (r.key.as_str(), v.as_str(), *effect);
                    let Some(first) = present.iter().find(|t| ref_tolerates(t, taint, gate)) else {
                        return Err(format!(
                            "accepted without required toleration {r:?}: taint {taint:?} (gate {gate}) is not tolerated"
                        ));
                    };
                    let have = first.get("tolerationSeconds").and_then(Value::as_i64);
                    let long_enough = match (have, r.toleration_seconds) {
                        (None, _) => true,
                        (Some(_), None) => false,
                        (Some(h), Some(w)) => h.max(0) >= w,
                    };
                    if *effect == "NoExecute" && !long_enough {
                        return Err(format!(
                            "accepted with required toleration {r:?} cut short: taint {taint:?} (gate {gate}) is first tolerated by {first} for {have:?}s"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn secret_field(key: &str) -> Option<bool> {
    const DEPRECATED: &[&str] = &[
        "csiprovisionersecret",
        "csicontrollerpublishsecret",
        "csinodestagesecret",
        "csinodepublishsecret",
    ];
    const OPERATIONS: &[&str] = &[
        "provisioner",
        "controller-publish",
        "node-stage",
        "node-publish",
        "controller-expand",
        "node-expand",
    ];
    for d in DEPRECATED {
        if let Some(rest) = key.strip_prefix(d) {
            match rest {
                "namespace" => return Some(true),
                "name" => return Some(false),
                _ => {}
            }
        }
    }
    let rest = key.strip_prefix("csi.storage.k8s.io/")?;
    for op in OPERATIONS {
        match rest.strip_prefix(op) {
            Some("-secret-namespace") => return Some(true),
            Some("-secret-name") => return Some(false),
            _ => {}
        }
    }
    None
}

fn option_matches(entry: &str, option: &str) -> bool {
    let entry = normalize(entry);
    let option = normalize(option);
    let name = option.split('=').next().unwrap_or("").trim().to_string();
    entry == option || (!entry.contains('=') && entry == name)
}

/// The 32-bit value a C parser (`kstrtouint` base 0, `strtoul`) reads, or
/// `None` for a value that is not a number. Reference: sign, then `0x` hex,
/// leading `0` octal or decimal; also the decimal reading of an octal-looking
/// value (mode options are written without the 0).
fn c_numbers(value: &str) -> Vec<u64> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let mut out = Vec::new();
    let mut push = |m: Option<u128>| {
        if let Some(m) = m.filter(|m| *m <= u128::from(u64::MAX)) {
            let m = m as u64;
            let n = if negative { m.wrapping_neg() } else { m };
            out.push(n);
            out.push(n & 0xffff_ffff);
        }
    };
    if let Some(hex) = digits.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            push(u128::from_str_radix(hex, 16).ok());
        }
    } else if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        push(digits.parse().ok());
        push(u128::from_str_radix(digits, 8).ok());
    }
    out
}

/// A forbidden entry refuses the option piece: the same text or name, the
/// same number in any spelling, or a name for an id option.
fn forbidden_option(entry: &str, option: &str) -> bool {
    if option_matches(entry, option) {
        return true;
    }
    let (entry, option) = (normalize(entry), normalize(option));
    let Some((name, value)) = entry.split_once('=') else {
        return false;
    };
    let wanted = c_numbers(value.trim());
    let (option_name, option_value) = option.split_once('=').unwrap_or((&option, ""));
    if wanted.is_empty() || option_name.trim() != name.trim() {
        return false;
    }
    let got = c_numbers(option_value.trim());
    got.iter().any(|n| wanted.contains(n))
        || (got.is_empty()
            && ["uid", "gid", "cruid", "backupuid", "backupgid"].contains(&name.trim()))
}

/// An accepted StorageClass CREATE (enforce mode, not exempted) holds
/// nothing the settings refuse.
pub fn check_accepted_storage_class(
    settings: &Settings,
    object: &Value,
    tolerated: &[KnownBug],
) -> Outcome {
    let verbatim = !tolerated.contains(&KnownBug::ParameterNormalisation);
    let sc_settings = &settings.storage_classes;
    let sc = object
        .as_object()
        .ok_or("accepted a StorageClass that is not an object")?;
    let provisioner = str_field(sc, "provisioner", "StorageClass")?
        .filter(|p| !p.is_empty())
        .ok_or("accepted a StorageClass without a provisioner")?;
    let driver = if provisioner == NO_PROVISIONER {
        if !sc_settings.allow_no_provisioner {
            return Err("accepted kubernetes.io/no-provisioner".into());
        }
        None
    } else if provisioner.starts_with("kubernetes.io/") {
        if !sc_settings.allow_in_tree_provisioners {
            return Err(format!("accepted in-tree provisioner {provisioner}"));
        }
        Some(
            IN_TREE_TO_CSI
                .iter()
                .find(|(in_tree, _)| *in_tree == provisioner)
                .map_or(provisioner, |(_, csi)| *csi),
        )
    } else {
        Some(provisioner)
    };
    if let Some(driver) = driver {
        // A kubernetes.io/ name without a CSI translation is allowed only by
        // an exact entry.
        let in_tree_name = driver
            .get(..14)
            .is_some_and(|p| p.eq_ignore_ascii_case("kubernetes.io/"));
        if let Some(allowed) = &settings.csi_drivers.allowed
            && in_tree_name
            && !allowed.iter().any(|a| a == driver)
        {
            return Err(format!(
                "accepted untranslated in-tree provisioner {provisioner:?}, allowed {allowed:?}"
            ));
        }
        if let Some(allowed) = &settings.csi_drivers.allowed
            && !in_tree_name
            && !ref_glob_any(allowed, driver)
        {
            return Err(format!(
                "accepted provisioner {provisioner:?} ({driver}), allowed {allowed:?}"
            ));
        }
        let parameters: Vec<(&str, &str)> = match sc.get("parameters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.as_str(), s.as_str())),
                    other => Err(format!("accepted parameters.{k} = {other}")),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("accepted parameters = {other}")),
        };
        let mut normalized: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &parameters {
            // Drivers fold keys with Go's strings.ToLower: İ is i, K is k.
            if !k.is_ascii() {
                return Err(format!("accepted non-ASCII parameter key {k:?}"));
            }
            if normalized.insert(normalize(k), normalize(v)).is_some() {
                return Err(format!("accepted colliding parameter key {k:?}"));
            }
        }
        let secrets = &sc_settings.secrets;
        for (k, v) in &parameters {
            let Some(is_namespace) = secret_field(&normalize(k)) else {
                continue;
            };
            let value = v.trim();
            let refused = if value.contains("${pvc.annotations") {
                !secrets.allow_pvc_annotation_templates
            } else if !is_namespace {
                false
            } else if value == "${pvc.namespace}" {
                !secrets.allow_pvc_namespace_template
            } else if value.contains("${") {
                true
            } else {
                secrets
                    .allowed_namespaces
                    .as_ref()
                    .is_some_and(|a| !a.iter().any(|ns| ns == value))
            };
            if refused {
                return Err(format!("accepted secret parameter {k:?} = {v:?}"));
            }
        }
        for rule in sc_settings
            .parameters
            .iter()
            .filter(|r| ref_glob(&r.provisioner, driver))
        {
            for (key, values) in &rule.required {
                let wanted: Vec<String> = values.iter().map(|v| normalize(v)).collect();
                match normalized.get(&normalize(key)) {
                    None => return Err(format!("accepted without required parameter {key:?}")),
                    Some(v) if !wanted.is_empty() && !wanted.contains(v) => {
                        return Err(format!(
                            "accepted parameter {key:?} = {v:?}, required {wanted:?}"
                        ));
                    }
                    Some(_) => {}
                }
                // A driver reads the key and the value as written.
                if verbatim {
                    match parameters.iter().find(|(k, _)| k == key).map(|(_, v)| *v) {
                        None => {
                            return Err(format!(
                                "accepted without required parameter {key:?} spelled exactly"
                            ));
                        }
                        Some(v) if !values.is_empty() && !values.iter().any(|a| a == v) => {
                            return Err(format!(
                                "accepted parameter {key:?} = {v:?}, required exactly one of {values:?}"
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            for key in &rule.forbidden {
                if normalized.contains_key(&normalize(key)) {
                    return Err(format!("accepted forbidden parameter {key:?}"));
                }
            }
            for (key, values) in &rule.allowed_values {
                let wanted: Vec<String> = values.iter().map(|v| normalize(v)).collect();
                if let Some(v) = normalized.get(&normalize(key))
                    && !wanted.contains(v)
                {
                    return Err(format!(
                        "accepted parameter {key:?} = {v:?}, allowed {wanted:?}"
                    ));
                }
                if verbatim {
                    for (k, v) in parameters
                        .iter()
                        .filter(|(k, _)| normalize(k) == normalize(key))
                    {
                        if !values.iter().any(|a| a == v) {
                            return Err(format!(
                                "accepted parameter {k:?} = {v:?}, allowed exactly {values:?}"
                            ));
                        }
                    }
                }
            }
        }
    }
    for (field, default, allowed) in [
        (
            "reclaimPolicy",
            "Delete",
            &sc_settings.reclaim_policy.allowed,
        ),
        (
            "volumeBindingMode",
            "Immediate",
            &sc_settings.volume_binding_mode.allowed,
        ),
    ] {
        let value = str_field(sc, field, "StorageClass")?.unwrap_or(default);
        if let Some(allowed) = allowed
            && !allowed.iter().any(|a| a == value)
        {
            return Err(format!("accepted {field} {value:?}, allowed {allowed:?}"));
        }
    }
    let expansion = match sc.get("allowVolumeExpansion") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("accepted allowVolumeExpansion = {other}")),
    };
    if let Some(allowed) = &sc_settings.allow_volume_expansion.allowed
        && !allowed.contains(&expansion)
    {
        return Err(format!(
            "accepted allowVolumeExpansion {expansion}, allowed {allowed:?}"
        ));
    }
    let rules = &sc_settings.mount_options;
    if rules.allowed.is_none() && rules.forbidden.is_empty() {
        // Not judged at all (and the API server never sends a wrong type).
        return Ok(());
    }
    let entries = list_field(sc, "mountOptions", "StorageClass")?;
    // Drivers join the entries with ',' into one -o argument.
    let mut options = Vec::new();
    for entry in entries {
        let entry = entry
            .as_str()
            .ok_or_else(|| format!("accepted mount option {entry}"))?;
        options.extend(entry.split(','));
    }
    for option in options {
        if rules.forbidden.iter().any(|f| forbidden_option(f, option)) {
            return Err(format!("accepted forbidden mount option {option:?}"));
        }
        if let Some(allowed) = &rules.allowed
            && !allowed.iter().any(|a| option_matches(a, option))
        {
            return Err(format!(
                "accepted mount option {option:?} not in {allowed:?}"
            ));
        }
    }
    Ok(())
}

/// An accepted CSIDriver CREATE (enforce mode, not exempted).
pub fn check_accepted_csi_driver(settings: &Settings, object: &Value) -> Outcome {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("accepted a CSIDriver without a name")?;
    let drivers = &settings.csi_drivers;
    if let Some(allowed) = &drivers.allowed
        && !ref_glob_any(allowed, name)
    {
        return Err(format!("accepted CSIDriver {name:?}, allowed {allowed:?}"));
    }
    let modes = match object.pointer("/spec/volumeLifecycleModes") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(m)) => m,
        Some(other) => return Err(format!("accepted volumeLifecycleModes {other}")),
    };
    if modes.iter().any(|m| m == "Ephemeral") && !ref_glob_any(&drivers.ephemeral_allowed, name) {
        return Err(format!("accepted Ephemeral CSIDriver {name:?}"));
    }
    let requests = match object.pointer("/spec/tokenRequests") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(r)) => r,
        Some(other) => return Err(format!("accepted tokenRequests {other}")),
    };
    for request in requests {
        // A missing audience is Go's zero value: the API server's own.
        let audience = request
            .get("audience")
            .and_then(Value::as_str)
            .unwrap_or("");
        let allowed = drivers.token_requests.allowed.iter().any(|entry| {
            ref_glob_any(std::slice::from_ref(&entry.driver), name)
                && entry.audiences.iter().any(|a| a == audience)
        });
        if !allowed {
            return Err(format!(
                "accepted {name:?} requesting a token for {audience:?}"
            ));
        }
    }
    let in_secrets = object.pointer("/spec/serviceAccountTokenInSecrets");
    if !requests.is_empty()
        && drivers.token_requests.require_token_in_secrets
        && in_secrets != Some(&Value::Bool(true))
    {
        return Err(format!(
            "accepted {name:?} with tokens outside secrets ({in_secrets:?})"
        ));
    }
    check_accepted_spec_fields(settings, name, object)
}

/// A string map as a driver receives it; `Err` for an entry that is not a
/// string (it cannot have been accepted).
fn ref_string_map<'a>(
    map: Option<&'a Value>,
    what: &str,
) -> Result<Vec<(&'a str, &'a str)>, String> {
    match map {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.as_str(), v))
                    .ok_or_else(|| format!("accepted {what}.{k} = {v}"))
            })
            .collect(),
        Some(other) => Err(format!("accepted {what} = {other}")),
    }
}

/// The key rules of the parameter engine on an accepted map, by the
/// stricter of the drivers' readings: required keys exactly, forbidden
/// and value-restricted keys case- and space-insensitively, ASCII keys that
/// do not collide once folded.
fn ref_key_rules(
    map: &[(&str, &str)],
    required: &std::collections::BTreeMap<String, Vec<String>>,
    forbidden: &[String],
    allowed_values: &std::collections::BTreeMap<String, Vec<String>>,
) -> Outcome {
    for (key, values) in required {
        match map.iter().find(|(k, _)| k == key) {
            None => return Err(format!("accepted without required key {key:?}")),
            Some((_, v)) if !values.is_empty() && !values.iter().any(|a| a == v) => {
                return Err(format!("accepted {key:?} = {v:?}, required {values:?}"));
            }
            Some(_) => {}
        }
    }
    for (k, v) in map {
        if forbidden.iter().any(|f| normalize(f) == normalize(k)) {
            return Err(format!("accepted forbidden key {k:?}"));
        }
        for (key, values) in allowed_values {
            if normalize(key) == normalize(k) && !values.iter().any(|a| a == v) {
                return Err(format!("accepted {k:?} = {v:?}, allowed {values:?}"));
            }
        }
    }
    Ok(())
}

fn ref_keys_readable(map: &[(&str, &str)]) -> Outcome {
    let mut seen = std::collections::HashSet::new();
    for (k, _) in map {
        if !k.is_ascii() {
            return Err(format!("accepted non-ASCII key {k:?}"));
        }
        if !seen.insert(normalize(k)) {
            return Err(format!("accepted colliding key {k:?}"));
        }
    }
    Ok(())
}

fn check_accepted_inline(
    settings: &Settings,
    csi: &Map<String, Value>,
    driver: &str,
    namespace: &str,
) -> Outcome {
    let entries: Vec<_> = settings
        .csi_drivers
        .inline
        .iter()
        .filter(|e| ref_glob(&e.driver, driver))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let attributes = ref_string_map(csi.get("volumeAttributes"), "volumeAttributes")?;
    ref_keys_readable(&attributes)?;
    let secret = csi.get("nodePublishSecretRef").filter(|v| !v.is_null());
    for entry in entries {
        if let Some(namespaces) = &entry.namespaces
            && !namespaces.iter().any(|n| n == namespace)
        {
            return Err(format!(
                "accepted inline {driver} in namespace {namespace:?}"
            ));
        }
        let rules = &entry.volume_attributes;
        ref_key_rules(
            &attributes,
            &rules.required,
            &rules.forbidden,
            &rules.allowed_values,
        )?;
        match (entry.node_publish_secret_ref.as_deref(), secret) {
            (Some("required"), None) => return Err("accepted inline volume without secret".into()),
            (Some("forbidden"), Some(_)) => return Err("accepted inline volume with secret".into()),
            _ => {}
        }
        if entry.read_only && csi.get("readOnly") != Some(&Value::Bool(true)) {
            return Err(format!("accepted inline {driver} volume not readOnly"));
        }
    }
    Ok(())
}

/// A CSIDriver spec field as the API stores it: absent is its default.
fn ref_spec_value(spec: Option<&Value>, field: &str) -> Option<Value> {
    match spec.and_then(|s| s.get(field)).filter(|v| !v.is_null()) {
        Some(v) => Some(v.clone()),
        None => match field {
            "attachRequired" => Some(Value::Bool(true)),
            "fsGroupPolicy" => Some(Value::from("ReadWriteOnceWithFSType")),
            "nodeAllocatableUpdatePeriodSeconds" => None,
            _ => Some(Value::Bool(false)),
        },
    }
}

fn check_accepted_spec_fields(settings: &Settings, name: &str, object: &Value) -> Outcome {
    let spec = object.get("spec");
    for entry in settings
        .csi_drivers
        .spec
        .iter()
        .filter(|e| ref_glob(&e.driver, name))
    {
        let as_values = |allowed: Option<Vec<Value>>| allowed;
        let rules: [(&str, Option<Vec<Value>>); 7] = [
            (
                "attachRequired",
                as_values(
                    entry
                        .attach_required
                        .allowed
                        .as_ref()
                        .map(|a| a.iter().map(|b| Value::Bool(*b)).collect()),
                ),
            ),
            (
                "podInfoOnMount",
                entry
                    .pod_info_on_mount
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|b| Value::Bool(*b)).collect()),
            ),
            (
                "requiresRepublish",
                entry
                    .requires_republish
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|b| Value::Bool(*b)).collect()),
            ),
            (
                "storageCapacity",
                entry
                    .storage_capacity
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|b| Value::Bool(*b)).collect()),
            ),
            (
                "seLinuxMount",
                entry
                    .se_linux_mount
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|b| Value::Bool(*b)).collect()),
            ),
            (
                "fsGroupPolicy",
                entry
                    .fs_group_policy
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|s| Value::from(s.as_str())).collect()),
            ),
            (
                "nodeAllocatableUpdatePeriodSeconds",
                entry
                    .node_allocatable_update_period_seconds
                    .allowed
                    .as_ref()
                    .map(|a| a.iter().map(|n| Value::from(*n)).collect()),
            ),
        ];
        for (field, allowed) in rules {
            let (Some(allowed), Some(value)) = (allowed, ref_spec_value(spec, field)) else {
                continue;
            };
            if !allowed.contains(&value) {
                return Err(format!(
                    "accepted {name:?} with {field} = {value}, allowed {allowed:?}"
                ));
            }
        }
    }
    Ok(())
}

pub fn check_accepted_volume_attributes_class(settings: &Settings, object: &Value) -> Outcome {
    let driver = object
        .get("driverName")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .ok_or("accepted a VolumeAttributesClass without driverName")?;
    if let Some(allowed) = &settings.csi_drivers.allowed
        && !ref_glob_any(allowed, driver)
    {
        return Err(format!(
            "accepted driverName {driver:?}, allowed {allowed:?}"
        ));
    }
    let parameters = ref_string_map(object.get("parameters"), "parameters")?;
    ref_keys_readable(&parameters)?;
    for rule in settings
        .volume_attributes_classes
        .parameters
        .iter()
        .filter(|r| ref_glob(&r.provisioner, driver))
    {
        ref_key_rules(
            &parameters,
            &rule.required,
            &rule.forbidden,
            &rule.allowed_values,
        )?;
    }
    Ok(())
}

/// The reference semantics of an accepted verdict, when they apply: enforce
/// mode, not exempted, and (for storage kinds) not an UPDATE.
pub fn check_semantics(case: &Case, r: &ValidationResponse) -> Outcome {
    check_semantics_tolerating(case, r, PENDING)
}

pub fn check_semantics_tolerating(
    case: &Case,
    r: &ValidationResponse,
    tolerated: &[KnownBug],
) -> Outcome {
    if !r.accepted || is_exempted(r) || !matches!(case.operation, "CREATE" | "UPDATE") {
        return Ok(());
    }
    let settings = parsed_settings(case)?;
    let object = r.mutated_object.as_ref().unwrap_or(&case.object);
    let update = case.operation == "UPDATE" && case.old_object.is_object();
    // An UPDATE that leaves the pod template as it was is accepted by
    // design (check_shape holds it to warnings and no mutation).
    if case.kind == Kind::DaemonSet && unchanged_pod_template(case) {
        return Ok(());
    }
    match case.kind {
        Kind::DaemonSet if settings.daemon_sets.mode == Mode::Enforce => {
            check_accepted_daemon_set(&settings, object)
        }
        Kind::StorageClass if settings.storage_classes.mode == Mode::Enforce && !update => {
            check_accepted_storage_class(&settings, object, tolerated)?;
            check_default_class_unchecked(&settings, object, r)
        }
        Kind::CsiDriver if settings.csi_drivers.mode == Mode::Enforce && !update => {
            check_accepted_csi_driver(&settings, object)
        }
        Kind::PersistentVolume if settings.persistent_volumes.mode == Mode::Enforce && !update => {
            check_accepted_persistent_volume(&settings, object, &case.username)
        }
        Kind::VolumeAttributesClass
            if settings.volume_attributes_classes.mode == Mode::Enforce && !update =>
        {
            check_accepted_volume_attributes_class(&settings, object)
        }
        Kind::Pod if settings.daemon_sets.mode == Mode::Enforce => {
            check_accepted_pod(&settings, object, &case.old_object)
        }
        _ => Ok(()),
    }
}

/// The property runs have no cluster to ask (`evaluate::validate`), so an
/// accepted CREATE of a class that is default as the API server reads it
/// (either annotation exactly `"true"`) was accepted by
/// `storageClasses.defaultClass.onLookupFailure: warn` and says so, or
/// its violation was only warned (`defaultClass.mode: warn`).
pub fn check_default_class_unchecked(
    settings: &Settings,
    object: &Value,
    r: &ValidationResponse,
) -> Outcome {
    let rules = &settings.storage_classes.default_class;
    let annotations = object.pointer("/metadata/annotations");
    let default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| annotations.and_then(|a| a.get(k)) == Some(&Value::from("true")));
    if !rules.unique || !default {
        return Ok(());
    }
    match (rules.on_lookup_failure, rules.mode) {
        (LookupFailure::Warn, _) => {
            if warnings(r).iter().any(|w| {
                w.contains("not checked against the cluster's other default StorageClasses")
            }) {
                Ok(())
            } else {
                Err(format!(
                    "accepted an unchecked default StorageClass without saying so: {:?}",
                    r.warnings
                ))
            }
        }
        (LookupFailure::Reject, Mode::Enforce) => Err(
            "accepted a default StorageClass that could not be checked (onLookupFailure: reject)"
                .into(),
        ),
        (LookupFailure::Reject, Mode::Warn) => {
            let warned = warnings(r).iter().any(|w| {
                Violation::parse_warning(w)
                    .is_some_and(|v| v.rule == rules::DEFAULT_CLASS_ON_LOOKUP_FAILURE)
            });
            if warned {
                Ok(())
            } else {
                Err(format!(
                    "defaultClass.mode warn: the failed lookup must be warned: {:?}",
                    r.warnings
                ))
            }
        }
    }
}

/// Every invariant, for one case; `g` drives the settings shuffle.
pub fn check_case(case: &Case, g: &mut Gen) -> Outcome {
    let r = run(case);
    check_shape(case, &r)?;
    check_semantics(case, &r)?;
    check_mutation(case, &r)?;
    check_warn_matches_enforce(case)?;
    check_order_free(case, g)
}
