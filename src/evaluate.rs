//! One admission request in, one verdict out: the pure core behind the
//! waPC `validate` export. Nothing here returns an error or panics; an
//! unreadable request of a targeted kind is rejected with the reason.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::{Map, Value};

use crate::daemonset;
use crate::daemonset::ephemeral_containers;
use crate::exemptions::{self, Requester};
use crate::json_splice::{self, NodePath, Splice};
use crate::operation::Operation;
use crate::policy::{self, Policy};
use crate::settings::Mode;
use crate::storage::default_class::{self, ClusterLookup, NoCluster};
use crate::storage::{csi_driver, persistent_volume, storage_class, volume_attributes_class};
use crate::violation::{Findings, Rejection};
use crate::{json_in, json_out};

/// The kinds the policy judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    DaemonSet,
    StorageClass,
    CsiDriver,
    PersistentVolume,
    VolumeAttributesClass,
    /// A Pod's `ephemeralcontainers` subresource (debug containers).
    EphemeralContainers,
}

impl Target {
    fn of(group: &str, kind: &str, sub_resource: &str) -> Option<Self> {
        match (group, kind) {
            ("apps", "DaemonSet") => Some(Self::DaemonSet),
            // Since Kubernetes 1.22 the subresource takes and sends the whole
            // Pod (`kind` and `requestKind` core/v1 Pod); only that
            // subresource adds containers, plain Pods are not targeted.
            ("", "Pod") if sub_resource == "ephemeralcontainers" => Some(Self::EphemeralContainers),
            ("storage.k8s.io", "StorageClass") => Some(Self::StorageClass),
            ("storage.k8s.io", "CSIDriver") => Some(Self::CsiDriver),
            ("", "PersistentVolume") => Some(Self::PersistentVolume),
            ("storage.k8s.io", "VolumeAttributesClass") => Some(Self::VolumeAttributesClass),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::DaemonSet => "DaemonSet",
            Self::StorageClass => "StorageClass",
            Self::CsiDriver => "CSIDriver",
            Self::PersistentVolume => "PersistentVolume",
            Self::VolumeAttributesClass => "VolumeAttributesClass",
            Self::EphemeralContainers => "Pod",
        }
    }
}

/// The members of an AdmissionRequest the policy reads (`kind.group`,
/// `kind.kind`, `operation`, `name`, `namespace`, `userInfo.username`,
/// `userInfo.groups`, `object`, `oldObject`, `subResource`); absent or
/// `null` members are `None`.
#[derive(Default)]
struct AdmissionRequest<'a> {
    kind: GroupVersionKind,
    operation: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    user_info: UserInfo,
    object: Value,
    /// `object`'s text in the payload, when `json_in` read it.
    object_text: Option<&'a [u8]>,
    /// No object of `object_text` that `object` holds repeats a key: a
    /// mutation can be written from the text (`json_splice`).
    object_text_exact: bool,
    /// `object` holds only what a DaemonSet's rules read
    /// (`daemonset_object_projection`): a mutated one is answered from
    /// `object_text` (`json_splice`), or the request judged again whole.
    object_projected: bool,
    /// Where `spec.template.spec` starts in `object_text`, for a
    /// projected DaemonSet: a mutation's nodes are found from there.
    pod_spec_at: Option<usize>,
    /// Only UPDATEs read it.
    old_object: OldObject<'a>,
    /// `status`, `scale`, ...: a subresource request changes no field the
    /// policy judges.
    sub_resource: Option<String>,
}

/// `request.oldObject`: its text in the host's payload (parsed only for an
/// UPDATE), or already parsed by the general path.
#[derive(Default)]
enum OldObject<'a> {
    #[default]
    Absent,
    Text(&'a str),
    Parsed(Value),
}

impl OldObject<'_> {
    /// The stored object as `target`'s UPDATE reads it: for a DaemonSet
    /// only `metadata.deletionTimestamp` and `spec.template.spec` (all that
    /// `being_deleted` and `judged_fields_unchanged` look at), so its
    /// `managedFields`, last-applied annotation and status are skipped, not
    /// built; the whole object for the other kinds (their rules compare
    /// more). Text the projection cannot read is parsed whole.
    fn parse(self, target: Target) -> Option<Value> {
        if let (Target::DaemonSet, Self::Text(text)) = (target, &self)
            && let Some(projected) = daemonset_projection(text)
        {
            return Some(projected);
        }
        match self {
            Self::Absent => None,
            Self::Text(text) => {
                let mut parser = json_in::Parser::new(text.as_bytes(), 0);
                parser.value().or_else(|| serde_json::from_str(text).ok())
            }
            Self::Parsed(value) => Some(value),
        }
    }
}

/// [`daemonset_object_projection`] of a stored DaemonSet (with its
/// `metadata.deletionTimestamp`, all that `being_deleted` reads). The text
/// was checked when the request was read (`read_request`), so the members
/// passed over are ended by their brackets, not checked again.
fn daemonset_projection(text: &str) -> Option<Value> {
    let mut parser = json_in::Parser::new(text.as_bytes(), 0);
    daemonset_object_projection(&mut parser, |p| p.skip_checked(), &mut None)
}

/// A DaemonSet as its rules read it: `metadata.name`,
/// `metadata.namespace`, `metadata.deletionTimestamp` and
/// `spec.template.spec`, the members present in the text only; the rest
/// is passed over by `skip` (for the request's object, checked as
/// serde_json checks what it reads: `Parser::skip`) but not built (for fluent-bit, the labels, the
/// annotations, the selector, the template's metadata and the status).
/// `None` when the text is not that shape (a member along the way that is
/// not an object, or repeated): the object is then read whole, and the
/// rules report what is wrong with it. Mutations change only the pod
/// spec, so a mutated object is written from the request's text
/// (`json_splice`), or the request judged again whole.
fn daemonset_object_projection(
    parser: &mut json_in::Parser<'_>,
    skip: fn(&mut json_in::Parser<'_>) -> Option<()>,
    pod_spec_at: &mut Option<usize>,
) -> Option<Value> {
    let mut object = Map::new();
    let mut seen = 0;
    parser.members(&mut |p, name| {
        let kept = match name {
            "metadata" => {
                json_in::first_time(&mut seen, 1)?;
                let wanted = ["name", "namespace", "deletionTimestamp"];
                kept_members(p, &wanted, skip, &mut |p| p.value())?
            }
            "spec" => {
                json_in::first_time(&mut seen, 2)?;
                kept_members(p, &["template"], skip, &mut |p| {
                    kept_members(p, &["spec"], skip, &mut |p| {
                        p.peek()?;
                        *pod_spec_at = Some(p.position());
                        p.value()
                    })
                })?
            }
            _ => return skip(p),
        };
        object.insert(name.to_string(), kept);
        Some(())
    })?;
    Some(Value::Object(object))
}

/// The object at the cursor with only its members named in `wanted`
/// (each read by `read`, at most once), the others passed over by `skip`.
fn kept_members(
    parser: &mut json_in::Parser<'_>,
    wanted: &[&str],
    skip: fn(&mut json_in::Parser<'_>) -> Option<()>,
    read: &mut dyn FnMut(&mut json_in::Parser<'_>) -> Option<Value>,
) -> Option<Value> {
    let mut kept = Map::new();
    let mut seen = 0;
    parser.members(&mut |p, name| {
        // A loop, not `position`: its iterator adaptor weighs more here.
        let mut index = 0;
        while wanted.get(index).is_some_and(|w| *w != name) {
            index += 1;
        }
        if index == wanted.len() {
            return skip(p);
        }
        json_in::first_time(&mut seen, 1 << index)?;
        kept.insert(name.to_string(), read(p)?);
        Some(())
    })?;
    Some(Value::Object(kept))
}

/// The request from a payload parsed whole by serde_json (the general
/// path): the same members, typed as `read_request` reads them, and the
/// reason when one is not.
fn request_of_value(request: Value) -> Result<AdmissionRequest<'static>, String> {
    let Value::Object(mut members) = request else {
        return Err(format!(
            "request must be an object, found {}",
            crate::fields::kind_of(&request)
        ));
    };
    let take = |map: &mut Map<String, Value>, key: &str, path: &str| match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!(
            "{path} must be a string, found {}",
            crate::fields::kind_of(&other)
        )),
    };
    let mut request = AdmissionRequest::default();
    match members.remove("kind") {
        None => {}
        Some(Value::Object(mut kind)) => {
            request.kind.group = take(&mut kind, "group", "request.kind.group")?;
            request.kind.kind = take(&mut kind, "kind", "request.kind.kind")?;
        }
        Some(other) => {
            return Err(format!(
                "request.kind must be an object, found {}",
                crate::fields::kind_of(&other)
            ));
        }
    }
    request.operation = take(&mut members, "operation", "request.operation")?;
    request.name = take(&mut members, "name", "request.name")?;
    request.namespace = take(&mut members, "namespace", "request.namespace")?;
    request.sub_resource = take(&mut members, "subResource", "request.subResource")?;
    match members.remove("userInfo") {
        None => {}
        Some(Value::Object(mut user)) => {
            request.user_info.username = take(&mut user, "username", "request.userInfo.username")?;
            request.user_info.groups = match user.remove("groups") {
                None | Some(Value::Null) => None,
                Some(Value::Array(groups)) => Some(
                    groups
                        .into_iter()
                        .map(|g| match g {
                            Value::String(group) => Ok(group),
                            other => Err(format!(
                                "request.userInfo.groups must hold strings, found {}",
                                crate::fields::kind_of(&other)
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Some(other) => {
                    return Err(format!(
                        "request.userInfo.groups must be a list, found {}",
                        crate::fields::kind_of(&other)
                    ));
                }
            };
        }
        Some(other) => {
            return Err(format!(
                "request.userInfo must be an object, found {}",
                crate::fields::kind_of(&other)
            ));
        }
    }
    request.object = members.remove("object").unwrap_or(Value::Null);
    request.old_object = match members.remove("oldObject") {
        None | Some(Value::Null) => OldObject::Absent,
        Some(value) => OldObject::Parsed(value),
    };
    Ok(request)
}

/// The request of the host's payload read by `json_in` as serde reads
/// `AdmissionRequest` (the same members, `null` for an absent `Option`,
/// other members checked and skipped); `None` for anything serde would
/// read differently or refuse (a repeated member, a member name with an
/// escape, a `null` struct), which serde's path then reads.
fn read_request<'a>(
    parser: &mut json_in::Parser<'a>,
    project: bool,
) -> Option<AdmissionRequest<'a>> {
    let mut request = AdmissionRequest::default();
    let mut seen = 0u64;
    let mut first = |bit| json_in::first_time(&mut seen, bit);
    parser.members(&mut |p, name| {
        match name {
            "kind" => {
                first(1)?;
                let mut seen_kind = 0;
                p.members(&mut |p, name| match name {
                    "group" => {
                        json_in::first_time(&mut seen_kind, 1)?;
                        request.kind.group = p.optional_string()?;
                        Some(())
                    }
                    "kind" => {
                        json_in::first_time(&mut seen_kind, 2)?;
                        request.kind.kind = p.optional_string()?;
                        Some(())
                    }
                    _ => p.skip().map(drop),
                })
            }
            "operation" => {
                first(2)?;
                request.operation = p.optional_string()?;
                Some(())
            }
            "name" => {
                first(4)?;
                request.name = p.optional_string()?;
                Some(())
            }
            "namespace" => {
                first(8)?;
                request.namespace = p.optional_string()?;
                Some(())
            }
            "subResource" => {
                first(16)?;
                request.sub_resource = p.optional_string()?;
                Some(())
            }
            "userInfo" => {
                first(32)?;
                let mut seen_user = 0;
                p.members(&mut |p, name| match name {
                    "username" => {
                        json_in::first_time(&mut seen_user, 1)?;
                        request.user_info.username = p.optional_string()?;
                        Some(())
                    }
                    "groups" => {
                        json_in::first_time(&mut seen_user, 2)?;
                        request.user_info.groups = p.optional_strings()?;
                        Some(())
                    }
                    _ => p.skip().map(drop),
                })
            }
            "object" => {
                first(64)?;
                let daemon_set = project
                    && request.kind.group.as_deref() == Some("apps")
                    && request.kind.kind.as_deref() == Some("DaemonSet");
                p.peek()?;
                let start = p.position();
                let mut projecting = p.clone();
                let mut pod_spec_at = None;
                let projected = daemon_set
                    .then(|| {
                        daemonset_object_projection(
                            &mut projecting,
                            |p| p.skip().map(drop),
                            &mut pod_spec_at,
                        )
                    })
                    .flatten();
                if let Some(projected) = projected {
                    *p = projecting;
                    request.object = projected;
                    request.object_projected = true;
                    request.object_text_exact = !p.repeated_key();
                    request.object_text = p.text_from(start);
                    request.pod_spec_at = pod_spec_at.and_then(|at| at.checked_sub(start));
                } else {
                    let (object, text) = p.value_and_text()?;
                    request.object = object;
                    request.object_text_exact = text.is_some();
                    request.object_text = text;
                }
                Some(())
            }
            "oldObject" => {
                first(128)?;
                let text = p.skip()?;
                request.old_object = match text {
                    b"null" => OldObject::Absent,
                    // Parsed as a `Value` later, which checks its UTF-8.
                    _ => OldObject::Text(std::str::from_utf8(text).ok()?),
                };
                Some(())
            }
            _ => p.skip().map(drop),
        }
    })?;
    Some(request)
}

#[derive(Default)]
struct GroupVersionKind {
    group: Option<String>,
    kind: Option<String>,
}

#[derive(Default)]
struct UserInfo {
    username: Option<String>,
    groups: Option<Vec<String>>,
}

fn accept(warnings: Vec<String>, mutated_object: Option<Value>) -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn reject(message: String, warnings: Vec<String>) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

/// The payload as policy-evaluator writes it, `{"request": R, "settings":
/// S}` in that order: the request read by `read_request` (`json_in`:
/// what serde would build, at about half its cost), the settings left as text for
/// the settings reader, which reads them in the same pass that checks
/// them. Deserialising `S` as a `RawValue` would scan it twice (serde
/// validates a raw value by parsing it): 37 K of the 547 K instructions of
/// the fluent-bit evaluation natively at opt-level "z". The settings are
/// the text policy-server validated at start (`validate_settings`, syntax
/// first), and the reader bounds every access. Any other shape (another
/// order, escapes in the keys, a bad request) returns `None`: the general
/// serde path then reads it, or reports it.
fn split_payload(payload: &[u8], project: bool) -> Option<(AdmissionRequest<'_>, &str)> {
    let mut pos = 0;
    let skip_whitespace = |pos: &mut usize| {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = payload.get(*pos) {
            *pos += 1;
        }
    };
    let expect = |pos: &mut usize, token: &[u8]| {
        skip_whitespace(pos);
        let found = payload.get(*pos..)?.starts_with(token);
        *pos += token.len();
        found.then_some(())
    };
    expect(&mut pos, b"{")?;
    expect(&mut pos, b"\"request\"")?;
    expect(&mut pos, b":")?;
    let mut parser = json_in::Parser::new(payload, pos);
    let request = read_request(&mut parser, project)?;
    pos = parser.position();
    expect(&mut pos, b",")?;
    expect(&mut pos, b"\"settings\"")?;
    expect(&mut pos, b":")?;
    // The payload's own closing brace ends the settings value.
    let rest = payload.get(pos..)?.trim_ascii_end();
    let settings = rest.strip_suffix(b"}")?;
    Some((request, crate::words::utf8(settings)?))
}

/// Evaluates a waPC `validate` payload: `{"request": ..., "settings": ...}`,
/// with no host to ask about the cluster (context-aware rules fall back as
/// their settings say).
pub fn validate(payload: &[u8]) -> ValidationResponse {
    validate_with(payload, &NoCluster)
}

/// [`validate`], asking `cluster` what context-aware rules need.
pub fn validate_with(payload: &[u8], cluster: &dyn ClusterLookup) -> ValidationResponse {
    // Split settings that do not read are read again by serde's path,
    // which says why (or finds them fine, followed by a member the split
    // did not expect: the split takes them up to the payload's last brace).
    judge_split(payload, cluster, true).unwrap_or_else(|| validate_parsed(payload, cluster))
}

/// The verdict on the host's payload shape (`split_payload`), a DaemonSet
/// built only as far as its rules read it when `project`; a projected
/// DaemonSet that was mutated is judged again read whole (the answer
/// carries the whole object). `None`: the split does not read it.
fn judge_split(
    payload: &[u8],
    cluster: &dyn ClusterLookup,
    project: bool,
) -> Option<ValidationResponse> {
    let (request, settings) = split_payload(payload, project)?;
    let projected = request.object_projected;
    let response = judge(request, settings, cluster, &mut Vec::new()).ok()?;
    if projected && response.mutated_object.is_some() {
        crate::arena::discard(response);
        return judge_split(payload, cluster, false);
    }
    Some(response)
}

/// [`validate_with`]'s verdict as the host reads it (`json_out`), a
/// mutated object written as the request's own text with the nodes the
/// mutation changed spliced in (`json_splice`), where that text was read.
pub fn validate_to_json(payload: &[u8], cluster: &dyn ClusterLookup) -> Vec<u8> {
    write_verdict(payload, cluster, true)
}

/// [`validate_to_json`], a DaemonSet projected when `project`.
fn write_verdict(payload: &[u8], cluster: &dyn ClusterLookup, project: bool) -> Vec<u8> {
    if let Some((request, settings)) = split_payload(payload, project) {
        let text = request.object_text;
        let (exact, projected) = (request.object_text_exact, request.object_projected);
        let known = request
            .pod_spec_at
            .map(|at| (crate::daemonset::POD_SPEC_PATH.as_slice(), at));
        let mut changed = Vec::new();
        if let Ok(response) = judge(request, settings, cluster, &mut changed) {
            let spliced = match (&response.mutated_object, text) {
                (Some(object), Some(text)) if exact => {
                    let mut out = Vec::new();
                    let splice = Splice {
                        text,
                        changed: &changed,
                        known,
                    };
                    json_splice::write(&mut out, splice, object).map(|()| out)
                }
                _ => None,
            };
            // Not spliced, a projected DaemonSet is judged again read
            // whole (it never is on the host's payloads: `json_splice`
            // places every edit of them).
            if spliced.is_none() && projected && response.mutated_object.is_some() {
                crate::arena::discard(response);
                return write_verdict(payload, cluster, false);
            }
            let json = json_out::response_with(&response, spliced.as_deref());
            crate::arena::discard(response);
            crate::arena::discard(spliced);
            return json;
        }
    }
    let response = validate_parsed(payload, cluster);
    let json = json_out::response(&response);
    crate::arena::discard(response);
    json
}

/// [`validate_with`] for any payload shape: parsed whole by serde_json
/// (whose words say what is wrong with unreadable JSON), the request's
/// members then read from the `Value`.
fn validate_parsed(payload: &[u8], cluster: &dyn ClusterLookup) -> ValidationResponse {
    let unreadable = |reason: String| {
        reject(
            format!("cannot read the admission request: {reason}"),
            Vec::new(),
        )
    };
    let mut payload: Map<String, Value> = match serde_json::from_slice(payload) {
        Ok(Value::Object(members)) => members,
        Ok(other) => {
            return unreadable(format!(
                "the payload must be an object, found {}",
                crate::fields::kind_of(&other)
            ));
        }
        Err(e) => return unreadable(e.to_string()),
    };
    let Some(request) = payload.remove("request") else {
        return unreadable("missing field `request`".to_string());
    };
    let request = match request_of_value(request) {
        Ok(request) => request,
        Err(reason) => return unreadable(reason),
    };
    let settings = match payload.remove("settings") {
        None | Some(Value::Null) => Vec::from(*b"{}"),
        Some(settings) => {
            let mut text = Vec::new();
            json_out::value(&mut text, &settings);
            text
        }
    };
    let settings = std::str::from_utf8(&settings).unwrap_or("{}");
    judge(request, settings, cluster, &mut Vec::new())
        .unwrap_or_else(|e| reject(format!("policy settings are invalid: {e}"), Vec::new()))
}

/// The verdict on a request under `settings`, or why the settings do not
/// read (the caller decides whether that is the verdict); the nodes a
/// mutation changed go to `changed` (none: unknown).
fn judge(
    request: AdmissionRequest<'_>,
    settings: &str,
    cluster: &dyn ClusterLookup,
    changed: &mut Vec<NodePath>,
) -> Result<ValidationResponse, String> {
    let group = request.kind.group.as_deref().unwrap_or("");
    let kind = request.kind.kind.as_deref().unwrap_or("");
    let sub_resource = request.sub_resource.as_deref().unwrap_or("");
    let Some(target) = Target::of(group, kind, sub_resource) else {
        return Ok(accept(Vec::new(), None));
    };
    let Some(operation) = Operation::judged(request.operation.as_deref()) else {
        return Ok(accept(Vec::new(), None));
    };
    // `daemonsets/status` and the like cannot change the pod template or a
    // storage object's spec (the API server's status strategies reset
    // everything else), so they are let through without being read.
    if !sub_resource.is_empty() && target != Target::EphemeralContainers {
        return Ok(accept(Vec::new(), None));
    }
    // A DaemonSet's or Pod's volumes decide what else is compiled: the
    // driver rules for inline CSI volumes, the hostPath rules for hostPath
    // volumes (a debug container can only mount the Pod's volumes).
    let pod_spec = match target {
        Target::DaemonSet => request.object.as_object().and_then(template_spec),
        Target::EphemeralContainers => request.object.get("spec"),
        _ => None,
    };
    let has_volume = |source: &str| {
        match pod_spec.and_then(|spec| spec.get("volumes")) {
            None | Some(Value::Null) => false,
            Some(Value::Array(volumes)) => volumes.iter().any(|v| v.get(source).is_some()),
            // Unreadable: compile, the rules report it.
            Some(_) => true,
        }
    };
    let sections = policy::Sections {
        daemon_sets: matches!(target, Target::DaemonSet | Target::EphemeralContainers),
        csi_drivers: match target {
            Target::DaemonSet => has_volume("csi"),
            Target::EphemeralContainers => false,
            _ => true,
        },
        host_paths: has_volume("hostPath"),
        inline_csi: target == Target::DaemonSet && has_volume("csi"),
        csi_driver_objects: target == Target::CsiDriver,
        // PersistentVolumes read storageClasses too: in-tree sources and
        // secret namespaces follow the StorageClass rules.
        storage_classes: matches!(target, Target::StorageClass | Target::PersistentVolume),
        persistent_volumes: target == Target::PersistentVolume,
        volume_attributes_classes: target == Target::VolumeAttributesClass,
    };
    let policy = policy::load_for(settings, sections)?;
    let response = evaluate(target, operation, request, &policy, cluster, changed);
    crate::arena::discard(policy);
    Ok(response)
}

fn evaluate(
    target: Target,
    operation: Operation,
    request: AdmissionRequest<'_>,
    policy: &Policy,
    cluster: &dyn ClusterLookup,
    changed: &mut Vec<NodePath>,
) -> ValidationResponse {
    let AdmissionRequest {
        name,
        namespace,
        user_info,
        object,
        old_object,
        ..
    } = request;
    let mut object = match object {
        Value::Object(map) => map,
        Value::Null => {
            return reject(
                format!(
                    "{} {operation} without request.object cannot be judged",
                    target.name()
                ),
                Vec::new(),
            );
        }
        other => {
            return reject(
                format!(
                    "request.object of a {} must be an object, found {}",
                    target.name(),
                    crate::fields::kind_of(&other)
                ),
                Vec::new(),
            );
        }
    };
    let namespace = namespace
        .filter(|n| !n.is_empty())
        .or_else(|| metadata_str(&object, "namespace"))
        .unwrap_or_default();
    let name = name
        .filter(|n| !n.is_empty())
        .or_else(|| metadata_str(&object, "name"))
        .unwrap_or_default();
    let groups = user_info.groups.unwrap_or_default();
    let username = user_info.username.as_deref().unwrap_or("");
    let requester = Requester {
        namespace: &namespace,
        name: &name,
        namespaced: matches!(target, Target::DaemonSet | Target::EphemeralContainers),
        username,
        groups: &groups,
    };
    if let Some(exemption) = exemptions::matching(&policy.exemptions, &requester) {
        return accept(
            vec![format!(
                "{} {} exempted by {exemption}: not checked",
                target.name(),
                display_name(&requester)
            )],
            None,
        );
    }
    // On UPDATE, an unreadable old object only means nothing is known to be
    // unchanged: judge everything, as on CREATE.
    let old_value: Option<Value> = match operation {
        Operation::Update => old_object.parse(target),
        _ => None,
    };
    let old = match &old_value {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    // Compared once, and only where it decides something: a deletion, and
    // for DaemonSets an unchanged pod template.
    let deleting = old.is_some_and(being_deleted);
    let judged_unchanged = (deleting || target == Target::DaemonSet)
        && old.is_some_and(|old| judged_fields_unchanged(target, &object, old));
    if deleting && judged_unchanged {
        return accept(
            vec![format!(
                "{} {} is being deleted and this update changes no judged field: not checked",
                target.name(),
                display_name(&requester)
            )],
            None,
        );
    }
    let mut notes = Vec::new();
    let mut profile = None;
    let (findings, mode) = match target {
        Target::DaemonSet => {
            let judged = match daemonset::evaluate(
                &mut object,
                &namespace,
                &policy.daemon_sets,
                &policy.drivers,
                &requester,
            ) {
                Ok(judged) => judged,
                Err(e) => return reject(format!("policy settings are invalid: {e}"), Vec::new()),
            };
            if judged_unchanged {
                return judged_by(unchanged_template_verdict(judged.findings), judged.profile);
            }
            profile = judged.profile;
            *changed = judged.changed;
            (judged.findings, judged.mode)
        }
        Target::StorageClass => {
            let mut findings = storage_class::evaluate(
                &mut object,
                operation,
                old,
                &policy.storage_classes,
                &policy.drivers,
            );
            default_class::check(
                &object,
                old,
                &name,
                policy.storage_classes.default_class(),
                cluster,
                &mut findings,
                &mut notes,
            );
            (findings, policy.storage_classes.mode())
        }
        Target::CsiDriver => (
            csi_driver::evaluate(&mut object, operation, old, &policy.drivers),
            policy.drivers.mode,
        ),
        Target::PersistentVolume => (
            persistent_volume::evaluate(
                &object,
                old,
                &policy.persistent_volumes,
                &persistent_volume::Context {
                    drivers: &policy.drivers,
                    storage: policy.storage_classes.settings(),
                    username,
                },
            ),
            policy.persistent_volumes.mode,
        ),
        Target::VolumeAttributesClass => (
            volume_attributes_class::evaluate(
                &object,
                old,
                &policy.volume_attributes_classes,
                &policy.drivers,
            ),
            policy.volume_attributes_classes.mode,
        ),
        Target::EphemeralContainers => {
            match ephemeral_containers::evaluate(&mut object, old, &policy.daemon_sets, &namespace)
            {
                Ok(Some(judged)) => {
                    profile = judged.profile;
                    *changed = judged.changed;
                    (judged.findings, judged.mode)
                }
                Ok(None) => return accept(Vec::new(), None),
                Err(e) => return reject(format!("policy settings are invalid: {e}"), Vec::new()),
            }
        }
    };
    let mut response = judged_by(verdict(target, &requester, findings, mode, object), profile);
    crate::arena::discard(old_value);
    // Warnings of rules with a mode of their own, whatever the verdict.
    if !notes.is_empty() {
        response.warnings.get_or_insert_with(Vec::new).extend(notes);
    }
    response
}

/// The audit annotation naming the profile that judged a DaemonSet (the
/// API server prefixes the key with the webhook's name).
pub const PROFILE_ANNOTATION: &str = "profile";

fn judged_by(mut response: ValidationResponse, profile: Option<String>) -> ValidationResponse {
    if let Some(profile) = profile {
        response.audit_annotations = Some([(PROFILE_ANNOTATION.to_string(), profile)].into());
    }
    response
}

/// True when the stored object carries `metadata.deletionTimestamp`: the
/// API server then only lets finalizers (and other metadata) change until
/// the garbage collector removes it; blocking those updates would leave it
/// Terminating for ever.
fn being_deleted(old: &Map<String, Value>) -> bool {
    old.get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

/// True when an UPDATE leaves what the rules of `target` read as it was:
/// a DaemonSet's pod template spec (every DaemonSet rule judges
/// `spec.template.spec`), and for storage objects everything but status
/// and the metadata the API server and controllers maintain (name, labels
/// and annotations count: rules read the default-class annotation).
fn judged_fields_unchanged(
    target: Target,
    object: &Map<String, Value>,
    old: &Map<String, Value>,
) -> bool {
    match target {
        Target::DaemonSet => template_spec(object) == template_spec(old),
        // Binding and status change the spec's claimRef and phase: a
        // deletion that changes no spec field changes nothing judged.
        Target::PersistentVolume => object.get("spec") == old.get("spec"),
        Target::StorageClass | Target::CsiDriver | Target::VolumeAttributesClass => {
            object
                .keys()
                .chain(old.keys())
                .filter(|k| !matches!(k.as_str(), "metadata" | "status"))
                .all(|k| object.get(k) == old.get(k))
                && ["name", "labels", "annotations"]
                    .iter()
                    .all(|k| metadata_field(object, k) == metadata_field(old, k))
        }
        // The subresource changes only the ephemeral containers, and those
        // are compared one by one.
        Target::EphemeralContainers => false,
    }
}

/// `spec.template.spec`, by `get`s: `Value::pointer`'s `~1` unescaping
/// links core's two-way substring searcher (about 2 KB of module).
fn template_spec(object: &Map<String, Value>) -> Option<&Value> {
    object.get("spec")?.get("template")?.get("spec")
}

fn metadata_field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get("metadata")?.get(key)
}

/// A DaemonSet UPDATE that leaves `spec.template.spec` as it was: Pod
/// Security Admission exempts such updates (scaling, relabelling, a
/// rollout restart annotation lives in the template metadata), so a
/// DaemonSet admitted before the policy (or before a tightening) keeps
/// working. The violations are reported as warnings and nothing is
/// mutated: a mutation would change the template and roll every pod.
fn unchanged_template_verdict(findings: Findings) -> ValidationResponse {
    let Findings {
        violations,
        mutation_notes,
    } = findings;
    let mut warnings: Vec<String> = violations
        .iter()
        .map(|v| v.unchanged_template_warning())
        .collect();
    warnings.extend(
        mutation_notes
            .into_iter()
            .map(|n| format!("not mutated (pod template unchanged): {n}")),
    );
    accept(warnings, None)
}

fn metadata_str(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get("metadata")?
        .get(key)?
        .as_str()
        .map(str::to_string)
}

fn display_name(who: &Requester<'_>) -> String {
    let name = if who.name.is_empty() {
        "(generated name)"
    } else {
        who.name
    };
    if who.namespaced && !who.namespace.is_empty() {
        format!("{}/{name}", who.namespace)
    } else {
        name.to_string()
    }
}

fn verdict(
    target: Target,
    who: &Requester<'_>,
    findings: Findings,
    mode: Mode,
    object: Map<String, Value>,
) -> ValidationResponse {
    let Findings {
        violations,
        mutation_notes,
    } = findings;
    let mutated = !mutation_notes.is_empty();
    let mut warnings: Vec<String> = mutation_notes
        .into_iter()
        .map(|n| format!("mutated: {n}"))
        .collect();
    // An unreadable object is refused whatever the mode: it was not judged.
    let unreadable = violations
        .iter()
        .any(|v| v.rule == crate::rules::UNREADABLE);
    let mutated_object = if mutated {
        Some(Value::Object(object))
    } else {
        crate::arena::discard(object);
        None
    };
    if violations.is_empty() {
        return accept(warnings, mutated_object);
    }
    if mode == Mode::Warn && !unreadable {
        warnings.extend(violations.iter().map(|v| v.warning()));
        return accept(warnings, mutated_object);
    }
    crate::arena::discard(mutated_object);
    let rejection = Rejection {
        kind: target.name().to_string(),
        name: display_name(who),
        violations,
    };
    reject(rejection.to_string(), Vec::new())
}

/// Validates settings JSON for the waPC `validate_settings` export.
pub fn validate_settings(
    payload: &[u8],
) -> kubewarden_policy_sdk::settings::SettingsValidationResponse {
    match policy::load(payload) {
        Ok(_) => kubewarden_policy_sdk::settings::SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => kubewarden_policy_sdk::settings::SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::{Value, json};

    use super::{OldObject, Target, being_deleted, daemonset_projection, template_spec, validate};
    use crate::test_support::*;
    use crate::violation::{Rejection, Violation};

    /// A DaemonSet read as its rules read it (`daemonset_object_projection`)
    /// gets the verdict of the whole object read by serde's path, a
    /// mutated object (judged again read whole) included, on every
    /// fixture under settings that mutate, and on shapes the projection
    /// leaves to the whole read.
    #[test]
    fn projected_daemonsets_are_judged_as_whole_ones() {
        let mut mutating = policy_yaml_settings();
        mutating["daemonSets"]["tolerations"] = json!({"mutate": true, "allowWildcard": true,
            "required": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]});
        let mut requests = all_requests();
        for (name, spec) in [
            ("spec null", json!(null)),
            ("template a string", json!({"template": "x"})),
            ("no template", json!({"selector": {}})),
            ("pod spec a list", json!({"template": {"spec": []}})),
        ] {
            let object = edited("daemonset-fluent-bit-rw-varlog.json", |o| o["spec"] = spec);
            requests.push((name.to_string(), object));
        }
        let mut judged = 0;
        for settings in [policy_yaml_settings(), mutating] {
            for (name, request) in &requests {
                let payload = json!({"request": request, "settings": settings}).to_string();
                let projected = validate(payload.as_bytes());
                let whole = super::validate_parsed(payload.as_bytes(), &super::NoCluster);
                assert_eq!(
                    serde_json::to_value(&projected).unwrap(),
                    serde_json::to_value(&whole).unwrap(),
                    "{name}"
                );
                judged += usize::from(request["kind"]["kind"] == "DaemonSet");
            }
        }
        assert!(judged > 40, "only {judged} DaemonSet verdicts");
    }

    /// A projected DaemonSet whose mutation the splice cannot place (an
    /// escaped member name before the mount) is judged again whole: the
    /// answer carries every member, the escaped one included.
    #[test]
    fn a_mutation_the_splice_cannot_place_is_answered_whole() {
        let request = fixture("daemonset-fluent-bit-rw-varlog.json");
        let payload = json!({"request": request, "settings": policy_yaml_settings()})
            .to_string()
            .replacen(r#""containers":["#, r#""\u0078":1,"containers":["#, 1);
        let written = super::validate_to_json(payload.as_bytes(), &super::NoCluster);
        let read: Value = serde_json::from_slice(&written).unwrap();
        let verdict = serde_json::to_value(validate(payload.as_bytes())).unwrap();
        assert_eq!(read, verdict);
        let pod_spec = &read["mutated_object"]["spec"]["template"]["spec"];
        assert_eq!(pod_spec["x"], json!(1));
        assert_eq!(
            pod_spec["containers"][0]["volumeMounts"][1]["readOnly"],
            json!(true)
        );
        assert_eq!(
            read["mutated_object"]["metadata"],
            request["object"]["metadata"]
        );
    }

    /// Settings that are not strict JSON in a section the request does not
    /// read (policy-server validated them at start; the split skips them):
    /// a mutated projected DaemonSet is still judged on the split, spliced
    /// for the host and read whole for `validate`, with one answer (found
    /// by the `validate_bytes` fuzz target).
    #[test]
    fn a_mutated_daemonset_under_lax_settings_gets_one_answer() {
        let request = fixture("daemonset-fluent-bit-rw-varlog.json");
        let mut settings = policy_yaml_settings();
        settings["persistentVolumes"] = json!("LAX");
        let payload = json!({"request": request, "settings": settings})
            .to_string()
            .replace(r#""LAX""#, "{\"x\": [1,]}");
        assert!(serde_json::from_str::<Value>(&payload).is_err());
        let verdict = validate(payload.as_bytes());
        assert!(
            verdict.accepted && verdict.mutated_object.is_some(),
            "{verdict:?}"
        );
        let written = super::validate_to_json(payload.as_bytes(), &super::NoCluster);
        let read: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(read, serde_json::to_value(&verdict).unwrap());
    }

    /// A mutated DaemonSet whose skipped members hold bytes that are not
    /// UTF-8, or an escape no `Value` holds (a lone surrogate): the split
    /// refuses it as serde's path does, so no such text is copied into
    /// the answer (found by the `validate_bytes` fuzz target).
    #[test]
    fn text_a_value_would_not_hold_is_never_copied_into_the_answer() {
        let mut request = fixture("daemonset-fluent-bit-rw-varlog.json");
        request["object"]["metadata"]["labels"] = json!({"bad": "BAD"});
        let payload = json!({"request": request, "settings": policy_yaml_settings()}).to_string();
        for bad in [b"\"\xff\xfe\"".as_slice(), br#""\ud800""#] {
            let mut bytes = Vec::new();
            let at = payload.find(r#""BAD""#).unwrap();
            bytes.extend_from_slice(&payload.as_bytes()[..at]);
            bytes.extend_from_slice(bad);
            bytes.extend_from_slice(&payload.as_bytes()[at + 5..]);
            let verdict = validate(&bytes);
            let written = super::validate_to_json(&bytes, &super::NoCluster);
            let read: Value = serde_json::from_slice(&written).expect("the answer is JSON");
            assert_eq!(read, serde_json::to_value(&verdict).unwrap());
            assert!(!verdict.accepted, "{verdict:?}");
        }
    }

    /// The verdict the module hands the host reads as the same response
    /// as the whole `Value` written out, a mutated object included, for
    /// every fixture under settings that mutate mounts and tolerations
    /// (added to a list, inserted before another, made to last longer,
    /// the list created); and every mutated DaemonSet and debugged Pod was
    /// spliced.
    #[test]
    fn spliced_text_reads_as_the_mutated_object() {
        let policy_yaml = policy_yaml_settings();
        let mut tolerating = policy_yaml.clone();
        tolerating["daemonSets"]["tolerations"] = json!({
            "mutate": true,
            "allowWildcard": true,
            "required": [
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute"}
            ]
        });
        tolerating["daemonSets"]["hostPaths"]["allowed"]
            .as_array_mut()
            .unwrap()
            .push(json!({"pathPrefix": "/", "readOnly": true}));
        // Tolerations to shorten a required one's (set its seconds) and one
        // to insert a required toleration before.
        let cut_short = edited("daemonset-no-hostpath.json", |object| {
            object["spec"]["template"]["spec"]["tolerations"] = json!([
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 10},
                {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
            ]);
        });
        let mut requests = all_requests();
        requests.push(("tolerations cut short".into(), cut_short));
        let (mut mutated, mut spliced) = (0, 0);
        let mut notes = Vec::new();
        for settings in [policy_yaml, tolerating] {
            for (name, request) in requests.clone() {
                // Pretty-printed, as the host never writes it: spliced text
                // keeps its whitespace, so it shows.
                let payload = format!(
                    r#"{{"request": {}, "settings": {settings}}}"#,
                    serde_json::to_string_pretty(&request).unwrap()
                );
                let verdict = validate(payload.as_bytes());
                let written = super::validate_to_json(payload.as_bytes(), &super::NoCluster);
                let read: Value = serde_json::from_slice(&written).expect("the verdict is JSON");
                assert_eq!(read, serde_json::to_value(&verdict).unwrap(), "{name}");
                // Storage objects (about 1 KB, fields set at their top) are
                // written whole.
                let pod_spec_edited =
                    matches!(request["kind"]["kind"].as_str(), Some("DaemonSet" | "Pod"));
                if verdict.mutated_object.is_some() && pod_spec_edited {
                    mutated += 1;
                    notes.extend(warnings(&verdict));
                    if written != crate::json_out::response(&verdict) {
                        spliced += 1;
                    }
                }
            }
        }
        assert_eq!(spliced, mutated, "mutated verdicts spliced");
        assert!(mutated >= 8, "only {mutated} mutated verdicts");
        let notes = notes.join("\n");
        assert_contains_all(
            &notes,
            &[
                "set to readOnly",
                "added required toleration",
                "tolerationSeconds: set to 300",
                "inserted required toleration",
            ],
        );
    }

    /// The split of the host's payload shape and serde's general path give
    /// the same answer, whatever the shape: members in another order, an
    /// unexpected member, no settings, whitespace, settings that do not
    /// read.
    #[rstest]
    #[case::host_shape(r#"{"request":@R,"settings":@S}"#)]
    #[case::spaced("{\n  \"request\" : @R ,\n  \"settings\" : @S\n}\n")]
    #[case::settings_first(r#"{"settings":@S,"request":@R}"#)]
    #[case::member_after(r#"{"request":@R,"settings":@S,"extra":[1]}"#)]
    #[case::member_before(r#"{"extra":{},"request":@R,"settings":@S}"#)]
    #[case::escaped_key(r#"{"re\u0071uest":@R,"settings":@S}"#)]
    #[case::no_settings(r#"{"request":@R}"#)]
    fn payload_shapes_read_alike(
        #[case] shape: &str,
        #[values(
            "daemonset-fluent-bit.json",
            "daemonset-fluent-bit-rw-varlog.json",
            "storageclass-ebs-gp3.json"
        )]
        fixture_name: &str,
        #[values(
            json!({}),
            crate::test_support::policy_yaml_settings(),
            json!({"daemonSets": {"hostPaths": {"allowed": [{"pathPrefx": "/var/log"}]}}}),
            json!({"storageClasses": {"mode": "nope"}}),
            json!(null)
        )]
        settings: Value,
    ) {
        let request = fixture(fixture_name).to_string();
        let settings = settings.to_string();
        let reference = format!(r#"{{"request":{request},"settings":{settings}}}"#);
        let payload = shape.replace("@R", &request).replace("@S", &settings);
        let answer = |payload: &str, parsed: bool| {
            let response = if parsed {
                super::validate_parsed(
                    payload.as_bytes(),
                    &crate::storage::default_class::NoCluster,
                )
            } else {
                validate(payload.as_bytes())
            };
            serde_json::to_value(response).unwrap()
        };
        let reference = if shape.contains("@S") {
            reference
        } else {
            format!(r#"{{"request":{request}}}"#)
        };
        assert_eq!(answer(&payload, false), answer(&reference, true), "{shape}");
    }

    #[test]
    fn delete_and_untargeted_kinds_pass_untouched() {
        assert_accepted_untouched(&run("daemonset-delete.json", json!({})));
        assert_accepted_untouched(&run("configmap-create.json", json!({})));
        let mut connect = fixture("daemonset-node-name.json");
        connect["operation"] = json!("CONNECT");
        assert_accepted_untouched(&evaluate(&connect, json!({})));
    }

    #[test]
    fn a_targeted_kind_without_object_is_refused() {
        let response = run("daemonset-object-null.json", json!({}));
        assert_rejected(
            &response,
            &["DaemonSet CREATE without request.object cannot be judged"],
        );
        let mut request = fixture("storageclass-ebs-gp3.json");
        request["object"] = json!("gp3");
        assert_rejected(
            &evaluate(&request, json!({})),
            &["request.object of a StorageClass must be an object, found a string"],
        );
    }

    #[rstest]
    #[case::empty(b"")]
    #[case::truncated(b"{")]
    #[case::invalid_utf8(b"\xff\xfe")]
    #[case::a_list(b"[]")]
    #[case::request_not_an_object(b"{\"request\": 3}")]
    #[case::kind_not_an_object(b"{\"request\": {\"kind\": \"DaemonSet\"}}")]
    fn unreadable_payloads_are_rejected_not_errors(#[case] payload: &[u8]) {
        let response = validate(payload);
        assert!(!response.accepted, "{payload:?}");
        assert!(
            message(&response).starts_with("cannot read the admission request"),
            "{:?}",
            response.message
        );
    }

    #[test]
    fn invalid_settings_fail_closed() {
        let response = run(
            "daemonset-fluent-bit.json",
            json!({"daemonSets": {"hostPaths": {"allowed": [{"pathPrefix": "var"}]}}}),
        );
        assert_rejected(
            &response,
            &[
                "policy settings are invalid: daemonSets.hostPaths.allowed[0].pathPrefix: \"var\": path is not absolute",
            ],
        );
    }

    #[test]
    fn unknown_settings_are_named_with_their_path() {
        let response = crate::evaluate::validate_settings(
            br#"{"daemonSets": {"hostPaths": {"allowed": [{"pathPrefx": "/var/log"}]}}}"#,
        );
        assert!(!response.valid);
        let message = response.message.unwrap_or_default();
        assert!(
            message.starts_with(
                "daemonSets.hostPaths.allowed[0].pathPrefx: unknown field `pathPrefx`"
            ),
            "{message}"
        );
        let response = crate::evaluate::validate_settings(br#"{"daemonSets": {"mode": "audit"}}"#);
        assert!(
            response
                .message
                .unwrap_or_default()
                .starts_with("daemonSets.mode: unknown variant `audit`")
        );
        assert!(crate::evaluate::validate_settings(b"{}").valid);
    }

    #[rstest]
    #[case::namespace(
        json!({"namespaces": ["observability"]}),
        "exemptions.namespaces[0] (observability)"
    )]
    #[case::name(
        json!({"names": ["observability/vector"]}),
        "exemptions.names[0] (observability/vector)"
    )]
    #[case::user(json!({"users": ["alice@example.com"]}), "exemptions.users[0]")]
    #[case::group(json!({"groups": ["system:authenticated"]}), "exemptions.groups[0]")]
    fn exemptions_accept_with_a_warning_saying_which(
        #[case] exemptions: Value,
        #[case] expected: &str,
    ) {
        let response = run(
            "daemonset-tricky-paths.json",
            json!({"exemptions": exemptions}),
        );
        assert_accepted_untouched(&response);
        let warnings = warnings(&response);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains(expected), "{warnings:?}");
        assert!(warnings[0].starts_with("DaemonSet observability/vector exempted by"));
    }

    #[test]
    fn service_account_exemptions_accept() {
        let response = run(
            "daemonset-node-exporter.json",
            json!({"exemptions": {"serviceAccounts": ["flux-system/helm-controller"]}}),
        );
        assert_accepted_untouched(&response);
    }

    #[test]
    fn exemption_by_namespace_does_not_reach_cluster_scoped_objects() {
        let response = run(
            "storageclass-gce-pd-intree.json",
            json!({"exemptions": {"namespaces": ["default", ""]}}),
        );
        assert!(
            message(&response)
                .contains("policy settings are invalid: exemptions.namespaces[1]: empty entry")
        );
        let response = run(
            "storageclass-gce-pd-intree.json",
            json!({"exemptions": {"namespaces": ["default"]}}),
        );
        assert!(!response.accepted);
    }

    #[test]
    fn warn_mode_accepts_with_the_same_violations_as_warnings() {
        let enforce = run("daemonset-node-name.json", json!({}));
        let warn = run(
            "daemonset-node-name.json",
            json!({"daemonSets": {"mode": "warn"}}),
        );
        assert!(warn.accepted);
        assert!(warn.mutated_object.is_none());
        let rejection = Rejection::parse(message(&enforce)).expect("a rejection");
        let warned: Vec<Violation> = warnings(&warn)
            .iter()
            .filter_map(|w| Violation::parse_warning(w))
            .collect();
        assert_eq!(warned.len(), warnings(&warn).len());
        assert_eq!(warned, rejection.violations);
    }

    #[test]
    fn warn_mode_still_mutates() {
        let settings = json!({"daemonSets": {"mode": "warn", "tolerations": {"mutate": true, "required": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}}});
        let response = run("daemonset-tricky-paths.json", settings);
        assert!(response.accepted);
        assert!(response.mutated_object.is_some());
        assert!(
            warnings(&response)
                .iter()
                .any(|w| w.starts_with("mutated: "))
        );
        assert!(
            warnings(&response)
                .iter()
                .any(|w| w.starts_with("policy violation (warn mode): "))
        );
    }

    #[test]
    fn unreadable_objects_are_refused_even_in_warn_mode() {
        let response = run(
            "daemonset-garbled-types.json",
            json!({"daemonSets": {"mode": "warn"}}),
        );
        assert_rejected(&response, &["[readable object]"]);
    }

    #[test]
    fn modes_are_per_rule_group() {
        let settings = json!({"daemonSets": {"mode": "warn"}});
        assert!(!run("storageclass-gce-pd-intree.json", settings.clone()).accepted);
        let settings = json!({"storageClasses": {"mode": "warn"}, "csiDrivers": {"mode": "warn"}});
        assert!(run("storageclass-gce-pd-intree.json", settings.clone()).accepted);
        assert!(run("csidriver-unapproved-ephemeral.json", settings).accepted);
    }

    #[rstest]
    #[case::daemonset_status("daemonset-node-exporter-relabel.json", "status")]
    #[case::storageclass_anything("storageclass-gce-pd-intree.json", "status")]
    #[case::csidriver_anything("csidriver-unapproved-ephemeral.json", "status")]
    fn subresource_requests_pass_untouched(#[case] name: &str, #[case] sub_resource: &str) {
        let mut request = fixture(name);
        request["subResource"] = json!(sub_resource);
        assert_accepted_untouched(&evaluate(&request, json!({})));
    }

    #[test]
    fn an_empty_subresource_is_the_object_itself() {
        let mut request = fixture("daemonset-node-name.json");
        request["subResource"] = json!("");
        assert!(!evaluate(&request, json!({})).accepted);
    }

    #[test]
    fn finalizer_removal_while_deleting_is_accepted() {
        let response = run("daemonset-node-exporter-finalizer-removal.json", json!({}));
        assert_accepted_untouched(&response);
        assert!(
            warnings(&response)[0]
                .ends_with("is being deleted and this update changes no judged field: not checked"),
            "{:?}",
            response.warnings
        );
    }

    #[rstest]
    #[case::storage_class("storageclass-gce-pd-intree.json")]
    #[case::csi_driver("csidriver-unapproved-ephemeral.json")]
    fn storage_objects_being_deleted_pass_metadata_updates(#[case] name: &str) {
        let mut request = fixture(name);
        let mut old = request["object"].clone();
        old["metadata"]["deletionTimestamp"] = json!("2025-06-02T09:14:51Z");
        old["metadata"]["finalizers"] = json!(["kubernetes.io/pv-protection"]);
        let mut new = old.clone();
        new["metadata"]
            .as_object_mut()
            .map(|m| m.remove("finalizers"));
        request["operation"] = json!("UPDATE");
        request["object"] = new;
        request["oldObject"] = old;
        assert_accepted_untouched(&evaluate(&request, json!({})));
    }

    #[test]
    fn deleting_does_not_excuse_a_changed_template() {
        let mut request = fixture("daemonset-node-exporter-finalizer-removal.json");
        request["object"]["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"] =
            json!("/opt/agent");
        assert!(!evaluate(&request, json!({})).accepted);
    }

    #[test]
    fn a_stored_daemonset_is_read_as_much_as_its_update_needs() {
        let mut read = 0;
        for (name, request) in crate::test_support::all_requests() {
            let Some(old) = request.get("oldObject").filter(|o| o.is_object()) else {
                continue;
            };
            let text = old.to_string();
            let projected = daemonset_projection(&text).expect(&name);
            let projected = projected.as_object().unwrap();
            let whole = old.as_object().unwrap();
            assert_eq!(template_spec(projected), template_spec(whole), "{name}");
            assert_eq!(being_deleted(projected), being_deleted(whole), "{name}");
            read += 1;
        }
        assert!(read >= 3, "only {read} fixtures with an oldObject");
        let deleting = json!({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"selector": {}, "template": {"metadata": {}, "spec": {"containers": []}}},
            "status": {"numberReady": 1}});
        let projected = daemonset_projection(&deleting.to_string()).unwrap();
        assert_eq!(
            projected,
            json!({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"template": {"spec": {"containers": []}}}})
        );
        // What it cannot read is parsed whole.
        assert_eq!(daemonset_projection(r#"{"metadata":null}"#), None);
        assert!(
            OldObject::Text(r#"{"metadata":null}"#)
                .parse(Target::DaemonSet)
                .is_some()
        );
    }

    #[test]
    fn unchanged_templates_are_warned_not_enforced_nor_mutated() {
        let settings = json!({"daemonSets": {"tolerations": {"mutate": true,
            "required": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}}});
        let mut request = fixture("daemonset-node-exporter-relabel.json");
        for object in ["object", "oldObject"] {
            request[object]["spec"]["template"]["spec"]
                .as_object_mut()
                .map(|pod| pod.remove("tolerations"));
        }
        let response = evaluate(&request, settings.clone());
        assert_accepted_untouched(&response);
        let warnings = warnings(&response);
        assert!(
            warnings.iter().any(|w| w.starts_with(
                "policy violation (pod template unchanged, not enforced): spec.template.spec.volumes[2].hostPath.path"
            )),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("not mutated (pod template unchanged): ")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .filter_map(|w| Violation::parse_warning(w))
                .count()
                >= 2
        );
        // The same template as a CREATE, or with a changed template, is judged.
        request["operation"] = json!("CREATE");
        request["oldObject"] = Value::Null;
        assert!(!evaluate(&request, settings.clone()).accepted);
        request["operation"] = json!("UPDATE");
        request["oldObject"] = request["object"].clone();
        request["object"]["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("quay.io/prometheus/node-exporter:v1.9.0");
        assert!(!evaluate(&request, settings).accepted);
    }
}
