//! Collects every problem found in the settings, each with its path.

#[derive(Debug, Default)]
pub struct SettingErrors {
    errors: Vec<String>,
}

impl SettingErrors {
    /// `path` is any `Display` (`format_args!`, `json_path::Entry`) so that it is
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
