//! Settings compiled once per evaluation into what the rules use: paths
//! normalised, globs parsed. Compilation is also settings validation, so the
//! two can never disagree.

use crate::daemonset::ephemeral_volumes;
use crate::daemonset::host_paths::HostPathRules;
use crate::daemonset::image_volumes::ImageVolumeRules;
use crate::daemonset::tolerations::TolerationRules;
use crate::drivers::DriverRules;

use crate::arena::replace;
use crate::exemptions;
use crate::json_path;
use crate::settings::{CsiDriverSettings, Exemptions, Mode, Settings};
use crate::settings_errors::SettingErrors;
use crate::settings_reader::{Read, ReadJson, Reader};
use crate::storage::persistent_volume::PersistentVolumeRules;
use crate::storage::storage_class::StorageClassRules;
use crate::storage::volume_attributes_class::VolumeAttributesClassRules;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DaemonSetRules {
    pub mode: Mode,
    pub host_paths: HostPathRules,
    pub tolerations: TolerationRules,
    pub allow_node_name: bool,
    pub ephemeral_volumes: crate::settings::EphemeralVolumeSettings,
    pub image_volumes: ImageVolumeRules,
    /// `daemonSets.ephemeralContainers.allPods`.
    pub ephemeral_all_pods: bool,
    /// `daemonSets.profiles`: the list's text and where each profile and
    /// its `match` lie; a profile is parsed only when it could match.
    pub profiles: crate::daemonset::profiles::ProfilesText,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    pub exemptions: Exemptions,
    pub drivers: DriverRules,
    pub daemon_sets: DaemonSetRules,
    pub storage_classes: StorageClassRules,
    pub persistent_volumes: PersistentVolumeRules,
    pub volume_attributes_classes: VolumeAttributesClassRules,
}

/// The settings sections an evaluation compiles. policy-server refuses to
/// start with invalid settings, so an evaluation only needs the sections
/// its kind reads: parsing and compiling the others would be wasted work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub daemon_sets: bool,
    /// `csiDrivers`: every storage kind reads it, a DaemonSet only for its
    /// inline CSI volumes.
    pub csi_drivers: bool,
    /// `daemonSets.hostPaths`, for an object with a hostPath volume.
    pub host_paths: bool,
    /// `csiDrivers.inline`, for an object with an inline CSI volume.
    pub inline_csi: bool,
    /// `csiDrivers.tokenRequests` and `csiDrivers.spec`, for CSIDrivers.
    pub csi_driver_objects: bool,
    pub storage_classes: bool,
    pub persistent_volumes: bool,
    pub volume_attributes_classes: bool,
}

impl Sections {
    pub const ALL: Self = Self {
        daemon_sets: true,
        csi_drivers: true,
        host_paths: true,
        inline_csi: true,
        csi_driver_objects: true,
        storage_classes: true,
        persistent_volumes: true,
        volume_attributes_classes: true,
    };
}

impl Policy {
    /// Compiles the chosen sections (the others keep their defaults); every
    /// problem is reported as `path: reason`. Takes the settings by value:
    /// the rules keep what they need without copying it.
    fn compile(settings: Settings, sections: Sections) -> Result<Self, Vec<String>> {
        let Settings {
            exemptions,
            csi_drivers,
            daemon_sets: ds,
            storage_classes,
            persistent_volumes,
            volume_attributes_classes: vac,
        } = settings;
        let mut errors = SettingErrors::default();
        exemptions::validate_settings(&exemptions, &mut errors);
        let drivers = if sections.csi_drivers {
            DriverRules::compile(&csi_drivers, &mut errors)
        } else {
            DriverRules::default()
        };
        let daemon_sets = if sections.daemon_sets {
            DaemonSetRules {
                mode: ds.mode,
                host_paths: if sections.host_paths {
                    HostPathRules::compile(ds.host_paths, &mut errors)
                } else {
                    crate::arena::discard(ds.host_paths);
                    HostPathRules::default()
                },
                tolerations: TolerationRules::compile(ds.tolerations, &mut errors),
                allow_node_name: ds.allow_node_name,
                ephemeral_volumes: {
                    ephemeral_volumes::validate_settings(&ds.ephemeral_volumes, &mut errors);
                    ds.ephemeral_volumes
                },
                image_volumes: ImageVolumeRules::compile(ds.image_volumes, &mut errors),
                ephemeral_all_pods: ds.ephemeral_containers.all_pods,
                // validate_settings loads every section: only then is every
                // profile body compiled (an evaluation compiles the one that
                // matches).
                profiles: crate::daemonset::profiles::compile(
                    ds.profiles,
                    sections == Sections::ALL,
                    &mut errors,
                ),
            }
        } else {
            crate::arena::discard(ds);
            DaemonSetRules::default()
        };
        let storage_classes = if sections.storage_classes {
            StorageClassRules::compile(storage_classes, &mut errors)
        } else {
            crate::arena::discard(storage_classes);
            StorageClassRules::default()
        };
        let persistent_volumes = if sections.persistent_volumes {
            PersistentVolumeRules::compile(persistent_volumes, &mut errors)
        } else {
            crate::arena::discard(persistent_volumes);
            PersistentVolumeRules::default()
        };
        let volume_attributes_classes = if sections.volume_attributes_classes {
            VolumeAttributesClassRules::compile(&vac, &mut errors)
        } else {
            VolumeAttributesClassRules::default()
        };
        // What is left of the settings once compiled: discarded, not walked
        // to free arena memory (`arena::discard`).
        crate::arena::discard((csi_drivers, vac));
        if errors.is_empty() {
            Ok(Self {
                exemptions,
                drivers,
                daemon_sets,
                storage_classes,
                persistent_volumes,
                volume_attributes_classes,
            })
        } else {
            Err(errors.into_vec())
        }
    }
}

/// Parses settings JSON with the path of the first field that does not fit.
pub fn parse_settings(json: &[u8]) -> Result<Settings, String> {
    let text = crate::settings_reader::check_syntax(json)?;
    let settings = parse_sections(text, Sections::ALL)?;
    // Profiles stay raw in the settings: their shape is checked here.
    crate::daemonset::profiles::check_shape(&settings.daemon_sets.profiles)?;
    Ok(settings)
}

/// A parse error as `path: reason`, the path found from the error's
/// position in `json` (under `prefix`, the path of `json` itself).
pub(crate) fn located(json: &[u8], prefix: &str, e: &serde_json::Error) -> String {
    let offset = json_path::offset_of(json, e.line(), e.column());
    let inner = json_path::path_at(json, offset);
    let path = match (prefix.is_empty(), inner.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => inner,
        (false, false) => format!("{prefix}.{inner}"),
    };
    // serde_json appends " at line L column C": the path says more.
    let text = e.to_string();
    let reason = crate::words::rfind(&text, " at line ").map_or(text.as_str(), |i| &text[..i]);
    if path.is_empty() {
        reason.to_string()
    } else {
        format!("{path}: {reason}")
    }
}

fn insist_on_object(json: &[u8]) -> Result<bool, String> {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(true),
        Some(b'n') if json.trim_ascii() == b"null" => Ok(false),
        _ => Err("settings must be a JSON object".to_string()),
    }
}

/// The settings, with only the chosen per-kind sections read (the others
/// are skipped by their brackets, unknown top-level fields still refused).
fn parse_sections(json: &str, sections: Sections) -> Result<Settings, String> {
    if !insist_on_object(json.as_bytes())? {
        return Ok(Settings::default());
    }
    let mut settings = Settings::default();
    let mut reader = Reader::new(json, "");
    reader
        .object("Settings", SECTIONS, &mut |r, key| {
            let wanted = match key {
                "csiDrivers" => sections.csi_drivers,
                "daemonSets" => sections.daemon_sets,
                "storageClasses" => sections.storage_classes,
                "persistentVolumes" => sections.persistent_volumes,
                "volumeAttributesClasses" => sections.volume_attributes_classes,
                _ => true,
            };
            if !wanted {
                return r.skip().map(drop);
            }
            // A section read replaces its default, which is discarded
            // rather than dropped (`arena::replace`).
            match key {
                "exemptions" => replace(&mut settings.exemptions, ReadJson::read(r)?),
                "csiDrivers" => replace(&mut settings.csi_drivers, read_csi_drivers(r, sections)?),
                "daemonSets" => replace(&mut settings.daemon_sets, ReadJson::read(r)?),
                "storageClasses" => replace(&mut settings.storage_classes, ReadJson::read(r)?),
                "persistentVolumes" => {
                    replace(&mut settings.persistent_volumes, ReadJson::read(r)?)
                }
                _ => replace(&mut settings.volume_attributes_classes, ReadJson::read(r)?),
            }
            Ok(())
        })
        .and_then(|()| reader.end())
        .map_err(|e| e.to_string())?;
    Ok(settings)
}

/// `csiDrivers` with only the parts `sections` reads: `inline` for inline
/// CSI volumes, `tokenRequests` and `spec` for CSIDriver objects; the
/// others are passed over by their brackets and keep their defaults (a
/// StorageClass reads the allow-lists only). The test
/// `a_partial_csi_drivers_read_is_the_whole_ones_parts` holds them to the
/// whole read's.
fn read_csi_drivers(r: &mut Reader<'_>, sections: Sections) -> Read<CsiDriverSettings> {
    let passed_over: &'static [&'static str] =
        match (sections.inline_csi, sections.csi_driver_objects) {
            (true, true) => &[],
            (true, false) => &["tokenRequests", "spec"],
            (false, true) => &["inline"],
            (false, false) => &["tokenRequests", "spec", "inline"],
        };
    r.passing_over(passed_over, ReadJson::read)
}

const SECTIONS: &[&str] = &[
    "exemptions",
    "csiDrivers",
    "daemonSets",
    "storageClasses",
    "persistentVolumes",
    "volumeAttributesClasses",
];

/// Settings for one evaluation: only the sections it reads are parsed and
/// compiled (the whole settings were validated when the policy loaded).
pub fn load_for(json: &str, sections: Sections) -> Result<Policy, String> {
    let settings = parse_sections(json, sections)?;
    Policy::compile(settings, sections).map_err(|errors| errors.join("; "))
}

/// Settings from JSON, validated: the message lists every problem.
pub fn load(json: &[u8]) -> Result<Policy, String> {
    // An evaluation's settings were parsed with the payload; these come
    // alone, so their syntax is checked first.
    let text = crate::settings_reader::check_syntax(json)?;
    load_for(text, Sections::ALL)
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

    /// Read for a kind that needs only part of it, `csiDrivers` holds
    /// that part as the whole read does and the defaults elsewhere, on
    /// policy.yaml's settings and on settings with every part set.
    #[test]
    fn a_partial_csi_drivers_read_is_the_whole_ones_parts() {
        let full = serde_json::json!({
            "mode": "warn", "allowed": ["a.example.com", "*.csi.example.com"],
            "ephemeralAllowed": ["a.example.com"],
            "tokenRequests": {"allowed": [{"driver": "a.example.com", "audiences": ["x"]}],
                              "requireTokenInSecrets": false},
            "inline": [{"driver": "a.example.com", "readOnly": true}],
            "spec": [{"driver": "a.example.com", "attachRequired": {"allowed": [false]}}]});
        let policy_yaml = crate::test_support::policy_yaml_settings()["csiDrivers"].clone();
        for csi_drivers in [full, policy_yaml] {
            let text = csi_drivers.to_string();
            let whole: CsiDriverSettings = ReadJson::read(&mut Reader::new(&text, "")).unwrap();
            for (inline_csi, csi_driver_objects) in
                [(false, false), (true, false), (false, true), (true, true)]
            {
                let sections = Sections {
                    inline_csi,
                    csi_driver_objects,
                    ..Sections::ALL
                };
                let mut reader = Reader::new(&text, "");
                let part = read_csi_drivers(&mut reader, sections).unwrap();
                let default = CsiDriverSettings::default();
                let pick = |wanted: bool, a, b| if wanted { a } else { b };
                let expected = CsiDriverSettings {
                    inline: pick(inline_csi, &whole, &default).inline.clone(),
                    token_requests: pick(csi_driver_objects, &whole, &default)
                        .token_requests
                        .clone(),
                    spec: pick(csi_driver_objects, &whole, &default).spec.clone(),
                    ..whole.clone()
                };
                assert_eq!(part, expected, "{text} {inline_csi} {csi_driver_objects}");
            }
        }
    }

    #[test]
    fn sections_are_parsed_on_demand_with_their_path() {
        let json = r#"{"daemonSets": {"hostPaths": {"allowed": [{"pathPrefx": "/x"}]}}, "storageClasses": {"mode": "warn"}}"#;
        let only_storage = Sections {
            daemon_sets: false,
            csi_drivers: true,
            host_paths: false,
            inline_csi: false,
            csi_driver_objects: false,
            storage_classes: true,
            persistent_volumes: false,
            volume_attributes_classes: false,
        };
        assert!(load_for(json, only_storage).is_ok());
        assert_eq!(
            load_for(json, Sections::ALL)
                .err()
                .as_deref()
                .and_then(|m| m.split_once(": "))
                .map(|(p, _)| p),
            Some("daemonSets.hostPaths.allowed[0].pathPrefx")
        );
        assert_eq!(
            load(json.as_bytes()).err(),
            load_for(json, Sections::ALL).err()
        );
        assert!(load_for(r#"{"bogus": 1}"#, only_storage).is_err());
    }
}
