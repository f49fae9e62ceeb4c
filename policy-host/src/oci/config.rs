//! Where and how to talk to a registry: the sources file of kwctl and
//! policy-server (`insecure_sources`, `source_authorities`), Docker config
//! credentials, and policy references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::oci::error::{Error, ErrorKind, Result};

/// The sources file of kwctl (`--sources-path`) and policy-server
/// (`--sources-path` / `KUBEWARDEN_SOURCES_PATH`):
///
/// ```yaml
/// insecure_sources: ["127.0.0.1:5000"]
/// source_authorities:
///   "registry.example.com:5443":
///     - type: Path
///       path: /etc/ssl/private-ca.pem
///     - type: Data
///       data: |
///         -----BEGIN CERTIFICATE-----
///         ...
/// ```
///
/// A registry listed in `insecure_sources` is spoken to in plain HTTP; every
/// other registry over HTTPS (with the system roots plus its
/// `source_authorities`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    #[serde(default)]
    pub insecure_sources: Vec<String>,
    #[serde(default)]
    pub source_authorities: BTreeMap<String, Vec<SourceAuthority>>,
}

/// A CA certificate (PEM) trusted for one registry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum SourceAuthority {
    Path { path: PathBuf },
    Data { data: String },
}

impl Sources {
    /// Read a sources file (YAML, or JSON which is YAML too).
    pub fn from_path(path: &Path) -> Result<Sources> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("cannot read the sources file {}", path.display()),
                e,
            )
        })?;
        Sources::from_yaml(&text).map_err(|e| {
            Error::invalid(format!(
                "invalid sources file {}: {}",
                path.display(),
                e.message()
            ))
        })
    }

    pub fn from_yaml(text: &str) -> Result<Sources> {
        if text.trim().is_empty() {
            return Ok(Sources::default());
        }
        serde_yaml::from_str(text).map_err(|e| {
            Error::invalid(format!(
                "{e} (expected `insecure_sources: [\"host:port\", ...]` and/or `source_authorities`)"
            ))
        })
    }

    /// Plain HTTP is used for this `host[:port]`.
    pub fn is_insecure(&self, registry: &str) -> bool {
        self.insecure_sources.iter().any(|s| s == registry)
    }

    /// The PEM certificates trusted for this `host[:port]`.
    pub fn authorities_pem(&self, registry: &str) -> Result<Vec<Vec<u8>>> {
        let Some(list) = self.source_authorities.get(registry) else {
            return Ok(Vec::new());
        };
        list.iter()
            .map(|a| match a {
                SourceAuthority::Path { path } => std::fs::read(path).map_err(|e| {
                    Error::io(
                        format!(
                            "cannot read the CA certificate {} of {registry}",
                            path.display()
                        ),
                        e,
                    )
                }),
                SourceAuthority::Data { data } => Ok(data.as_bytes().to_vec()),
            })
            .collect()
    }
}

/// Credentials read from a Docker config file (`~/.docker/config.json`).
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    auths: BTreeMap<String, DockerAuthEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct DockerConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuthEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct DockerAuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }

    /// Read the file given explicitly (it must exist), or the default one if
    /// it exists (anonymous access otherwise).
    pub fn load(explicit: Option<&Path>) -> Result<DockerConfig> {
        match explicit {
            Some(path) => DockerConfig::from_path(path),
            None => match DockerConfig::default_path() {
                Some(path) if path.is_file() => DockerConfig::from_path(&path),
                _ => Ok(DockerConfig::default()),
            },
        }
    }

    pub fn from_path(path: &Path) -> Result<DockerConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(
                format!("cannot read the Docker config file {}", path.display()),
                e,
            )
        })?;
        DockerConfig::from_json(&text).map_err(|e| {
            Error::invalid(format!(
                "invalid Docker config file {}: {}",
                path.display(),
                e.message()
            ))
        })
    }

    pub fn from_json(text: &str) -> Result<DockerConfig> {
        let file: DockerConfigFile = serde_json::from_str(text).map_err(|e| {
            Error::invalid(format!("{e} (expected {{\"auths\": {{\"host:port\": {{\"auth\": \"<base64 user:password>\"}}}}}})"))
        })?;
        Ok(DockerConfig { auths: file.auths })
    }

    /// The credentials for `host[:port]`; anonymous when none are stored.
    /// Keys may carry a scheme and a path (`https://host/v1/`).
    pub fn auth_for(&self, registry: &str) -> Result<RegistryAuth> {
        let entry = self
            .auths
            .iter()
            .find(|(key, _)| normalize_auth_key(key) == registry)
            .map(|(_, entry)| entry);
        let Some(entry) = entry else {
            return Ok(RegistryAuth::Anonymous);
        };
        if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| {
                    Error::invalid(format!(
                        "the Docker config entry of {registry} has an `auth` that is not base64: {e}"
                    ))
                })?;
            let decoded = String::from_utf8(decoded).map_err(|_| {
                Error::invalid(format!(
                    "the Docker config entry of {registry} has an `auth` that is not UTF-8"
                ))
            })?;
            let Some((user, password)) = decoded.split_once(':') else {
                return Err(Error::invalid(format!(
                    "the Docker config entry of {registry} has an `auth` that is not `user:password`"
                )));
            };
            return Ok(RegistryAuth::Basic(user.to_string(), password.to_string()));
        }
        match (&entry.username, &entry.password) {
            (Some(user), Some(password)) => Ok(RegistryAuth::Basic(user.clone(), password.clone())),
            _ => Ok(RegistryAuth::Anonymous),
        }
    }
}

fn normalize_auth_key(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// A parsed policy reference: `registry://host[:port]/repo[:tag|@digest]`
/// or the same without `registry://`.
#[derive(Debug, Clone)]
pub struct PolicyRef {
    reference: Reference,
    /// As the user wrote it, without `registry://`.
    text: String,
}

impl PolicyRef {
    pub fn parse(input: &str) -> Result<PolicyRef> {
        let text = input.trim();
        let text = match text.split_once("://") {
            Some(("registry", rest)) => rest,
            Some((scheme, _)) => {
                return Err(Error::invalid(format!(
                    "`{input}`: only `registry://` references are supported here (found `{scheme}://`)"
                )));
            }
            None => text,
        };
        let host = text.split('/').next().unwrap_or_default();
        if !text.contains('/') || !(host.contains('.') || host.contains(':') || host == "localhost")
        {
            return Err(Error::invalid(format!(
                "`{input}`: the reference must name the registry host, e.g. `registry://ghcr.io/org/policy:v1.0.0` or `127.0.0.1:5000/policy:v1`"
            )));
        }
        let reference = Reference::try_from(text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("`{input}` is not a valid OCI reference: {e}"),
            )
        })?;
        Ok(PolicyRef {
            reference,
            text: text.to_string(),
        })
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// `host[:port]`.
    pub fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }

    pub fn repository(&self) -> &str {
        self.reference.repository()
    }

    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// As written, without `registry://`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `host/repo@<digest>`.
    pub fn immutable(&self, digest: &str) -> String {
        format!("{}/{}@{}", self.registry(), self.repository(), digest)
    }
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_file_formats() {
        let s = Sources::from_yaml("insecure_sources: [\"127.0.0.1:5000\"]\n").unwrap();
        assert!(s.is_insecure("127.0.0.1:5000"));
        assert!(!s.is_insecure("127.0.0.1:5001"));
        let s = Sources::from_yaml(
            "source_authorities:\n  r.example:443:\n    - type: Data\n      data: PEM\n",
        )
        .unwrap();
        assert_eq!(
            s.authorities_pem("r.example:443").unwrap(),
            vec![b"PEM".to_vec()]
        );
        assert!(Sources::from_yaml("").unwrap().insecure_sources.is_empty());
        let err = Sources::from_yaml("insecure: [x]").unwrap_err();
        assert!(err.message().contains("unknown field `insecure`"), "{err}");
    }

    #[test]
    fn docker_config_credentials() {
        // alice:s3cr:et (a password may contain ':')
        let cfg = DockerConfig::from_json(
            r#"{"auths":{"127.0.0.1:5000":{"auth":"YWxpY2U6czNjcjpldA=="},
                "https://index.docker.io/v1/":{"username":"bob","password":"pw"}}}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.auth_for("127.0.0.1:5000").unwrap(),
            RegistryAuth::Basic("alice".into(), "s3cr:et".into())
        );
        assert_eq!(
            cfg.auth_for("index.docker.io").unwrap(),
            RegistryAuth::Basic("bob".into(), "pw".into())
        );
        assert_eq!(cfg.auth_for("ghcr.io").unwrap(), RegistryAuth::Anonymous);
        let bad = DockerConfig::from_json(r#"{"auths":{"h:1":{"auth":"!!"}}}"#).unwrap();
        assert!(
            bad.auth_for("h:1")
                .unwrap_err()
                .message()
                .contains("not base64")
        );
    }

    #[test]
    fn references() {
        let r = PolicyRef::parse("registry://127.0.0.1:5000/policies/p:v1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "policies/p");
        assert_eq!(r.tag(), Some("v1"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = PolicyRef::parse(&format!("ghcr.io/org/p@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(r.immutable(&d), format!("ghcr.io/org/p@{d}"));
        for bad in [
            "https://ghcr.io/x:1",
            "policy:v1",
            "org/policy:v1",
            "registry://",
        ] {
            let e = PolicyRef::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}: {e}");
        }
        assert!(is_sha256_digest(&d));
        assert!(!is_sha256_digest("sha256:abc"));
    }
}
