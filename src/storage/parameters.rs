//! StorageClass parameters: required, forbidden and allowed values, per
//! provisioner glob.
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
use crate::settings::ParameterRules;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

use crate::rules::PARAMETERS as RULE;

pub fn normalize(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompiledParameterRules {
    index: usize,
    provisioner: DriverGlob,
    required: Vec<(String, Vec<String>)>,
    forbidden: Vec<String>,
    allowed_values: Vec<(String, Vec<String>)>,
}

fn verbatim(map: &BTreeMap<String, Vec<String>>) -> Vec<(String, Vec<String>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn compile(
    rules: &[ParameterRules],
    errors: &mut SettingErrors,
) -> Vec<CompiledParameterRules> {
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("storageClasses.parameters[{i}]");
        let Some(provisioner) = errors.parsed(
            format!("{path}.provisioner"),
            &rule.provisioner,
            DriverGlob::parse(&rule.provisioner),
        ) else {
            continue;
        };
        let keys = rule
            .required
            .keys()
            .map(|k| ("required", k))
            .chain(rule.forbidden.iter().map(|k| ("forbidden", k)))
            .chain(rule.allowed_values.keys().map(|k| ("allowedValues", k)));
        for (section, key) in keys {
            if key.trim().is_empty() {
                errors.add(format!("{path}.{section}"), "empty parameter key");
            } else if !key.is_ascii() {
                errors.add(
                    format!("{path}.{section}"),
                    format!("{key:?} is not ASCII: no driver reads such a key, and objects with one are refused"),
                );
            }
        }
        let forbidden: Vec<String> = rule.forbidden.iter().map(|k| normalize(k)).collect();
        for key in rule.required.keys().chain(rule.allowed_values.keys()) {
            if forbidden.contains(&normalize(key)) {
                errors.add(
                    format!("{path}.forbidden"),
                    format!("{key:?} is both forbidden and required or allowed"),
                );
            }
        }
        for (key, values) in &rule.allowed_values {
            if values.is_empty() {
                errors.add(
                    format!("{path}.allowedValues.{key}"),
                    "empty list: use forbidden to refuse a key",
                );
            }
        }
        compiled.push(CompiledParameterRules {
            index: i,
            provisioner,
            required: verbatim(&rule.required),
            forbidden,
            allowed_values: verbatim(&rule.allowed_values),
        });
    }
    compiled
}

/// Refuses non-ASCII keys (see the module comment: the drivers' Go folding
/// maps `İ` to `i` and `K` (Kelvin) to `k`), and keys that are equal once
/// trimmed and lower-cased: which one would the driver read?
pub fn check_keys(parameters: &[(&str, &str)], findings: &mut Findings) {
    let mut seen = HashSet::with_capacity(parameters.len());
    for (key, value) in parameters {
        if !key.is_ascii() {
            findings.push(Violation::new(
                format!("parameters.{key}"),
                render_str(value),
                RULE,
                "parameter key is not ASCII: drivers fold keys with Go's strings.ToLower (İ is i, the Kelvin sign is k), so it may be read as another key".to_string(),
            ));
            continue;
        }
        let normalized = normalize(key);
        if !seen.insert(normalized.clone()) {
            findings.push(Violation::new(
                format!("parameters.{key}"),
                render_str(value),
                RULE,
                format!("parameter keys collide once trimmed and lower-cased ({normalized})"),
            ));
        }
    }
}

pub fn check(
    driver: &str,
    parameters: &[(&str, &str)],
    rules: &[CompiledParameterRules],
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
    for rule in rules.iter().filter(|r| r.provisioner.matches(driver)) {
        let i = rule.index;
        for (key, values) in &rule.required {
            match exact(key) {
                None => {
                    let near = spelled_like(key).next().map_or(String::new(), |(k, _)| {
                        format!(" ({k:?} is not the same key)")
                    });
                    findings.push(Violation::new(
                        format!("parameters.{key}"),
                        "missing",
                        RULE,
                        format!("required for {driver} by parameters[{i}]{near}"),
                    ));
                }
                Some(v) if !values.is_empty() && !values.iter().any(|a| a == v) => {
                    findings.push(Violation::new(
                        format!("parameters.{key}"),
                        render_str(v),
                        RULE,
                        format!("must be exactly one of {values:?} (parameters[{i}].required)"),
                    ))
                }
                Some(_) => {}
            }
        }
        for key in &rule.forbidden {
            for (k, v) in spelled_like(key) {
                findings.push(Violation::new(
                    format!("parameters.{k}"),
                    render_str(v),
                    RULE,
                    format!("forbidden for {driver} by parameters[{i}]"),
                ));
            }
        }
        for (key, values) in &rule.allowed_values {
            for (k, v) in spelled_like(key) {
                if !values.iter().any(|a| a == v) {
                    findings.push(Violation::new(
                        format!("parameters.{k}"),
                        render_str(v),
                        RULE,
                        format!(
                            "must be exactly one of {values:?} (parameters[{i}].allowedValues)"
                        ),
                    ));
                }
            }
        }
    }
}
