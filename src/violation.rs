//! Violations, warnings and rejections: how they are rendered for
//! `kubectl`, and how a rendering is read back (by the tests, the property
//! oracle and the `check` reports of policy-host).
//!
//! A violation renders as `path=value: reason [rule]` and a rejection as
//! `<Kind> <name> violates the policy (N violation[s]): v1; v2`. Parsing is
//! exact because the rendering keeps these promises, made once in
//! [`Violation::new`]:
//! - no part of a violation holds a raw `;` (it is written as the JSON escape
//!   `\u003b`), so `; ` only ever separates violations;
//! - a path holds no raw `=` (written `\u003d`), so the first `=` ends it;
//! - a value is one token of a small grammar (a JSON value, a JSON string
//!   cut after [`MAX_VALUE_CHARS`] characters and followed by `...`, `{...}`,
//!   `[N items]`, `missing`, `unset`), so its end is known;
//! - the rule is one of [`rules::ALL`], none of which holds ` [`.
//!
//! The one ambiguity left is an object whose own name contains
//! ` violates the policy (`, which no name the API server accepts can (names
//! have no spaces); the first reading that accounts for the whole list wins.

use std::fmt;

use serde_json::Value;

use crate::rules;

/// Longest rendering of an offending value; longer ones are cut so that a
/// rejection stays readable in `kubectl` output.
pub const MAX_VALUE_CHARS: usize = 80;

/// What a shortened value ends with.
const ELLIPSIS: &str = "...";

/// Between the violations of a rejection.
const LIST_SEPARATOR: &str = "; ";

/// Between the name and the count of a rejection.
const HEADER: &str = " violates the policy (";

/// Before each violation a warn-mode evaluation turns into a warning.
pub const WARN_MODE_PREFIX: &str = "policy violation (warn mode): ";

/// Prefix of a violation found in a DaemonSet UPDATE that leaves the pod
/// template unchanged: reported, not enforced (as Pod Security Admission
/// exempts such updates).
pub const UNCHANGED_TEMPLATE_PREFIX: &str =
    "policy violation (pod template unchanged, not enforced): ";

/// Values that are not JSON: summaries of containers and absent fields.
const LITERAL_VALUES: &[&str] = &["{...}", "missing", "unset"];

/// One broken rule: where, what was found, which setting governs it, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path in the object, e.g. `spec.template.spec.volumes[2].hostPath.path`.
    pub path: String,
    /// The offending value, rendered as JSON and shortened.
    pub value: String,
    /// The rule id (one of [`rules::ALL`]): the settings path that governs
    /// it, e.g. `daemonSets.hostPaths.allowed`.
    pub rule: &'static str,
    pub reason: String,
}

impl Violation {
    /// A violation whose rendering can be parsed back: separators inside
    /// the parts are escaped (see the module documentation).
    pub fn new(
        path: impl Into<String>,
        value: impl Into<String>,
        rule: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            path: escape(path.into(), b";="),
            value: escape(value.into(), b";"),
            rule,
            reason: escape(reason.into(), b";"),
        }
    }

    /// The admission warning a warn-mode evaluation gives instead.
    pub fn warning(&self) -> String {
        format!("{WARN_MODE_PREFIX}{self}")
    }

    /// The warning of a violation in an unchanged pod template.
    pub fn unchanged_template_warning(&self) -> String {
        format!("{UNCHANGED_TEMPLATE_PREFIX}{self}")
    }

    /// Reads back one rendered violation, `path=value: reason [rule]`.
    pub fn parse(text: &str) -> Option<Self> {
        let (path, rest) = text.split_once('=')?;
        let (value, rest) = split_value(rest)?;
        let rest = rest.strip_prefix(": ")?;
        let (reason, rule) = crate::words::rsplit_once(rest.strip_suffix(']')?, " [")?;
        Some(Self {
            path: path.to_string(),
            value: value.to_string(),
            rule: rules::named(rule)?,
            reason: reason.to_string(),
        })
    }

    /// Reads back one warn-mode warning (see [`Violation::warning`]).
    pub fn parse_warning(warning: &str) -> Option<Self> {
        let listed = warning
            .strip_prefix(WARN_MODE_PREFIX)
            .or_else(|| warning.strip_prefix(UNCHANGED_TEMPLATE_PREFIX))?;
        Self::parse(listed)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}: {} [{}]",
            self.path, self.value, self.reason, self.rule
        )
    }
}

/// Writes each of `specials` as its JSON escape (`\u003b` for `;`).
/// `specials` are ASCII, so looking for them byte by byte is exact (an
/// ASCII byte is never part of a longer character) and, unlike a `&[char]`
/// pattern, does not decode every character: a rejection escapes every
/// path, value and reason of its violations.
fn escape(text: String, specials: &[u8]) -> String {
    if !text.bytes().any(|b| specials.contains(&b)) {
        return text;
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if u8::try_from(c).is_ok_and(|b| specials.contains(&b)) {
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// The rendered value at the start of `text`, and what follows it (which
/// must be `: `).
fn split_value(text: &str) -> Option<(&str, &str)> {
    let followed = |end: usize| {
        let rest = text.get(end..)?;
        rest.starts_with(": ").then(|| (&text[..end], rest))
    };
    if let Some(literal) = LITERAL_VALUES.iter().find(|l| text.starts_with(**l)) {
        return followed(literal.len());
    }
    if let Some(count) = text.strip_prefix('[') {
        let digits = count.bytes().take_while(u8::is_ascii_digit).count();
        let end = 1 + digits + " items]".len();
        return (digits > 0 && count.get(digits..)?.starts_with(" items]"))
            .then(|| followed(end))
            .flatten();
    }
    if text.starts_with('"') {
        return followed(string_end(text)?);
    }
    let mut values =
        serde_json::Deserializer::from_slice(text.as_bytes()).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => followed(values.byte_offset()),
        _ => None,
    }
}

/// Where a rendered JSON string ends: after its closing quote when it was
/// short enough to be kept whole, after the ellipsis when it was cut.
/// A whole string closes within its first [`MAX_VALUE_CHARS`] characters;
/// a cut one cannot, having lost its closing quote to the cut.
fn string_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1);
    let mut counted = 1;
    while let Some((i, c)) = chars.next() {
        if counted >= MAX_VALUE_CHARS {
            let rest = text.get(i..)?;
            return rest.starts_with(ELLIPSIS).then_some(i + ELLIPSIS.len());
        }
        counted += 1;
        match c {
            '"' => return Some(i + 1),
            // An escape whose escaped character was cut off ends the
            // kept part: the next turn finds the ellipsis.
            '\\' if counted < MAX_VALUE_CHARS => {
                chars.next()?;
                counted += 1;
            }
            _ => {}
        }
    }
    None
}

/// A refused object and every violation found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `DaemonSet`, `StorageClass` or `CSIDriver`.
    pub kind: String,
    /// `namespace/name` for namespaced objects, `name` otherwise.
    pub name: String,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.violations.len();
        write!(
            f,
            "{} {}{HEADER}{count} violation{}): ",
            self.kind,
            self.name,
            if count == 1 { "" } else { "s" }
        )?;
        for (i, violation) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str(LIST_SEPARATOR)?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl Rejection {
    /// Reads back a rejection message; `None` for any other message (an
    /// unreadable request, invalid settings, a missing object).
    pub fn parse(message: &str) -> Option<Self> {
        let (kind, rest) = message.split_once(' ')?;
        let mut from = 0;
        while let Some(at) = crate::words::find(rest.get(from..)?, HEADER) {
            let at = from + at;
            if let Some(violations) = parse_list(&rest[at + HEADER.len()..]) {
                return Some(Self {
                    kind: kind.to_string(),
                    name: rest[..at].to_string(),
                    violations,
                });
            }
            // HEADER starts with an ASCII space: the next byte is a boundary.
            from = at + 1;
        }
        None
    }
}

/// `N violation[s]): v1; v2`, with exactly N violations.
fn parse_list(text: &str) -> Option<Vec<Violation>> {
    let (count, rest) = text.split_once(' ')?;
    let n: usize = count.parse().ok()?;
    if n.to_string() != count {
        return None;
    }
    let list = rest.strip_prefix(if n == 1 {
        "violation): "
    } else {
        "violations): "
    })?;
    let violations: Vec<Violation> = if list.is_empty() {
        Vec::new()
    } else {
        list.split(LIST_SEPARATOR)
            .map(Violation::parse)
            .collect::<Option<_>>()?
    };
    (violations.len() == n).then_some(violations)
}

/// Renders a JSON value for a message, shortened on a char boundary.
pub fn render(value: &Value) -> String {
    match value {
        Value::Object(_) => "{...}".to_string(),
        Value::Array(items) => format!("[{} items]", items.len()),
        other => shorten(other.to_string()),
    }
}

/// Renders a string the way it appears in JSON.
pub fn render_str(value: &str) -> String {
    shorten(Value::from(value).to_string())
}

/// Violations are listed with `; ` between them, so a value never carries a
/// raw `;` (it is written as the JSON escape `\u003b`).
fn shorten(text: String) -> String {
    let mut text = escape(text, b";");
    if text.chars().count() > MAX_VALUE_CHARS {
        let cut = text
            .char_indices()
            .nth(MAX_VALUE_CHARS)
            .map_or(text.len(), |(i, _)| i);
        text.truncate(cut);
        text.push_str(ELLIPSIS);
    }
    text
}

/// Everything the rules of one rule group found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Findings {
    pub violations: Vec<Violation>,
    /// Notes about mutations made (always warnings, whatever the mode).
    pub mutation_notes: Vec<String>,
}

impl Findings {
    pub fn push(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    pub fn note(&mut self, note: String) {
        self.mutation_notes.push(note);
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    #[test]
    fn displays_path_value_reason_and_rule() {
        let v = Violation::new(
            "spec.template.spec.volumes[2].hostPath.path",
            render_str("/etc"),
            rules::HOST_PATHS_ALLOWED,
            "not under an allowed hostPath prefix",
        );
        assert_eq!(
            v.to_string(),
            "spec.template.spec.volumes[2].hostPath.path=\"/etc\": not under an allowed hostPath prefix [daemonSets.hostPaths.allowed]"
        );
    }

    #[test]
    fn long_values_are_shortened_on_char_boundaries() {
        let long = "é".repeat(200);
        let rendered = render_str(&long);
        assert!(rendered.ends_with("..."));
        assert!(rendered.chars().count() <= MAX_VALUE_CHARS + 3);
    }

    #[test]
    fn values_never_contain_the_list_separator() {
        assert_eq!(render_str("/a; b"), "\"/a\\u003b b\"");
    }

    #[test]
    fn separators_in_paths_and_reasons_are_escaped() {
        let v = Violation::new(
            "parameters.a=b; c",
            "{\"key\":\"x; y\"}",
            rules::PARAMETERS,
            "forbidden; really",
        );
        assert_eq!(
            v.to_string(),
            "parameters.a\\u003db\\u003b c={\"key\":\"x\\u003b y\"}: forbidden\\u003b really [storageClasses.parameters]"
        );
    }

    #[test]
    fn containers_are_summarised() {
        assert_eq!(render(&json!({"a": 1})), "{...}");
        assert_eq!(render(&json!([1, 2])), "[2 items]");
        assert_eq!(render(&json!(3)), "3");
    }

    fn long(text: &str) -> String {
        text.repeat(60)
    }

    #[rstest]
    #[case::plain_string(render_str("/etc"))]
    #[case::closing_bracket(render_str("a]b [c]"))]
    #[case::list_separator(render_str("a; b;c"))]
    #[case::equals(render_str("a=b=c"))]
    #[case::colon_space(render_str("a: b: "))]
    #[case::quotes_and_colons(render_str("\": \": x"))]
    #[case::every_separator(render_str("]; =: [x] \"; \" = : "))]
    #[case::exactly_max_chars(render_str(&"a".repeat(MAX_VALUE_CHARS - 2)))]
    #[case::one_past_max_chars(render_str(&"a".repeat(MAX_VALUE_CHARS - 1)))]
    #[case::long_shortened(render_str(&long("x: y; ")))]
    #[case::long_multibyte(render_str(&"é".repeat(200)))]
    #[case::long_escapes(render_str(&long("\"\\")))]
    #[case::cut_inside_an_escape(render_str(&format!("{}\"", "a".repeat(MAX_VALUE_CHARS - 2))))]
    #[case::long_with_quote_colon(render_str(&long("\": ")))]
    #[case::number(render(&json!(42)))]
    #[case::float(render(&json!(-1.5e3)))]
    #[case::boolean(render(&json!(true)))]
    #[case::null(render(&Value::Null))]
    #[case::object(render(&json!({"a": "b: c"})))]
    #[case::list(render(&json!([1, 2, 3])))]
    #[case::missing("missing".to_string())]
    #[case::unset("unset".to_string())]
    #[case::null_literal("null".to_string())]
    #[case::compact_object(json!({"key": "a]; b: c", "operator": "Exists"}).to_string())]
    fn rendered_values_parse_back(#[case] value: String) {
        let tricky_reason = "reason with ]; [x] = and : inside";
        let v = Violation::new(
            "parameters.k=v]; x: y",
            value,
            rules::PARAMETERS,
            tricky_reason,
        );
        let text = v.to_string();
        assert_eq!(Violation::parse(&text), Some(v.clone()), "{text}");
        assert_eq!(Violation::parse_warning(&v.warning()), Some(v));
    }

    #[test]
    fn a_shortened_value_is_read_to_its_ellipsis() {
        let provisioner = format!("{}\": x", "p".repeat(100));
        let v = Violation::new(
            "provisioner",
            render_str(&provisioner),
            rules::CSI_DRIVERS_ALLOWED,
            format!("CSI driver {provisioner} is not in csiDrivers.allowed"),
        );
        assert_eq!(Violation::parse(&v.to_string()), Some(v));
    }

    fn rejection(violations: Vec<Violation>) -> Rejection {
        Rejection {
            kind: "DaemonSet".into(),
            name: "logging/fluent-bit".into(),
            violations,
        }
    }

    #[test]
    fn rejections_render_their_count_and_list() {
        let one = Violation::new("spec.a", "1", rules::ALLOW_NODE_NAME, "bad");
        let two = Violation::new("spec.b", "missing", rules::UNREADABLE, "worse");
        assert_eq!(
            rejection(vec![one.clone()]).to_string(),
            "DaemonSet logging/fluent-bit violates the policy (1 violation): spec.a=1: bad [daemonSets.allowNodeName]"
        );
        assert_eq!(
            rejection(vec![one, two]).to_string(),
            "DaemonSet logging/fluent-bit violates the policy (2 violations): spec.a=1: bad [daemonSets.allowNodeName]; spec.b=missing: worse [readable object]"
        );
    }

    #[rstest]
    #[case::none(vec![])]
    #[case::one(vec![Violation::new("spec.a", render_str("x; y"), rules::ALLOW_NODE_NAME, "a: b")])]
    #[case::several(vec![
        Violation::new("spec.a", render_str(&long("]; ")), rules::HOST_PATHS_ALLOWED, "x [y]"),
        Violation::new("parameters.a=b", render_str("="), rules::PARAMETERS, "violates the policy (1 violation): "),
        Violation::new("spec", "{...}", rules::UNREADABLE, "expected a list, found an object"),
    ])]
    fn rejections_parse_back(#[case] violations: Vec<Violation>) {
        let rejection = rejection(violations);
        assert_eq!(Rejection::parse(&rejection.to_string()), Some(rejection));
    }

    #[test]
    fn a_name_holding_the_header_is_read_whole() {
        let mut tricky = rejection(vec![Violation::new(
            "spec.a",
            "1",
            rules::ALLOW_NODE_NAME,
            "bad",
        )]);
        tricky.name = "x violates the policy (2 violations): y".into();
        assert_eq!(Rejection::parse(&tricky.to_string()), Some(tricky));
    }

    #[rstest]
    #[case::not_a_rejection("DaemonSet CREATE without request.object cannot be judged")]
    #[case::settings("policy settings are invalid: daemonSets.mode: unknown variant")]
    #[case::wrong_count(
        "DaemonSet a violates the policy (2 violations): spec.a=1: bad [daemonSets.allowNodeName]"
    )]
    #[case::wrong_plural(
        "DaemonSet a violates the policy (1 violations): spec.a=1: bad [daemonSets.allowNodeName]"
    )]
    #[case::unknown_rule("DaemonSet a violates the policy (1 violation): spec.a=1: bad [nope]")]
    #[case::no_value("DaemonSet a violates the policy (1 violation): spec.a: bad [nope]")]
    #[case::empty("")]
    fn other_messages_are_not_rejections(#[case] message: &str) {
        assert_eq!(Rejection::parse(message), None);
    }
}
