//! Settings compiled once per evaluation into what the rules use: paths
//! normalised, globs parsed. Compilation is also settings validation, so the
//! two can never disagree.

use crate::daemonset::host_paths::HostPathRules;
use crate::daemonset::tolerations::TolerationRules;
use crate::drivers::DriverRules;
use crate::exemptions;
use crate::json_path;
use crate::settings::{Exemptions, Mode, Settings};
use crate::settings_errors::SettingErrors;
use crate::storage::storage_class::StorageClassRules;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DaemonSetRules {
    pub mode: Mode,
    pub host_paths: HostPathRules,
    pub tolerations: TolerationRules,
    pub allow_node_name: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    pub exemptions: Exemptions,
    pub drivers: DriverRules,
    pub daemon_sets: DaemonSetRules,
    pub storage_classes: StorageClassRules,
}

impl Policy {
    /// Every problem of the settings, each as `path: reason`.
    pub fn compile(settings: &Settings) -> Result<Self, Vec<String>> {
        let mut errors = SettingErrors::default();
        exemptions::compile(&settings.exemptions, &mut errors);
        let drivers = DriverRules::compile(&settings.csi_drivers, &mut errors);
        let ds = &settings.daemon_sets;
        let daemon_sets = DaemonSetRules {
            mode: ds.mode,
            host_paths: HostPathRules::compile(&ds.host_paths, &mut errors),
            tolerations: TolerationRules::compile(&ds.tolerations, &mut errors),
            allow_node_name: ds.allow_node_name,
        };
        let storage_classes = StorageClassRules::compile(&settings.storage_classes, &mut errors);
        if errors.is_empty() {
            Ok(Self {
                exemptions: settings.exemptions.clone(),
                drivers,
                daemon_sets,
                storage_classes,
            })
        } else {
            Err(errors.into_vec())
        }
    }
}

/// Parses settings JSON with the path of the first field that does not fit.
pub fn parse_settings(json: &[u8]) -> Result<Settings, String> {
    // serde reads a struct from a JSON list too: insist on an object, and
    // read `null` (no settings) as `{}` as the host does.
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'n') if json.trim_ascii() == b"null" => return Ok(Settings::default()),
        _ => return Err("settings must be a JSON object".to_string()),
    }
    serde_json::from_slice(json).map_err(|e| {
        let offset = json_path::offset_of(json, e.line(), e.column());
        let path = json_path::path_at(json, offset);
        // serde_json appends " at line L column C": the path says more.
        let text = e.to_string();
        let reason = text
            .rfind(" at line ")
            .map_or(text.as_str(), |i| &text[..i]);
        if path.is_empty() {
            reason.to_string()
        } else {
            format!("{path}: {reason}")
        }
    })
}

/// Settings from JSON, validated: the message lists every problem.
pub fn load(json: &[u8]) -> Result<Policy, String> {
    let settings = parse_settings(json)?;
    Policy::compile(&settings).map_err(|errors| errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_must_be_an_object_or_null() {
        assert!(load(b"{}").is_ok());
        assert!(load(b" null ").is_ok());
        assert_eq!(
            load(b"[]").err().as_deref(),
            Some("settings must be a JSON object")
        );
        assert_eq!(
            load(br#"[{"namespaces": ["x"]}]"#).err().as_deref(),
            Some("settings must be a JSON object")
        );
        assert!(load(b"{} trailing").is_err());
    }
}
