//! Tolerations: the wildcard, forbidden keys, the allow-list and the
//! tolerations every node agent must carry.
//!
//! Matching follows Kubernetes: k8s.io/api `core/v1/toleration.go`
//! (`ToleratesTaint`: an empty effect or key matches every effect or key,
//! `Exists` every value, `Equal` the same value, `Lt`/`Gt` compare integers
//! and match nothing while the alpha feature gate
//! `TaintTolerationComparisonOperators` (1.35) is off; `MatchToleration`:
//! the same key, operator, value and effect). How long a toleration keeps a
//! pod on a `NoExecute` taint follows the taint manager,
//! kubernetes `pkg/controller/tainteviction/taint_eviction.go`: each taint is
//! matched by the *first* toleration that tolerates it
//! (`GetMatchingTolerations`), and `getMinTolerationTime` reads an absent
//! `tolerationSeconds` as forever and zero or less as "evict at once".

use serde_json::{Map, Value};

use super::{Edit, POD_SPEC};
use crate::fields::{each_object, integer, string};
use crate::settings::{RequiredToleration, TolerationPattern, TolerationSettings};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation};

use crate::rules::{
    TOLERATIONS_ALLOW_WILDCARD as RULE_WILDCARD, TOLERATIONS_ALLOWED as RULE_ALLOWED,
    TOLERATIONS_FORBIDDEN as RULE_FORBIDDEN, TOLERATIONS_REQUIRED as RULE_REQUIRED,
};

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const OPERATORS: &[&str] = &["Equal", "Exists", "Lt", "Gt"];

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

/// A toleration as Kubernetes reads it: absent fields take their defaults
/// (`seconds: None` is an absent `tolerationSeconds`: forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toleration<'a> {
    pub key: &'a str,
    pub operator: &'a str,
    pub value: &'a str,
    pub effect: &'a str,
    pub seconds: Option<i64>,
}

/// The operators of `ToleratesTaint`; any other matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    Exists,
    Lt,
    Gt,
    Unknown,
}

impl Toleration<'_> {
    /// An empty key with `Exists` tolerates every taint.
    pub fn is_wildcard(&self) -> bool {
        self.key.is_empty() && self.operator == "Exists"
    }

    fn op(&self) -> Operator {
        match self.operator {
            "" | "Equal" => Operator::Equal,
            "Exists" => Operator::Exists,
            "Lt" => Operator::Lt,
            "Gt" => Operator::Gt,
            _ => Operator::Unknown,
        }
    }

    /// `Lt` or `Gt`: an integer threshold (alpha in Kubernetes 1.35).
    fn is_threshold(&self) -> bool {
        matches!(self.op(), Operator::Lt | Operator::Gt)
    }

    /// `MatchToleration`: the same key, operator, value and effect.
    fn same_as(&self, other: &Toleration<'_>) -> bool {
        self.key == other.key
            && self.op() == other.op()
            && self.value == other.value
            && self.effect == other.effect
    }

    /// True when every taint `other` tolerates is tolerated by `self`,
    /// whatever the feature gates. A threshold (`Lt`/`Gt`) tolerates nothing
    /// while `TaintTolerationComparisonOperators` is off, so it covers only
    /// the same toleration.
    fn covers(&self, other: &Toleration<'_>) -> bool {
        if self.is_threshold() {
            return self.same_as(other);
        }
        let effect = self.effect.is_empty() || self.effect == other.effect;
        if self.is_wildcard() {
            return effect;
        }
        self.key == other.key
            && effect
            && match self.op() {
                Operator::Exists => true,
                Operator::Equal => other.op() == Operator::Equal && self.value == other.value,
                _ => false,
            }
    }

    /// Whether the toleration tolerates `NoExecute` taints at all (an empty
    /// effect is every effect); only then does `tolerationSeconds` count.
    fn reaches_no_execute(&self) -> bool {
        self.effect.is_empty() || self.effect == "NoExecute"
    }

    /// True when some `NoExecute` taint tolerated by `other` may be tolerated
    /// by `self` too (when both are thresholds, always assumed).
    fn may_share_no_execute_taint(&self, other: &Toleration<'_>) -> bool {
        if !self.reaches_no_execute() || !other.reaches_no_execute() {
            return false;
        }
        if !self.key.is_empty() && !other.key.is_empty() && self.key != other.key {
            return false;
        }
        match (self.op(), other.op()) {
            (Operator::Unknown, _) | (_, Operator::Unknown) => false,
            (Operator::Exists, _) | (_, Operator::Exists) => true,
            (Operator::Equal, Operator::Equal) => self.value == other.value,
            (Operator::Lt | Operator::Gt, Operator::Equal) => self.tolerates_value(other.value),
            (Operator::Equal, Operator::Lt | Operator::Gt) => other.tolerates_value(self.value),
            _ => true,
        }
    }

    /// `compareNumericValues` of a threshold against a taint value: both in
    /// canonical decimal form (`content.IsDecimalInteger`), then compared.
    fn tolerates_value(&self, taint_value: &str) -> bool {
        let (Some(threshold), Some(taint)) = (decimal(self.value), decimal(taint_value)) else {
            return false;
        };
        match self.op() {
            Operator::Lt => taint < threshold,
            Operator::Gt => taint > threshold,
            _ => false,
        }
    }
}

/// How long a toleration keeps a pod on a `NoExecute` taint:
/// `getMinTolerationTime` reads absent as forever (`None`), zero or less as 0.
fn lasts_at_least(have: Option<i64>, want: Option<i64>) -> bool {
    match (have, want) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(have), Some(want)) => have.max(0) >= want,
    }
}

/// An integer in the canonical form apimachinery's `content.IsDecimalInteger`
/// accepts: `0`, or an optional `-` and digits without a leading zero, that
/// `strconv.ParseInt(_, 10, 64)` reads.
fn decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = text == "0"
        || (digits
            .bytes()
            .next()
            .is_some_and(|b| (b'1'..=b'9').contains(&b))
            && digits.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| text.parse().ok()).flatten()
}

impl<'a> From<&'a RequiredToleration> for Toleration<'a> {
    fn from(r: &'a RequiredToleration) -> Self {
        Toleration {
            key: &r.key,
            operator: r.operator.as_deref().unwrap_or("Equal"),
            value: r.value.as_deref().unwrap_or(""),
            effect: r.effect.as_deref().unwrap_or(""),
            seconds: r.toleration_seconds,
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
                &format_args!("{base}.forbidden[{i}]"),
                errors,
            );
        }
        for (i, a) in settings.allowed.iter().flatten().enumerate() {
            check_entry(
                &format_args!("{base}.allowed[{i}]"),
                (
                    &a.key,
                    a.operator.as_deref(),
                    a.value.as_deref(),
                    a.effect.as_deref(),
                ),
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

/// The key, operator, value and effect of an allowed or required toleration.
fn check_entry(
    path: &dyn std::fmt::Display,
    (key, operator, value, effect): (&str, Option<&str>, Option<&str>, Option<&str>),
    empty_key: &str,
    errors: &mut SettingErrors,
) {
    if key.trim().is_empty() {
        errors.add(format!("{path}.key"), empty_key);
    }
    check_operator(operator, path, errors);
    check_effect(effect, path, errors);
    if let Some(op @ ("Lt" | "Gt")) = operator
        && let Some(value) = value
        && decimal(value).is_none()
    {
        errors.add(
            format!("{path}.value"),
            format!(
                "{value:?} is not an integer in canonical form ({op} compares integers: \"0\", \"42\", \"-7\")"
            ),
        );
    }
}

fn check_effect(effect: Option<&str>, path: &dyn std::fmt::Display, errors: &mut SettingErrors) {
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

fn check_operator(
    operator: Option<&str>,
    path: &dyn std::fmt::Display,
    errors: &mut SettingErrors,
) {
    if let Some(op) = operator
        && !OPERATORS.contains(&op)
    {
        errors.add(
            format!("{path}.operator"),
            format!("{op:?} is not a toleration operator (Equal, Exists, Lt, Gt)"),
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
            required.value.as_deref(),
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
    if toleration.is_threshold() && required.value.is_none() {
        errors.add(
            format!("{path}.value"),
            format!("{} needs an integer value", toleration.operator),
        );
    }
    // The API server refuses tolerationSeconds with another effect
    // (pkg/apis/core/validation `validateTolerations`), and it only delays
    // NoExecute evictions.
    if let Some(seconds) = required.toleration_seconds {
        if seconds < 0 {
            errors.add(
                format!("{path}.tolerationSeconds"),
                format!("{seconds} is negative (Kubernetes reads it as 0, evict at once): give 0 or more"),
            );
        }
        if toleration.effect != "NoExecute" {
            errors.add(
                format!("{path}.tolerationSeconds"),
                "needs effect NoExecute (Kubernetes refuses tolerationSeconds with any other effect)",
            );
        }
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

/// A pattern with a value but no operator names an `Equal` value: it does
/// not match a threshold (`Lt`/`Gt`), which tolerates a range of values;
/// those are allowed only by a pattern naming the operator.
fn pattern_matches(pattern: &TolerationPattern, toleration: &Toleration<'_>) -> bool {
    pattern.key == toleration.key
        && match pattern.operator.as_deref() {
            Some(op) => op == toleration.operator,
            None => pattern.value.is_none() || !toleration.is_threshold(),
        }
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
    path: &dyn std::fmt::Display,
    findings: &mut Findings,
) -> Option<Toleration<'a>> {
    let mut field = |name: &str| {
        string(map, name, || format!("{path}.{name}"), findings).map(|v| v.unwrap_or(""))
    };
    let key = field("key");
    let operator = field("operator");
    let value = field("value");
    let effect = field("effect");
    let seconds = integer(
        map,
        "tolerationSeconds",
        || format!("{path}.tolerationSeconds"),
        findings,
    );
    Some(Toleration {
        key: key.ok()?,
        operator: match operator.ok()? {
            "" => "Equal",
            op => op,
        },
        value: value.ok()?,
        effect: effect.ok()?,
        seconds: seconds.ok()?,
    })
}

pub fn check(
    pod_spec: &Map<String, Value>,
    rules: &TolerationRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let settings = &rules.settings;
    let base = crate::json_path::Field {
        base: &POD_SPEC,
        name: "tolerations",
    };
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
    path: &dyn std::fmt::Display,
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
                path.to_string(),
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
            path.to_string(),
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
            path.to_string(),
            compact(raw),
            RULE_ALLOWED,
            "matches no allowed toleration",
        ));
    }
}

/// Where a required toleration stands among the present ones.
enum Standing {
    /// Some toleration covers it, for long enough, and none before it
    /// cuts its `NoExecute` taints short.
    Satisfied,
    /// No toleration covers it.
    Missing,
    /// The toleration at this index is the first that may match one of its
    /// `NoExecute` taints, and it lets the pod stay for less time than
    /// required.
    CutShort(usize),
}

/// Kubernetes' taint manager matches each taint with the first toleration
/// that tolerates it (`GetMatchingTolerations`), so a required toleration
/// counts only when no toleration before the one covering it tolerates the
/// same `NoExecute` taints for less time.
fn standing(present: &[Toleration<'_>], wanted: &Toleration<'_>) -> Standing {
    let no_execute = wanted.reaches_no_execute();
    for (i, t) in present.iter().enumerate() {
        let long_enough = !no_execute || lasts_at_least(t.seconds, wanted.seconds);
        if t.covers(wanted) && long_enough {
            return Standing::Satisfied;
        }
        if !long_enough && t.may_share_no_execute_taint(wanted) {
            return Standing::CutShort(i);
        }
    }
    Standing::Missing
}

/// The order in which requirements are met: one that tolerates at least the
/// taints of another, at least as long, comes first, so that adding it makes
/// the other one hold and the result does not depend on the order of
/// `required` in the settings. `ToleratesTaint` (k8s.io/api
/// `core/v1/toleration.go`): an empty effect matches every effect, `Exists`
/// every value; `getMinTolerationTime` (kubernetes
/// `pkg/controller/tainteviction/taint_eviction.go`): an absent
/// `tolerationSeconds` is forever. If `a` satisfies `b`, then
/// `precedence(a) <= precedence(b)`; the rest orders by content, so equal
/// requirements are interchangeable.
fn precedence<'a>(t: &Toleration<'a>) -> impl Ord + use<'a> {
    let operator = match t.op() {
        Operator::Exists => 0,
        Operator::Equal => 1,
        Operator::Lt | Operator::Gt => 2,
        Operator::Unknown => 3,
    };
    let time = t.seconds.map_or((0, 0), |s| (1, s.saturating_neg()));
    (
        !t.effect.is_empty(),
        operator,
        time,
        t.key,
        t.operator,
        t.value,
        t.effect,
    )
}

fn require(
    present: &[Toleration<'_>],
    base: &dyn std::fmt::Display,
    settings: &TolerationSettings,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let mut order: Vec<(usize, &RequiredToleration)> =
        settings.required.iter().enumerate().collect();
    order.sort_by_cached_key(|(_, r)| precedence(&Toleration::from(*r)));
    // The list as the edits leave it, so that each requirement sees the
    // edits of the ones before it (edits are applied in order). An inserted
    // toleration can cut short a requirement met before it (a threshold
    // sharing some of its taints), so requirements are met again until a
    // pass edits nothing: then the second pass of the mutated object edits
    // nothing either. Each pass that edits adds or lengthens a required
    // toleration; the bound only guards against a cycle.
    let mut list: Vec<Toleration<'_>> = present.to_vec();
    for _ in 0..=settings.required.len() {
        let before = edits.len();
        for &(r, required) in &order {
            meet(r, required, &mut list, base, settings, findings, edits);
        }
        if !settings.mutate || edits.len() == before {
            break;
        }
    }
}

/// Meets one requirement against the list as the edits so far leave it.
fn meet<'a>(
    r: usize,
    required: &'a RequiredToleration,
    list: &mut Vec<Toleration<'a>>,
    base: &dyn std::fmt::Display,
    settings: &TolerationSettings,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    let wanted = Toleration::from(required);
    let rendered = describe(&wanted);
    match standing(list, &wanted) {
        Standing::Satisfied => {}
        Standing::Missing if settings.mutate => {
            findings.note(format!("{base}: added required toleration {rendered}"));
            edits.push(Edit::AddToleration(required_json(required)));
            list.push(wanted);
        }
        Standing::Missing => findings.push(Violation::new(
            base.to_string(),
            "missing",
            RULE_REQUIRED,
            format!("required toleration {rendered} (required[{r}]) is missing"),
        )),
        Standing::CutShort(i) => {
            let at = format!("{base}[{i}]");
            let short = list[i];
            let seconds = short.seconds.unwrap_or_default();
            if !settings.mutate {
                findings.push(Violation::new(
                    format!("{at}.tolerationSeconds"),
                    seconds.to_string(),
                    RULE_REQUIRED,
                    format!(
                        "evicts after {} on NoExecute taints that required toleration {rendered} (required[{r}]) must tolerate {} (Kubernetes applies the first matching toleration)",
                        duration(Some(seconds)),
                        duration(wanted.seconds)
                    ),
                ));
            } else if short.same_as(&wanted) {
                let change = match wanted.seconds {
                    Some(s) => format!("set to {s}"),
                    None => "removed".to_string(),
                };
                findings.note(format!(
                    "{at}.tolerationSeconds: {change} (required toleration {rendered})"
                ));
                edits.push(Edit::SetTolerationSeconds {
                    index: i,
                    seconds: wanted.seconds,
                });
                list[i].seconds = wanted.seconds;
            } else {
                findings.note(format!(
                    "{base}: inserted required toleration {rendered} at [{i}], before the toleration that would evict after {}",
                    duration(Some(seconds))
                ));
                edits.push(Edit::InsertToleration {
                    index: i,
                    toleration: required_json(required),
                });
                list.insert(i, wanted);
            }
        }
    }
}

/// `Some(0)` is "at once", `None` "forever".
fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "forever".to_string(),
        Some(s) if s <= 0 => "0s (at once)".to_string(),
        Some(s) => format!("{s}s"),
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
    if let Some(seconds) = t.seconds {
        s.push_str(&format!(" for {seconds}s"));
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
    if let Some(seconds) = required.toleration_seconds {
        map.insert("tolerationSeconds".into(), Value::from(seconds));
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
    use serde_json::json;

    use super::*;

    use rstest::rstest;

    fn t<'a>(key: &'a str, operator: &'a str, value: &'a str, effect: &'a str) -> Toleration<'a> {
        Toleration {
            key,
            operator,
            value,
            effect,
            seconds: None,
        }
    }

    fn secs(toleration: Toleration<'_>, seconds: i64) -> Toleration<'_> {
        Toleration {
            seconds: Some(seconds),
            ..toleration
        }
    }

    #[rstest]
    #[case::forever_vs_forever(None, None, true)]
    #[case::forever_vs_seconds(None, Some(300), true)]
    #[case::zero_vs_forever(Some(0), None, false)]
    #[case::seconds_vs_forever(Some(86400), None, false)]
    #[case::longer(Some(600), Some(300), true)]
    #[case::equal(Some(300), Some(300), true)]
    #[case::shorter(Some(299), Some(300), false)]
    #[case::negative_is_zero(Some(-5), Some(0), true)]
    #[case::negative_vs_one(Some(-5), Some(1), false)]
    fn toleration_time_as_the_taint_manager_reads_it(
        #[case] have: Option<i64>,
        #[case] want: Option<i64>,
        #[case] expected: bool,
    ) {
        assert_eq!(lasts_at_least(have, want), expected);
    }

    #[rstest]
    #[case::zero("0", Some(0))]
    #[case::positive("42", Some(42))]
    #[case::negative("-7", Some(-7))]
    #[case::leading_zero("042", None)]
    #[case::plus("+5", None)]
    #[case::minus_zero("-0", None)]
    #[case::empty("", None)]
    #[case::lone_minus("-", None)]
    #[case::spaces(" 5", None)]
    #[case::overflow("9223372036854775808", None)]
    #[case::max("9223372036854775807", Some(i64::MAX))]
    #[case::hex("0x10", None)]
    fn decimal_follows_is_decimal_integer(#[case] text: &str, #[case] expected: Option<i64>) {
        assert_eq!(decimal(text), expected);
    }

    const NX: &str = "NoExecute";

    #[rstest]
    #[case::forever_exists(t("k", "Exists", "", NX), t("k", "Exists", "", NX), true)]
    #[case::zero_seconds_is_not_presence(
        secs(t("k", "Exists", "", NX), 0),
        t("k", "Exists", "", NX),
        false
    )]
    #[case::shorter_than_required(
        secs(t("k", "Exists", "", NX), 60),
        secs(t("k", "Exists", "", NX), 300),
        false
    )]
    #[case::longer_than_required(
        secs(t("k", "Exists", "", NX), 600),
        secs(t("k", "Exists", "", NX), 300),
        true
    )]
    #[case::wildcard_with_seconds(
        secs(t("", "Exists", "", NX), 300),
        t("k", "Exists", "", NX),
        false
    )]
    #[case::effectless_with_seconds(
        secs(t("k", "Exists", "", ""), 0),
        t("k", "Exists", "", ""),
        false
    )]
    #[case::seconds_ignored_for_no_schedule(
        secs(t("k", "Exists", "", "NoSchedule"), 0),
        t("k", "Exists", "", "NoSchedule"),
        true
    )]
    #[case::equal_value_zero(secs(t("k", "Equal", "v", NX), 0), t("k", "Equal", "v", NX), false)]
    fn required_time_counts(
        #[case] present: Toleration<'_>,
        #[case] wanted: Toleration<'_>,
        #[case] satisfied: bool,
    ) {
        assert_eq!(
            matches!(standing(&[present], &wanted), Standing::Satisfied),
            satisfied
        );
    }

    #[rstest]
    // The taint manager uses the first matching toleration of each taint.
    #[case::earlier_zero_wins(vec![secs(t("k", "Exists", "", NX), 0), t("k", "Exists", "", NX)], Some(0))]
    #[case::earlier_wildcard_wins(vec![secs(t("", "Exists", "", NX), 300), t("k", "Exists", "", NX)], Some(0))]
    #[case::earlier_other_key_is_harmless(vec![secs(t("x", "Exists", "", NX), 0), t("k", "Exists", "", NX)], None)]
    #[case::earlier_equal_value_wins(vec![secs(t("k", "Equal", "a", NX), 0), t("k", "Exists", "", NX)], Some(0))]
    #[case::earlier_no_schedule_is_harmless(vec![t("k", "Exists", "", "NoSchedule"), t("k", "Exists", "", NX)], None)]
    #[case::later_zero_is_harmless(vec![t("k", "Exists", "", NX), secs(t("k", "Exists", "", NX), 0)], None)]
    #[case::earlier_threshold_may_win(vec![secs(t("k", "Gt", "5", NX), 0), t("k", "Exists", "", NX)], Some(0))]
    #[case::missing(vec![t("x", "Exists", "", NX)], Some(usize::MAX))]
    fn the_first_matching_toleration_decides(
        #[case] present: Vec<Toleration<'_>>,
        #[case] cut_at: Option<usize>,
    ) {
        let wanted = t("k", "Exists", "", NX);
        let got = match standing(&present, &wanted) {
            Standing::Satisfied => None,
            Standing::CutShort(i) => Some(i),
            Standing::Missing => Some(usize::MAX),
        };
        assert_eq!(got, cut_at);
    }

    #[rstest]
    #[case::lt_does_not_cover_equal(t("k", "Lt", "5", ""), t("k", "Equal", "5", ""), false)]
    #[case::gt_does_not_cover_equal(t("k", "Gt", "5", ""), t("k", "Equal", "5", ""), false)]
    #[case::gt_does_not_cover_exists(t("k", "Gt", "0", ""), t("k", "Exists", "", ""), false)]
    #[case::broader_gt_does_not_count(t("k", "Gt", "50", ""), t("k", "Gt", "100", ""), false)]
    #[case::same_gt(t("k", "Gt", "100", NX), t("k", "Gt", "100", NX), true)]
    #[case::same_lt_other_effect(t("k", "Lt", "100", ""), t("k", "Lt", "100", NX), false)]
    #[case::exists_covers_lt(t("k", "Exists", "", ""), t("k", "Lt", "100", NX), true)]
    #[case::equal_does_not_cover_lt(t("k", "Equal", "99", ""), t("k", "Lt", "100", ""), false)]
    #[case::unknown_operator_covers_nothing(
        t("k", "exists", "", ""),
        t("k", "Equal", "", ""),
        false
    )]
    fn thresholds_cover_only_themselves(
        #[case] present: Toleration<'_>,
        #[case] wanted: Toleration<'_>,
        #[case] covers: bool,
    ) {
        assert_eq!(present.covers(&wanted), covers);
    }

    #[rstest]
    #[case::lt_below(t("k", "Lt", "10", ""), "9", true)]
    #[case::lt_equal(t("k", "Lt", "10", ""), "10", false)]
    #[case::gt_above(t("k", "Gt", "-3", ""), "0", true)]
    #[case::gt_not_canonical_taint(t("k", "Gt", "1", ""), "05", false)]
    #[case::not_canonical_toleration(t("k", "Lt", "010", ""), "1", false)]
    fn thresholds_compare_integers(
        #[case] toleration: Toleration<'_>,
        #[case] taint: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(toleration.tolerates_value(taint), expected);
    }

    #[rstest]
    #[case::named_operator(json!({"key": "sla", "operator": "Gt", "value": "750"}), t("sla", "Gt", "750", ""), true)]
    #[case::named_operator_other_value(json!({"key": "sla", "operator": "Gt", "value": "750"}), t("sla", "Gt", "100", ""), false)]
    #[case::value_without_operator_is_equal(json!({"key": "sla", "value": "750"}), t("sla", "Gt", "750", ""), false)]
    #[case::value_without_operator_matches_equal(json!({"key": "sla", "value": "750"}), t("sla", "Equal", "750", ""), true)]
    #[case::key_only_matches_threshold(json!({"key": "sla"}), t("sla", "Lt", "3", ""), true)]
    fn allowed_patterns_name_thresholds(
        #[case] pattern: Value,
        #[case] toleration: Toleration<'_>,
        #[case] expected: bool,
    ) {
        let pattern: TolerationPattern =
            crate::settings_reader::read_all(&pattern.to_string(), "").expect("a pattern");
        assert_eq!(pattern_matches(&pattern, &toleration), expected);
    }

    #[rstest]
    #[case::lt("Lt")]
    #[case::gt("Gt")]
    fn forbidden_keys_catch_thresholds(#[case] operator: &str) {
        let key = "node-role.kubernetes.io/control-plane";
        assert!(hits_forbidden(&t(key, operator, "1", ""), key, None));
        assert!(hits_forbidden(
            &t(
                "Node-Role.Kubernetes.io/Control-Plane",
                operator,
                "-1",
                "NoSchedule"
            ),
            key,
            Some("NoSchedule")
        ));
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
        use rstest::rstest;
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

        fn ebs_settings(required: Value) -> Value {
            json!({"daemonSets": {
                "hostPaths": {"allowed": [{"pathPrefix": "/var/lib/kubelet", "allowBidirectional": true}, {"pathPrefix": "/dev"}]},
                "tolerations": {"allowedWildcardEffects": ["NoExecute"], "mutate": true, "required": required}
            }})
        }

        #[test]
        fn a_short_wildcard_before_is_cut_short_and_mutation_inserts_before_it() {
            // The EBS node plugin: [CriticalAddonsOnly Exists, {Exists NoExecute 300}].
            let required = json!([{"key": "node.kubernetes.io/out-of-service", "operator": "Exists", "effect": "NoExecute"}]);
            let mut settings = ebs_settings(required);
            settings["daemonSets"]["tolerations"]["mutate"] = json!(false);
            assert_rejected(
                &run("daemonset-ebs-csi-node.json", settings.clone()),
                &[
                    "spec.template.spec.tolerations[1].tolerationSeconds=300: evicts after 300s on NoExecute taints that required toleration node.kubernetes.io/out-of-service Exists:NoExecute (required[0]) must tolerate forever",
                ],
            );
            settings["daemonSets"]["tolerations"]["mutate"] = json!(true);
            let request = fixture("daemonset-ebs-csi-node.json");
            let response = evaluate(&request, settings.clone());
            assert!(response.accepted, "{:?}", response.message);
            let mutated = response.mutated_object.clone().expect("mutated");
            assert_eq!(
                mutated["spec"]["template"]["spec"]["tolerations"],
                json!([
                    {"key": "CriticalAddonsOnly", "operator": "Exists"},
                    {"key": "node.kubernetes.io/out-of-service", "operator": "Exists", "effect": "NoExecute"},
                    {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ])
            );
            assert_contains_all(
                &warnings(&response).join("\n"),
                &[
                    "inserted required toleration node.kubernetes.io/out-of-service Exists:NoExecute at [1], before the toleration that would evict after 300s",
                ],
            );
            assert_accepted_untouched(&reevaluate(&request, &response, settings));
        }

        #[rstest]
        #[case::shorter(json!(300), true)]
        #[case::zero(json!(0), true)]
        #[case::longer(json!(301), false)]
        fn a_required_time_is_met_by_a_toleration_as_long(
            #[case] seconds: Value,
            #[case] met: bool,
        ) {
            let required = json!([{"key": "node.kubernetes.io/out-of-service", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}]);
            let response = run("daemonset-ebs-csi-node.json", ebs_settings(required));
            assert!(response.accepted);
            assert_eq!(
                response.mutated_object.is_none(),
                met,
                "{:?}",
                response.mutated_object
            );
        }

        #[rstest]
        #[case::zero_becomes_forever(json!(0), json!(null))]
        #[case::shorter_becomes_longer(json!(30), json!(600))]
        fn the_same_toleration_is_fixed_in_place(#[case] have: Value, #[case] want: Value) {
            let request = edited("daemonset-no-hostpath.json", |object| {
                object["spec"]["template"]["spec"]["tolerations"] = json!([
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": have}
                ]);
            });
            let mut required = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
            if !want.is_null() {
                required["tolerationSeconds"] = want.clone();
            }
            let settings =
                json!({"daemonSets": {"tolerations": {"mutate": true, "required": [required]}}});
            let response = evaluate(&request, settings.clone());
            let mut expected = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
            if !want.is_null() {
                expected["tolerationSeconds"] = want;
            }
            assert_eq!(
                response.mutated_object.as_ref().expect("mutated")["spec"]["template"]["spec"]["tolerations"],
                json!([expected])
            );
            assert_accepted_untouched(&reevaluate(&request, &response, settings));
        }

        /// Regression (property `verdicts_do_not_depend_on_settings_order`):
        /// requirements were met in settings order, so `gpu Equal` first added
        /// both, `gpu Exists` first only the latter, which tolerates every
        /// `gpu` taint (`ToleratesTaint`: `Exists` matches every value).
        #[rstest]
        #[case::exists_first(json!([{"key": "gpu", "operator": "Exists"}, {"key": "gpu", "operator": "Equal"}]), json!([{"key": "gpu", "operator": "Exists"}]))]
        #[case::equal_first(json!([{"key": "gpu", "operator": "Equal"}, {"key": "gpu", "operator": "Exists"}]), json!([{"key": "gpu", "operator": "Exists"}]))]
        #[case::operator_omitted_first(json!([{"key": "gpu", "value": "a100"}, {"key": "gpu", "operator": "Exists"}]), json!([{"key": "gpu", "operator": "Exists"}]))]
        #[case::one_effect_first(json!([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}, {"key": "gpu", "operator": "Exists"}]), json!([{"key": "gpu", "operator": "Exists"}]))]
        #[case::shorter_first(
            json!([
                {"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                {"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 600}
            ]),
            json!([{"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 600}])
        )]
        #[case::disjoint_in_canonical_order(
            json!([{"key": "b", "operator": "Exists", "effect": "NoSchedule"}, {"key": "a", "operator": "Exists"}]),
            json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists", "effect": "NoSchedule"}])
        )]
        fn a_broader_requirement_is_met_first_whatever_the_order(
            #[case] required: Value,
            #[case] added: Value,
        ) {
            let request = fixture("daemonset-no-hostpath.json");
            let mut reversed = required.clone();
            if let Value::Array(items) = &mut reversed {
                items.reverse();
            }
            for required in [required, reversed] {
                let settings =
                    json!({"daemonSets": {"tolerations": {"mutate": true, "required": required}}});
                let response = evaluate(&request, settings.clone());
                assert!(response.accepted, "{:?}", response.message);
                assert_eq!(
                    response.mutated_object.as_ref().expect("mutated")["spec"]["template"]["spec"]
                        ["tolerations"],
                    added,
                    "required {required}"
                );
                assert_accepted_untouched(&reevaluate(&request, &response, settings));
            }
        }

        /// An inserted threshold can cut short a requirement met before it
        /// (`Lt 5` for 100s is the first match of a `k=3:NoExecute` taint
        /// that `k Equal 3` must tolerate forever): requirements are met
        /// again until nothing changes, so the second pass edits nothing.
        #[test]
        fn an_inserted_threshold_does_not_cut_short_a_requirement_met_before() {
            let request = edited("daemonset-no-hostpath.json", |object| {
                object["spec"]["template"]["spec"]["tolerations"] = json!([
                    {"key": "k", "operator": "Equal", "value": "1", "effect": "NoExecute", "tolerationSeconds": 10}
                ]);
            });
            let settings = json!({"daemonSets": {"tolerations": {"mutate": true, "required": [
                {"key": "k", "operator": "Lt", "value": "5", "effect": "NoExecute", "tolerationSeconds": 100},
                {"key": "k", "value": "3"}
            ]}}});
            let response = evaluate(&request, settings.clone());
            assert!(response.accepted, "{:?}", response.message);
            assert_eq!(
                response.mutated_object.as_ref().expect("mutated")["spec"]["template"]["spec"]["tolerations"],
                json!([
                    {"key": "k", "operator": "Equal", "value": "3"},
                    {"key": "k", "operator": "Lt", "value": "5", "effect": "NoExecute", "tolerationSeconds": 100},
                    {"key": "k", "operator": "Equal", "value": "1", "effect": "NoExecute", "tolerationSeconds": 10},
                    {"key": "k", "operator": "Equal", "value": "3"}
                ])
            );
            assert_accepted_untouched(&reevaluate(&request, &response, settings));
        }

        /// Regression (property `fixtures_satisfy_every_invariant`): in warn
        /// mode an inserted requirement moves a refused wildcard from [1] to
        /// [2]; the second pass reports the same toleration, and edits nothing.
        #[test]
        fn an_insertion_moves_a_warned_toleration_and_changes_nothing_more() {
            let settings = json!({"daemonSets": {"mode": "warn", "tolerations": {"mutate": true, "required": [
                {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3600}
            ]}}});
            let request = fixture("daemonset-ebs-csi-node.json");
            let response = evaluate(&request, settings.clone());
            assert!(response.accepted, "{:?}", response.message);
            assert_contains_all(
                &warnings(&response).join("\n"),
                &[
                    "spec.template.spec.tolerations[1]={\"effect\":\"NoExecute\",\"operator\":\"Exists\",\"tolerationSeconds\":300}: empty key",
                ],
            );
            let mutated = response.mutated_object.clone().expect("mutated");
            assert_eq!(
                mutated["spec"]["template"]["spec"]["tolerations"][1],
                json!({"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3600})
            );
            let mut again_request = request.clone();
            again_request["object"] = mutated;
            let again = evaluate(&again_request, settings);
            assert!(again.accepted);
            assert_eq!(again.mutated_object, None);
            assert_contains_all(
                &warnings(&again).join("\n"),
                &[
                    "spec.template.spec.tolerations[2]={\"effect\":\"NoExecute\",\"operator\":\"Exists\",\"tolerationSeconds\":300}: empty key",
                ],
            );
        }

        #[test]
        fn a_threshold_toleration_does_not_satisfy_another_requirement() {
            let request = edited("daemonset-no-hostpath.json", |object| {
                object["spec"]["template"]["spec"]["tolerations"] = json!([
                    {"key": "example.com/sla", "operator": "Lt", "value": "5"},
                    {"key": "example.com/tier", "operator": "Gt", "value": "100", "effect": "NoSchedule"}
                ]);
            });
            let settings = json!({"daemonSets": {"tolerations": {"required": [
                {"key": "example.com/sla", "value": "5"},
                {"key": "example.com/tier", "operator": "Gt", "value": "100", "effect": "NoSchedule"},
                {"key": "example.com/tier", "operator": "Gt", "value": "200", "effect": "NoSchedule"}
            ]}}});
            let response = evaluate(&request, settings);
            assert_violations(
                &response,
                2,
                &[
                    "required toleration example.com/sla Equal 5 (required[0]) is missing",
                    "required toleration example.com/tier Gt 200:NoSchedule (required[2]) is missing",
                ],
            );
        }

        #[test]
        fn settings_take_thresholds_and_times_but_refuse_bad_ones() {
            let good = json!({"daemonSets": {"tolerations": {
                "allowed": [{"key": "example.com/sla", "operator": "Gt", "value": "750"}, {"key": "example.com/tier", "operator": "Lt"}],
                "required": [
                    {"key": "example.com/sla", "operator": "Gt", "value": "750"},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}
                ]
            }}});
            assert!(crate::policy::load(good.to_string().as_bytes()).is_ok());
            let settings = json!({"daemonSets": {"tolerations": {
                "allowed": [{"key": "a", "operator": "Gt", "value": "0750"}],
                "required": [
                    {"key": "b", "operator": "Lt"},
                    {"key": "c", "operator": "Gt", "value": "x"},
                    {"key": "d", "operator": "Exists", "tolerationSeconds": 30},
                    {"key": "e", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": -1}
                ]
            }}});
            assert_settings_refused(
                &settings,
                &[
                    "daemonSets.tolerations.allowed[0].value: \"0750\" is not an integer in canonical form",
                    "daemonSets.tolerations.required[0].value: Lt needs an integer value",
                    "daemonSets.tolerations.required[1].value: \"x\" is not an integer",
                    "daemonSets.tolerations.required[2].tolerationSeconds: needs effect NoExecute",
                    "daemonSets.tolerations.required[3].tolerationSeconds: -1 is negative",
                ],
            );
            let settings = json!({"daemonSets": {"tolerations": {"allowed": [{"key": "a", "tolerationSeconds": 3}]}}});
            assert_settings_refused(
                &settings,
                &["daemonSets.tolerations.allowed[0]", "tolerationSeconds"],
            );
        }

        #[test]
        fn a_toleration_seconds_of_another_type_is_unreadable() {
            let request = edited("daemonset-no-hostpath.json", |object| {
                object["spec"]["template"]["spec"]["tolerations"] = json!([
                    {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": "300"}
                ]);
            });
            assert_rejected(
                &evaluate(&request, json!({})),
                &[
                    "spec.template.spec.tolerations[0].tolerationSeconds=\"300\": expected an integer, found a string [readable object]",
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
