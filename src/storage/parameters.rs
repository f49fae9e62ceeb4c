//! StorageClass parameters: required, forbidden and allowed values, per
//! provisioner glob.
//!
//! CSI drivers commonly read parameter keys case-insensitively (the AWS EBS
//! driver lower-cases them), so keys are compared trimmed and lower-cased,
//! and values trimmed and case-insensitively: `" Encrypted ": "False"` is
//! judged as `encrypted: false`.

use crate::glob::DriverGlob;
use crate::settings::ParameterRules;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

const RULE: &str = "storageClasses.parameters";

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

fn normalize_values(
    map: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<(String, Vec<String>)> {
    map.iter()
        .map(|(k, values)| (normalize(k), values.iter().map(|v| normalize(v)).collect()))
        .collect()
}

pub fn compile(
    rules: &[ParameterRules],
    errors: &mut SettingErrors,
) -> Vec<CompiledParameterRules> {
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("storageClasses.parameters[{i}]");
        let provisioner = match DriverGlob::parse(&rule.provisioner) {
            Ok(g) => g,
            Err(e) => {
                errors.add(
                    format!("{path}.provisioner"),
                    format!("{:?}: {e}", rule.provisioner),
                );
                continue;
            }
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
            required: normalize_values(&rule.required),
            forbidden,
            allowed_values: normalize_values(&rule.allowed_values),
        });
    }
    compiled
}

/// Parameters with normalised keys, refusing keys that collide once
/// normalised (which one would the driver read?).
pub fn normalized_parameters(
    parameters: &[(&str, &str)],
    findings: &mut Findings,
) -> Vec<(String, String)> {
    let mut normalized: Vec<(String, String)> = Vec::with_capacity(parameters.len());
    let mut seen = std::collections::HashSet::with_capacity(parameters.len());
    for (key, value) in parameters {
        let nk = normalize(key);
        if !seen.insert(nk.clone()) {
            findings.push(Violation::new(
                format!("parameters.{key}"),
                render_str(value),
                RULE,
                format!("parameter keys collide once trimmed and lower-cased ({nk})"),
            ));
            continue;
        }
        normalized.push((nk, normalize(value)));
    }
    normalized
}

pub fn check(
    driver: &str,
    parameters: &[(&str, &str)],
    normalized: &[(String, String)],
    rules: &[CompiledParameterRules],
    findings: &mut Findings,
) {
    let original_key = |nk: &str| {
        parameters
            .iter()
            .find(|(k, _)| normalize(k) == nk)
            .map_or(nk.to_string(), |(k, _)| k.to_string())
    };
    let value_of = |nk: &str| {
        normalized
            .iter()
            .find(|(k, _)| k == nk)
            .map(|(_, v)| v.as_str())
    };
    for rule in rules.iter().filter(|r| r.provisioner.matches(driver)) {
        let i = rule.index;
        for (key, values) in &rule.required {
            match value_of(key) {
                None => findings.push(Violation::new(
                    format!("parameters.{key}"),
                    "missing",
                    RULE,
                    format!("required for {driver} by parameters[{i}]"),
                )),
                Some(v) if !values.is_empty() && !values.iter().any(|a| a == v) => {
                    findings.push(Violation::new(
                        format!("parameters.{}", original_key(key)),
                        render_str(v),
                        RULE,
                        format!("must be one of {values:?} (parameters[{i}].required)"),
                    ))
                }
                Some(_) => {}
            }
        }
        for key in &rule.forbidden {
            if let Some(v) = value_of(key) {
                findings.push(Violation::new(
                    format!("parameters.{}", original_key(key)),
                    render_str(v),
                    RULE,
                    format!("forbidden for {driver} by parameters[{i}]"),
                ));
            }
        }
        for (key, values) in &rule.allowed_values {
            if let Some(v) = value_of(key)
                && !values.iter().any(|a| a == v)
            {
                findings.push(Violation::new(
                    format!("parameters.{}", original_key(key)),
                    render_str(v),
                    RULE,
                    format!("must be one of {values:?} (parameters[{i}].allowedValues)"),
                ));
            }
        }
    }
}
