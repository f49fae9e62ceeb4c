//! Image references read as the kubelet reads them before it asks the
//! runtime to pull: `pkg/util/parsers/parsers.go`, `ParseImageName`, calls
//! distribution/reference `ParseNormalizedNamed` (`normalize.go`), which
//! names Docker Hub `docker.io`, prefixes its one-segment names with
//! `library/` and checks the grammar of `regexp.go`. Globs in the settings
//! match the normalised repository, so `busybox`, `docker.io/busybox` and
//! `index.docker.io/library/busybox` are one repository.

use crate::glob::label_match;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// `domain/path`, normalised.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn is_alphanumeric(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `pathComponent`: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alphanumeric(b[0]) || !is_alphanumeric(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alphanumeric(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alphanumeric(b[i]) {
            i += 1;
        }
        let separator = &c[start..i];
        let dashes = separator.bytes().all(|s| s == b'-');
        if !(matches!(separator, "." | "_" | "__") || dashes) {
            return false;
        }
    }
    true
}

/// `domainAndPort`: DNS-like components of letters, digits and `-` (not at
/// either end), or an IPv6 address in brackets, then an optional port.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rfind(':') {
        Some(i) if !d[i..].contains(']') => (&d[..i], Some(&d[i + 1..])),
        _ => (d, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `tag`: `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `digestPat`: `algorithm:hex`, the hex part at least 32 digits.
fn valid_digest(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|c| {
        c.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (domain, remote) = match name.split_once('/') {
        None => ("docker.io", format!("library/{name}")),
        Some((d, r)) if d == "localhost" => (d, r.to_string()),
        Some(("index.docker.io", r)) => ("docker.io", r.to_string()),
        Some((d, r)) if d.contains(['.', ':']) || d.bytes().any(|b| b.is_ascii_uppercase()) => {
            (d, r.to_string())
        }
        Some(_) => ("docker.io", name.to_string()),
    };
    let remote = if domain == "docker.io" && !remote.contains('/') {
        format!("library/{remote}")
    } else {
        remote
    };
    (domain.to_string(), remote)
}

/// Parses and normalises `reference`; the error says why the kubelet
/// would refuse it.
pub fn parse(reference: &str) -> Result<ImageReference, String> {
    if reference.len() == 64
        && reference
            .bytes()
            .all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
    {
        return Err("a 64-character hexadecimal string is an image ID, not a reference".into());
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => {
            if !valid_digest(digest) {
                return Err(format!("invalid digest {digest:?}"));
            }
            (rest, Some(digest.to_string()))
        }
        None => (reference, None),
    };
    let (domain, remainder) = split_domain(rest);
    let (remote, tag) = match remainder.rsplit_once(':') {
        Some((remote, tag)) if !tag.contains('/') => {
            if !valid_tag(tag) {
                return Err(format!("invalid tag {tag:?}"));
            }
            (remote.to_string(), Some(tag.to_string()))
        }
        _ => (remainder, None),
    };
    if remote.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository name {remote:?} must be lowercase"));
    }
    if !valid_domain(&domain) {
        return Err(format!("invalid registry {domain:?}"));
    }
    if !remote.split('/').all(valid_path_component) {
        return Err(format!("invalid repository name {remote:?}"));
    }
    let repository = format!("{domain}/{remote}");
    if repository.len() > 255 {
        return Err("repository name longer than 255 characters".into());
    }
    Ok(ImageReference {
        repository,
        tag,
        digest,
    })
}

/// A glob on a normalised repository: `/`-separated segments, `*` one or
/// more characters within a segment, a last segment `**` any one or more
/// segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryGlob {
    pattern: String,
}

impl RepositoryGlob {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let Some((first, rest)) = pattern.split_once('/') else {
            return Err("name the registry and repository (docker.io/library/busybox): references are normalised before matching".into());
        };
        if !(first.contains(['.', ':']) || first == "localhost") {
            return Err(format!(
                "{first:?} is no registry: Docker Hub repositories are docker.io/..."
            ));
        }
        if pattern.contains(['@', ' ']) || rest.contains(':') {
            return Err("a pattern names a repository, without tag or digest".into());
        }
        let segments: Vec<&str> = pattern.split('/').collect();
        for (i, s) in segments.iter().enumerate() {
            if s.is_empty() {
                return Err("empty segment (leading, trailing or doubled '/')".into());
            }
            if crate::words::contains(s, "**") && !(*s == "**" && i + 1 == segments.len() && i >= 1)
            {
                return Err("'**' only as the last segment".into());
            }
        }
        Ok(Self {
            pattern: pattern.to_string(),
        })
    }

    pub fn matches(&self, repository: &str) -> bool {
        let mut names = repository.split('/');
        for p in self.pattern.split('/') {
            if p == "**" {
                return names.next().is_some();
            }
            match names.next() {
                Some(n) if label_match(p.as_bytes(), n.as_bytes()) => {}
                _ => return false,
            }
        }
        names.next().is_none()
    }
}

impl std::fmt::Display for RepositoryGlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::familiar("busybox", "docker.io/library/busybox", None, None)]
    #[case::familiar_tag("busybox:1.37", "docker.io/library/busybox", Some("1.37"), None)]
    #[case::hub_user(
        "grafana/alloy:v1.9.1",
        "docker.io/grafana/alloy",
        Some("v1.9.1"),
        None
    )]
    #[case::legacy_index("index.docker.io/busybox", "docker.io/library/busybox", None, None)]
    #[case::hub_explicit("docker.io/busybox", "docker.io/library/busybox", None, None)]
    #[case::port(
        "registry.local:5000/tools/jq",
        "registry.local:5000/tools/jq",
        None,
        None
    )]
    #[case::localhost("localhost/tools", "localhost/tools", None, None)]
    #[case::digest(
        "quay.io/cilium/cilium@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "quay.io/cilium/cilium",
        None,
        Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    )]
    fn normalises_as_distribution_reference(
        #[case] reference: &str,
        #[case] repository: &str,
        #[case] tag: Option<&str>,
        #[case] digest: Option<&str>,
    ) {
        let parsed = parse(reference).expect("valid reference");
        assert_eq!(parsed.repository, repository);
        assert_eq!(parsed.tag.as_deref(), tag);
        assert_eq!(parsed.digest.as_deref(), digest);
    }

    #[rstest]
    #[case::upper_case("docker.io/Library/busybox")]
    #[case::image_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    #[case::bad_digest("busybox@sha256:abc")]
    #[case::empty("")]
    #[case::double_slash("quay.io//x")]
    #[case::trailing_separator("quay.io/x-")]
    #[case::bad_tag("busybox:-x")]
    fn refuses_what_the_kubelet_refuses(#[case] reference: &str) {
        assert!(parse(reference).is_err(), "{reference}");
    }

    #[rstest]
    #[case::exact("docker.io/library/busybox", "docker.io/library/busybox", true)]
    #[case::star_segment("registry.example.com/tools/*", "registry.example.com/tools/jq", true)]
    #[case::star_not_deeper(
        "registry.example.com/tools/*",
        "registry.example.com/tools/a/b",
        false
    )]
    #[case::double_star(
        "registry.example.com/tools/**",
        "registry.example.com/tools/a/b",
        true
    )]
    #[case::double_star_needs_one(
        "registry.example.com/tools/**",
        "registry.example.com/tools",
        false
    )]
    #[case::registry_suffix("registry.example.com/**", "registry.example.com.evil.io/x", false)]
    fn globs_match_segments(#[case] pattern: &str, #[case] repository: &str, #[case] hit: bool) {
        let glob = RepositoryGlob::parse(pattern).expect("valid pattern");
        assert_eq!(glob.matches(repository), hit);
    }

    #[rstest]
    #[case::familiar("busybox")]
    #[case::hub_without_domain("library/busybox")]
    #[case::tag("docker.io/library/busybox:1.37")]
    #[case::inner_double_star("quay.io/**/x")]
    #[case::empty_segment("quay.io//x")]
    fn refuses_ambiguous_patterns(#[case] pattern: &str) {
        assert!(RepositoryGlob::parse(pattern).is_err(), "{pattern}");
    }
}
