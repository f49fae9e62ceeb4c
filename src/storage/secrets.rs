//! Secret references in StorageClass parameters.
//!
//! The external provisioner and the CSI sidecars read Secrets named by the
//! `csi.storage.k8s.io/*-secret-{name,namespace}` parameters (and their
//! deprecated `csi*Secret*` spellings) with their own, broad, credentials:
//! a StorageClass that points them at another namespace's Secret leaks it.

use super::parameters::normalize;
use crate::settings::SecretReferenceSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

use crate::rules::SECRETS as RULE;

const OPERATIONS: &[&str] = &[
    "provisioner",
    "controller-publish",
    "node-stage",
    "node-publish",
    "controller-expand",
    "node-expand",
];

/// Deprecated parameter names, lower-cased, still honoured by the sidecars.
const DEPRECATED_NAMESPACE_KEYS: &[&str] = &[
    "csiprovisionersecretnamespace",
    "csicontrollerpublishsecretnamespace",
    "csinodestagesecretnamespace",
    "csinodepublishsecretnamespace",
];
const DEPRECATED_NAME_KEYS: &[&str] = &[
    "csiprovisionersecretname",
    "csicontrollerpublishsecretname",
    "csinodestagesecretname",
    "csinodepublishsecretname",
];

const PVC_NAMESPACE: &str = "${pvc.namespace}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretField {
    Namespace,
    Name,
}

/// Which secret field a (normalised) parameter key sets, if any.
fn secret_field(key: &str) -> Option<SecretField> {
    if DEPRECATED_NAMESPACE_KEYS.contains(&key) {
        return Some(SecretField::Namespace);
    }
    if DEPRECATED_NAME_KEYS.contains(&key) {
        return Some(SecretField::Name);
    }
    let rest = key.strip_prefix("csi.storage.k8s.io/")?;
    OPERATIONS
        .iter()
        .find_map(|op| match rest.strip_prefix(op)? {
            "-secret-namespace" => Some(SecretField::Namespace),
            "-secret-name" => Some(SecretField::Name),
            _ => None,
        })
}

/// Validates the secret settings (they are used as they are).
pub fn validate_settings(settings: &SecretReferenceSettings, errors: &mut SettingErrors) {
    for (i, ns) in settings.allowed_namespaces.iter().flatten().enumerate() {
        let valid = !ns.is_empty()
            && ns.len() <= 63
            && ns
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !ns.starts_with('-')
            && !ns.ends_with('-');
        if !valid {
            errors.add(
                format!("storageClasses.secrets.allowedNamespaces[{i}]"),
                format!("{ns:?} is not a namespace name (RFC 1123 label)"),
            );
        }
    }
}

/// `parameters` are the original pairs, used for paths and values.
pub fn check(
    parameters: &[(&str, &str)],
    settings: &SecretReferenceSettings,
    findings: &mut Findings,
) {
    for (key, value) in parameters {
        let Some(field) = secret_field(&normalize(key)) else {
            continue;
        };
        let path = format!("parameters.{key}");
        if let Some(reason) = refusal(field, value.trim(), settings) {
            findings.push(Violation::new(path, render_str(value), RULE, reason));
        }
    }
}

fn refusal(field: SecretField, value: &str, settings: &SecretReferenceSettings) -> Option<String> {
    if crate::words::contains(value, "${pvc.annotations") {
        return (!settings.allow_pvc_annotation_templates).then(|| {
            "a PVC annotation template lets the PVC author choose the Secret \
             (allowPvcAnnotationTemplates is off)"
                .to_string()
        });
    }
    if field == SecretField::Name {
        return None;
    }
    if value == PVC_NAMESPACE {
        return (!settings.allow_pvc_namespace_template).then(|| {
            "${pvc.namespace} is not allowed (allowPvcNamespaceTemplate is off)".to_string()
        });
    }
    if crate::words::contains(value, "${") {
        return Some("only the ${pvc.namespace} template may name a secret namespace".to_string());
    }
    let allowed = settings.allowed_namespaces.as_ref()?;
    (!allowed.iter().any(|ns| ns == value))
        .then(|| format!("secret namespace {value:?} is not in allowedNamespaces {allowed:?}"))
}

/// Why a literal secret namespace of a PersistentVolume's secret reference
/// (`spec.csi.*SecretRef.namespace`, in-tree `secretRef.namespace`) is
/// refused, if it is. The external provisioner resolves
/// `${pvc.namespace}` to the claim's namespace when it creates the PV
/// (external-provisioner `pkg/controller/controller.go`,
/// `getSecretReference`), and binds the PV to that claim (`claimRef`): a
/// namespace equal to `claim_namespace` is what the template gave, allowed
/// with `allowPvcNamespaceTemplate`.
pub fn pv_namespace_refusal(
    namespace: &str,
    claim_namespace: Option<&str>,
    settings: &SecretReferenceSettings,
) -> Option<String> {
    if settings.allow_pvc_namespace_template && claim_namespace == Some(namespace) {
        return None;
    }
    let allowed = settings.allowed_namespaces.as_ref()?;
    (!allowed.iter().any(|ns| ns == namespace))
        .then(|| format!("secret namespace {namespace:?} is not in allowedNamespaces {allowed:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_every_secret_parameter_spelling() {
        assert_eq!(
            secret_field("csi.storage.k8s.io/node-stage-secret-namespace"),
            Some(SecretField::Namespace)
        );
        assert_eq!(
            secret_field("csi.storage.k8s.io/controller-expand-secret-name"),
            Some(SecretField::Name)
        );
        assert_eq!(
            secret_field("csiprovisionersecretnamespace"),
            Some(SecretField::Namespace)
        );
        assert_eq!(secret_field("csi.storage.k8s.io/fstype"), None);
        assert_eq!(
            secret_field("csi.storage.k8s.io/node-stage-secret-namespacex"),
            None
        );
    }

    #[test]
    fn templates_need_their_setting() {
        let off = SecretReferenceSettings::default();
        assert!(refusal(SecretField::Namespace, "${pvc.namespace}", &off).is_some());
        assert!(refusal(SecretField::Name, "${pvc.annotations['a/b']}", &off).is_some());
        assert!(refusal(SecretField::Name, "${pvc.name}", &off).is_none());
        assert!(refusal(SecretField::Namespace, "${pv.name}", &off).is_some());
        let on = SecretReferenceSettings {
            allow_pvc_namespace_template: true,
            allow_pvc_annotation_templates: true,
            allowed_namespaces: Some(vec!["kube-system".into()]),
        };
        assert!(refusal(SecretField::Namespace, "${pvc.namespace}", &on).is_none());
        assert!(refusal(SecretField::Name, "${pvc.annotations['a/b']}", &on).is_none());
        assert!(refusal(SecretField::Namespace, "kube-system", &on).is_none());
        assert!(refusal(SecretField::Namespace, "default", &on).is_some());
    }
}
