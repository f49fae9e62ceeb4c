//! `reclaimPolicy`, `volumeBindingMode`, `allowVolumeExpansion` and
//! `mountOptions`: allowed values, and values enforced on CREATE.
//!
//! The API server defaults `reclaimPolicy` (Delete) and `volumeBindingMode`
//! (Immediate) before admission, so the policy cannot tell an unset field
//! from one set to its default; an absent field is judged as its default.

use serde_json::{Map, Value};

use super::parameters::normalize;
use crate::fields::{self, list, string};
use crate::rules;
use crate::settings::{FieldRule, MountOptionRules, StorageClassSettings};
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render, render_str};

const RECLAIM_POLICIES: &[&str] = &["Delete", "Retain"];
const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer"];

/// Validates the field rules (they are used as they are).
pub fn validate_settings(settings: &StorageClassSettings, errors: &mut SettingErrors) {
    check_string_rule(
        &settings.reclaim_policy,
        "storageClasses.reclaimPolicy",
        RECLAIM_POLICIES,
        errors,
    );
    check_string_rule(
        &settings.volume_binding_mode,
        "storageClasses.volumeBindingMode",
        BINDING_MODES,
        errors,
    );
    let expansion = &settings.allow_volume_expansion;
    if let (Some(set), Some(allowed)) = (expansion.set, &expansion.allowed)
        && !allowed.contains(&set)
    {
        errors.add(
            "storageClasses.allowVolumeExpansion.set",
            format!("{set} is not in allowed"),
        );
    }
    check_mount_option_rules(&settings.mount_options, errors);
}

fn check_string_rule(
    rule: &FieldRule<String>,
    path: &str,
    known: &[&str],
    errors: &mut SettingErrors,
) {
    for (i, v) in rule.allowed.iter().flatten().enumerate() {
        if !known.contains(&v.as_str()) {
            errors.add(
                format!("{path}.allowed[{i}]"),
                format!("{v:?} is not one of {known:?}"),
            );
        }
    }
    if let Some(set) = &rule.set {
        if !known.contains(&set.as_str()) {
            errors.add(
                format!("{path}.set"),
                format!("{set:?} is not one of {known:?}"),
            );
        } else if rule.allowed.as_ref().is_some_and(|a| !a.contains(set)) {
            errors.add(format!("{path}.set"), format!("{set:?} is not in allowed"));
        }
    }
}

fn check_mount_option_rules(rules: &MountOptionRules, errors: &mut SettingErrors) {
    let base = "storageClasses.mountOptions";
    for (i, o) in rules.allowed.iter().flatten().enumerate() {
        if o.trim().is_empty() {
            errors.add(format!("{base}.allowed[{i}]"), "empty mount option");
        }
        if rules.forbidden.iter().any(|f| normalize(f) == normalize(o)) {
            errors.add(
                format!("{base}.allowed[{i}]"),
                format!("{o:?} is also forbidden"),
            );
        }
    }
    for (i, o) in rules.forbidden.iter().enumerate() {
        if o.trim().is_empty() {
            errors.add(format!("{base}.forbidden[{i}]"), "empty mount option");
        }
    }
}

/// Sets the configured values on CREATE, noting each change.
pub fn enforce(
    object: &mut Map<String, Value>,
    settings: &StorageClassSettings,
    findings: &mut Findings,
) {
    if let Some(set) = &settings.reclaim_policy.set {
        set_string(object, "reclaimPolicy", "Delete", set, findings);
    }
    if let Some(set) = &settings.volume_binding_mode.set {
        set_string(object, "volumeBindingMode", "Immediate", set, findings);
    }
    if let Some(set) = settings.allow_volume_expansion.set {
        let current = fields::boolean(
            object,
            "allowVolumeExpansion",
            || "allowVolumeExpansion".into(),
            findings,
        );
        if let Ok(current) = current
            && current.unwrap_or(false) != set
        {
            findings.note(format!(
                "allowVolumeExpansion set to {set} (was {})",
                current.map_or("unset".to_string(), |c| c.to_string())
            ));
            object.insert("allowVolumeExpansion".into(), Value::Bool(set));
        }
    }
}

fn set_string(
    object: &mut Map<String, Value>,
    field: &'static str,
    default: &str,
    wanted: &str,
    findings: &mut Findings,
) {
    let Ok(current) = string(object, field, || field.into(), findings) else {
        return;
    };
    let current = current.unwrap_or(default);
    if current != wanted {
        findings.note(format!("{field} set to {wanted} (was {current})"));
        object.insert(field.into(), Value::from(wanted));
    }
}

/// Judges the fields. On UPDATE only what changed from `old` is judged (all
/// of it when `old` is unreadable):
/// `reclaimPolicy` and `volumeBindingMode` are immutable, and a legacy class
/// must stay labelable.
pub fn check(
    object: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    settings: &StorageClassSettings,
    findings: &mut Findings,
) {
    if old.is_none() {
        check_allowed_string(
            object,
            "reclaimPolicy",
            "Delete",
            &settings.reclaim_policy,
            findings,
        );
        check_allowed_string(
            object,
            "volumeBindingMode",
            "Immediate",
            &settings.volume_binding_mode,
            findings,
        );
    }
    check_expansion(object, old, &settings.allow_volume_expansion, findings);
    check_mount_options(object, old, &settings.mount_options, findings);
}

fn check_allowed_string(
    object: &Map<String, Value>,
    field: &'static str,
    default: &str,
    rule: &FieldRule<String>,
    findings: &mut Findings,
) {
    let Ok(value) = string(object, field, || field.into(), findings) else {
        return;
    };
    let value = value.unwrap_or(default);
    if let Some(allowed) = &rule.allowed
        && !allowed.iter().any(|a| a == value)
    {
        let rule_name = match field {
            "reclaimPolicy" => rules::RECLAIM_POLICY_ALLOWED,
            _ => rules::VOLUME_BINDING_MODE_ALLOWED,
        };
        findings.push(Violation::new(
            field,
            render_str(value),
            rule_name,
            format!("must be one of {allowed:?}"),
        ));
    }
}

fn check_expansion(
    object: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rule: &FieldRule<bool>,
    findings: &mut Findings,
) {
    let field = "allowVolumeExpansion";
    let Ok(value) = fields::boolean(object, field, || field.into(), findings) else {
        return;
    };
    let value = value.unwrap_or(false);
    if let Some(old) = old {
        let mut ignored = Findings::default();
        if fields::boolean(old, field, || field.into(), &mut ignored) == Ok(Some(value))
            || (!value && fields::get(old, field).is_none())
        {
            return;
        }
    }
    if let Some(allowed) = &rule.allowed
        && !allowed.contains(&value)
    {
        findings.push(Violation::new(
            field,
            render(&Value::Bool(value)),
            rules::ALLOW_VOLUME_EXPANSION_ALLOWED,
            format!("must be one of {allowed:?}"),
        ));
    }
}

/// Option text and option name (before `=`), both normalised.
fn option_parts(option: &str) -> (String, String) {
    let text = normalize(option);
    let name = text.split('=').next().unwrap_or("").trim().to_string();
    (text, name)
}

fn option_matches(entry: &str, text: &str, name: &str) -> bool {
    let entry = normalize(entry);
    entry == text || (!entry.contains('=') && entry == name)
}

/// A forbidden `name=value` also catches other spellings of the same number
/// (`uid=00`, `gid=0x0`, `dir_mode=777` for `0777`): the kernel parses them
/// as numbers, so a textual match alone could be sidestepped.
fn forbidden_matches(entry: &str, text: &str, name: &str) -> bool {
    if option_matches(entry, text, name) {
        return true;
    }
    let entry = normalize(entry);
    let (Some((entry_name, entry_value)), Some((_, value))) =
        (entry.split_once('='), text.split_once('='))
    else {
        return false;
    };
    if entry_name.trim() != name {
        return false;
    }
    let wanted = numeric_readings(entry_value.trim());
    numeric_readings(value.trim())
        .iter()
        .any(|n| wanted.contains(n))
}

/// Every number a mount option value could be read as: decimal, octal
/// (leading 0 or not, as mode options are octal) and hexadecimal.
fn numeric_readings(value: &str) -> Vec<u128> {
    let mut readings = Vec::with_capacity(3);
    if let Some(hex) = value.strip_prefix("0x") {
        readings.extend(u128::from_str_radix(hex, 16).ok());
        return readings;
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        readings.extend(value.parse::<u128>().ok());
        readings.extend(u128::from_str_radix(value, 8).ok());
    }
    readings
}

fn check_mount_options(
    object: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    rules: &MountOptionRules,
    findings: &mut Findings,
) {
    if rules.allowed.is_none() && rules.forbidden.is_empty() {
        return;
    }
    let mut ignored = Findings::default();
    let old_options: std::collections::HashSet<&str> = old
        .map(|o| {
            list(o, "mountOptions", String::new, &mut ignored)
                .iter()
                .filter_map(Value::as_str)
                .collect()
        })
        .unwrap_or_default();
    let options = list(object, "mountOptions", || "mountOptions".into(), findings);
    for (i, option) in options.iter().enumerate() {
        let path = format!("mountOptions[{i}]");
        let Some(text) = fields::string_item(option, || path.clone(), findings) else {
            continue;
        };
        if old_options.contains(text) {
            continue;
        }
        let (normalized, name) = option_parts(text);
        let refusal = match rules
            .forbidden
            .iter()
            .find(|f| forbidden_matches(f, &normalized, &name))
        {
            Some(f) => Some((
                rules::MOUNT_OPTIONS_FORBIDDEN,
                format!("mount option {f:?} is forbidden"),
            )),
            None => rules
                .allowed
                .as_ref()
                .filter(|allowed| {
                    !allowed
                        .iter()
                        .any(|a| option_matches(a, &normalized, &name))
                })
                .map(|_| {
                    (
                        rules::MOUNT_OPTIONS_ALLOWED,
                        "mount option is not in the allowed list".to_string(),
                    )
                }),
        };
        if let Some((rule, reason)) = refusal {
            findings.push(Violation::new(path, render_str(text), rule, reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::same_text("uid=0", "uid=0", true)]
    #[case::leading_zero("uid=0", "uid=00", true)]
    #[case::hexadecimal("uid=0", "uid=0x0", true)]
    #[case::upper_case("uid=0", "UID=0", true)]
    #[case::octal_without_zero("dir_mode=0777", "dir_mode=777", true)]
    #[case::octal("dir_mode=0777", "dir_mode=0777", true)]
    #[case::decimal_of_octal("dir_mode=0777", "dir_mode=511", true)]
    #[case::hexadecimal_of_octal("dir_mode=0777", "dir_mode=0x1ff", true)]
    #[case::other_number("uid=0", "uid=1000", false)]
    #[case::other_name("uid=0", "gid=0", false)]
    fn forbidden_numbers_match_every_spelling(
        #[case] forbidden: &str,
        #[case] option: &str,
        #[case] hit: bool,
    ) {
        let (text, name) = option_parts(option);
        assert_eq!(forbidden_matches(forbidden, &text, &name), hit);
    }

    #[test]
    fn options_match_by_text_or_name() {
        let (text, name) = option_parts(" UID=0 ");
        assert_eq!((text.as_str(), name.as_str()), ("uid=0", "uid"));
        assert!(option_matches("uid", &text, &name));
        assert!(option_matches("uid=0", &text, &name));
        assert!(!option_matches("uid=1000", &text, &name));
        assert!(!option_matches("gid", &text, &name));
    }
}
