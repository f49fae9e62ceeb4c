//! Structured inputs: generated DaemonSets, StorageClasses, CSIDrivers and
//! PersistentVolumes
//! (or the `test_data/` fixtures), CREATE and UPDATE, judged with random
//! valid settings. Oracle: every invariant of `tests/properties/oracle.rs`
//! (shape, reference semantics of an accepted object, mutation idempotent,
//! valid and preserving, warn = enforce, settings order).
//!
//! The generators are shared with the property tests: they read their
//! choices from `arbitrary::Unstructured`.

#![no_main]

#[path = "../../tests/properties/generators.rs"]
mod generators;
#[path = "../../tests/properties/oracle.rs"]
mod oracle;

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use generators::{Bytes, Case, Gen, Source};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Choices read from libFuzzer's bytes through `arbitrary`.
struct Arbitrary8<'a, 'b>(&'a mut Unstructured<'b>);

impl Source for Arbitrary8<'_, '_> {
    fn byte(&mut self) -> u8 {
        u8::arbitrary(self.0).unwrap_or(0)
    }
}

fn fixtures() -> &'static [(String, Value)] {
    static FIXTURES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        generators::load_fixtures(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test_data/requests"),
        )
    })
}

struct Input {
    case: Case,
    /// Drives the settings shuffle of the order check.
    shuffle: Vec<u8>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.case.fmt(f)
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let case = {
            let mut source = Arbitrary8(u);
            let mut g = Gen::new(&mut source);
            if g.chance(3) {
                generators::fixture_case(&mut g, fixtures())
                    .unwrap_or_else(|| generators::case(&mut g, None))
            } else {
                generators::case(&mut g, None)
            }
        };
        let shuffle = Vec::<u8>::arbitrary(u)?;
        Ok(Input { case, shuffle })
    }
}

fuzz_target!(|input: Input| {
    let mut source = Bytes::new(&input.shuffle);
    let mut g = Gen::new(&mut source);
    if let Err(broken) = oracle::check_case(&input.case, &mut g) {
        panic!("invariant broken: {broken}\npayload:\n{:?}", input.case);
    }
});
