//! `artifacthub-pkg.yml` from `metadata.yml` (+ `questions-ui.yml`), with
//! the fields and annotations `kwctl scaffold artifacthub` writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::error::{Error, Result};

pub const ANNOTATION_TITLE: &str = "io.kubewarden.policy.title";
pub const ANNOTATION_VERSION: &str = "io.kubewarden.policy.version";
pub const ANNOTATION_DESCRIPTION: &str = "io.kubewarden.policy.description";
pub const ANNOTATION_AUTHOR: &str = "io.kubewarden.policy.author";
pub const ANNOTATION_URL: &str = "io.kubewarden.policy.url";
pub const ANNOTATION_SOURCE: &str = "io.kubewarden.policy.source";
pub const ANNOTATION_LICENSE: &str = "io.kubewarden.policy.license";
pub const ANNOTATION_OCI_URL: &str = "io.kubewarden.policy.ociUrl";
pub const ANNOTATION_DISPLAY_NAME: &str = "io.artifacthub.displayName";
pub const ANNOTATION_RESOURCES: &str = "io.artifacthub.resources";
pub const ANNOTATION_KEYWORDS: &str = "io.artifacthub.keywords";
pub const ANNOTATION_HIDDEN_UI: &str = "io.kubewarden.hidden-ui";

const HEADER: &str = "\
# Kubewarden Artifacthub Package config
#
# Use this config to submit the policy to https://artifacthub.io.
#
# Generated from metadata.yml and questions-ui.yml by `make artifacthub-pkg.yml`
# (daemonset-csi-policy artifacthub, the equivalent of `kwctl scaffold artifacthub`):
# do not edit it by hand.
";

/// The parts of `metadata.yml` Artifact Hub needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyMetadata {
    rules: Vec<Rule>,
    mutating: bool,
    #[serde(default)]
    context_aware_resources: Vec<ContextAwareResource>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// A rule, serialized in the field order kwctl uses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    api_versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextAwareResource {
    api_version: String,
    kind: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactHubPkg {
    version: String,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(rename = "homeURL", skip_serializing_if = "Option::is_none")]
    home_url: Option<String>,
    containers_images: Vec<ContainerImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Vec<Link>>,
    install: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintainers: Option<Vec<Maintainer>>,
    provider: Provider,
    recommendations: Vec<Recommendation>,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct ContainerImage {
    name: String,
    image: String,
}

#[derive(Debug, Serialize)]
struct Link {
    name: String,
    url: String,
}

#[derive(Debug, Serialize, PartialEq)]
struct Maintainer {
    name: String,
    email: String,
}

#[derive(Debug, Serialize)]
struct Provider {
    name: String,
}

#[derive(Debug, Serialize)]
struct Recommendation {
    url: String,
}

/// Inputs of [`generate`].
#[derive(Debug, Clone)]
pub struct ArtifactHubInput<'a> {
    /// `metadata.yml` text.
    pub metadata: &'a str,
    /// `questions-ui.yml` text, if any.
    pub questions: Option<&'a str>,
    /// Semver of the release, without `v`.
    pub version: &'a str,
    /// RFC 3339 time of creation.
    pub created_at: &'a str,
}

/// The `artifacthub-pkg.yml` text.
pub fn generate(input: &ArtifactHubInput<'_>) -> Result<String> {
    let metadata: PolicyMetadata = serde_yaml::from_str(input.metadata)
        .map_err(|e| Error::invalid(format!("invalid metadata.yml: {e}")))?;
    let a = &metadata.annotations;
    let get = |key: &str| -> Result<String> {
        a.get(key)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("metadata.yml must have the annotation `{key}`")))
    };

    let version = input.version.trim_start_matches('v');
    check_semver(version)?;
    if let Some(declared) = a.get(ANNOTATION_VERSION)
        && declared != version
    {
        return Err(Error::invalid(format!(
            "version {version} differs from `{ANNOTATION_VERSION}: {declared}` in metadata.yml"
        )));
    }
    if let Some(q) = input.questions {
        if q.trim().is_empty() {
            return Err(Error::invalid("questions-ui content cannot be empty"));
        }
        serde_yaml::from_str::<serde_yaml::Value>(q)
            .map_err(|e| Error::invalid(format!("questions-ui is not valid YAML: {e}")))?;
    }

    let oci_url = get(ANNOTATION_OCI_URL)?;
    if oci_url.contains("://")
        || oci_url
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(Error::invalid(format!(
            "`{ANNOTATION_OCI_URL}: {oci_url}` must be `host/repository`, without scheme or tag"
        )));
    }
    let image = format!("{oci_url}:v{version}");

    let keywords = match a.get(ANNOTATION_KEYWORDS) {
        None => None,
        Some(csv) => {
            let words: Vec<String> = csv.split(',').map(|w| w.trim().to_string()).collect();
            if words.iter().any(String::is_empty) {
                return Err(Error::invalid(format!(
                    "annotation `{ANNOTATION_KEYWORDS}` is malformed, must be comma-separated values"
                )));
            }
            Some(words)
        }
    };

    let links = match a.get(ANNOTATION_SOURCE) {
        None => None,
        Some(source) => {
            check_url(ANNOTATION_SOURCE, source)?;
            let source = source.trim_end_matches('/').to_string();
            let mut links = Vec::new();
            if source.starts_with("https://github.com/") {
                links.push(Link {
                    name: "policy".into(),
                    url: format!("{source}/releases/download/v{version}/policy.wasm"),
                });
            }
            links.push(Link {
                name: "source".into(),
                url: source,
            });
            Some(links)
        }
    };

    let home_url = match a.get(ANNOTATION_URL) {
        None => None,
        Some(url) => {
            check_url(ANNOTATION_URL, url)?;
            Some(url.clone())
        }
    };

    let maintainers = a
        .get(ANNOTATION_AUTHOR)
        .map(|s| parse_maintainers(s))
        .transpose()?;

    let mut annotations = BTreeMap::new();
    annotations.insert(
        "kubewarden/mutation".to_string(),
        metadata.mutating.to_string(),
    );
    annotations.insert(
        "kubewarden/rules".to_string(),
        serde_yaml::to_string(&metadata.rules)
            .map_err(|e| Error::invalid(format!("cannot serialize the rules: {e}")))?,
    );
    if !metadata.context_aware_resources.is_empty() {
        annotations.insert(
            "kubewarden/contextAwareResources".to_string(),
            serde_yaml::to_string(&metadata.context_aware_resources).map_err(|e| {
                Error::invalid(format!("cannot serialize contextAwareResources: {e}"))
            })?,
        );
    }
    if let Some(resources) = a.get(ANNOTATION_RESOURCES) {
        annotations.insert("kubewarden/resources".to_string(), resources.clone());
    }
    if let Some(hidden) = a.get(ANNOTATION_HIDDEN_UI) {
        annotations.insert("kubewarden/hidden-ui".to_string(), hidden.clone());
    }
    if let Some(q) = input.questions {
        annotations.insert("kubewarden/questions-ui".to_string(), q.to_string());
    }

    let install = format!(
        "The policy can be obtained using [`kwctl`](https://github.com/kubewarden/kwctl):\n\
         ```console\n\
         kwctl pull {image}\n\
         ```\n\
         Then, generate the policy manifest and tune it to your liking. For example:\n\
         ```console\n\
         kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n\
         ```\n"
    );

    let pkg = ArtifactHubPkg {
        version: version.to_string(),
        name: get(ANNOTATION_TITLE)?,
        display_name: get(ANNOTATION_DISPLAY_NAME)?,
        created_at: input.created_at.to_string(),
        description: get(ANNOTATION_DESCRIPTION)?,
        license: a.get(ANNOTATION_LICENSE).cloned(),
        home_url,
        containers_images: vec![ContainerImage {
            name: "policy".into(),
            image,
        }],
        keywords,
        links,
        install,
        maintainers,
        provider: Provider {
            name: "kubewarden".into(),
        },
        recommendations: vec![Recommendation {
            url: "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller".into(),
        }],
        annotations,
    };
    let body = serde_yaml::to_string(&pkg)
        .map_err(|e| Error::invalid(format!("cannot serialize artifacthub-pkg.yml: {e}")))?;
    Ok(format!("{HEADER}{body}"))
}

/// The text without its `createdAt:` line (to compare two generations).
pub fn without_created_at(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("createdAt:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `createdAt` value of an existing file.
pub fn created_at_of(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("createdAt:"))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

fn check_semver(version: &str) -> Result<()> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "policy version must be semver (MAJOR.MINOR.PATCH), found `{version}`"
        )))
    }
}

fn check_url(annotation: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => Ok(()),
        _ => Err(Error::invalid(format!(
            "annotation `{annotation}` is not an http(s) URL: `{url}`"
        ))),
    }
}

/// `Name <email>, Other <email>`.
fn parse_maintainers(text: &str) -> Result<Vec<Maintainer>> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = item.strip_suffix('>').and_then(|s| s.rsplit_once('<'));
        let Some((name, email)) = parsed else {
            return Err(Error::invalid(format!(
                "annotation `{ANNOTATION_AUTHOR}` is malformed, must be comma-separated `Name <email>`: `{item}`"
            )));
        };
        let email = email.trim();
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "annotation `{ANNOTATION_AUTHOR}` has an invalid email: `{email}`"
            )));
        }
        out.push(Maintainer {
            name: name.trim().to_string(),
            email: email.to_string(),
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(format!(
            "annotation `{ANNOTATION_AUTHOR}` is empty"
        )));
    }
    Ok(out)
}

/// RFC 3339 UTC time (`2024-01-31T12:00:00Z`) of a Unix time.
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"
rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods"]
    operations: ["CREATE"]
mutating: false
annotations:
  io.artifacthub.displayName: Demo
  io.artifacthub.resources: Pod
  io.artifacthub.keywords: pod, demo
  io.kubewarden.policy.ociUrl: ghcr.io/org/policies/demo
  io.kubewarden.policy.title: demo
  io.kubewarden.policy.version: 1.2.3
  io.kubewarden.policy.description: A demo
  io.kubewarden.policy.author: Tux Tuxedo <tux@example.com>, Pidgin <pidgin@example.com>
  io.kubewarden.policy.url: https://github.com/org/demo
  io.kubewarden.policy.source: https://github.com/org/demo
  io.kubewarden.policy.license: Apache-2.0
"#;

    fn input<'a>(version: &'a str, questions: Option<&'a str>) -> ArtifactHubInput<'a> {
        ArtifactHubInput {
            metadata: METADATA,
            questions,
            version,
            created_at: "1970-01-01T00:00:00Z",
        }
    }

    #[test]
    fn kwctl_fields() {
        let text = generate(&input("1.2.3", Some("questions: []\n"))).unwrap();
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["name"], "demo");
        assert_eq!(v["version"], "1.2.3");
        assert_eq!(
            v["containersImages"][0]["image"],
            "ghcr.io/org/policies/demo:v1.2.3"
        );
        assert_eq!(
            v["links"][0]["url"],
            "https://github.com/org/demo/releases/download/v1.2.3/policy.wasm"
        );
        assert_eq!(v["links"][1]["name"], "source");
        assert_eq!(v["keywords"][1], "demo");
        assert_eq!(v["maintainers"][1]["email"], "pidgin@example.com");
        assert_eq!(v["annotations"]["kubewarden/mutation"], "false");
        assert_eq!(
            v["annotations"]["kubewarden/questions-ui"],
            "questions: []\n"
        );
        let rules: serde_yaml::Value =
            serde_yaml::from_str(v["annotations"]["kubewarden/rules"].as_str().unwrap()).unwrap();
        assert_eq!(rules[0]["resources"][0], "pods");
        assert!(text.contains("createdAt: 1970-01-01T00:00:00Z"));
        assert_eq!(
            created_at_of(&text).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn wrong_inputs() {
        assert!(
            generate(&input("1.2.4", None))
                .unwrap_err()
                .message()
                .contains("differs")
        );
        assert!(
            generate(&input("x", None))
                .unwrap_err()
                .message()
                .contains("semver")
        );
        assert!(generate(&input("1.2.3", Some(" "))).is_err());
        assert!(parse_maintainers("nobody").is_err());
    }

    #[test]
    fn time_format() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_747_402_644), "2025-05-16T13:37:24Z");
    }
}
