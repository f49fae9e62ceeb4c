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
        if crate::words::trim(o).is_empty() {
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
        if crate::words::trim(o).is_empty() {
            errors.add(format!("{base}.forbidden[{i}]"), "empty mount option");
        }
    }
    // Objects' entries are split on ',' (`split_options`): an entry holding
    // a ',' could never match one option.
    let entries = rules
        .allowed
        .iter()
        .flatten()
        .map(|o| ("allowed", o))
        .enumerate()
        .chain(rules.forbidden.iter().map(|o| ("forbidden", o)).enumerate());
    for (i, (list, o)) in entries {
        if o.contains(',') {
            errors.add(
                format!("{base}.{list}[{i}]"),
                format!("{o:?} holds a ',': list each option on its own"),
            );
        }
    }
}

/// Sets the configured values on CREATE, noting each change. `set` replaces
/// only the value the API server's defaulting gives an unset field
/// (`SetDefaults_StorageClass`, `pkg/apis/storage/v1/defaults.go`:
/// `reclaimPolicy` Delete, `volumeBindingMode` Immediate; `allowVolumeExpansion`
/// has no default, so only an absent one) and a value outside `allowed`;
/// another value was chosen by the author (`Retain`, `WaitForFirstConsumer`,
/// an explicit `allowVolumeExpansion: false`) and stays.
pub fn enforce(
    object: &mut Map<String, Value>,
    settings: &StorageClassSettings,
    findings: &mut Findings,
) {
    for (field, default, rule) in [
        ("reclaimPolicy", "Delete", &settings.reclaim_policy),
        (
            "volumeBindingMode",
            "Immediate",
            &settings.volume_binding_mode,
        ),
    ] {
        if let Some(set) = &rule.set {
            set_string(
                object,
                field,
                default,
                set,
                rule.allowed.as_deref(),
                findings,
            );
        }
    }
    let rule = &settings.allow_volume_expansion;
    if let Some(set) = rule.set {
        let field = "allowVolumeExpansion";
        let Ok(current) = fields::boolean(object, field, || field.into(), findings) else {
            return;
        };
        // Absent reads as false (nothing to write for `set: false`).
        let replace = match current {
            None => set,
            Some(current) => {
                current != set && rule.allowed.as_ref().is_some_and(|a| !a.contains(&current))
            }
        };
        if replace {
            findings.note(format!(
                "{field} set to {set} (was {})",
                current.map_or("unset".to_string(), |c| c.to_string())
            ));
            object.insert(field.into(), Value::Bool(set));
        }
    }
}

fn set_string(
    object: &mut Map<String, Value>,
    field: &'static str,
    default: &str,
    wanted: &str,
    allowed: Option<&[String]>,
    findings: &mut Findings,
) {
    let Ok(current) = string(object, field, || field.into(), findings) else {
        return;
    };
    let current = current.unwrap_or(default);
    let replaceable =
        current == default || allowed.is_some_and(|a| !a.iter().any(|v| v == current));
    if replaceable && current != wanted {
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
    let name = crate::words::trim(text.split('=').next().unwrap_or("")).to_string();
    (text, name)
}

fn option_matches(entry: &str, text: &str, name: &str) -> bool {
    let entry = normalize(entry);
    entry == text || (!entry.contains('=') && entry == name)
}

/// Options whose value mount(8) and the mount helpers resolve as a user or
/// group name when it is not a number: util-linux libmount `fix_optstr`
/// (`libmount/src/context_mount.c`) calls `mnt_optstr_fix_uid` /
/// `mnt_optstr_fix_gid` (`libmount/src/optstr.c`: a user name, or `useruid`,
/// becomes its id) for `uid` and `gid`; mount.cifs `parse_options`
/// (cifs-utils `mount.cifs.c`) calls `getpwnam`/`getgrnam` for `uid`,
/// `cruid`, `gid`, `backupuid` and `backupgid` before `strtoul`.
const ID_OPTIONS: &[&str] = &["uid", "gid", "cruid", "backupuid", "backupgid"];

/// Why the option (`text`, `name`, normalised) is caught by the forbidden
/// `entry`, or `None`. A forbidden `name=value` also catches other spellings
/// of the same number (`uid=00`, `uid=+0`, `gid=0x0`, `dir_mode=777` for
/// `0777`): the kernel and the helpers parse them as numbers, so a textual
/// match alone could be sidestepped. For an id option, a value that is not
/// a number is a user or group name the helper resolves (`uid=root` is
/// uid 0), so it is refused too.
fn forbidden_match(entry: &str, text: &str, name: &str) -> Option<&'static str> {
    if option_matches(entry, text, name) {
        return Some("");
    }
    let entry = normalize(entry);
    let (entry_name, entry_value) = entry.split_once('=')?;
    if crate::words::trim(entry_name) != name {
        return None;
    }
    let wanted = numeric_readings(crate::words::trim(entry_value));
    if wanted.is_empty() {
        return None;
    }
    let value = text
        .split_once('=')
        .map_or("", |(_, v)| crate::words::trim(v));
    let readings = numeric_readings(value);
    if readings.iter().any(|n| wanted.contains(n)) {
        return Some(" (the same number)");
    }
    (readings.is_empty() && ID_OPTIONS.contains(&name)).then_some(
        " (a value that is not a number is resolved as a user or group name: uid=root is uid 0)",
    )
}

/// Every number a mount option value could be read as, as the kernel's
/// `kstrtouint` (`lib/kstrtox.c`: a leading `+`, base 0: `0x` hex, leading
/// `0` octal) and the helpers' `strtoul` (a sign, a negative value
/// wrapping) read it: decimal, octal (leading 0 or not, as mode options are
/// octal) and hexadecimal, each also truncated to 32 bits (mount.cifs
/// prints the `strtoul` result into a 32-bit `uid_t` with `%u`).
fn numeric_readings(value: &str) -> Vec<u128> {
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'+') => (false, &value[1..]),
        Some(b'-') => (true, &value[1..]),
        _ => (false, value),
    };
    let mut magnitudes = Vec::with_capacity(2);
    if let Some(hex) = digits.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            magnitudes.extend(u128::from_str_radix(hex, 16).ok());
        }
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        magnitudes.extend(digits.parse::<u128>().ok());
        magnitudes.extend(u128::from_str_radix(digits, 8).ok());
    }
    let mut readings = Vec::with_capacity(2 * magnitudes.len());
    for magnitude in magnitudes {
        let n = match (negative, magnitude) {
            (false, m) => m,
            // strtoul negates in unsigned long: -m is 2^64 - m.
            (true, 0) => 0,
            (true, m) if m <= u128::from(u64::MAX) => (1u128 << 64) - m,
            (true, _) => continue,
        };
        readings.push(n);
        readings.push(n & u128::from(u32::MAX));
    }
    readings
}

/// The options one `mountOptions` entry stands for. Drivers join the
/// entries with `,` into one `-o` argument (mount-utils
/// `MakeMountArgsSensitiveWithMountFlags`, `mount_linux.go`:
/// `strings.Join(combinedOptions, ",")`) and mount(8), the helpers and the
/// kernel split that argument on `,`, so `vers=3.1.1,uid=0` is two options.
fn split_options(entry: &str) -> impl Iterator<Item = &str> {
    entry.split(',').map(str::trim)
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
                .flat_map(split_options)
                .collect()
        })
        .unwrap_or_default();
    let options = list(object, "mountOptions", || "mountOptions".into(), findings);
    for (i, option) in options.iter().enumerate() {
        let path = format!("mountOptions[{i}]");
        let Some(text) = fields::string_item(option, || path.clone(), findings) else {
            continue;
        };
        let joined = text.contains(',');
        for piece in split_options(text) {
            if old_options.contains(piece) {
                continue;
            }
            let (normalized, name) = option_parts(piece);
            let forbidden = rules
                .forbidden
                .iter()
                .find_map(|f| forbidden_match(f, &normalized, &name).map(|why| (f, why)));
            let refusal = match forbidden {
                Some((f, why)) => Some((
                    rules::MOUNT_OPTIONS_FORBIDDEN,
                    format!("mount option {f:?} is forbidden{why}"),
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
            if let Some((rule, mut reason)) = refusal {
                if joined {
                    reason = format!(
                        "{piece:?}: {reason} (the entry holds several options: drivers join mountOptions with ',')"
                    );
                }
                findings.push(Violation::new(path.clone(), render_str(text), rule, reason));
            }
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
    #[case::plus_sign("uid=0", "uid=+0", true)]
    #[case::plus_sign_and_zeros("uid=0", "uid=+000", true)]
    #[case::minus_zero("uid=0", "uid=-0", true)]
    #[case::upper_case_hexadecimal("uid=0", "uid=0X0", true)]
    #[case::wraps_to_32_bits("uid=0", "uid=4294967296", true)]
    #[case::negative_wraps_to_32_bits("uid=0", "uid=-4294967296", true)]
    #[case::spaces_around_the_value("uid=0", "uid= 0 ", true)]
    #[case::user_name("uid=0", "uid=root", true)]
    #[case::useruid("uid=0", "uid=useruid", true)]
    #[case::group_name("gid=0", "gid=wheel", true)]
    #[case::cifs_credentials_user("cruid=0", "cruid=root", true)]
    #[case::cifs_backup_group("backupgid=0", "backupgid=root", true)]
    #[case::empty_id("uid=0", "uid=", true)]
    #[case::id_without_value("uid=0", "uid", true)]
    #[case::huge_number_is_not_a_number(
        "uid=0",
        "uid=999999999999999999999999999999999999999999",
        true
    )]
    #[case::other_number("uid=0", "uid=1000", false)]
    #[case::other_negative_number("uid=0", "uid=-1", false)]
    #[case::other_name("uid=0", "gid=0", false)]
    #[case::name_of_a_non_id_option("dir_mode=0777", "dir_mode=rwx", false)]
    #[case::nfs_version_is_not_an_id("nfsvers=4", "nfsvers=4.1", false)]
    #[case::textual_entry_without_number("sec=sys", "sec=krb5", false)]
    fn forbidden_numbers_match_every_spelling(
        #[case] forbidden: &str,
        #[case] option: &str,
        #[case] hit: bool,
    ) {
        let (text, name) = option_parts(option);
        assert_eq!(forbidden_match(forbidden, &text, &name).is_some(), hit);
    }

    #[rstest]
    #[case::one("uid=0", &["uid=0"])]
    #[case::two("vers=3.1.1,uid=0", &["vers=3.1.1", "uid=0"])]
    #[case::spaces("nfsvers=4.1, suid ,exec", &["nfsvers=4.1", "suid", "exec"])]
    #[case::empty_pieces("a,,b,", &["a", "", "b", ""])]
    fn entries_split_on_commas(#[case] entry: &str, #[case] options: &[&str]) {
        assert_eq!(split_options(entry).collect::<Vec<_>>(), options);
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
