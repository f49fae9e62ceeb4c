//! The policy's pure core natively, in a loop over one case's `validate`
//! payload: for `valgrind --tool=callgrind` or `perf record` (the wasm
//! guest cannot be profiled by those; this is the same Rust code).
//!
//! `cargo run --profile bench -p policy-bench --example native-loop --
//! CASE [ITERATIONS] [--floor]`, CASE one of the benchmark cases
//! (`ds-fluent-bit`, `ds-scale-200k`, ...). `--floor` only parses the
//! payload and answers the way the floor policy does.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use policy_bench::validate_payload;
use serde_json::Value;
use serde_json::value::RawValue;

/// The floor policy's (and the policy's) payload shape.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Payload<'a> {
    request: Request,
    #[serde(borrow, default)]
    settings: Option<&'a RawValue>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
#[allow(dead_code)]
struct Request {
    kind: Option<Value>,
    operation: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    user_info: Option<Value>,
    object: Value,
    old_object: Value,
}

/// The measured loop (for callgrind: `--toggle-collect='*run_loop*'`).
#[inline(never)]
fn run_loop(payload: &[u8], iterations: usize, floor: bool) -> Result<usize> {
    let mut out = 0usize;
    for _ in 0..iterations {
        let bytes = if floor {
            let p: Payload = serde_json::from_slice(black_box(payload))?;
            serde_json::to_vec(&serde_json::json!({"accepted": !p.request.object.is_null()}))?
        } else {
            let response = daemonset_csi_policy::evaluate::validate(black_box(payload));
            serde_json::to_vec(&response)?
        };
        out += bytes.len();
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let floor = args.iter().any(|a| a == "--floor");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(name) = positional.first() else {
        bail!("usage: native-loop CASE [ITERATIONS] [--floor]");
    };
    let iterations: usize = positional
        .get(1)
        .map(|n| n.parse())
        .transpose()
        .context("ITERATIONS")?
        .unwrap_or(1000);
    let settings = policy_bench::settings_from_env()?;
    let cases = if name.starts_with("ds-scale-") {
        policy_bench::scale_cases()?
    } else {
        policy_bench::fixture_cases()?
    };
    let case = cases.iter().find(|c| c.name == **name).with_context(|| {
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        format!("no case {name}; cases: {}", names.join(", "))
    })?;
    let payload = validate_payload(&case.request, &settings);
    let start = Instant::now();
    let out = run_loop(payload.as_bytes(), iterations, floor)?;
    let elapsed = start.elapsed();
    eprintln!(
        "{} {}: {iterations} iterations, {:.2} µs each ({} bytes payload, checksum {out})",
        if floor { "floor" } else { "policy" },
        case.name,
        elapsed.as_secs_f64() * 1e6 / iterations as f64,
        payload.len()
    );
    Ok(())
}
