//! Collects every problem found in the settings, each with its path.

#[derive(Debug, Default)]
pub struct SettingErrors {
    errors: Vec<String>,
}

impl SettingErrors {
    pub fn add(&mut self, path: impl AsRef<str>, reason: impl AsRef<str>) {
        self.errors
            .push(format!("{}: {}", path.as_ref(), reason.as_ref()));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.errors
    }
}
