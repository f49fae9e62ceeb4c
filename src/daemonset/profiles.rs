//! `daemonSets.profiles`: named rule sets for the node agents a platform
//! team runs. The first profile in list order whose `match` holds judges a
//! DaemonSet; a DaemonSet no profile matches meets the baseline (the
//! top-level `daemonSets` rules) exactly as without profiles.
//!
//! Each request reads only `name` and `match` of every profile: the rule
//! sections stay raw JSON until their profile matches, and only then are
//! parsed and compiled. `validate_settings` compiles every one, so an
//! evaluation never meets a body that failed validation.
//!
//! A rule section a profile leaves out is the baseline's; a section it sets
//! replaces the baseline's whole, with the section's own secure defaults for
//! the fields it leaves out (so `forbidden` is the runtime sockets again,
//! not the baseline's list).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::host_paths::HostPathRules;
use super::tolerations::TolerationRules;
use super::{CONTAINER_LISTS, Edit};
use crate::drivers::DriverRules;
use crate::exemptions::Requester;
use crate::glob::{DriverGlob, glob_match};
use crate::json_in;
use crate::json_path::{Entry, Field};
use crate::read_struct;
use crate::settings::{CsiDriverSettings, HostPathSettings, Mode, TolerationSettings};
use crate::settings_errors::SettingErrors;
use crate::settings_reader::{Read, ReadJson, Reader, read_all};
use crate::violation::{Findings, Violation};

/// A rule section kept as the JSON the settings spelled (skipped by its
/// brackets, not parsed, until its profile matches).
#[derive(Debug, Clone, PartialEq)]
pub struct RawSection(Box<str>);

impl ReadJson for RawSection {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        reader.skip().map(|raw| Self(raw.into()))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSettings {
    pub name: String,
    pub matches: ProfileMatch,
    /// Absent: the baseline's mode.
    pub mode: Option<Mode>,
    /// A `HostPathSettings`; absent: the baseline's.
    pub host_paths: Option<RawSection>,
    /// A `TolerationSettings`; absent: the baseline's.
    pub tolerations: Option<RawSection>,
    /// Absent: the baseline's.
    pub allow_node_name: Option<bool>,
    /// Driver globs for inline CSI volumes; absent: `csiDrivers.allowed`.
    pub inline_csi_drivers: Option<Vec<String>>,
}

read_struct!(ProfileSettings, "ProfileSettings", {
    name: "name",
    matches: "match",
    mode: "mode",
    host_paths: "hostPaths",
    tolerations: "tolerations",
    allow_node_name: "allowNodeName",
    inline_csi_drivers: "inlineCsiDrivers",
});

/// Every field set must match; an unset field matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileMatch {
    pub namespaces: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    /// `spec.template.spec.serviceAccountName`.
    pub service_account_names: Option<Vec<String>>,
    /// The requester: `users`, `groups` and `serviceAccounts` form one
    /// condition, met when any entry of the three matches.
    pub users: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub service_accounts: Option<Vec<String>>,
    pub images: Option<Vec<ImagePattern>>,
}

read_struct!(ProfileMatch, "ProfileMatch", {
    namespaces: "namespaces",
    names: "names",
    service_account_names: "serviceAccountNames",
    users: "users",
    groups: "groups",
    service_accounts: "serviceAccounts",
    images: "images",
});

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImagePattern {
    /// A normalised repository (`docker.io/library/nginx`), `*` standing
    /// for one or more characters within one `/` component and one `.` label.
    pub repository: String,
    /// The image must name a digest (`@sha256:...`).
    pub require_digest: bool,
}

read_struct!(ImagePattern, "ImagePattern", {
    repository: "repository",
    require_digest: "requireDigest",
});

#[derive(Debug, Clone, PartialEq)]
struct ImageRule {
    pattern: String,
    require_digest: bool,
}

/// What a profile matches, compiled.
#[derive(Debug, Clone, PartialEq, Default)]
struct Matcher {
    namespaces: Option<Vec<DriverGlob>>,
    names: Option<Vec<DriverGlob>>,
    service_account_names: Option<Vec<DriverGlob>>,
    /// Usernames: `users` and the `serviceAccounts` as the API server names
    /// them (`system:serviceaccount:<namespace>:<name>`).
    usernames: Vec<String>,
    groups: Vec<String>,
    requester_set: bool,
    images: Option<Vec<ImageRule>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// Its index in `daemonSets.profiles` (the path is rendered only for a
    /// message: [`Profile::path`]).
    pub index: usize,
    matcher: Matcher,
    mode: Option<Mode>,
    allow_node_name: Option<bool>,
    host_paths: Option<RawSection>,
    tolerations: Option<RawSection>,
    inline_csi_drivers: Option<Vec<String>>,
}

/// A matched profile's sections, compiled; `None` is the baseline's.
#[derive(Debug, Default)]
pub struct ProfileRules {
    pub mode: Option<Mode>,
    pub host_paths: Option<HostPathRules>,
    pub tolerations: Option<TolerationRules>,
    pub allow_node_name: Option<bool>,
    pub inline_csi: Option<DriverRules>,
}

const BASE: &str = "daemonSets.profiles";

/// A profile as the settings spell it, read only when a DaemonSet could
/// match it ([`select`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RawProfile {
    index: usize,
    json: ProfileText,
}

/// A profile's JSON, read by [`RawProfile::load`] when it could match.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileText {
    json: Box<str>,
}

impl ReadJson for ProfileText {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        // Passed over by its brackets: `validate_settings` reads each
        // profile whole (`validate_all`), refusing unknown and repeated
        // fields, so policy-server never runs with them.
        if !reader.peek_is_object() {
            return Err(reader.invalid_type("struct ProfileSettings"));
        }
        Ok(Self {
            json: reader.skip()?.into(),
        })
    }
}

/// `daemonSets.profiles` as the settings spell it: the list's text, kept
/// whole, and where each profile and its `match` lie in it. Reading the
/// settings walks the list once, lightly ([`walk_profiles`]): each
/// profile's members up to `match` by name, `match` and the rest of the
/// profile passed over by their brackets, eight bytes at a time. An
/// evaluation then reads the `match` of each profile until one could
/// match, and parses only that profile: 20 profiles cost one pass over
/// their text, not a settings read of each.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilesText {
    json: Box<str>,
    /// `None` when the light walk could not read the list exactly (an
    /// escape in a member name, a profile that is not an object): the
    /// settings reader's path reads it then ([`select_read`]).
    spans: Option<Vec<ProfileSpan>>,
}

/// No profiles (the setting left out).
impl Default for ProfilesText {
    fn default() -> Self {
        Self {
            json: Box::default(),
            spans: Some(Vec::new()),
        }
    }
}

/// Byte ranges in [`ProfilesText::json`].
#[derive(Debug, Clone, PartialEq)]
struct ProfileSpan {
    profile: (usize, usize),
    /// Where the profile's `match` value starts.
    matches: Option<usize>,
}

impl ReadJson for ProfilesText {
    fn read(reader: &mut Reader<'_>) -> Read<Self> {
        if reader.peek_is_array() {
            if let Some((json, spans)) = reader.walk_with(walk_profiles) {
                // `[]` is the setting left out (and equal to it).
                if spans.is_empty() {
                    return Ok(Self::default());
                }
                return Ok(Self {
                    json: json.into(),
                    spans: Some(spans),
                });
            }
            return Ok(Self {
                json: reader.skip()?.into(),
                spans: None,
            });
        }
        // Not a list: the list's reader refuses it in serde's words.
        Vec::<ProfileText>::read(reader).map(|_| Self::default())
    }
}

/// Walks the list at `start` of `bytes`: the end of the list and each
/// profile's span and `match` span, relative to `start`. The members
/// before `match` are passed over one by one (names compared, values by
/// their brackets); once `match` is found the rest of the profile is
/// passed over in one scan, so a repeated `match` is not seen here
/// (`validate_settings` refuses it: policy-server never runs with it).
/// `None` for anything else than a list of objects with plain member
/// names.
fn walk_profiles(bytes: &[u8], start: usize) -> Option<(usize, Vec<ProfileSpan>)> {
    let mut parser = json_in::Parser::new(bytes, start);
    let mut spans = Vec::new();
    parser.eat(b'[')?;
    if parser.peek()? == b']' {
        parser.eat(b']')?;
        return Some((parser.position(), spans));
    }
    loop {
        parser.peek()?;
        let profile_start = parser.position() - start;
        let mut matches = None;
        parser.eat(b'{')?;
        if parser.peek()? == b'}' {
            parser.eat(b'}')?;
        } else {
            loop {
                if parser.member_name()? == "match" {
                    // Only where `match` starts: [`could_match_at`] stops
                    // at its end, and the rest of the profile, `match`
                    // included, is passed over in one scan.
                    parser.peek()?;
                    matches = Some(parser.position() - start);
                    parser.skip_rest_checked()?;
                    break;
                }
                parser.skip_checked()?;
                match parser.peek()? {
                    b',' => parser.eat(b',')?,
                    b'}' => {
                        parser.eat(b'}')?;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        spans.push(ProfileSpan {
            profile: (profile_start, parser.position() - start),
            matches,
        });
        match parser.peek()? {
            b',' => parser.eat(b',')?,
            b']' => {
                parser.eat(b']')?;
                return Some((parser.position(), spans));
            }
            _ => return None,
        }
    }
}

impl ProfilesText {
    /// No profile: absent, or `[]`. A list the walk could not read is not
    /// empty: the walk reads every empty list (`[]`, with or without
    /// whitespace), and one it could not read is left to [`select_read`].
    pub fn is_empty(&self) -> bool {
        self.spans.as_ref().is_some_and(Vec::is_empty)
    }

    /// Each profile's text, read by the settings reader (paths and words
    /// as `validate_settings` gives them).
    fn items(&self) -> Result<Vec<ProfileText>, crate::settings_reader::ReadError> {
        if self.json.is_empty() {
            return Ok(Vec::new());
        }
        read_all(&self.json, BASE)
    }
}

/// The profiles of an evaluation, kept raw: each request reads only the
/// `match.namespaces` and `match.names` of each profile until one could
/// match, and parses and compiles only that one. With `full`
/// (validate_settings) every profile is parsed and compiled, bodies
/// included, and profiles that provably overlap are refused.
pub fn compile(settings: ProfilesText, full: bool, errors: &mut SettingErrors) -> ProfilesText {
    if full {
        match settings.items() {
            Ok(items) => {
                let raw: Vec<RawProfile> = items
                    .into_iter()
                    .enumerate()
                    .map(|(index, json)| RawProfile { index, json })
                    .collect();
                validate_all(&raw, errors);
            }
            Err(e) => errors.add(e.path, e.reason),
        }
    }
    settings
}

/// The first profile whose shape (fields and their types, bodies aside)
/// does not fit, as `path: reason`.
pub fn check_shape(profiles: &ProfilesText) -> Result<(), String> {
    let items = profiles.items().map_err(|e| e.to_string())?;
    for (index, raw) in items.iter().enumerate() {
        let path = format!("{BASE}[{index}]");
        read_all::<ProfileSettings>(&raw.json, &path).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn validate_all(raw: &[RawProfile], errors: &mut SettingErrors) {
    let mut profiles: Vec<Profile> = Vec::with_capacity(raw.len());
    let mut names = HashSet::new();
    for entry in raw {
        let path = Entry {
            base: &BASE,
            index: entry.index,
        };
        let settings: ProfileSettings = match read_all(&entry.json.json, &path.to_string()) {
            Ok(settings) => settings,
            Err(e) => {
                errors.add(e.path, e.reason);
                continue;
            }
        };
        check_name(&settings.name, &path, &mut names, errors);
        let profile = build(entry.index, settings, errors);
        profile.compile_body(errors);
        for earlier in &profiles {
            if earlier.matcher.provably_overlaps(&profile.matcher) {
                errors.add(
                    format!("{}.match", profile.path()),
                    format!(
                        "a DaemonSet can match both this profile and {} ({}): give them disjoint namespaces, names, serviceAccountNames or requesters",
                        earlier.path(),
                        earlier.name
                    ),
                );
            }
        }
        profiles.push(profile);
    }
}

/// A profile's matcher compiled; its body stays raw.
fn build(index: usize, p: ProfileSettings, errors: &mut SettingErrors) -> Profile {
    let path = Entry { base: &BASE, index };
    let matcher = compile_match(
        &p.matches,
        &Field {
            base: &path,
            name: "match",
        },
        errors,
    );
    Profile {
        name: p.name,
        index,
        matcher,
        mode: p.mode,
        allow_node_name: p.allow_node_name,
        host_paths: p.host_paths,
        tolerations: p.tolerations,
        inline_csi_drivers: p.inline_csi_drivers,
    }
}

/// Reads the `match` object at the cursor: `Some(false)` as soon as its
/// `namespaces` or `names` rule the subject out, `Some(true)` when they do
/// not; no list is built, no glob compiled, and the other members are
/// passed over unread (`validate_settings` refuses unknown and repeated
/// members, so policy-server never runs with them). `None` for a
/// `namespaces` or `names` it cannot read as the settings reader would (an
/// escape in a pattern, a type the reader refuses, the member repeated):
/// [`select_walked`] then leaves the whole selection to [`select_read`].
fn could_match_at(parser: &mut json_in::Parser<'_>, who: &Requester<'_>) -> Option<bool> {
    let mut seen = 0u64;
    let mut ruled_out = false;
    let read = parser.members(&mut |p, key| {
        let (bit, subject) = match key {
            "namespaces" => (1, who.namespace),
            "names" => (2, who.name),
            _ => return p.skip_checked(),
        };
        json_in::first_time(&mut seen, bit)?;
        if p.peek()? == b'n' {
            return p.skip().map(drop);
        }
        let mut hit = false;
        p.plain_strings(&mut |pattern| {
            hit = hit || glob_match(pattern.as_bytes(), subject.as_bytes());
        })?;
        // Ruled out: the rest of `match` need not be read (stopping the
        // walk here is not a failure to read it).
        ruled_out = !hit;
        (!ruled_out).then_some(())
    });
    if ruled_out {
        return Some(false);
    }
    read.map(|()| true)
}

impl RawProfile {
    /// The profile parsed, its matcher compiled; the settings problem as
    /// `validate_settings` words it.
    fn load(&self) -> Result<Profile, String> {
        let path = format!("{BASE}[{}]", self.index);
        let settings: ProfileSettings =
            read_all(&self.json.json, &path).map_err(|e| e.to_string())?;
        let mut errors = SettingErrors::default();
        let profile = build(self.index, settings, &mut errors);
        if errors.is_empty() {
            Ok(profile)
        } else {
            Err(errors.into_vec().join("; "))
        }
    }
}

fn check_name(
    name: &str,
    path: &dyn std::fmt::Display,
    names: &mut HashSet<String>,
    errors: &mut SettingErrors,
) {
    if !valid_name(name) {
        errors.add(
            format_args!("{path}.name"),
            format!(
                "{name:?} is not a profile name (a lowercase DNS label: a-z, 0-9, '-', at most 63)"
            ),
        );
    } else if !names.insert(name.to_string()) {
        errors.add(
            format_args!("{path}.name"),
            format!("{name} is already the name of another profile"),
        );
    }
}

fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn name_globs(
    list: &Option<Vec<String>>,
    path: &dyn std::fmt::Display,
    errors: &mut SettingErrors,
) -> Option<Vec<DriverGlob>> {
    let list = list.as_ref()?;
    if list.is_empty() {
        errors.add(
            path,
            "an empty list matches nothing: leave it out or name an entry",
        );
    }
    Some(
        list.iter()
            .enumerate()
            .filter_map(|(i, p)| {
                errors.parsed(
                    format_args!("{path}[{i}]"),
                    p,
                    DriverGlob::parse(p)
                        .map_err(|e| crate::words::replace(&e, "driver pattern", "pattern")),
                )
            })
            .collect(),
    )
}

fn exact_list<'a>(
    list: &'a Option<Vec<String>>,
    path: &dyn std::fmt::Display,
    errors: &mut SettingErrors,
) -> &'a [String] {
    let Some(list) = list else {
        return &[];
    };
    if list.is_empty() {
        errors.add(
            path,
            "an empty list matches nothing: leave it out or name an entry",
        );
    }
    for (i, e) in list.iter().enumerate() {
        if e.trim().is_empty() {
            errors.add(format!("{path}[{i}]"), "empty entry");
        }
    }
    list
}

fn compile_match(
    m: &ProfileMatch,
    path: &dyn std::fmt::Display,
    errors: &mut SettingErrors,
) -> Matcher {
    let at = |name| Field { base: path, name };
    let mut usernames: Vec<String> = exact_list(&m.users, &at("users"), errors).to_vec();
    for (i, sa) in exact_list(&m.service_accounts, &at("serviceAccounts"), errors)
        .iter()
        .enumerate()
    {
        match sa.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                usernames.push(format!("system:serviceaccount:{ns}:{name}"));
            }
            _ => errors.add(
                format!("{path}.serviceAccounts[{i}]"),
                format!("{sa:?} must be namespace/name"),
            ),
        }
    }
    let groups = exact_list(&m.groups, &at("groups"), errors).to_vec();
    let images = m.images.as_ref().map(|list| {
        if list.is_empty() {
            errors.add(
                format!("{path}.images"),
                "an empty list matches nothing: leave it out or name an entry",
            );
        }
        list.iter()
            .enumerate()
            .filter_map(|(i, image)| {
                errors
                    .parsed(
                        format_args!("{path}.images[{i}].repository"),
                        &image.repository,
                        repository_pattern(&image.repository),
                    )
                    .map(|pattern| ImageRule {
                        pattern,
                        require_digest: image.require_digest,
                    })
            })
            .collect()
    });
    let matcher = Matcher {
        namespaces: name_globs(&m.namespaces, &at("namespaces"), errors),
        names: name_globs(&m.names, &at("names"), errors),
        service_account_names: name_globs(
            &m.service_account_names,
            &at("serviceAccountNames"),
            errors,
        ),
        requester_set: m.users.is_some() || m.groups.is_some() || m.service_accounts.is_some(),
        usernames,
        groups,
        images,
    };
    if matcher.namespaces.is_none()
        && matcher.names.is_none()
        && matcher.service_account_names.is_none()
        && !matcher.requester_set
        && matcher.images.is_none()
    {
        errors.add(
            path,
            "a profile must match on something (namespaces, names, serviceAccountNames, users, groups, serviceAccounts or images)",
        );
    }
    matcher
}

/// A repository pattern in the normalised form the container runtime
/// compares (see [`normalised_repository`]): a registry domain first, then
/// lowercase path components, no tag and no digest.
fn repository_pattern(pattern: &str) -> Result<String, String> {
    let Some((domain, path)) = pattern.split_once('/') else {
        return Err("write the registry and repository (docker.io/library/nginx)".into());
    };
    if !(domain.contains(['.', ':']) || domain == "localhost") {
        return Err(format!(
            "{domain} is not a registry domain: write the normalised repository (docker.io/{pattern})"
        ));
    }
    if domain == "index.docker.io" {
        return Err(format!("write docker.io/{path}, as images are normalised"));
    }
    if domain == "docker.io" && !path.contains('/') {
        return Err(format!(
            "write docker.io/library/{path}, as images are normalised"
        ));
    }
    if pattern.contains('@') || path.contains(':') {
        return Err("a repository has no tag or digest (set requireDigest for digests)".into());
    }
    if crate::words::contains(pattern, "**") {
        return Err("'**' is not supported: '*' stays within one component".into());
    }
    let valid_domain = domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'));
    let valid_path = path.split('/').all(|c| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-' | b'*')
            })
    });
    if !valid_domain || !valid_path || domain.split('.').any(str::is_empty) {
        return Err("not a repository: a domain, then lowercase components of a-z, 0-9, '.', '_', '-' or '*'".into());
    }
    Ok(pattern.to_string())
}

/// The repository an image reference pulls, normalised as the container
/// runtime reads it, and whether it names a digest. distribution/reference
/// `normalize.go` (`ParseNormalizedNamed`, `splitDockerDomain`), which
/// containerd's CRI plugin (`reference/docker.ParseDockerRef`) and kubelet
/// (`pkg/kubelet/images/image_manager.go`, `applyDefaultImageTag`) use: the
/// first component is a registry only when it holds a `.` or `:`, is
/// `localhost` or has an uppercase letter, else the image is on `docker.io`;
/// `index.docker.io` is `docker.io`; a one-component Docker Hub name is
/// under `library/`. The tag (a `:` after the last `/`) and digest (`@`)
/// are not part of the repository. A reference that does not parse matches
/// no pattern (kubelet refuses it: `InvalidImageName`).
pub fn normalised_repository(image: &str) -> Option<(String, bool)> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !valid_digest(d)) {
        return None;
    }
    let name = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => {
            let tag = &name[i + 1..];
            let tag_ok = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !tag_ok {
                return None;
            }
            &name[..i]
        }
        _ => name,
    };
    let (domain, path) = match name.split_once('/') {
        Some((d, p))
            if d.contains(['.', ':'])
                || d == "localhost"
                || d.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (d, p)
        }
        _ => ("docker.io", name),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let valid_path = path.split('/').all(|c| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
    });
    if !valid_path || domain.is_empty() {
        return None;
    }
    let repository = if domain == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{domain}/{path}")
    };
    Some((repository, digest.is_some()))
}

/// go-digest's `Validate` for the algorithms it registers: lowercase hex of
/// the algorithm's length.
fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn repository_matches(pattern: &str, repository: &str) -> bool {
    let mut p = pattern.split('/');
    let mut r = repository.split('/');
    loop {
        match (p.next(), r.next()) {
            (Some(p), Some(r)) if glob_match(p.as_bytes(), r.as_bytes()) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl ImageRule {
    fn matches(&self, image: &str) -> bool {
        normalised_repository(image).is_some_and(|(repository, digest)| {
            (digest || !self.require_digest) && repository_matches(&self.pattern, &repository)
        })
    }
}

/// What a profile is matched against.
pub struct Subject<'a> {
    pub who: &'a Requester<'a>,
    pub service_account: &'a str,
    pub images: Vec<&'a str>,
}

impl<'a> Subject<'a> {
    pub fn of(pod_spec: Option<&'a Map<String, Value>>, who: &'a Requester<'a>) -> Self {
        let text = |key: &str| {
            pod_spec
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        // The API server reads the deprecated `serviceAccount` when
        // `serviceAccountName` is empty (pkg/apis/core/v1/conversion.go,
        // `Convert_v1_PodSpec_To_core_PodSpec`), and the ServiceAccount
        // admission plugin gives a pod without either `default`.
        let service_account = text("serviceAccountName")
            .or_else(|| text("serviceAccount"))
            .unwrap_or("default");
        let images = pod_spec
            .map(|p| {
                CONTAINER_LISTS
                    .iter()
                    .filter_map(|list| p.get(*list).and_then(Value::as_array))
                    .flatten()
                    .filter_map(|c| c.get("image").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            who,
            service_account,
            images,
        }
    }
}

fn any_glob(globs: &Option<Vec<DriverGlob>>, value: &str) -> bool {
    globs
        .as_ref()
        .is_none_or(|g| g.iter().any(|g| g.matches(value)))
}

impl Matcher {
    fn matches(&self, s: &Subject<'_>) -> bool {
        any_glob(&self.namespaces, s.who.namespace)
            && any_glob(&self.names, s.who.name)
            && any_glob(&self.service_account_names, s.service_account)
            && (!self.requester_set
                || self.usernames.iter().any(|u| u == s.who.username)
                || self.groups.iter().any(|g| s.who.groups.contains(g)))
            && self
                .images
                .as_ref()
                .is_none_or(|rules| s.images.iter().any(|i| rules.iter().any(|r| r.matches(i))))
    }

    fn image_matches(&self, image: &str) -> bool {
        self.images
            .as_ref()
            .is_none_or(|rules| rules.iter().any(|r| r.matches(image)))
    }

    /// True when some DaemonSet and request certainly match both. Images
    /// never separate two profiles: one DaemonSet can hold a container of
    /// each. Glob against glob is not decided (the first in list order wins).
    fn provably_overlaps(&self, other: &Self) -> bool {
        fn globs(a: &Option<Vec<DriverGlob>>, b: &Option<Vec<DriverGlob>>) -> bool {
            let (Some(a), Some(b)) = (a, b) else {
                return true;
            };
            let hit = |x: &[DriverGlob], y: &[DriverGlob]| {
                x.iter()
                    .filter(|g| g.is_literal())
                    .any(|l| y.iter().any(|g| g.matches(&l.to_string())))
            };
            hit(a, b) || hit(b, a)
        }
        let requesters = !self.requester_set
            || !other.requester_set
            // A request carries one username but any groups.
            || !self.groups.is_empty()
            || !other.groups.is_empty()
            || self.usernames.iter().any(|u| other.usernames.contains(u));
        globs(&self.namespaces, &other.namespaces)
            && globs(&self.names, &other.names)
            && globs(&self.service_account_names, &other.service_account_names)
            && requesters
    }
}

/// A section read from its raw JSON, errors located under `path`.
fn parse_section<T: ReadJson>(
    raw: &RawSection,
    path: &str,
    errors: &mut SettingErrors,
) -> Option<T> {
    match read_all(&raw.0, path) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            errors.add(e.path, e.reason);
            None
        }
    }
}

/// The errors a section compiler reported under its baseline path, moved
/// under the profile's.
fn relocate(compiled: SettingErrors, from: &str, to: &str, errors: &mut SettingErrors) {
    for message in compiled.into_vec() {
        let message = crate::words::replace(&message, from, to);
        let (at, reason) = crate::words::split_once(&message, ": ").unwrap_or((to, &message));
        errors.add(at, reason);
    }
}

impl Profile {
    /// `daemonSets.profiles[i]`.
    pub fn path(&self) -> String {
        format!("{BASE}[{}]", self.index)
    }

    /// Parses and compiles the profile's rule sections.
    pub fn compile_body(&self, errors: &mut SettingErrors) -> ProfileRules {
        let path = &self.path();
        let host_paths = self.host_paths.as_ref().and_then(|raw| {
            let to = format!("{path}.hostPaths");
            let settings: HostPathSettings = parse_section(raw, &to, errors)?;
            let mut own = SettingErrors::default();
            let rules = HostPathRules::compile_with(settings, true, &mut own);
            relocate(own, "daemonSets.hostPaths", &to, errors);
            Some(rules)
        });
        let tolerations = self.tolerations.as_ref().and_then(|raw| {
            let to = format!("{path}.tolerations");
            let settings: TolerationSettings = parse_section(raw, &to, errors)?;
            let mut own = SettingErrors::default();
            let rules = TolerationRules::compile(settings, &mut own);
            relocate(own, "daemonSets.tolerations", &to, errors);
            Some(rules)
        });
        let inline_csi = self.inline_csi_drivers.as_ref().map(|allowed| {
            let to = format!("{path}.inlineCsiDrivers");
            let settings = CsiDriverSettings {
                allowed: Some(allowed.clone()),
                ..CsiDriverSettings::default()
            };
            let mut own = SettingErrors::default();
            let rules = DriverRules::compile(&settings, &mut own);
            relocate(own, crate::rules::CSI_DRIVERS_ALLOWED, &to, errors);
            rules
        });
        ProfileRules {
            mode: self.mode,
            host_paths,
            tolerations,
            allow_node_name: self.allow_node_name,
            inline_csi,
        }
    }

    /// The matched profile's rules, or the settings problem as the message
    /// `validate_settings` would give.
    pub fn rules(&self) -> Result<ProfileRules, String> {
        let mut errors = SettingErrors::default();
        let rules = self.compile_body(&mut errors);
        if errors.is_empty() {
            Ok(rules)
        } else {
            Err(errors.into_vec().join("; "))
        }
    }

    /// True when the profile names images and owns its hostPath rules: its
    /// grants then reach only the containers of those images.
    pub fn binds_images(&self) -> bool {
        self.matcher.images.is_some() && self.host_paths.is_some()
    }

    /// True when the profile's grants reach a container of `image` (every
    /// image when the profile names none).
    pub fn grants_image(&self, image: &str) -> bool {
        self.matcher.image_matches(image)
    }
}

/// The first profile, in list order, whose match holds, parsed and its
/// matcher compiled; `Err` when a profile that could match has invalid
/// settings (validate_settings refuses them, so policy-server never runs
/// with them).
pub fn select(profiles: &ProfilesText, subject: &Subject<'_>) -> Result<Option<Profile>, String> {
    match select_walked(profiles, subject) {
        Some(selected) => selected,
        None => select_read(profiles, subject),
    }
}

/// [`select`] over the spans found when the settings were read: each
/// profile's `match` read with the lean cursor until one could match.
/// `None` (nothing decided) when the list was not walked, or a `match`
/// could not be read exactly: [`select_read`] then decides, reading the
/// list as the settings reader does. On settings `validate_settings`
/// accepts (every profile loads) both choose the same profile: the first,
/// in list order, whose match holds.
fn select_walked(
    profiles: &ProfilesText,
    subject: &Subject<'_>,
) -> Option<Result<Option<Profile>, String>> {
    let text = &*profiles.json;
    for (index, span) in profiles.spans.as_ref()?.iter().enumerate() {
        if let Some(start) = span.matches {
            let mut parser = json_in::Parser::new(text.as_bytes().get(..span.profile.1)?, start);
            if !could_match_at(&mut parser, subject.who)? {
                continue;
            }
        }
        let raw = RawProfile {
            index,
            json: ProfileText {
                json: text.get(span.profile.0..span.profile.1)?.into(),
            },
        };
        match raw.load() {
            Err(e) => return Some(Err(e)),
            Ok(profile) if profile.matcher.matches(subject) => return Some(Ok(Some(profile))),
            Ok(_) => {}
        }
    }
    Some(Ok(None))
}

/// [`select`] over the profiles as the settings reader reads them: each
/// loaded in turn (settings `validate_settings` accepted load, so this
/// loads nothing [`select_walked`] would not have matched first).
fn select_read(profiles: &ProfilesText, subject: &Subject<'_>) -> Result<Option<Profile>, String> {
    let items = profiles.items().map_err(|e| e.to_string())?;
    for (index, json) in items.into_iter().enumerate() {
        let profile = RawProfile { index, json }.load()?;
        if profile.matcher.matches(subject) {
            return Ok(Some(profile));
        }
    }
    Ok(None)
}

/// The hostPath rules of a profile that names images: the mounts of the
/// containers whose image matches are judged by the profile's rules, those
/// of every other container by the baseline's. Each set of rules judges a
/// view of the pod spec holding only its containers (the others emptied,
/// in place, so indices and paths stay those of the object) and the
/// volumes they mount (a volume no container mounts belongs to the
/// profile).
pub fn check_bound_host_paths(
    pod_spec: &Map<String, Value>,
    profile: &Profile,
    granted: &HostPathRules,
    baseline: &HostPathRules,
    findings: &mut Findings,
    edits: &mut Vec<Edit>,
) {
    // Few names per pod: a list is smaller code than a set.
    let mut granted_mounts: Vec<&str> = Vec::new();
    let mut baseline_mounts: Vec<&str> = Vec::new();
    let granted_image =
        |image: Option<&str>| image.is_some_and(|i| profile.matcher.image_matches(i));
    for list in CONTAINER_LISTS {
        for container in pod_spec
            .get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let granted = granted_image(container.get("image").and_then(Value::as_str));
            let target = if granted {
                &mut granted_mounts
            } else {
                &mut baseline_mounts
            };
            let mounts = container.get("volumeMounts").and_then(Value::as_array);
            target.extend(
                mounts
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("name")?.as_str()),
            );
        }
    }
    let granted_view = view(pod_spec, &granted_image, &|name| {
        granted_mounts.contains(&name) || !baseline_mounts.contains(&name)
    });
    super::host_paths::check(&granted_view, granted, findings, edits);
    if baseline_mounts.is_empty() {
        return;
    }
    let outside_image = |image: Option<&str>| !granted_image(image);
    let baseline_view = view(pod_spec, &outside_image, &|name| {
        baseline_mounts.contains(&name)
    });
    let mut outside = Findings::default();
    super::host_paths::check(&baseline_view, baseline, &mut outside, edits);
    let Findings {
        violations,
        mutation_notes,
    } = outside;
    for v in violations {
        if findings.violations.contains(&v) {
            continue;
        }
        let reason = format!(
            "{} (baseline rules: a container whose image profile {} does not name mounts it)",
            v.reason, profile.name
        );
        findings.push(Violation::new(v.path, v.value, v.rule, reason));
    }
    for note in mutation_notes {
        findings.note(note);
    }
}

/// The containers and volumes of a pod spec one set of rules judges: the
/// other containers are replaced by `{}` and the other volumes by their
/// name alone, so nothing of theirs is judged and every index stays.
fn view(
    pod_spec: &Map<String, Value>,
    keep_container: &dyn Fn(Option<&str>) -> bool,
    keep_volume: &dyn Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut view = Map::new();
    for list in CONTAINER_LISTS {
        let Some(value) = pod_spec.get(*list) else {
            continue;
        };
        let value = match value {
            Value::Array(containers) => Value::Array(
                containers
                    .iter()
                    .map(|c| match c {
                        Value::Object(map)
                            if !keep_container(map.get("image").and_then(Value::as_str)) =>
                        {
                            Value::Object(Map::new())
                        }
                        other => other.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        view.insert((*list).to_string(), value);
    }
    if let Some(value) = pod_spec.get("volumes") {
        let value = match value {
            Value::Array(volumes) => Value::Array(
                volumes
                    .iter()
                    .map(|v| match v.get("name") {
                        Some(Value::String(name)) if !keep_volume(name) => {
                            let mut only_name = Map::new();
                            only_name.insert("name".into(), Value::String(name.clone()));
                            Value::Object(only_name)
                        }
                        _ => v.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        view.insert("volumes".into(), value);
    }
    view
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::{Value, json};

    use super::normalised_repository;
    use crate::test_support::*;

    fn node_exporter_profile() -> Value {
        json!({
            "name": "node-exporter",
            "match": {
                "namespaces": ["monitoring"],
                "serviceAccountNames": ["kube-prometheus-stack-prometheus-node-exporter"],
                "images": [{"repository": "quay.io/prometheus/node-exporter"}]
            },
            "hostPaths": {
                "forbidden": [],
                "allowed": [
                    {"pathPrefix": "/", "readOnly": true, "types": [""], "allowHostToContainer": true},
                    {"pathPrefix": "/proc", "readOnly": true, "types": [""]},
                    {"pathPrefix": "/sys", "readOnly": true, "types": [""]}
                ]
            },
            "tolerations": {"allowWildcard": true}
        })
    }

    fn fluent_bit_profile() -> Value {
        json!({
            "name": "fluent-bit",
            "match": {"namespaces": ["logging"], "names": ["fluent-bit"],
                      "images": [{"repository": "cr.fluentbit.io/fluent/fluent-bit"}]},
            "hostPaths": {"allowed": [
                {"pathPrefix": "/var/log", "readOnly": true},
                {"pathPrefix": "/var/lib/docker/containers", "readOnly": true},
                {"pathPrefix": "/etc/machine-id", "readOnly": true, "types": ["File"]}
            ]}
        })
    }

    fn with_profiles(profiles: Value) -> Value {
        json!({"daemonSets": {"profiles": profiles}})
    }

    /// `json` as the settings reader reads `daemonSets.profiles`.
    fn profiles_text(json: &str) -> super::ProfilesText {
        if json.trim().is_empty() {
            return super::ProfilesText::default();
        }
        crate::settings_reader::read_all(json, super::BASE).expect("a list")
    }

    /// The light walk made when the settings are read decides plain lists
    /// itself, and whatever it decides is what the settings reader's path
    /// decides; texts it cannot walk exactly are left to that path.
    #[test]
    fn walked_selection_is_the_readers() {
        use super::{Subject, select_read, select_walked};
        use crate::exemptions::Requester;
        let plain = json!([node_exporter_profile(), fluent_bit_profile()]).to_string();
        let pretty = serde_json::to_string_pretty(&json!([
            fluent_bit_profile(),
            {"name": "other", "match": {"namespaces": ["logging"], "names": ["x-*"]}},
            node_exporter_profile()
        ]))
        .unwrap();
        let match_last = r#"[{"name":"a","hostPaths":{"allowed":[{"pathPrefix":"/var/log"}]},"match":{"namespaces":["logging"]}}]"#;
        let no_match_member = json!([{"name": "all", "hostPaths": {"allowed": []}}]).to_string();
        let walked = [
            plain.as_str(),
            &pretty,
            match_last,
            &no_match_member,
            "[]",
            " [ ] ",
            "",
        ];
        let left_to_the_reader = [
            r#"[{"name":"a","m\u0061tch":{"namespaces":["logging"]}}]"#,
            r#"[{"name":"a","match":null}]"#,
            r#"[{"name":"a","match":{"namespaces":["logg\u0069ng"]}}]"#,
            r#"[3]"#,
        ];
        let groups: Vec<String> = Vec::new();
        for (namespace, name, service_account, image) in [
            (
                "logging",
                "fluent-bit",
                "fluent-bit",
                "cr.fluentbit.io/fluent/fluent-bit:3.1",
            ),
            (
                "logging",
                "x-1",
                "fluent-bit",
                "cr.fluentbit.io/fluent/fluent-bit:3.1",
            ),
            (
                "monitoring",
                "ne",
                "kube-prometheus-stack-prometheus-node-exporter",
                "quay.io/prometheus/node-exporter:v1",
            ),
            (
                "monitoring",
                "ne",
                "default",
                "quay.io/prometheus/node-exporter:v1",
            ),
            ("default", "app", "default", "nginx"),
        ] {
            let who = Requester {
                namespace,
                name,
                namespaced: true,
                username: "u",
                groups: &groups,
            };
            let subject = Subject {
                who: &who,
                service_account,
                images: vec![image],
            };
            let name_of =
                |r: Result<Option<super::Profile>, String>| r.map(|p| p.map(|p| (p.index, p.name)));
            for text in walked {
                let profiles = profiles_text(text);
                let decided = select_walked(&profiles, &subject)
                    .unwrap_or_else(|| panic!("{text} left to the reader"));
                assert_eq!(
                    name_of(decided),
                    name_of(select_read(&profiles, &subject)),
                    "{text}"
                );
            }
            for text in left_to_the_reader {
                let profiles = profiles_text(text);
                assert!(select_walked(&profiles, &subject).is_none(), "{text}");
                assert_eq!(
                    name_of(super::select(&profiles, &subject)),
                    name_of(select_read(&profiles, &subject)),
                    "{text}"
                );
            }
        }
    }

    /// A repeated `match` (refused by `validate_settings`) is not looked
    /// for by the walk: the first one decides whether the profile is
    /// loaded, and loading it refuses the repetition.
    #[test]
    fn a_repeated_match_is_refused_when_its_profile_is_loaded() {
        use super::{Subject, select};
        use crate::exemptions::Requester;
        let text =
            r#"[{"name":"a","match":{"namespaces":["logging"]},"match":{"namespaces":["x"]}}]"#;
        let groups: Vec<String> = Vec::new();
        let who = Requester {
            namespace: "logging",
            name: "f",
            namespaced: true,
            username: "u",
            groups: &groups,
        };
        let subject = Subject {
            who: &who,
            service_account: "default",
            images: vec![],
        };
        let refused = select(&profiles_text(text), &subject).map(|p| p.map(|p| p.name));
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("match")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_matching_profile_admits_what_the_baseline_refuses_and_is_named() {
        let settings = with_profiles(json!([fluent_bit_profile(), node_exporter_profile()]));
        assert!(!run("daemonset-node-exporter.json", json!({})).accepted);
        let response = run("daemonset-node-exporter.json", settings.clone());
        assert_accepted_untouched(&response);
        assert_eq!(
            response
                .audit_annotations
                .and_then(|a| a.get("profile").cloned()),
            Some("node-exporter".to_string())
        );
        assert_accepted_untouched(&run("daemonset-fluent-bit.json", settings));
    }

    #[test]
    fn no_matching_profile_means_the_baseline() {
        let request = edited("daemonset-node-exporter.json", |object| {
            object["metadata"]["namespace"] = json!("default");
        });
        let mut request = request;
        request["namespace"] = json!("default");
        let settings = with_profiles(json!([node_exporter_profile()]));
        let with = evaluate(&request, settings);
        let without = evaluate(&request, json!({}));
        assert_eq!(with.message, without.message);
        assert!(with.audit_annotations.is_none());
    }

    #[test]
    fn a_profile_ruled_out_by_namespace_or_name_is_not_even_parsed() {
        // The second profile's body is invalid; validate_settings refuses
        // it, but an evaluation reads only the match lists of a profile
        // that cannot match (namespaces, names) and never meets it.
        let broken = json!({"name": "broken", "match": {"namespaces": ["other-*"]},
                            "hostPaths": {"allowed": [{"pathPrefx": "/x"}]}});
        let settings = with_profiles(json!([broken, node_exporter_profile()]));
        assert!(!crate::evaluate::validate_settings(settings.to_string().as_bytes()).valid);
        let response = run("daemonset-node-exporter.json", settings);
        assert_accepted_untouched(&response);
        // One that could match is read whole, and its problem is the verdict.
        let could = json!({"name": "broken", "match": {"namespaces": ["mon*"], "names": ["*"]},
                           "hostPaths": {"allowed": [{"pathPrefx": "/x"}]}});
        let response = run(
            "daemonset-node-exporter.json",
            with_profiles(json!([could, node_exporter_profile()])),
        );
        assert!(!response.accepted);
        assert!(
            response.message.as_deref().is_some_and(|m| m
                .contains("daemonSets.profiles[0].hostPaths.allowed[0].pathPrefx: unknown field")),
            "{:?}",
            response.message
        );
    }

    #[test]
    fn the_profile_envelope_still_refuses() {
        let settings = with_profiles(json!([node_exporter_profile()]));
        let request = edited("daemonset-node-exporter.json", |object| {
            let pod = &mut object["spec"]["template"]["spec"];
            pod["containers"][0]["volumeMounts"][2]["readOnly"] = json!(false);
            pod["tolerations"] = json!([{"operator": "Exists"}]);
        });
        assert_violations(
            &evaluate(&request, settings.clone()),
            1,
            &["volumeMounts[2].readOnly=false: / lies under read-only prefix /"],
        );
        let mut settings = settings;
        settings["daemonSets"]["profiles"][0]["tolerations"] = json!({});
        assert_rejected(
            &run("daemonset-node-exporter.json", settings),
            &["tolerates every taint"],
        );
    }

    #[test]
    fn an_added_container_of_another_image_is_judged_by_the_baseline() {
        let settings = with_profiles(json!([fluent_bit_profile()]));
        // The busybox init container mounts /var/log read-write.
        let response = run("daemonset-fluent-bit-rw-varlog.json", settings);
        let message = message(&response);
        assert!(!response.accepted);
        assert!(
            message.contains("initContainers[0].volumeMounts[0]")
                || message.contains("volumes[1].hostPath.path"),
            "{message}"
        );
        assert!(
            message.contains(
                "baseline rules: a container whose image profile fluent-bit does not name mounts it"
            ),
            "{message}"
        );
        // The fluent-bit container's own read-write /var/log is the profile's.
        assert!(
            message.contains("containers[0].volumeMounts[1].readOnly"),
            "{message}"
        );
    }

    #[test]
    fn a_sidecar_without_host_paths_changes_nothing() {
        let settings = with_profiles(json!([fluent_bit_profile()]));
        let request = edited("daemonset-fluent-bit.json", |object| {
            let containers = &mut object["spec"]["template"]["spec"]["containers"];
            if let Some(c) = containers.as_array_mut() {
                c.push(json!({"name": "sidecar", "image": "busybox",
                    "volumeMounts": [{"name": "config", "mountPath": "/c"}]}));
            }
        });
        assert_accepted_untouched(&evaluate(&request, settings));
    }

    #[test]
    fn require_digest_needs_a_digest() {
        let mut profile = node_exporter_profile();
        profile["match"]["images"][0]["requireDigest"] = json!(true);
        let settings = with_profiles(json!([profile]));
        assert!(!run("daemonset-node-exporter.json", settings.clone()).accepted);
        let request = edited("daemonset-node-exporter.json", |object| {
            object["spec"]["template"]["spec"]["containers"][0]["image"] = json!(format!(
                "quay.io/prometheus/node-exporter:v1.8.2@sha256:{}",
                "a".repeat(64)
            ));
        });
        assert_accepted_untouched(&evaluate(&request, settings));
    }

    #[rstest]
    #[case("nginx", Some(("docker.io/library/nginx", false)))]
    #[case("nginx:1.27", Some(("docker.io/library/nginx", false)))]
    #[case("calico/node:v3.29.1", Some(("docker.io/calico/node", false)))]
    #[case("index.docker.io/calico/node", Some(("docker.io/calico/node", false)))]
    #[case("docker.io/nginx", Some(("docker.io/library/nginx", false)))]
    #[case("localhost/agent", Some(("localhost/agent", false)))]
    #[case("registry:5000/agent:1", Some(("registry:5000/agent", false)))]
    #[case("quay.io/cilium/cilium:v1.16.5@sha256:758ca0793f5995bb938a2fa219dcce63dc0b3fa7fc4ce5cc851125281fb7361d", Some(("quay.io/cilium/cilium", true)))]
    #[case("quay.io/cilium/cilium@sha256:short", None)]
    #[case("Quay.io/Cilium", None)]
    #[case("", None)]
    #[case("quay.io//x", None)]
    fn images_are_normalised_as_the_runtime_reads_them(
        #[case] image: &str,
        #[case] expected: Option<(&str, bool)>,
    ) {
        assert_eq!(
            normalised_repository(image),
            expected.map(|(r, d)| (r.to_string(), d))
        );
    }

    #[test]
    fn settings_errors_name_the_profile_path() {
        assert_settings_refused(
            &with_profiles(json!([
                {"name": "a", "match": {"namespaces": ["x"]},
                 "hostPaths": {"allowed": [{"pathPrefix": "var"}, {"pathPrefix": "/", "readOnly": false}]}},
                {"name": "a", "match": {}, "hostPath": {}},
            ])),
            &["daemonSets.profiles[1].hostPath: unknown field"],
        );
        assert_settings_refused(
            &with_profiles(json!([
                {"name": "a", "match": {"namespaces": ["x"]},
                 "hostPaths": {"allowed": [{"pathPrefix": "var"}, {"pathPrefix": "/", "readOnly": false}]},
                 "tolerations": {"allowWildcard": true, "forbidden": [{"key": "node-role.kubernetes.io/control-plane"}]}},
                {"name": "a", "match": {}},
                {"name": "Bad Name", "match": {"images": [{"repository": "nginx"}], "serviceAccounts": ["x"]}},
                {"name": "c", "match": {"namespaces": ["x"], "names": []}},
                {"name": "d", "match": {"namespaces": ["y"]}, "hostPaths": {"allowed": [{"pathPrefx": "/x"}]}},
            ])),
            &[
                "daemonSets.profiles[0].hostPaths.allowed[0].pathPrefix: \"var\": path is not absolute",
                "daemonSets.profiles[0].hostPaths.allowed[1].pathPrefix: \"/\" read-write",
                "daemonSets.profiles[0].tolerations.allowWildcard: a wildcard tolerates forbidden[0]",
                "daemonSets.profiles[1].name: a is already the name of another profile",
                "daemonSets.profiles[1].match: a profile must match on something",
                "daemonSets.profiles[2].name: \"Bad Name\" is not a profile name",
                "daemonSets.profiles[2].match.images[0].repository: \"nginx\"",
                "daemonSets.profiles[2].match.serviceAccounts[0]: \"x\" must be namespace/name",
                "daemonSets.profiles[3].match.names: an empty list matches nothing",
                "daemonSets.profiles[4].hostPaths.allowed[0].pathPrefx: unknown field",
            ],
        );
    }

    #[test]
    fn provable_overlaps_are_refused_and_glob_ones_resolved_by_order() {
        assert_settings_refused(
            &with_profiles(json!([
                {"name": "a", "match": {"namespaces": ["kube-system"], "images": [{"repository": "docker.io/calico/*"}]}},
                {"name": "b", "match": {"namespaces": ["kube-*"], "images": [{"repository": "quay.io/cilium/*"}]}},
            ])),
            &[
                "daemonSets.profiles[1].match: a DaemonSet can match both this profile and daemonSets.profiles[0] (a)",
            ],
        );
        let disjoint = with_profiles(json!([
            {"name": "a", "match": {"namespaces": ["kube-system"], "names": ["calico-node"]}},
            {"name": "b", "match": {"namespaces": ["kube-system"], "names": ["kube-proxy"]}},
            {"name": "c", "match": {"namespaces": ["gpu-operator"], "users": ["alice"]}},
            {"name": "d", "match": {"namespaces": ["gpu-operator"], "serviceAccounts": ["gpu-operator/gpu-operator"]}},
            {"name": "e", "match": {"namespaces": ["team-*"]}},
            // Glob against glob is not decided: the first in list order wins.
            {"name": "f", "match": {"namespaces": ["*-agents"]}},
        ]));
        let response = crate::evaluate::validate_settings(disjoint.to_string().as_bytes());
        assert!(response.valid, "{:?}", response.message);
        let requester_overlap = with_profiles(json!([
            {"name": "c", "match": {"namespaces": ["gpu-operator"], "users": ["alice"]}},
            {"name": "d", "match": {"namespaces": ["gpu-operator"], "groups": ["admins"]}},
        ]));
        assert_settings_refused(&requester_overlap, &["daemonSets.profiles[1].match"]);
    }

    #[test]
    fn only_the_matched_profile_body_is_compiled_on_evaluation() {
        // An invalid body is refused by validate_settings; an evaluation
        // that matches another profile never reads it.
        let settings = with_profiles(json!([
            {"name": "broken", "match": {"namespaces": ["elsewhere"]}, "hostPaths": {"allowed": [{"pathPrefix": "var"}]}},
            fluent_bit_profile(),
        ]));
        assert_accepted_untouched(&run("daemonset-fluent-bit.json", settings.clone()));
        let request = edited("daemonset-fluent-bit.json", |_| {});
        let mut request = request;
        request["namespace"] = json!("elsewhere");
        assert_rejected(
            &evaluate(&request, settings),
            &[
                "policy settings are invalid: daemonSets.profiles[0].hostPaths.allowed[0].pathPrefix",
            ],
        );
    }

    #[test]
    fn requesters_match_by_username_group_or_service_account() {
        let profile = |m: Value| {
            let mut p = fluent_bit_profile();
            p["match"] = m;
            with_profiles(json!([p]))
        };
        let request = fixture("daemonset-fluent-bit.json");
        let user = request["userInfo"]["username"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(evaluate(&request, profile(json!({"users": [user]}))).accepted);
        assert!(!evaluate(&request, profile(json!({"users": ["someone-else"]}))).accepted);
        let group = request["userInfo"]["groups"][0]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(evaluate(&request, profile(json!({"groups": [group]}))).accepted);
        let mut no_user = request.clone();
        no_user["userInfo"] = json!({});
        assert!(!evaluate(&no_user, profile(json!({"groups": [group]}))).accepted);
    }
}
