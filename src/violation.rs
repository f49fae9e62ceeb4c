//! Violations, warnings and how they are rendered for `kubectl`.

use std::fmt;

use serde_json::Value;

/// Longest rendering of an offending value; longer ones are cut so that a
/// rejection stays readable in `kubectl` output.
const MAX_VALUE_CHARS: usize = 80;

/// One broken rule: where, what was found, which setting governs it, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Field path in the object, e.g. `spec.template.spec.volumes[2].hostPath.path`.
    pub path: String,
    /// The offending value, rendered as JSON and shortened.
    pub value: String,
    /// The settings path of the rule, e.g. `daemonSets.hostPaths.allowed`.
    pub rule: &'static str,
    pub reason: String,
}

impl Violation {
    pub fn new(
        path: impl Into<String>,
        value: impl Into<String>,
        rule: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            value: value.into(),
            rule,
            reason: reason.into(),
        }
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
    let mut text = if text.contains(';') {
        text.replace(';', "\\u003b")
    } else {
        text
    };
    if text.chars().count() > MAX_VALUE_CHARS {
        let cut = text
            .char_indices()
            .nth(MAX_VALUE_CHARS)
            .map_or(text.len(), |(i, _)| i);
        text.truncate(cut);
        text.push_str("...");
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
    use super::*;
    use serde_json::json;

    #[test]
    fn displays_path_value_reason_and_rule() {
        let v = Violation::new(
            "spec.template.spec.volumes[2].hostPath.path",
            render_str("/etc"),
            "daemonSets.hostPaths.allowed",
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
    fn containers_are_summarised() {
        assert_eq!(render(&json!({"a": 1})), "{...}");
        assert_eq!(render(&json!([1, 2])), "[2 items]");
        assert_eq!(render(&json!(3)), "3");
    }
}
