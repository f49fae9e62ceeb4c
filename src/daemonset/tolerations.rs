//! Tolerations: the wildcard, forbidden keys, the allow-list and the
//! tolerations every node agent must carry.

use serde_json::{Map, Value};

use super::{Edit, POD_SPEC};
use crate::fields::{each_object, string};
use crate::settings::{RequiredToleration, TolerationPattern, TolerationSettings};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation};

use crate::rules::{
    TOLERATIONS_ALLOW_WILDCARD as RULE_WILDCARD, TOLERATIONS_ALLOWED as RULE_ALLOWED,
    TOLERATIONS_FORBIDDEN as RULE_FORBIDDEN, TOLERATIONS_REQUIRED as RULE_REQUIRED,
};

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const OPERATORS: &[&str] = &["Equal", "Exists"];

/// Added by the DaemonSet controller to every DaemonSet pod, so always
/// allowed.
pub const DAEMONSET_CONTROLLER_KEYS: &[&str] = &[
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
];

/// A toleration as Kubernetes reads it: absent fields take their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toleration<'a> {
    pub key: &'a str,
    pub operator: &'a str,
    pub value: &'a str,
    pub effect: &'a str,
}

impl Toleration<'_> {
    /// An empty key with `Exists` tolerates every taint.
    pub fn is_wildcard(&self) -> bool {
        self.key.is_empty() && self.operator == "Exists"
    }

    /// True when every taint `other` tolerates is tolerated by `self`.
    fn covers(&self, other: &Toleration<'_>) -> bool {
        if self.is_wildcard() {
            return self.effect.is_empty() || self.effect == other.effect;
        }
        self.key == other.key
            && (self.effect.is_empty() || self.effect == other.effect)
            && (self.operator == "Exists"
                || (other.operator == "Equal" && self.value == other.value))
    }
}

impl<'a> From<&'a RequiredToleration> for Toleration<'a> {
    fn from(r: &'a RequiredToleration) -> Self {
        Toleration {
            key: &r.key,
            operator: r.operator.as_deref().unwrap_or("Equal"),
            value: r.value.as_deref().unwrap_or(""),
            effect: r.effect.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TolerationRules {
    settings: TolerationSettings,
}

impl TolerationRules {
    pub fn compile(settings: TolerationSettings, errors: &mut SettingErrors) -> Self {
        let base = "daemonSets.tolerations";
        for (i, effect) in settings.allowed_wildcard_effects.iter().enumerate() {
            if !EFFECTS.contains(&effect.as_str()) {
                errors.add(
                    format!("{base}.allowedWildcardEffects[{i}]"),
                    format!("{effect:?} is not a taint effect ({})", EFFECTS.join(", ")),
                );
            }
        }
        check_wildcards_against_forbidden(&settings, errors);
        for (i, f) in settings.forbidden.iter().enumerate() {
            if f.key.trim().is_empty() {
                errors.add(
                    format!("{base}.forbidden[{i}].key"),
                    "empty key (the wildcard is governed by allowWildcard)",
                );
            }
            check_effect(
                f.effect.as_deref(),
                &format!("{base}.forbidden[{i}]"),
                errors,
            );
        }
        for (i, a) in settings.allowed.iter().flatten().enumerate() {
            check_entry(
                &format!("{base}.allowed[{i}]"),
                (&a.key, a.operator.as_deref(), a.effect.as_deref()),
                "empty key (the wildcard is governed by allowWildcard)",
                errors,
            );
        }
        for (i, r) in settings.required.iter().enumerate() {
            check_required(&settings, i, r, errors);
        }
        Self { settings }
    }
}

/// An allowed wildcard still tolerates the forbidden taints it reaches, so
/// the two settings would contradict each other.
fn check_wildcards_against_forbidden(settings: &TolerationSettings, errors: &mut SettingErrors) {
    let base = "daemonSets.tolerations";
    for (j, f) in settings.forbidden.iter().enumerate() {
        let effect = f.effect.as_deref().filter(|e| !e.is_empty());
        if settings.allow_wildcard {
            errors.add(
                format!("{base}.allowWildcard"),
                format!(
                    "a wildcard tolerates forbidden[{j}] ({}): remove one",
                    f.key
                ),
            );
        }
        for (i, wildcard_effect) in settings.allowed_wildcard_effects.iter().enumerate() {
            if effect.is_none_or(|e| e == wildcard_effect) {
                errors.add(
                    format!("{base}.allowedWildcardEffects[{i}]"),
                    format!(
                        "a {wildcard_effect} wildcard tolerates forbidden[{j}] ({} with {}): give that entry another effect",
                        f.key,
                        effect.unwrap_or("every effect")
                    ),
                );
            }
        }
    }
}

/// The key, operator and effect of an allowed or required toleration.
fn check_entry(
    path: &str,
    (key, operator, effect): (&str, Option<&str>, Option<&str>),
    empty_key: &str,
    errors: &mut SettingErrors,
) {
    if key.trim().is_empty() {
        errors.add(format!("{path}.key"), empty_key);
    }
    check_operator(operator, path, errors);
    check_effect(effect, path, errors);
}

fn check_effect(effect: Option<&str>, path: &str, errors: &mut SettingErrors) {
    if let Some(effect) = effect
        && !effect.is_empty()
        && !EFFECTS.contains(&effect)
    {
        errors.add(
            format!("{path}.effect"),
            format!("{effect:?} is not a taint effect ({})", EFFECTS.join(", ")),
        );
    }
}

fn check_operator(operator: Option<&str>, path: &str, errors: &mut SettingErrors) {
    if let Some(op) = operator
        && !OPERATORS.contains(&op)
    {
        errors.add(
            format!("{path}.operator"),
            format!("{op:?} is not a toleration operator (Equal, Exists)"),
        );
    }
}

fn check_required(
    settings: &TolerationSettings,
    i: usize,
    required: &RequiredToleration,
    errors: &mut SettingErrors,
) {
    let path = format!("daemonSets.tolerations.required[{i}]");
    check_entry(
        &path,
        (
            &required.key,
            required.operator.as_deref(),
            required.effect.as_deref(),
        ),
        "empty key: a required toleration names a taint",
        errors,
    );
    let toleration = Toleration::from(required);
    if toleration.operator == "Exists" && !toleration.value.is_empty() {
        errors.add(
            format!("{path}.value"),
            "must be empty with operator Exists",
        );
    }
    if let Some(j) = settings
        .forbidden
        .iter()
        .position(|f| hits_forbidden(&toleration, &f.key, f.effect.as_deref()))
    {
        errors.add(
            &path,
            format!("contradicts daemonSets.tolerations.forbidden[{j}] (same key)"),
        );
    }
    if let Some(allowed) = &settings.allowed
        && !is_controller_toleration(&toleration)
        && !allowed.iter().any(|a| pattern_matches(a, &toleration))
    {
        errors.add(
            &path,
            "is not matched by any daemonSets.tolerations.allowed entry",
        );
    }
}

/// Forbidden keys compare case-insensitively: a spelling the scheduler would
/// not match is harmless, and refusing it closes the door on look-alikes.
fn hits_forbidden(toleration: &Toleration<'_>, key: &str, effect: Option<&str>) -> bool {
    let key_hit =
        toleration.is_wildcard() || toleration.key.trim().eq_ignore_ascii_case(key.trim());
    let effect_hit = match effect.filter(|e| !e.is_empty()) {
        None => true,
        Some(effect) => toleration.effect.is_empty() || toleration.effect == effect,
    };
    key_hit && effect_hit
}

fn pattern_matches(pattern: &TolerationPattern, toleration: &Toleration<'_>) -> bool {
    pattern.key == toleration.key
        && pattern
            .operator
            .as_deref()
            .is_none_or(|op| op == toleration.operator)
        && pattern
            .value
            .as_deref()
            .is_none_or(|v| v == toleration.value)
        && pattern
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == toleration.effect)
}

fn is_controller_toleration(toleration: &Toleration<'_>) -> bool {
    DAEMONSET_CONTROLLER_KEYS.contains(&toleration.key)
}

/// Reads one toleration; `None` when a field has the wrong type (reported).
fn read_toleration<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    findings: &mut Findings,
) -> Option<Toleration<'a>> {
    let mut field = |name: &str| {
        string(map, name, || format!("{path}.{name}"), findings).map(|v| v.unwrap_or(""))
    };
    let key = field("key");
    let operator = field("operator");
    let value = field("value");
    let effect = field("effect");
    Some(Toleration {
        key: key.ok()?,
        operator: match operator.ok()? {
            "" => "Equal",
            op => op,
        },
        value: value.ok()?,
        effect: effect.ok()?,
    })
}

pub fn check(
    pod_spec: &Map<String, Value>,
    rules: &TolerationRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let settings = &rules.settings;
    let base = format!("{POD_SPEC}.tolerations");
    let mut present = Vec::new();
    let mut fields_readable = true;
    let objects_readable = each_object(
        pod_spec,
        "tolerations",
        &base,
        findings,
        |_, path, map, findings| match read_toleration(map, path, findings) {
            Some(toleration) => {
                judge(&toleration, map, path, settings, findings);
                present.push(toleration);
            }
            None => fields_readable = false,
        },
    );
    if objects_readable && fields_readable {
        require(&present, &base, settings, findings, edits);
    }
}

fn judge(
    toleration: &Toleration<'_>,
    raw: &Map<String, Value>,
    path: &str,
    settings: &TolerationSettings,
    findings: &mut Findings,
) {
    let wildcard = toleration.is_wildcard();
    if wildcard {
        let effect_allowed = !toleration.effect.is_empty()
            && settings
                .allowed_wildcard_effects
                .iter()
                .any(|e| e == toleration.effect);
        if !settings.allow_wildcard && !effect_allowed {
            findings.push(Violation::new(
                path,
                compact(raw),
                RULE_WILDCARD,
                "empty key with operator Exists tolerates every taint, control-plane and NoExecute included",
            ));
            return;
        }
    }
    if let Some(forbidden) = settings
        .forbidden
        .iter()
        .find(|f| hits_forbidden(toleration, &f.key, f.effect.as_deref()))
    {
        let scope = forbidden
            .effect
            .as_deref()
            .map_or(String::new(), |e| format!(" with effect {e}"));
        findings.push(Violation::new(
            path,
            compact(raw),
            RULE_FORBIDDEN,
            format!("tolerates forbidden taint {}{scope}", forbidden.key),
        ));
        return;
    }
    if let Some(allowed) = &settings.allowed
        && !wildcard
        && !is_controller_toleration(toleration)
        && !allowed.iter().any(|a| pattern_matches(a, toleration))
    {
        findings.push(Violation::new(
            path,
            compact(raw),
            RULE_ALLOWED,
            "matches no allowed toleration",
        ));
    }
}

fn require(
    present: &[Toleration<'_>],
    base: &str,
    settings: &TolerationSettings,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    for (r, required) in settings.required.iter().enumerate() {
        let wanted = Toleration::from(required);
        if present.iter().any(|t| t.covers(&wanted)) {
            continue;
        }
        let rendered = describe(&wanted);
        if settings.mutate {
            findings.note(format!("{base}: added required toleration {rendered}"));
            edits.push(Edit::AddToleration(required_json(required)));
        } else {
            findings.push(Violation::new(
                base,
                "missing",
                RULE_REQUIRED,
                format!("required toleration {rendered} (required[{r}]) is missing"),
            ));
        }
    }
}

fn describe(t: &Toleration<'_>) -> String {
    let mut s = format!("{} {}", t.key, t.operator);
    if !t.value.is_empty() {
        s.push(' ');
        s.push_str(t.value);
    }
    if !t.effect.is_empty() {
        s.push(':');
        s.push_str(t.effect);
    }
    s
}

fn required_json(required: &RequiredToleration) -> Value {
    let mut map = Map::new();
    map.insert("key".into(), Value::from(required.key.as_str()));
    map.insert(
        "operator".into(),
        Value::from(required.operator.as_deref().unwrap_or("Equal")),
    );
    if let Some(value) = required.value.as_deref().filter(|v| !v.is_empty()) {
        map.insert("value".into(), Value::from(value));
    }
    if let Some(effect) = required.effect.as_deref().filter(|e| !e.is_empty()) {
        map.insert("effect".into(), Value::from(effect));
    }
    Value::Object(map)
}

/// Tolerations are small: show them whole, as compact JSON (`{...}` when
/// they are not).
fn compact(raw: &Map<String, Value>) -> String {
    match serde_json::to_string(raw) {
        Ok(text) if text.len() <= 120 => text,
        _ => "{...}".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t<'a>(key: &'a str, operator: &'a str, value: &'a str, effect: &'a str) -> Toleration<'a> {
        Toleration {
            key,
            operator,
            value,
            effect,
        }
    }

    #[test]
    fn wildcard_is_empty_key_with_exists() {
        assert!(t("", "Exists", "", "").is_wildcard());
        assert!(t("", "Exists", "", "NoExecute").is_wildcard());
        assert!(!t("a", "Exists", "", "").is_wildcard());
    }

    #[test]
    fn coverage_follows_kubernetes_matching() {
        let exists_any_effect = t("k", "Exists", "", "");
        assert!(exists_any_effect.covers(&t("k", "Equal", "v", "NoSchedule")));
        assert!(exists_any_effect.covers(&t("k", "Exists", "", "NoExecute")));
        assert!(!t("k", "Equal", "v", "").covers(&t("k", "Exists", "", "")));
        assert!(!t("k", "Exists", "", "NoSchedule").covers(&t("k", "Exists", "", "")));
        assert!(t("", "Exists", "", "").covers(&t("k", "Equal", "v", "NoSchedule")));
        assert!(!t("other", "Exists", "", "").covers(&t("k", "Exists", "", "")));
    }

    #[test]
    fn forbidden_keys_match_any_case_and_effectless_tolerations() {
        let key = "node-role.kubernetes.io/control-plane";
        assert!(hits_forbidden(
            &t("Node-Role.Kubernetes.io/Control-Plane", "Exists", "", ""),
            key,
            None
        ));
        assert!(hits_forbidden(
            &t(key, "Equal", "", ""),
            key,
            Some("NoSchedule")
        ));
        assert!(hits_forbidden(
            &t(key, "Equal", "x", "NoSchedule"),
            key,
            Some("NoSchedule")
        ));
        assert!(!hits_forbidden(
            &t(key, "Exists", "", "NoExecute"),
            key,
            Some("NoSchedule")
        ));
    }

    mod evaluation {
        use serde_json::{Value, json};

        use crate::test_support::*;

        fn tricky_settings(tolerations: Value) -> Value {
            json!({"daemonSets": {
                "hostPaths": {"allowed": [{"pathPrefix": "/var/log", "readOnly": true}, {"pathPrefix": "/etc/localtime", "readOnly": true}]},
                "tolerations": tolerations
            }})
        }

        #[test]
        fn wildcard_is_rejected_by_default() {
            let response = run("daemonset-node-exporter.json", json!({}));
            assert_rejected(
                &response,
                &[
                    "spec.template.spec.tolerations[0]={\"operator\":\"Exists\"}: empty key with operator Exists tolerates every taint",
                ],
            );
        }

        #[test]
        fn a_wildcard_limited_to_an_allowed_effect_passes() {
            let settings = json!({"daemonSets": {
                "hostPaths": {"allowed": [{"pathPrefix": "/var/lib/kubelet", "allowBidirectional": true}, {"pathPrefix": "/dev"}]},
                "tolerations": {"allowedWildcardEffects": ["NoExecute"]}
            }});
            assert_accepted_untouched(&run("daemonset-ebs-csi-node.json", settings.clone()));
            let response = run("daemonset-node-exporter.json", settings);
            assert_rejected(
                &response,
                &["tolerations[0]={\"operator\":\"Exists\"}: empty key with operator Exists"],
            );
        }

        #[test]
        fn forbidden_keys_are_caught_in_every_spelling() {
            let settings = tricky_settings(json!({"forbidden": [
                {"key": "node-role.kubernetes.io/control-plane"},
                {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}
            ]}));
            let response = run("daemonset-tolerations-tricky.json", settings);
            assert_violations(
                &response,
                5,
                &[
                    "tolerations[0]=",
                    "tolerations[1]=",
                    "tolerations[2]={\"effect\":\"NoSchedule\",\"key\":\"Node-Role.Kubernetes.io/Control-Plane\"",
                    "tolerations[3]=",
                    "tolerates forbidden taint node-role.kubernetes.io/master with effect NoSchedule",
                    "tolerations[6]={\"effect\":\"NoExecute\",\"key\":\"\",\"operator\":\"Exists\"}: empty key with operator Exists",
                ],
            );
        }

        #[test]
        fn allow_list_admits_controller_tolerations_by_itself() {
            let settings = tricky_settings(json!({
                "allowWildcard": true,
                "allowed": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, {"key": "dedicated", "value": "gpu"}]
            }));
            let response = run("daemonset-tolerations-tricky.json", settings);
            assert_violations(
                &response,
                4,
                &[
                    "tolerations[0]=",
                    "tolerations[1]=",
                    "tolerations[2]=",
                    "tolerations[3]=",
                    "matches no allowed toleration [daemonSets.tolerations.allowed]",
                ],
            );
        }

        #[test]
        fn missing_required_tolerations_are_added_once() {
            let settings = json!({"daemonSets": {"tolerations": {"mutate": true, "required": [
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ]}}});
            let request = fixture("daemonset-no-hostpath.json");
            let response = evaluate(&request, settings.clone());
            assert!(response.accepted, "{:?}", response.message);
            let mut expected = request["object"].clone();
            expected["spec"]["template"]["spec"]["tolerations"] = json!([
                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
            ]);
            assert_eq!(response.mutated_object, Some(expected));
            assert_eq!(warnings(&response).len(), 2);
            assert_accepted_untouched(&reevaluate(&request, &response, settings));
        }

        #[test]
        fn required_tolerations_without_mutation_are_violations() {
            let settings = json!({"daemonSets": {"tolerations": {"required": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]}}});
            let response = run("daemonset-no-hostpath.json", settings);
            assert_rejected(
                &response,
                &[
                    "spec.template.spec.tolerations=missing: required toleration CriticalAddonsOnly Exists (required[0]) is missing [daemonSets.tolerations.required]",
                ],
            );
        }

        #[test]
        fn a_broader_toleration_already_satisfies_a_requirement() {
            let settings = tricky_settings(
                json!({"allowWildcard": true, "mutate": true, "required": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
                ]}),
            );
            assert_accepted_untouched(&run("daemonset-tolerations-tricky.json", settings));
        }

        #[test]
        fn settings_refuse_contradictions_and_unknown_values() {
            let settings = json!({"daemonSets": {"tolerations": {
                "forbidden": [{"key": "node-role.kubernetes.io/control-plane"}, {"key": " ", "effect": "NoRun"}],
                "allowed": [{"key": "dedicated", "operator": "Like"}],
                "required": [{"key": "Node-Role.Kubernetes.io/Control-Plane", "operator": "Exists", "value": "x"}]
            }}});
            assert_settings_refused(
                &settings,
                &[
                    "daemonSets.tolerations.forbidden[1].key: empty key",
                    "daemonSets.tolerations.forbidden[1].effect: \"NoRun\" is not a taint effect",
                    "daemonSets.tolerations.allowed[0].operator: \"Like\" is not a toleration operator",
                    "daemonSets.tolerations.required[0].value: must be empty with operator Exists",
                    "daemonSets.tolerations.required[0]: contradicts daemonSets.tolerations.forbidden[0]",
                    "daemonSets.tolerations.required[0]: is not matched by any daemonSets.tolerations.allowed entry",
                ],
            );
        }

        #[test]
        fn settings_refuse_wildcards_that_reach_forbidden_taints() {
            let settings = json!({"daemonSets": {"tolerations": {
                "allowWildcard": true,
                "allowedWildcardEffects": ["NoExecute", "NoSchedule"],
                "forbidden": [{"key": "node-role.kubernetes.io/control-plane"}, {"key": "dedicated", "effect": "NoSchedule"}]
            }}});
            assert_settings_refused(
                &settings,
                &[
                    "daemonSets.tolerations.allowWildcard: a wildcard tolerates forbidden[0]",
                    "daemonSets.tolerations.allowedWildcardEffects[0]: a NoExecute wildcard tolerates forbidden[0] (node-role.kubernetes.io/control-plane with every effect)",
                    "daemonSets.tolerations.allowedWildcardEffects[1]: a NoSchedule wildcard tolerates forbidden[1] (dedicated with NoSchedule)",
                ],
            );
        }
    }
}
