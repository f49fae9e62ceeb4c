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
    /// A `..` segment once `\` is read as a separator, as a Windows node
    /// reads it.
    WindowsParentSegment,
    /// The path goes through a link the kernel (or, for `/dev/fd`, every
    /// systemd node) defines the same way everywhere: the named link.
    KernelLink(String),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Empty => f.write_str("path is empty"),
            PathError::Relative => f.write_str("path is not absolute"),
            PathError::ParentSegment => f.write_str("path contains a '..' segment"),
            PathError::WindowsParentSegment => f.write_str(
                "path contains a '..' segment once '\\' is read as a separator, as a Windows node reads it",
            ),
            PathError::KernelLink(link) => write!(
                f,
                "path goes through {link}, a link the container runtime resolves before mounting (to another process's root, files or namespaces)"
            ),
        }
    }
}

/// Entries of `/proc/<pid>/` (and `/proc/<pid>/task/<tid>/`) that are
/// magic links or folders of them: `root` and `cwd` lead to the process's
/// view of the file system (the host's `/` for PID 1), `exe` to its binary,
/// `fd/` and `map_files/` to its open files and mappings, `ns/` to its
/// namespaces (a bind mount of one is a handle to enter it). proc(5).
const PROC_PID_LINKS: &[&str] = &["root", "cwd", "exe", "fd", "map_files", "ns"];

/// Links to a `/proc/<pid>` folder chosen by whoever opens them (the
/// runtime or kubelet, when they resolve the mount source).
const PROC_SELF_LINKS: &[&str] = &["self", "thread-self"];

/// `/dev/fd` and the stdio links: symlinks into `/proc/self/fd`, created
/// by systemd (tmpfiles `static-nodes`/udev) on every systemd node.
const DEV_SELF_LINKS: &[&str] = &["fd", "stdin", "stdout", "stderr"];

fn is_pid(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit())
}

/// The kernel-defined link a normalised path goes through, if any.
///
/// containerd's CRI plugin resolves the hostPath before the bind mount
/// (`internal/cri/opts/spec_linux_opts.go`, `WithMounts`:
/// `osi.ResolveSymbolicLink(src)`), and so does CRI-O
/// (`server/container_create_linux.go`, `resolveSymbolicLink`), so
/// `/proc/1/root/etc` mounts the host's `/etc`, whatever prefix `/proc`
/// was allowed as. These links are the same on every node, so unlike
/// ordinary symlinks they can be refused statically, as `..` is.
pub fn kernel_link(normalized: &str) -> Option<String> {
    // Every link below lives under /proc/ or /dev/: most paths are ruled out
    // without splitting them.
    if !(normalized.starts_with("/proc/") || normalized.starts_with("/dev/")) {
        return None;
    }
    let segments: Vec<&str> = normalized.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["proc", link, ..] if PROC_SELF_LINKS.contains(link) => Some(format!("/proc/{link}")),
        ["proc", pid, "task", tid, entry, ..]
            if is_pid(pid) && is_pid(tid) && PROC_PID_LINKS.contains(entry) =>
        {
            Some(format!("/proc/{pid}/task/{tid}/{entry}"))
        }
        ["proc", pid, entry, ..] if is_pid(pid) && PROC_PID_LINKS.contains(entry) => {
            Some(format!("/proc/{pid}/{entry}"))
        }
        ["dev", link, ..] if DEV_SELF_LINKS.contains(link) => Some(format!("/dev/{link}")),
        _ => None,
    }
}

/// Collapses `//`, drops `.` segments and a trailing `/`. Refuses empty and
/// relative paths and any `..` segment: resolving `..` lexically would be
/// wrong when a symlink precedes it, so such a path is never trusted.
/// Refuses a `..` segment once `\` is read as `/` too: on a Windows node
/// containerd cleans the source with Go's `filepath.Clean`, for which both
/// are separators (`internal/cri/opts/spec_windows_opts.go`, `WithMounts`),
/// so `/var/log\..\..\Windows` is `\Windows` there. Refuses paths through
/// kernel-defined links ([`kernel_link`]).
pub fn normalize_absolute(path: &str) -> Result<String, PathError> {
    let normalized = normalize_lexically(path)?;
    match kernel_link(&normalized) {
        Some(link) => Err(PathError::KernelLink(link)),
        None => Ok(normalized),
    }
}

/// [`normalize_lexically`] of a path the caller owns: a canonical one is
/// taken as it is (left empty behind), without a copy; any other is left
/// in place (for the caller's message) and normalised as usual. Settings
/// prefixes, compiled on every evaluation, are nearly always canonical.
pub fn normalize_lexically_taken(path: &mut String) -> Result<String, PathError> {
    if is_canonical_absolute(path) {
        Ok(std::mem::take(path))
    } else {
        normalize_lexically(path)
    }
}

/// [`normalize_absolute`] of a path the caller owns, as
/// [`normalize_lexically_taken`].
pub fn normalize_absolute_taken(path: &mut String) -> Result<String, PathError> {
    if is_canonical_absolute(path) && kernel_link(path).is_none() {
        Ok(std::mem::take(path))
    } else {
        normalize_absolute(path)
    }
}

/// [`normalize_absolute`] without the kernel-link check: for lists of
/// forbidden paths, where naming a kernel link is harmless (such paths
/// are refused anyway).
pub fn normalize_lexically(path: &str) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::Relative);
    }
    // Most paths (every settings prefix, most hostPaths) are written
    // canonically: one scan proves it and the copy is the answer.
    if is_canonical(path.as_bytes()) {
        return Ok(path.to_string());
    }
    normalize_spelled(path)
}

/// The general case of [`normalize_lexically`], for an absolute path.
fn normalize_spelled(path: &str) -> Result<String, PathError> {
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
    if path.contains('\\') && path.split(['/', '\\']).any(|segment| segment == "..") {
        return Err(PathError::WindowsParentSegment);
    }
    Ok(normalized)
}

/// An absolute path with nothing to normalise ([`is_canonical`]).
fn is_canonical_absolute(path: &str) -> bool {
    path.starts_with('/') && is_canonical(path.as_bytes())
}

/// True when an absolute path has nothing to normalise and nothing to
/// refuse: no empty, `.` or `..` segment, no trailing `/` (but `/` itself),
/// no `\`. Anything else takes the general path of [`normalize_lexically`].
fn is_canonical(path: &[u8]) -> bool {
    if path == b"/" {
        return true;
    }
    if path.last() == Some(&b'/') {
        return false;
    }
    let mut i = 0;
    while i < path.len() {
        match path[i] {
            b'\\' => return false,
            b'/' => {
                let segment_end = |at: usize| matches!(path.get(at), None | Some(b'/'));
                match path.get(i + 1) {
                    Some(b'/') => return false,
                    Some(b'.') if segment_end(i + 2) => return false,
                    Some(b'.') if path.get(i + 2) == Some(&b'.') && segment_end(i + 3) => {
                        return false;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// Number of segments of a normalised path (`/` has none).
pub fn segment_count(normalized: &str) -> usize {
    // A segment starts at every byte other than `/` that follows a `/` or
    // opens the string (`split('/')` and its searcher were 2,000
    // instructions a call in the module).
    let bytes = normalized.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] != b'/' && (i == 0 || bytes[i - 1] == b'/'))
        .count()
}

/// True when `path` equals `prefix` or lies below it, segment-wise. Both
/// must be normalised.
///
/// Called for every allowed and forbidden prefix on every hostPath (a few
/// hundred times per DaemonSet): the length and the byte after the prefix
/// reject most pairs before the bytes are compared.
pub fn is_within(path: &str, prefix: &str) -> bool {
    let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
    if prefix == b"/" {
        return true;
    }
    match path.get(prefix.len()) {
        None if path.len() == prefix.len() => path == prefix,
        Some(b'/') => path.get(..prefix.len()) == Some(prefix),
        _ => false,
    }
}

/// True when mounting `path` exposes `protected`: the path is the protected
/// one, one of its parents, or lies below it.
pub fn overlaps(path: &str, protected: &str) -> bool {
    is_within(path, protected) || is_within(protected, path)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// The fast path accepts a spelling only when the general one leaves
    /// it as it is: every string of up to 7 bytes over `/ . a \\`.
    #[test]
    fn canonical_fast_path_agrees_with_the_general_normalisation() {
        let alphabet = [b'/', b'.', b'a', b'\\'];
        let mut spellings = vec![b"/".to_vec()];
        let mut frontier = spellings.clone();
        for _ in 0..6 {
            frontier = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |&c| [s.as_slice(), &[c]].concat()))
                .collect();
            spellings.extend(frontier.iter().cloned());
        }
        let mut canonical = 0;
        for bytes in &spellings {
            let path = std::str::from_utf8(bytes).unwrap();
            if is_canonical(bytes) {
                canonical += 1;
                assert_eq!(normalize_spelled(path).as_deref(), Ok(path), "{path:?}");
            } else if let (false, Ok(normalized)) = (path.contains('\\'), normalize_spelled(path)) {
                // (`\\` always takes the slow path: its `..` check.)
                assert_ne!(
                    normalized, path,
                    "{path:?} is canonical but took the slow path"
                );
            }
        }
        assert!(canonical > 100, "{canonical}");
    }

    #[rstest]
    #[case::canonical("/var/log", "/var/log")]
    #[case::double_slash("/var//log", "/var/log")]
    #[case::dot_segment("/var/./log", "/var/log")]
    #[case::trailing_slash("/var/log/", "/var/log")]
    #[case::slashes_around("//var/log//", "/var/log")]
    #[case::dots_around("/./var/log/.", "/var/log")]
    #[case::root("/", "/")]
    #[case::root_double_slash("//", "/")]
    #[case::root_dot_slash("/./", "/")]
    #[case::root_dot("/.", "/")]
    fn normalises_redundant_spellings(#[case] spelling: &str, #[case] normalized: &str) {
        assert_eq!(normalize_absolute(spelling).as_deref(), Ok(normalized));
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
    fn segment_count_counts_non_empty_segments() {
        for (path, count) in [
            ("/", 0),
            ("", 0),
            ("/var", 1),
            ("/var/log/pods", 3),
            ("//a//b/", 2),
            ("a/b", 2),
        ] {
            assert_eq!(segment_count(path), count, "{path}");
            assert_eq!(path.split('/').filter(|s| !s.is_empty()).count(), count);
        }
    }

    #[rstest]
    #[case("/var/log")]
    #[case("/")]
    #[case("/var//log/")]
    #[case("/var/./log")]
    #[case("/var/../etc")]
    #[case("var/log")]
    #[case("")]
    #[case("/var/log\\..\\x")]
    #[case("/proc/self/root")]
    #[case("/proc/self/root/../x")]
    #[case("/proc//self/root")]
    fn taken_normalisation_agrees_with_the_borrowed_one(#[case] path: &str) {
        let mut owned = path.to_string();
        let taken = normalize_lexically_taken(&mut owned);
        assert_eq!(taken, normalize_lexically(path));
        if taken.is_err() {
            assert_eq!(owned, path, "left in place for the message");
        }
        let mut owned = path.to_string();
        let taken = normalize_absolute_taken(&mut owned);
        assert_eq!(taken, normalize_absolute(path));
        if taken.is_err() {
            assert_eq!(owned, path, "left in place for the message");
        }
    }

    /// The byte-wise `is_within` against its definition (`strip_prefix`,
    /// then an empty rest or a `/`), over every pair of strings of up to 5
    /// bytes from `/ a b`.
    #[test]
    fn is_within_agrees_with_its_definition() {
        fn definition(path: &str, prefix: &str) -> bool {
            prefix == "/"
                || match path.strip_prefix(prefix) {
                    Some(rest) => rest.is_empty() || rest.starts_with('/'),
                    None => false,
                }
        }
        let mut words = vec![String::new()];
        let mut frontier = words.clone();
        for _ in 0..5 {
            frontier = frontier
                .iter()
                .flat_map(|w| ["/", "a", "b"].map(|c| format!("{w}{c}")))
                .collect();
            words.extend(frontier.iter().cloned());
        }
        for path in &words {
            for prefix in &words {
                assert_eq!(
                    is_within(path, prefix),
                    definition(path, prefix),
                    "{path:?} {prefix:?}"
                );
            }
        }
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

#[cfg(test)]
mod node_resolution_tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::pid1_root("/proc/1/root", "/proc/1/root")]
    #[case::pid1_root_runtime_socket("/proc/1/root/run/containerd/containerd.sock", "/proc/1/root")]
    #[case::self_root("/proc/self/root/etc", "/proc/self")]
    #[case::self_alone("/proc/self", "/proc/self")]
    #[case::thread_self("/proc/thread-self/root", "/proc/thread-self")]
    #[case::cwd("/proc/42/cwd", "/proc/42/cwd")]
    #[case::exe("/proc/42/exe", "/proc/42/exe")]
    #[case::fd("/proc/42/fd/3", "/proc/42/fd")]
    #[case::map_files("/proc/42/map_files/400000-452000", "/proc/42/map_files")]
    #[case::namespace("/proc/1/ns/net", "/proc/1/ns")]
    #[case::task_root("/proc/1/task/1/root/etc", "/proc/1/task/1/root")]
    #[case::spelled_oddly("//proc/./1//root/", "/proc/1/root")]
    #[case::dev_fd("/dev/fd/0", "/dev/fd")]
    #[case::dev_stdin("/dev/stdin", "/dev/stdin")]
    fn kernel_links_are_refused(#[case] path: &str, #[case] link: &str) {
        assert_eq!(
            normalize_absolute(path),
            Err(PathError::KernelLink(link.to_string()))
        );
    }

    #[rstest]
    #[case::proc("/proc")]
    #[case::proc_sys_net("/proc/sys/net")]
    #[case::a_pid_folder("/proc/1")]
    #[case::pid_status("/proc/1/status")]
    #[case::named_root_elsewhere("/var/lib/root")]
    #[case::not_a_pid("/proc/1a/root")]
    #[case::dev("/dev")]
    #[case::dev_char("/dev/char")]
    fn other_proc_and_dev_paths_are_plain(#[case] path: &str) {
        assert!(normalize_absolute(path).is_ok(), "{path}");
    }

    #[rstest]
    #[case::backslashes_up("/var/log\\..\\..\\Windows")]
    #[case::mixed("/var/log/x\\..\\..\\Windows")]
    #[case::trailing("/var/log\\..")]
    #[case::leading_segment("/var/..\\log")]
    fn windows_parent_segments_are_refused(#[case] path: &str) {
        assert_eq!(
            normalize_absolute(path),
            Err(PathError::WindowsParentSegment)
        );
    }

    #[rstest]
    #[case::backslash_in_a_name("/var/log/a\\b")]
    #[case::dots_in_a_name("/var/log\\..x")]
    fn other_backslashes_are_names(#[case] path: &str) {
        assert!(normalize_absolute(path).is_ok(), "{path}");
    }
}
