//! Quick latency of one module on one case, outside criterion: for
//! comparing builds (profile variants, wasm-opt outputs).
//!
//! `latency MODULE.wasm [CASE] [ITERATIONS]` prints the median and the
//! minimum of the warm `PolicyInstance::evaluate`, the bare warm guest call
//! and a fresh-instance evaluation, in µs; for a mutation, also the host's
//! `json_patch::diff` of it and its share of the warm evaluation.
//! `LATENCY_SETTINGS=policy|empty|profiles20` picks the settings.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use policy_host::host::validate_payload;

fn stats(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], samples[0])
}

fn time(iterations: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..iterations / 10 + 1 {
        f();
    }
    let samples = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    stats(samples)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(module_path) = args.first() else {
        bail!("usage: latency MODULE.wasm [CASE] [ITERATIONS]");
    };
    let name = args.get(1).map_or("ds-fluent-bit", String::as_str);
    let iterations: usize = args
        .get(2)
        .map_or(Ok(2000), |n| n.parse())
        .context("ITERATIONS")?;
    let settings = policy_bench::settings_from_env()?;
    let cases = policy_bench::all_cases()?;
    let case = cases
        .iter()
        .find(|c| c.name == name)
        .with_context(|| format!("no case {name}"))?;
    let path = PathBuf::from(module_path);
    let compile_start = Instant::now();
    let (bytes, module) = policy_bench::load_module(&path)?;
    let compile = compile_start.elapsed().as_secs_f64() * 1e3;
    let instance = module.instantiate()?;
    let payload = validate_payload(&case.request, &settings);
    let warm = time(iterations, || {
        instance.evaluate(&case.request, &settings).unwrap();
    });
    let guest = time(iterations, || {
        instance.call("validate", payload.as_bytes()).unwrap();
    });
    // A mutation reaches the API server as the host's
    // `json_patch::diff(request.object, mutated_object)` (policy-evaluator):
    // its share of the warm evaluation.
    let answer: serde_json::Value =
        serde_json::from_slice(&instance.call("validate", payload.as_bytes())?)?;
    let patch = match answer.get("mutated_object") {
        Some(mutated) if !mutated.is_null() => {
            let original = &case.request["object"];
            let diff = time(iterations, || {
                std::hint::black_box(json_patch::diff(original, mutated));
            });
            format!(
                "\tjson_patch::diff median {:.1} min {:.1} ({:.0} % of warm)",
                diff.0,
                diff.1,
                100.0 * diff.1 / warm.1
            )
        }
        _ => String::new(),
    };
    let fresh = time(iterations / 4, || {
        module.evaluate(&case.request, &settings).unwrap();
    });
    println!(
        "{}\t{} bytes\t{name}\twarm median {:.1} min {:.1}\tguest median {:.1} min {:.1}\tfresh median {:.1} min {:.1}\tcompile {compile:.0} ms\tpayload {} bytes{patch}",
        path.display(),
        bytes.len(),
        warm.0,
        warm.1,
        guest.0,
        guest.1,
        fresh.0,
        fresh.1,
        payload.len()
    );
    Ok(())
}
