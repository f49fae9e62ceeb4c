//! Collects every problem found in the settings, each with its path.

#[derive(Debug, Default)]
pub struct SettingErrors {
    errors: Vec<String>,
}

impl SettingErrors {
    /// `path` is any `Display` (`format_args!`, [`Entry`]) so that it is
    /// rendered only when there is an error to name.
    pub fn add(&mut self, path: impl std::fmt::Display, reason: impl AsRef<str>) {
        self.errors.push(format!("{path}: {}", reason.as_ref()));
    }

    /// The value `result` read from the setting `value` at `path`; on an
    /// error, `None` and the problem recorded as `path: "value": error`.
    pub fn parsed<T, E: std::fmt::Display>(
        &mut self,
        path: impl std::fmt::Display,
        value: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                self.add(path, format!("{value:?}: {e}"));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.errors
    }
}

/// The path `base[index]` of a list entry, rendered only when an error
/// names it: compiling valid settings, as every evaluation does, formats
/// no path at all.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    pub base: &'a dyn std::fmt::Display,
    pub index: usize,
}

impl std::fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.base, self.index)
    }
}

/// The path `base.name`, rendered only when an error names it.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub base: &'a dyn std::fmt::Display,
    pub name: &'a str,
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.base, self.name)
    }
}
