//! Deterministic cost of one module on one case: run under callgrind, which
//! counts the instructions of wasmtime's generated code like any other.
//! Timings on a shared machine vary by up to 2x between runs; instruction
//! counts do not, so builds and the ratio to the floor can be compared to
//! the percent (`make bench-instructions` drives it).
//!
//! `instructions MODULE CASE N warm|fresh` makes N `validate` calls of the
//! case's payload (`LATENCY_SETTINGS` picks the settings, as for `latency`):
//! `warm` on one instance, `fresh` each on a new instance (policy-server's
//! way: instantiation, `wapc_init` and the call). Only `measured` is
//! counted (`valgrind --tool=callgrind
//! --toggle-collect='*instructions*measured*'`), so compiling the module
//! and the warm-up are not. With `PERF_MAP` set, wasmtime writes
//! `/tmp/perf-<pid>.map`, with which `policy-bench/name-guest.py` names the
//! guest's functions (build the module unstripped to have names).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use policy_host::host::validate_payload;
use policy_host::{HostOptions, PolicyModule};

#[inline(never)]
fn measured(module: &PolicyModule, warm: bool, payload: &[u8], calls: usize) -> Result<()> {
    if warm {
        let instance = module.instantiate()?;
        for _ in 0..calls {
            std::hint::black_box(instance.call("validate", payload)?);
        }
    } else {
        for _ in 0..calls {
            let instance = module.instantiate()?;
            std::hint::black_box(instance.call("validate", payload)?);
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module_path, name, calls, mode] = args.as_slice() else {
        bail!("usage: instructions MODULE.wasm CASE CALLS warm|fresh");
    };
    let calls: usize = calls.parse().context("CALLS")?;
    let warm = match mode.as_str() {
        "warm" => true,
        "fresh" => false,
        other => bail!("mode {other}: warm or fresh"),
    };
    let settings = policy_bench::settings_from_env()?;
    let cases = policy_bench::all_cases()?;
    let case = cases
        .iter()
        .find(|c| c.name == *name)
        .with_context(|| format!("no case {name}"))?;
    let path = PathBuf::from(module_path);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {module_path}"))?;
    // Compiled code is cached: under callgrind, compiling the module takes
    // most of a run's time.
    let options = HostOptions {
        perf_map: std::env::var_os("PERF_MAP").is_some(),
        cache_dir: Some(policy_bench::root().join("target/wasmtime-cache")),
        ..policy_bench::host_options()
    };
    let module = PolicyModule::from_bytes_with(&bytes, &options)
        .with_context(|| format!("cannot load {module_path}"))?;
    let payload = validate_payload(&case.request, &settings);
    // The first call outside the count: wasmtime's lazy first-touch work
    // (the instance's memory, the module's lazily initialised state).
    module.instantiate()?.call("validate", payload.as_bytes())?;
    measured(&module, warm, payload.as_bytes(), calls)
}
