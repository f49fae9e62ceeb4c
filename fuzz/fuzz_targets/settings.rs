//! Settings into `validate_settings`: the input bytes as settings JSON, and
//! the same bytes driving the settings generator (any vocabulary, invalid
//! entries included). Oracle: no panic; a refusal says why; settings that
//! `validate_settings` accepts are accepted by `validate` too (no "policy
//! settings are invalid" rejection, for every fixture request); validity does
//! not depend on the order of settings lists.

#![no_main]

#[path = "../../tests/properties/generators.rs"]
mod generators;

use std::sync::OnceLock;

use daemonset_csi_policy::evaluate::{validate, validate_settings};
use generators::{Bytes, Gen, Vocabulary};
use libfuzzer_sys::fuzz_target;

/// Fixture requests of every judged kind, as raw JSON text.
fn requests() -> &'static [String] {
    static REQUESTS: OnceLock<Vec<String>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test_data/requests");
        [
            "daemonset-fluent-bit-rw-varlog.json",
            "daemonset-tolerations-tricky.json",
            "daemonset-inline-csi-unapproved.json",
            "storageclass-templated-secrets.json",
            "storageclass-update-mount-options.json",
            "csidriver-unapproved-ephemeral.json",
            "persistentvolume-local-path.json",
            "persistentvolume-ebs-static.json",
            "daemonset-image-volume.json",
        ]
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.join(name)).ok())
        .collect()
    })
}

fn check(settings: &[u8]) {
    let response = validate_settings(settings);
    if !response.valid {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "refusal without a message"
        );
        return;
    }
    assert!(response.message.is_none(), "valid settings with a message");
    for request in requests() {
        let mut payload = Vec::with_capacity(request.len() + settings.len() + 32);
        payload.extend_from_slice(b"{\"request\":");
        payload.extend_from_slice(request.as_bytes());
        payload.extend_from_slice(b",\"settings\":");
        payload.extend_from_slice(settings);
        payload.extend_from_slice(b"}");
        let verdict = validate(&payload);
        let message = verdict.message.unwrap_or_default();
        assert!(
            !message.starts_with("policy settings are invalid")
                && !message.starts_with("cannot read the admission request"),
            "accepted settings refused by validate: {message}\nsettings: {}",
            String::from_utf8_lossy(settings)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut source = Bytes::new(data);
    let mut g = Gen::new(&mut source);
    let settings = generators::settings(&mut g, Vocabulary::Any);
    check(settings.to_string().as_bytes());
    let valid = validate_settings(settings.to_string().as_bytes()).valid;
    let mut shuffled = settings.clone();
    generators::shuffle_lists(&mut g, &mut shuffled);
    assert_eq!(
        validate_settings(shuffled.to_string().as_bytes()).valid,
        valid,
        "validity depends on order: {settings} vs {shuffled}"
    );
});
