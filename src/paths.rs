//! Lexical host path handling shared by settings and objects.
//!
//! Paths are compared segment by segment after normalisation, so
//! `/var/log` covers `/var/log/pods` but never `/var/logs`. Symlinks on the
//! node cannot be resolved here: that is why runtime sockets are listed under
//! both `/run` and `/var/run` in the default forbidden list.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Empty,
    Relative,
    ParentSegment,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::Empty => "path is empty",
            PathError::Relative => "path is not absolute",
            PathError::ParentSegment => "path contains a '..' segment",
        })
    }
}

/// Collapses `//`, drops `.` segments and a trailing `/`. Refuses empty and
/// relative paths and any `..` segment: resolving `..` lexically would be
/// wrong when a symlink precedes it, so such a path is never trusted.
pub fn normalize_absolute(path: &str) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::Relative);
    }
    let mut normalized = String::with_capacity(path.len());
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(PathError::ParentSegment),
            other => {
                normalized.push('/');
                normalized.push_str(other);
            }
        }
    }
    if normalized.is_empty() {
        normalized.push('/');
    }
    Ok(normalized)
}

/// Number of segments of a normalised path (`/` has none).
pub fn segment_count(normalized: &str) -> usize {
    normalized.split('/').filter(|s| !s.is_empty()).count()
}

/// True when `path` equals `prefix` or lies below it, segment-wise. Both
/// must be normalised.
pub fn is_within(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

/// True when mounting `path` exposes `protected`: the path is the protected
/// one, one of its parents, or lies below it.
pub fn overlaps(path: &str, protected: &str) -> bool {
    is_within(path, protected) || is_within(protected, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_redundant_spellings() {
        for spelling in [
            "/var/log",
            "/var//log",
            "/var/./log",
            "/var/log/",
            "//var/log//",
            "/./var/log/.",
        ] {
            assert_eq!(normalize_absolute(spelling).as_deref(), Ok("/var/log"));
        }
    }

    #[test]
    fn root_spellings_normalise_to_root() {
        for spelling in ["/", "//", "/./", "/."] {
            assert_eq!(normalize_absolute(spelling).as_deref(), Ok("/"));
        }
    }

    #[test]
    fn refuses_relative_empty_and_parent_segments() {
        assert_eq!(normalize_absolute(""), Err(PathError::Empty));
        assert_eq!(normalize_absolute("var/log"), Err(PathError::Relative));
        assert_eq!(normalize_absolute("./var"), Err(PathError::Relative));
        assert_eq!(
            normalize_absolute("/var/log/../../etc"),
            Err(PathError::ParentSegment)
        );
        assert_eq!(normalize_absolute("/.."), Err(PathError::ParentSegment));
    }

    #[test]
    fn dots_inside_a_name_are_not_parent_segments() {
        assert_eq!(
            normalize_absolute("/var/..log").as_deref(),
            Ok("/var/..log")
        );
        assert_eq!(normalize_absolute("/a/b.../c").as_deref(), Ok("/a/b.../c"));
    }

    #[test]
    fn within_matches_whole_segments_only() {
        assert!(is_within("/var/log", "/var/log"));
        assert!(is_within("/var/log/pods", "/var/log"));
        assert!(!is_within("/var/logs", "/var/log"));
        assert!(!is_within("/var", "/var/log"));
        assert!(is_within("/etc", "/"));
    }

    #[test]
    fn overlap_covers_parents_and_children() {
        assert!(overlaps("/var/run", "/var/run/docker.sock"));
        assert!(overlaps("/", "/run/containerd"));
        assert!(overlaps(
            "/run/containerd/containerd.sock",
            "/run/containerd"
        ));
        assert!(!overlaps("/run/containerd-shim", "/run/containerd"));
    }

    #[test]
    fn counts_segments() {
        assert_eq!(segment_count("/"), 0);
        assert_eq!(segment_count("/var/lib/kubelet"), 3);
    }
}
