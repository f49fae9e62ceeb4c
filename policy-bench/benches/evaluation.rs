//! Per-evaluation latency of daemonset-csi-policy in the Kubewarden engine
//! (the e2e host: wapc 2.1.0 + wasmtime-provider 2.13.0 + wasmtime 38, epoch
//! deadline on, like policy-server), against the floor policy measured in
//! the same run with the same requests and settings.
//!
//! Groups (see `policy_bench::groups`), each with `policy` and `floor`:
//! - `validate-warm/<module>/<case>`: `PolicyInstance::evaluate` on one
//!   instance (payload built, guest call, response parsed, JSON patch diff).
//! - `guest-call-warm/<module>/<case>`: the bare waPC call only.
//! - `validate-fresh/<module>/<case>`: `PolicyModule::evaluate`, a fresh
//!   instance per call, what policy-server does.
//! - `validate-settings/<module>/{warm,fresh}`: policy.yaml settings.
//! - `instantiate/<module>`, `compile/<module>`.
//!
//! Short measurements (warm-up 1 s, 2 s, 20 samples) keep `make bench`
//! within a few minutes. At the end the ratio table (`policy_bench::report`)
//! is printed and written to `target/criterion/policy-vs-floor.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use policy_bench::{Expect, all_cases, groups, host_options, load_module, verdict};
use policy_host::PolicyModule;
use policy_host::host::validate_payload;

const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(2);
const SAMPLES: usize = 20;

fn evaluation(c: &mut Criterion) {
    let settings = policy_bench::settings().expect("policy.yaml settings");
    let (policy_bytes, policy) = load_module(&policy_bench::policy_wasm()).expect("policy module");
    let (floor_bytes, floor) = load_module(&policy_bench::floor_wasm()).expect("floor module");
    let modules: [(&str, &[u8], &PolicyModule); 2] = [
        ("policy", &policy_bytes, &policy),
        ("floor", &floor_bytes, &floor),
    ];
    let cases = all_cases().expect("benchmark cases");

    // Sanity: the policy answers what each case is meant to exercise (a
    // scaled DaemonSet that were rejected early would measure nothing), and
    // the floor accepts everything.
    for case in &cases {
        let got = verdict(&policy.evaluate(&case.request, &settings).expect("evaluate"));
        if got != case.expect {
            eprintln!(
                "WARNING: policy answers {got:?} for {} (expected {:?}): its timing measures another path",
                case.name, case.expect
            );
        }
        let floor_got = verdict(&floor.evaluate(&case.request, &settings).expect("evaluate"));
        assert_eq!(floor_got, Expect::Accept, "floor on {}", case.name);
    }
    let settings_ok = policy
        .validate_settings(&settings)
        .expect("validate_settings");
    assert!(settings_ok.valid, "policy.yaml settings: {settings_ok:?}");

    let throughput =
        |case: &policy_bench::Case| Throughput::Bytes(case.payload_bytes(&settings) as u64);

    // Policy and floor are measured back to back for each case, so that a
    // change of machine load between them skews the ratio as little as
    // possible.
    let instances: Vec<_> = modules
        .iter()
        .map(|(_, _, module)| module.instantiate().expect("instance"))
        .collect();
    let mut group = c.benchmark_group(groups::WARM);
    for case in &cases {
        group.throughput(throughput(case));
        for ((label, _, _), instance) in modules.iter().zip(&instances) {
            group.bench_with_input(BenchmarkId::new(*label, &case.name), case, |b, case| {
                b.iter(|| {
                    instance
                        .evaluate(black_box(&case.request), &settings)
                        .unwrap()
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group(groups::GUEST);
    for case in &cases {
        let payload = validate_payload(&case.request, &settings);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        for ((label, _, _), instance) in modules.iter().zip(&instances) {
            group.bench_with_input(
                BenchmarkId::new(*label, &case.name),
                payload.as_bytes(),
                |b, payload| b.iter(|| instance.call("validate", black_box(payload)).unwrap()),
            );
        }
    }
    group.finish();
    drop(instances);

    let mut group = c.benchmark_group(groups::FRESH);
    for case in &cases {
        group.throughput(throughput(case));
        for (label, _, module) in modules {
            group.bench_with_input(BenchmarkId::new(label, &case.name), case, |b, case| {
                b.iter(|| {
                    module
                        .evaluate(black_box(&case.request), &settings)
                        .unwrap()
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group(groups::SETTINGS);
    for (label, _, module) in modules {
        let instance = module.instantiate().expect("instance");
        group.bench_function(BenchmarkId::new(label, "warm"), |b| {
            b.iter(|| instance.validate_settings(black_box(&settings)))
        });
        group.bench_function(BenchmarkId::new(label, "fresh"), |b| {
            b.iter(|| module.validate_settings(black_box(&settings)).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group(groups::INSTANTIATE);
    for (label, _, module) in modules {
        group.bench_function(label, |b| b.iter(|| module.instantiate().unwrap()));
    }
    group.finish();

    // Compilation takes tens to hundreds of milliseconds: flat sampling, few
    // samples.
    let mut group = c.benchmark_group(groups::COMPILE);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let options = host_options();
    for (label, bytes, _) in modules {
        group.bench_function(label, |b| {
            b.iter(|| PolicyModule::from_bytes_with(black_box(bytes), &options).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(MEASURE)
        .sample_size(SAMPLES);
    targets = evaluation
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The ratio table of what criterion just wrote (also `--bin report`).
    match policy_bench::report::render() {
        Ok(report) => {
            println!("\n{report}");
            let path = policy_bench::criterion_dir().join("policy-vs-floor.md");
            if let Err(e) = std::fs::write(&path, &report) {
                eprintln!("cannot write {}: {e}", path.display());
            } else {
                println!("(written to {})", path.display());
            }
        }
        Err(e) => eprintln!("no report: {e:#}"),
    }
}
