//! Per-evaluation latency of daemonset-csi-policy in the Kubewarden engine
//! (the e2e host: wapc 2.1.0 + wasmtime-provider 2.13.0 + wasmtime 38, epoch
//! deadline on, like policy-server), against, in the same run with the same
//! requests: the SDK floor (same settings) and Kubewarden's official
//! pod-privileged-policy (settings `{}`, DaemonSet requests).
//!
//! Subjects (`policy_bench::subjects`): `policy` (policy.yaml settings),
//! `policy-no-settings` (settings `{}`; `policy` minus it is what the
//! settings cost), `policy-20-profiles` (only when policy.wasm accepts
//! `daemonSets.profiles`), `floor`, `pod-privileged` (only when its module
//! is there: `POD_PRIVILEGED_WASM`).
//!
//! Groups (`policy_bench::groups`), `<group>/<subject>/<case>`:
//! - `validate-warm`: `PolicyInstance::evaluate` on one instance (payload
//!   built, guest call, response parsed, JSON patch diff).
//! - `validate-fresh`: `PolicyModule::evaluate`, a fresh instance per call,
//!   what policy-server does.
//! - `guest-call-warm`: the bare waPC call only, `policy` and `floor`.
//! - `validate-settings/<subject>/{warm,fresh}`, `instantiate/<subject>`,
//!   `compile/<subject>` (module compilation as policy-server does at load,
//!   `PolicyModule::from_bytes_with`, no compilation cache).
//!
//! Short measurements (warm-up 0.5 s, 1.5 s, 20 samples; 10 on the 50 and
//! 200 KiB DaemonSets) keep `make bench` within about 6 minutes on 2 cores.
//! At the end the report (`policy_bench::report`) is printed and written to
//! `target/criterion/policy-vs-floor.md`; the verdict of each subject on
//! each case goes to `target/criterion/policy-bench-verdicts.json` for it.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use policy_bench::{
    Case, Expect, PROFILE_COUNT, all_cases, groups, host_options, load_module, subjects, verdict,
};
use policy_host::PolicyModule;
use policy_host::host::validate_payload;
use serde_json::{Value, json};

const WARM_UP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_millis(1500);
const SAMPLES: usize = 20;
/// Samples of the 50 and 200 KiB DaemonSets (milliseconds per call).
const BIG_SAMPLES: usize = 10;

/// One measured module + settings.
struct Subject<'a> {
    label: &'static str,
    module: &'a PolicyModule,
    bytes: &'a [u8],
    settings: Value,
    /// Which cases it is measured on.
    applies: fn(&Case) -> bool,
}

fn every(_: &Case) -> bool {
    true
}

/// The settings cost is a question for the named requests; the scaling
/// DaemonSets measure the object's size, not the settings.
fn not_scale(case: &Case) -> bool {
    !case.is_scale()
}

fn daemonset(case: &Case) -> bool {
    case.is_daemonset()
}

/// The profiles case: the DaemonSets where the policy's own rules run.
fn profiles_case(case: &Case) -> bool {
    case.is_daemonset() && !case.is_scale()
}

fn samples(case: &Case) -> usize {
    if case.is_scale() && case.request_bytes() > 20 * 1024 {
        BIG_SAMPLES
    } else {
        SAMPLES
    }
}

fn evaluation(c: &mut Criterion) {
    let settings = policy_bench::settings().expect("policy.yaml settings");
    let (policy_bytes, policy) = load_module(&policy_bench::policy_wasm()).expect("policy module");
    let (floor_bytes, floor) = load_module(&policy_bench::floor_wasm()).expect("floor module");
    let pod_privileged_path = policy_bench::pod_privileged_wasm();
    let pod_privileged = if pod_privileged_path.is_file() {
        match load_module(&pod_privileged_path) {
            Ok(loaded) => Some(loaded),
            Err(e) => {
                println!("pod-privileged: {e:#}: its column is skipped");
                None
            }
        }
    } else {
        println!(
            "pod-privileged: {} is absent (set POD_PRIVILEGED_WASM): its column is skipped",
            pod_privileged_path.display()
        );
        None
    };
    let cases = all_cases().expect("benchmark cases");

    // HOOK (20-profiles case): measured once policy.wasm's settings schema
    // has `daemonSets.profiles` (issue 12), i.e. when its validate_settings
    // accepts policy.yaml's settings plus 20 profiles.
    let profiles = policy_bench::profiles_settings(&settings, PROFILE_COUNT);
    let profiles_check = policy
        .validate_settings(&profiles)
        .expect("validate_settings");
    let with_profiles = profiles_check.valid;
    if !with_profiles {
        println!(
            "policy-20-profiles: policy.wasm refuses daemonSets.profiles ({}): the case is skipped",
            profiles_check
                .message
                .as_deref()
                .unwrap_or("no message")
                .lines()
                .next()
                .unwrap_or_default()
        );
    }

    let mut measured: Vec<Subject> = vec![
        Subject {
            label: subjects::POLICY,
            module: &policy,
            bytes: &policy_bytes,
            settings: settings.clone(),
            applies: every,
        },
        Subject {
            label: subjects::NO_SETTINGS,
            module: &policy,
            bytes: &policy_bytes,
            settings: json!({}),
            applies: not_scale,
        },
    ];
    if with_profiles {
        measured.push(Subject {
            label: subjects::PROFILES,
            module: &policy,
            bytes: &policy_bytes,
            settings: profiles,
            applies: profiles_case,
        });
    }
    measured.push(Subject {
        label: subjects::FLOOR,
        module: &floor,
        bytes: &floor_bytes,
        settings: settings.clone(),
        applies: every,
    });
    if let Some((bytes, module)) = &pod_privileged {
        measured.push(Subject {
            label: subjects::POD_PRIVILEGED,
            module,
            bytes,
            settings: json!({}),
            applies: daemonset,
        });
    }

    // Sanity: the policy answers what each case is meant to exercise (a
    // scaled DaemonSet that were rejected early would measure nothing), the
    // floor accepts everything, and the others' verdicts are recorded for
    // the report.
    let mut verdicts: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for subject in &measured {
        let ok = subject
            .module
            .validate_settings(&subject.settings)
            .expect("validate_settings");
        assert!(ok.valid, "{} settings: {ok:?}", subject.label);
        for case in cases.iter().filter(|c| (subject.applies)(c)) {
            let got = verdict(
                &subject
                    .module
                    .evaluate(&case.request, &subject.settings)
                    .expect("evaluate"),
            );
            match subject.label {
                subjects::POLICY | subjects::PROFILES if got != case.expect => eprintln!(
                    "WARNING: {} answers {got:?} for {} (expected {:?}): its timing measures another path",
                    subject.label, case.name, case.expect
                ),
                subjects::FLOOR => assert_eq!(got, Expect::Accept, "floor on {}", case.name),
                _ => {}
            }
            verdicts
                .entry(subject.label)
                .or_default()
                .insert(&case.name, format!("{got:?}"));
        }
    }
    let verdicts_path = policy_bench::criterion_dir().join(policy_bench::VERDICTS_FILE);
    if let Some(dir) = verdicts_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&verdicts_path, json!(verdicts).to_string()) {
        eprintln!("cannot write {}: {e}", verdicts_path.display());
    }

    let throughput = |case: &Case| Throughput::Bytes(case.payload_bytes(&settings) as u64);

    // The subjects are measured back to back for each case, so that a
    // change of machine load between them skews the ratios as little as
    // possible.
    let instances: Vec<_> = measured
        .iter()
        .map(|s| s.module.instantiate().expect("instance"))
        .collect();
    let mut group = c.benchmark_group(groups::WARM);
    for case in &cases {
        group
            .throughput(throughput(case))
            .sample_size(samples(case));
        for (subject, instance) in measured.iter().zip(&instances) {
            if !(subject.applies)(case) {
                continue;
            }
            group.bench_with_input(
                BenchmarkId::new(subject.label, &case.name),
                case,
                |b, case| {
                    b.iter(|| {
                        instance
                            .evaluate(black_box(&case.request), &subject.settings)
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();

    // The guest's own time: policy and floor (the others' differ from
    // their warm evaluation by the same host work), and with the 20
    // profiles both the policy and the floor fed them: the warm evaluation
    // includes the host serialising the longer settings for every call,
    // which no module can avoid, so the profiles' own cost is read here.
    let floor_instance = measured
        .iter()
        .zip(&instances)
        .find(|(s, _)| s.label == subjects::FLOOR)
        .map(|(_, instance)| instance);
    let mut group = c.benchmark_group(groups::GUEST);
    for case in &cases {
        let payload = validate_payload(&case.request, &settings);
        group
            .throughput(Throughput::Bytes(payload.len() as u64))
            .sample_size(samples(case));
        for (subject, instance) in measured.iter().zip(&instances) {
            let guest_measured = matches!(
                subject.label,
                subjects::POLICY | subjects::FLOOR | subjects::PROFILES
            );
            if !guest_measured || !(subject.applies)(case) {
                continue;
            }
            let payload = validate_payload(&case.request, &subject.settings);
            group.bench_with_input(
                BenchmarkId::new(subject.label, &case.name),
                payload.as_bytes(),
                |b, payload| b.iter(|| instance.call("validate", black_box(payload)).unwrap()),
            );
            if subject.label == subjects::PROFILES
                && let Some(floor) = floor_instance
            {
                group.bench_with_input(
                    BenchmarkId::new(subjects::FLOOR_PROFILES, &case.name),
                    payload.as_bytes(),
                    |b, payload| b.iter(|| floor.call("validate", black_box(payload)).unwrap()),
                );
            }
        }
    }
    group.finish();
    drop(instances);

    let mut group = c.benchmark_group(groups::FRESH);
    for case in &cases {
        group
            .throughput(throughput(case))
            .sample_size(samples(case));
        for subject in &measured {
            if !(subject.applies)(case) {
                continue;
            }
            group.bench_with_input(
                BenchmarkId::new(subject.label, &case.name),
                case,
                |b, case| {
                    b.iter(|| {
                        subject
                            .module
                            .evaluate(black_box(&case.request), &subject.settings)
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();

    // validate_settings of the settings each subject gets (`{}` for
    // policy-no-settings and pod-privileged: skipped for the former, its
    // settings carry no work worth a row).
    let mut group = c.benchmark_group(groups::SETTINGS);
    for subject in measured.iter().filter(|s| s.label != subjects::NO_SETTINGS) {
        let instance = subject.module.instantiate().expect("instance");
        group.bench_function(BenchmarkId::new(subject.label, "warm"), |b| {
            b.iter(|| instance.validate_settings(black_box(&subject.settings)))
        });
        group.bench_function(BenchmarkId::new(subject.label, "fresh"), |b| {
            b.iter(|| {
                subject
                    .module
                    .validate_settings(black_box(&subject.settings))
                    .unwrap()
            })
        });
    }
    group.finish();

    // One row per module.
    let modules: Vec<&Subject> = measured
        .iter()
        .filter(|s| {
            [subjects::POLICY, subjects::FLOOR, subjects::POD_PRIVILEGED].contains(&s.label)
        })
        .collect();
    let mut group = c.benchmark_group(groups::INSTANTIATE);
    for subject in &modules {
        group.bench_function(subject.label, |b| {
            b.iter(|| subject.module.instantiate().unwrap())
        });
    }
    group.finish();

    // Compilation takes tens to hundreds of milliseconds (pod-privileged,
    // 1.7 MB unoptimised, about a second): flat sampling, few samples.
    let mut group = c.benchmark_group(groups::COMPILE);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let options = host_options();
    for subject in &modules {
        group.bench_function(subject.label, |b| {
            b.iter(|| PolicyModule::from_bytes_with(black_box(subject.bytes), &options).unwrap())
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
    // The tables of what criterion just wrote (also `--bin report`).
    match policy_bench::report::render() {
        Ok(report) => {
            println!("\n{report}");
            let path = policy_bench::criterion_dir().join(policy_bench::REPORT_FILE);
            if let Err(e) = std::fs::write(&path, &report) {
                eprintln!("cannot write {}: {e}", path.display());
            } else {
                println!(
                    "(written to {}; `make bench-readme` puts its README block into README.md)",
                    path.display()
                );
            }
        }
        Err(e) => eprintln!("no report: {e:#}"),
    }
}
