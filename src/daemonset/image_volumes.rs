//! Image volumes (`volumes[].image`): an OCI image or artifact the kubelet
//! pulls and mounts read-only (`noexec` as well, CRI `ImageSpec` mounts;
//! KEP-4639, beta in 1.34, on by default in 1.35). They are the safe way to
//! ship tools and configuration to node agents; the rules keep them to
//! trusted repositories, optionally pinned by digest.

use serde_json::{Map, Value};

use super::POD_SPEC;
use super::image_reference::{self, RepositoryGlob};
use crate::fields::{Reported, object, string};
use crate::rules;
use crate::settings::ImageVolumeSettings;
use crate::settings_errors::SettingErrors;
use crate::violation::{Findings, Violation, render_str};

const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageVolumeRules {
    allowed: Option<Vec<RepositoryGlob>>,
    require_digest: bool,
    pull_policies: Option<Vec<String>>,
}

impl ImageVolumeRules {
    pub fn compile(settings: ImageVolumeSettings, errors: &mut SettingErrors) -> Self {
        let allowed = settings.allowed.map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    errors.parsed(
                        format_args!("{}[{i}]", rules::IMAGE_VOLUMES_ALLOWED),
                        p,
                        RepositoryGlob::parse(p),
                    )
                })
                .collect()
        });
        for (i, policy) in settings.pull_policies.iter().flatten().enumerate() {
            if !PULL_POLICIES.contains(&policy.as_str()) {
                errors.add(
                    format!("{}[{i}]", rules::IMAGE_VOLUMES_PULL_POLICIES),
                    format!(
                        "{policy:?} is not a pull policy (one of {})",
                        PULL_POLICIES.join(", ")
                    ),
                );
            }
        }
        Self {
            allowed,
            require_digest: settings.require_digest,
            pull_policies: settings.pull_policies,
        }
    }
}

pub fn check(pod_spec: &Map<String, Value>, rules: &ImageVolumeRules, findings: &mut Findings) {
    // An unreadable list or volume was already reported by the hostPath rule.
    let Some(Value::Array(volumes)) = pod_spec.get("volumes") else {
        return;
    };
    for (v, volume) in volumes.iter().enumerate() {
        let Value::Object(volume) = volume else {
            continue;
        };
        // Most volumes are not image volumes: no path for them.
        let path = || format!("{POD_SPEC}.volumes[{v}].image");
        if let Some(image) = object(volume, "image", path, findings) {
            check_volume(image, &path(), rules, findings);
        }
    }
}

fn check_volume(
    image: &Map<String, Value>,
    path: &str,
    rules: &ImageVolumeRules,
    findings: &mut Findings,
) {
    let field = format!("{path}.reference");
    let reference = match string(image, "reference", || field.clone(), findings) {
        Ok(r) => r.unwrap_or(""),
        Err(Reported) => return,
    };
    let restricted = rules.allowed.is_some() || rules.require_digest;
    let parsed = if reference.is_empty() {
        // Templates may leave it empty for a later mutation; a pod cannot
        // (`validateImageVolumeSource` requires it on Pods), and an empty
        // reference cannot be judged against an allow-list.
        if restricted {
            findings.push(Violation::new(
                field.clone(),
                "\"\"",
                rules::IMAGE_VOLUMES_ALLOWED,
                "image volume without a reference",
            ));
        }
        None
    } else {
        match image_reference::parse(reference) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                findings.push(Violation::new(
                    field.clone(),
                    render_str(reference),
                    rules::IMAGE_VOLUMES_ALLOWED,
                    format!("the kubelet cannot read this reference: {e}"),
                ));
                None
            }
        }
    };
    if let Some(parsed) = &parsed {
        if let Some(allowed) = &rules.allowed
            && !allowed.iter().any(|g| g.matches(&parsed.repository))
        {
            findings.push(Violation::new(
                field.clone(),
                render_str(reference),
                rules::IMAGE_VOLUMES_ALLOWED,
                format!(
                    "repository {} is not in daemonSets.imageVolumes.allowed",
                    parsed.repository
                ),
            ));
        }
        if rules.require_digest && parsed.digest.is_none() {
            findings.push(Violation::new(
                field.clone(),
                render_str(reference),
                rules::IMAGE_VOLUMES_REQUIRE_DIGEST,
                "a tag can be moved to other content: pin the reference by digest (@sha256:...)",
            ));
        }
    }
    let Some(allowed) = &rules.pull_policies else {
        return;
    };
    let policy_field = format!("{path}.pullPolicy");
    let Ok(policy) = string(image, "pullPolicy", || policy_field.clone(), findings) else {
        return;
    };
    let effective = match policy.filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => default_pull_policy(parsed.as_ref()),
    };
    if !allowed.iter().any(|a| a == effective) {
        findings.push(Violation::new(
            policy_field,
            policy.map_or_else(|| "unset".to_string(), render_str),
            rules::IMAGE_VOLUMES_PULL_POLICIES,
            format!("pull policy {effective} is not in {allowed:?}"),
        ));
    }
}

/// The API server's default (`pkg/apis/core/v1/defaults.go`,
/// `SetDefaults_ImageVolumeSource`): `Always` when the tag `ParseImageName`
/// returns is `latest` (written, or implied by a reference with neither tag
/// nor digest), else `IfNotPresent`.
fn default_pull_policy(parsed: Option<&image_reference::ImageReference>) -> &'static str {
    let latest = parsed.is_some_and(|p| match &p.tag {
        Some(tag) => tag == "latest",
        None => p.digest.is_none(),
    });
    if latest { "Always" } else { "IfNotPresent" }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    #[test]
    fn image_volumes_are_judged_by_repository_digest_and_pull_policy() {
        assert_accepted_untouched(&run("daemonset-image-volume.json", json!({})));
        let settings = json!({"daemonSets": {"imageVolumes": {
            "allowed": ["quay.io/crio/*"],
            "pullPolicies": ["IfNotPresent"]}}});
        assert_accepted_untouched(&run("daemonset-image-volume.json", settings));
        let settings = json!({"daemonSets": {"imageVolumes": {
            "allowed": ["registry.example.com/**"],
            "requireDigest": true,
            "pullPolicies": ["Always"]}}});
        assert_violations(
            &run("daemonset-image-volume.json", settings),
            3,
            &[
                "spec.template.spec.volumes[2].image.reference=\"quay.io/crio/artifact:v2\": repository quay.io/crio/artifact is not in daemonSets.imageVolumes.allowed [daemonSets.imageVolumes.allowed]",
                "a tag can be moved to other content: pin the reference by digest (@sha256:...) [daemonSets.imageVolumes.requireDigest]",
                "pull policy IfNotPresent is not in [\"Always\"] [daemonSets.imageVolumes.pullPolicies]",
            ],
        );
    }

    #[test]
    fn a_tag_is_not_a_digest_and_defaults_follow_the_tag() {
        let request = edited("daemonset-image-volume.json", |ds| {
            let image = &mut ds["spec"]["template"]["spec"]["volumes"][2]["image"];
            image["reference"] = json!("busybox");
            image.as_object_mut().map(|i| i.remove("pullPolicy"));
        });
        let settings = json!({"daemonSets": {"imageVolumes": {
            "allowed": ["docker.io/library/*"], "requireDigest": true,
            "pullPolicies": ["IfNotPresent"]}}});
        assert_violations(
            &evaluate(&request, settings),
            2,
            &[
                "volumes[2].image.reference=\"busybox\": a tag can be moved",
                "volumes[2].image.pullPolicy=unset: pull policy Always is not in",
            ],
        );
    }

    #[test]
    fn settings_are_refused_with_their_path() {
        let response = crate::evaluate::validate_settings(
            br#"{"daemonSets": {"imageVolumes": {"allowed": ["busybox"], "pullPolicies": ["always"]}}}"#,
        );
        let message = response.message.unwrap_or_default();
        assert_contains_all(
            &message,
            &[
                "daemonSets.imageVolumes.allowed[0]: \"busybox\": name the registry",
                "daemonSets.imageVolumes.pullPolicies[0]: \"always\" is not a pull policy",
            ],
        );
    }
}
