//! Rules on a driver's string map, per driver glob: required, forbidden and
//! allowed values. One engine for StorageClass `parameters`
//! (`storageClasses.parameters`), VolumeAttributesClass `parameters`
//! (`volumeAttributesClasses.parameters`) and the `volumeAttributes` of
//! inline CSI volumes (`csiDrivers.inline[].volumeAttributes`): all three
//! reach the driver as the same kind of map (CreateVolume `parameters`,
//! ControllerModifyVolume `mutable_parameters`, NodePublishVolume
//! `volume_context`) and drivers read them with the same code paths.
//!
//! Drivers differ in how they read keys: the AWS EBS driver lower-cases them,
//! ceph-csi looks them up verbatim, and values such as `encrypted: "TRUE"`
//! may or may not count as true. So every comparison takes the reading that
//! refuses more: `required` and `allowedValues` accept only the exact key and
//! value, while `forbidden` keys and `allowedValues` restrictions reach every
//! key that is equal once trimmed and lower-cased, and keys that collide
//! that way are refused.
//!
//! Keys must be ASCII. The EBS, GCE PD and Azure drivers fold keys with Go's
//! `strings.ToLower` (aws-ebs-csi-driver `pkg/driver/controller.go`,
//! `CreateVolume`: `switch strings.ToLower(key)`; gcp-compute-persistent-disk-csi-driver
//! `pkg/parameters/parameters.go`, `ExtractAndDefaultParameters`: `switch
//! strings.ToLower(k)`; azuredisk-csi-driver `pkg/azureutils/azure_disk_utils.go`,
//! `ParseDiskParameters`: `switch strings.ToLower(k)`), which maps U+0130 `İ` to
//! `i` and the Kelvin sign U+212A to `k` by the Unicode tables of the Go
//! release the driver was built with, while other drivers use
//! `strings.EqualFold` (which also pairs `ſ` with `s`) or read keys verbatim.
//! No single folding is right for every driver and no driver documents a
//! non-ASCII key, so a non-ASCII key is refused outright (the Kubernetes API
//! does not refuse one: `ValidateStorageClass` only bounds the count and the
//! size). For ASCII keys `strings.ToLower`, `strings.EqualFold` and
//! `to_ascii_lowercase` agree, so the folding below is exactly the drivers'.

use std::collections::{BTreeMap, HashSet};

use crate::glob::DriverGlob;
use crate::json_path::Entry;
use crate::settings::ParameterRules;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

pub fn normalize(text: &str) -> String {
    crate::words::trim(text).to_ascii_lowercase()
}

/// Where a map is judged: the field path of its keys, the rule id its
/// violations carry, and how a reason names the settings entry.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `parameters`, `spec.template.spec.volumes[0].csi.volumeAttributes`.
    pub field: &'a str,
    pub rule: &'static str,
    /// `parameters` (`parameters[0]`), `inline` (`inline[0]`).
    pub entry: &'static str,
}

/// The key rules of one settings entry (without its driver glob).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyRules {
    index: usize,
    required: Vec<(String, Vec<String>)>,
    forbidden: Vec<String>,
    allowed_values: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledParameterRules {
    provisioner: DriverGlob,
    keys: KeyRules,
}

fn verbatim(map: &BTreeMap<String, Vec<String>>) -> Vec<(String, Vec<String>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl KeyRules {
    /// Validates and compiles `required`, `forbidden` and `allowedValues`
    /// of the entry at `path` (index `index` in its list).
    pub fn compile(
        index: usize,
        path: &dyn std::fmt::Display,
        required: &BTreeMap<String, Vec<String>>,
        forbidden: &[String],
        allowed_values: &BTreeMap<String, Vec<String>>,
        errors: &mut SettingErrors,
    ) -> Self {
        let keys = required
            .keys()
            .map(|k| ("required", k))
            .chain(forbidden.iter().map(|k| ("forbidden", k)))
            .chain(allowed_values.keys().map(|k| ("allowedValues", k)));
        for (section, key) in keys {
            if crate::words::trim(key).is_empty() {
                errors.add(format!("{path}.{section}"), "empty parameter key");
            } else if !key.is_ascii() {
                errors.add(
                    format!("{path}.{section}"),
                    format!("{key:?} is not ASCII: no driver reads such a key, and objects with one are refused"),
                );
            }
        }
        let forbidden: Vec<String> = forbidden.iter().map(|k| normalize(k)).collect();
        for key in required.keys().chain(allowed_values.keys()) {
            if forbidden.contains(&normalize(key)) {
                errors.add(
                    format!("{path}.forbidden"),
                    format!("{key:?} is both forbidden and required or allowed"),
                );
            }
        }
        for (key, values) in allowed_values {
            if values.is_empty() {
                errors.add(
                    format!("{path}.allowedValues.{key}"),
                    "empty list: use forbidden to refuse a key",
                );
            }
        }
        Self {
            index,
            required: verbatim(required),
            forbidden,
            allowed_values: verbatim(allowed_values),
        }
    }

    /// Judges `parameters` (the map's entries) of `driver`.
    pub fn check(
        &self,
        driver: &str,
        parameters: &[(&str, &str)],
        scope: Scope<'_>,
        findings: &mut Findings,
    ) {
        let exact = |key: &str| parameters.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let spelled_like = |key: &str| {
            let wanted = normalize(key);
            parameters
                .iter()
                .filter(move |(k, _)| normalize(k) == wanted)
                .copied()
        };
        let Scope { field, rule, entry } = scope;
        let i = self.index;
        for (key, values) in &self.required {
            match exact(key) {
                None => {
                    let near = spelled_like(key).next().map_or(String::new(), |(k, _)| {
                        format!(" ({k:?} is not the same key)")
                    });
                    findings.push(Violation::new(
                        format!("{field}.{key}"),
                        "missing",
                        rule,
                        format!("required for {driver} by {entry}[{i}]{near}"),
                    ));
                }
                Some(v) if !values.is_empty() && !values.iter().any(|a| a == v) => {
                    findings.push(Violation::new(
                        format!("{field}.{key}"),
                        render_str(v),
                        rule,
                        format!("must be exactly one of {values:?} ({entry}[{i}].required)"),
                    ))
                }
                Some(_) => {}
            }
        }
        for key in &self.forbidden {
            for (k, v) in spelled_like(key) {
                findings.push(Violation::new(
                    format!("{field}.{k}"),
                    render_str(v),
                    rule,
                    format!("forbidden for {driver} by {entry}[{i}]"),
                ));
            }
        }
        for (key, values) in &self.allowed_values {
            for (k, v) in spelled_like(key) {
                if !values.iter().any(|a| a == v) {
                    findings.push(Violation::new(
                        format!("{field}.{k}"),
                        render_str(v),
                        rule,
                        format!("must be exactly one of {values:?} ({entry}[{i}].allowedValues)"),
                    ));
                }
            }
        }
    }
}

/// Compiles a `parameters` list (`storageClasses.parameters`,
/// `volumeAttributesClasses.parameters`: `base`).
pub fn compile(
    rules: &[ParameterRules],
    base: &str,
    errors: &mut SettingErrors,
) -> Vec<CompiledParameterRules> {
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let path = Entry {
            base: &base,
            index: i,
        };
        let keys = KeyRules::compile(
            i,
            &path,
            &rule.required,
            &rule.forbidden,
            &rule.allowed_values,
            errors,
        );
        let Some(provisioner) = errors.parsed(
            format_args!("{path}.provisioner"),
            &rule.provisioner,
            DriverGlob::parse(&rule.provisioner),
        ) else {
            continue;
        };
        compiled.push(CompiledParameterRules { provisioner, keys });
    }
    compiled
}

/// Refuses non-ASCII keys (see the module comment: the drivers' Go folding
/// maps `İ` to `i` and `K` (Kelvin) to `k`), and keys that are equal once
/// trimmed and lower-cased: which one would the driver read?
pub fn check_keys(
    parameters: &[(&str, &str)],
    field: &str,
    rule: &'static str,
    findings: &mut Findings,
) {
    let mut seen = HashSet::with_capacity(parameters.len());
    for (key, value) in parameters {
        if !key.is_ascii() {
            findings.push(Violation::new(
                format!("{field}.{key}"),
                render_str(value),
                rule,
                "parameter key is not ASCII: drivers fold keys with Go's strings.ToLower (İ is i, the Kelvin sign is k), so it may be read as another key".to_string(),
            ));
            continue;
        }
        let normalized = normalize(key);
        if !seen.insert(normalized.clone()) {
            findings.push(Violation::new(
                format!("{field}.{key}"),
                render_str(value),
                rule,
                format!("parameter keys collide once trimmed and lower-cased ({normalized})"),
            ));
        }
    }
}

/// Judges a `parameters` map of `driver` with every entry whose glob matches.
pub fn check(
    driver: &str,
    parameters: &[(&str, &str)],
    rules: &[CompiledParameterRules],
    rule: &'static str,
    findings: &mut Findings,
) {
    let scope = Scope {
        field: "parameters",
        rule,
        entry: "parameters",
    };
    for compiled in rules.iter().filter(|r| r.provisioner.matches(driver)) {
        compiled.keys.check(driver, parameters, scope, findings);
    }
}
