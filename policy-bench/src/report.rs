//! The markdown report of a `cargo bench -p policy-bench` run: criterion's
//! estimates (`<criterion dir>/<group>/<subject>/<case>/new/estimates.json`,
//! median) as tables of the policy against the floor, pod-privileged and
//! itself without settings (warm and fresh), the 20-profiles case, size
//! scaling, settings, instantiation, compilation and module sizes; then the
//! README block (ratios only, between `README_START` and `README_END`) that
//! `make bench-readme` puts into README.md (`update_readme`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::subjects::{FLOOR, FLOOR_PROFILES, NO_SETTINGS, POD_PRIVILEGED, POLICY, PROFILES};
use crate::{
    Case, PROFILE_COUNT, VERDICTS_FILE, all_cases, criterion_dir, floor_wasm, groups,
    pod_privileged_wasm, policy_wasm, root,
};

/// The first line of the README's generated block.
pub const README_START: &str = "<!-- bench:start -->";
/// The last line of the README's generated block.
pub const README_END: &str = "<!-- bench:end -->";

macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Median of a benchmark in microseconds, if it was run.
fn median_us(dir: &Path, group: &str, parts: &[&str]) -> Option<f64> {
    let mut path = dir.join(group);
    for p in parts {
        path.push(p);
    }
    path.push("new/estimates.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.pointer("/median/point_estimate")?
        .as_f64()
        .map(|ns| ns / 1000.0)
}

fn us(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// `subject -> case -> verdict` of the last run's sanity check.
type Verdicts = BTreeMap<String, BTreeMap<String, String>>;

fn read_verdicts(dir: &Path) -> Verdicts {
    std::fs::read_to_string(dir.join(VERDICTS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// What the report reads of one run.
struct Run {
    dir: PathBuf,
    settings: Value,
    cases: Vec<Case>,
    verdicts: Verdicts,
}

impl Run {
    fn load() -> Result<Run> {
        let dir = criterion_dir();
        if !dir.is_dir() {
            anyhow::bail!(
                "no criterion results in {} (run `make bench` first)",
                dir.display()
            );
        }
        Ok(Run {
            verdicts: read_verdicts(&dir),
            settings: crate::settings()?,
            cases: all_cases()?,
            dir,
        })
    }

    fn get(&self, group: &str, subject: &str, case: &str) -> Option<f64> {
        median_us(&self.dir, group, &[subject, case])
    }

    fn verdict(&self, subject: &str, case: &str) -> &str {
        self.verdicts
            .get(subject)
            .and_then(|m| m.get(case))
            .map(|v| match v.as_str() {
                "Accept" => "accept",
                "Mutate" => "mutate",
                "Reject" => "reject",
                other => other,
            })
            .unwrap_or("-")
    }

    fn payload_kib(&self, case: &Case) -> f64 {
        kib(case.payload_bytes(&self.settings))
    }
}

/// The per-case table of one group (warm or fresh).
fn validate_table(out: &mut String, run: &Run, group: &str) {
    outln!(
        out,
        "| case | payload KiB | verdict | policy | floor | policy / floor | pod-privileged (verdict) | policy / pod-privileged | settings `{{}}` (verdict) | settings cost: policy − `{{}}` |"
    );
    outln!(out, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for case in &run.cases {
        let get = |subject: &str| run.get(group, subject, &case.name);
        let (p, f, pp, ns) = (
            get(POLICY),
            get(FLOOR),
            get(POD_PRIVILEGED),
            get(NO_SETTINGS),
        );
        let with_verdict = |t: Option<f64>, subject: &str| match t {
            Some(_) => format!("{} ({})", us(t), run.verdict(subject, &case.name)),
            None => "-".into(),
        };
        outln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            run.payload_kib(case),
            run.verdict(POLICY, &case.name),
            us(p),
            us(f),
            ratio(p, f),
            with_verdict(pp, POD_PRIVILEGED),
            ratio(p, pp),
            with_verdict(ns, NO_SETTINGS),
            us(diff(p, ns)),
        );
    }
}

/// The markdown report of the last run (criterion's results in
/// `criterion_dir()`), README block included.
pub fn render() -> Result<String> {
    let run = Run::load()?;
    let dir = &run.dir;
    let mut out = String::new();

    outln!(
        out,
        "## validate: policy vs floor, pod-privileged and settings `{{}}` (median µs per evaluation)\n"
    );
    outln!(
        out,
        "policy and floor get policy.yaml's settings; pod-privileged \
         (Kubewarden's official module, DaemonSet requests only) and \"settings `{{}}`\" \
         (policy.wasm again) get `{{}}`. The settings cost is policy − settings `{{}}` \
         (with `{{}}` the policy may take another path: see the verdicts).\n"
    );
    outln!(
        out,
        "### Warm: one instance reused (`PolicyInstance::evaluate`)\n"
    );
    validate_table(&mut out, &run, groups::WARM);
    outln!(
        out,
        "\n### Fresh: a new instance per call (`PolicyModule::evaluate`, what policy-server does)\n"
    );
    validate_table(&mut out, &run, groups::FRESH);

    outln!(
        out,
        "\n## Guest call: the bare waPC `validate` call on a warm instance (median µs)\n"
    );
    outln!(out, "| case | policy | floor | ratio | policy − floor |");
    outln!(out, "|---|---:|---:|---:|---:|");
    for case in &run.cases {
        let p = run.get(groups::GUEST, POLICY, &case.name);
        let f = run.get(groups::GUEST, FLOOR, &case.name);
        outln!(
            out,
            "| {} | {} | {} | {} | {} |",
            case.name,
            us(p),
            us(f),
            ratio(p, f),
            us(diff(p, f))
        );
    }

    outln!(out, "\n## {PROFILE_COUNT} DaemonSet profiles (median µs)\n");
    let profile_cases: Vec<&Case> = run
        .cases
        .iter()
        .filter(|c| run.get(groups::WARM, PROFILES, &c.name).is_some())
        .collect();
    if profile_cases.is_empty() {
        outln!(
            out,
            "Not measured: policy.wasm refused `daemonSets.profiles` (no profiles in its settings schema yet)."
        );
    } else {
        outln!(
            out,
            "policy.yaml's settings plus {PROFILE_COUNT} profiles \
             (`policy_bench::profiles_settings`), none matching the request.\n"
        );
        outln!(
            out,
            "| case | verdict | warm | warm, policy.yaml | ratio | warm settings cost: profiles − `{{}}` | fresh | fresh, policy.yaml | ratio | fresh settings cost |"
        );
        outln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for case in profile_cases {
            let get = |group: &str, subject: &str| run.get(group, subject, &case.name);
            let (wq, wp, wn) = (
                get(groups::WARM, PROFILES),
                get(groups::WARM, POLICY),
                get(groups::WARM, NO_SETTINGS),
            );
            let (fq, fp, fnn) = (
                get(groups::FRESH, PROFILES),
                get(groups::FRESH, POLICY),
                get(groups::FRESH, NO_SETTINGS),
            );
            outln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                case.name,
                run.verdict(PROFILES, &case.name),
                us(wq),
                us(wp),
                ratio(wq, wp),
                us(diff(wq, wn)),
                us(fq),
                us(fp),
                ratio(fq, fp),
                us(diff(fq, fnn)),
            );
        }
    }

    outln!(
        out,
        "\n## Size scaling (guest call, warm; µs per KiB of payload)\n"
    );
    outln!(
        out,
        "| case | payload KiB | policy µs | floor µs | policy µs/KiB | floor µs/KiB | policy marginal µs/KiB | floor marginal µs/KiB |"
    );
    outln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut prev: Option<(f64, Option<f64>, Option<f64>)> = None;
    for case in run.cases.iter().filter(|c| c.is_scale()) {
        let size = run.payload_kib(case);
        let p = run.get(groups::GUEST, POLICY, &case.name);
        let f = run.get(groups::GUEST, FLOOR, &case.name);
        let per = |t: Option<f64>| t.map(|t| format!("{:.2}", t / size)).unwrap_or("-".into());
        let marginal = |t: Option<f64>, pt: Option<f64>, psize: f64| match (t, pt) {
            (Some(t), Some(pt)) => format!("{:.2}", (t - pt) / (size - psize)),
            _ => "-".into(),
        };
        let (mp, mf) = match prev {
            Some((psize, pp, pf)) => (marginal(p, pp, psize), marginal(f, pf, psize)),
            None => ("-".into(), "-".into()),
        };
        outln!(
            out,
            "| {} | {size:.1} | {} | {} | {} | {} | {mp} | {mf} |",
            case.name,
            us(p),
            us(f),
            per(p),
            per(f)
        );
        prev = Some((size, p, f));
    }

    outln!(
        out,
        "\n## Settings, instantiation, compilation (median µs)\n"
    );
    outln!(
        out,
        "validate_settings of each module's own settings (policy.yaml; pod-privileged `{{}}`). \
         Compile: `PolicyModule::from_bytes_with`, the wasmtime compilation policy-server \
         does when it loads a module (no compilation cache).\n"
    );
    outln!(
        out,
        "| what | policy | floor | pod-privileged | {PROFILE_COUNT} profiles | policy / floor | policy / pod-privileged |"
    );
    outln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let rows: [(&str, &str, &[&str]); 4] = [
        ("validate_settings, warm", groups::SETTINGS, &["warm"]),
        ("validate_settings, fresh", groups::SETTINGS, &["fresh"]),
        ("instantiate (+ wapc_init)", groups::INSTANTIATE, &[]),
        ("compile", groups::COMPILE, &[]),
    ];
    for (what, group, rest) in rows {
        let get = |subject: &str| {
            let mut parts = vec![subject];
            parts.extend_from_slice(rest);
            median_us(dir, group, &parts)
        };
        let (p, f, pp, q) = (get(POLICY), get(FLOOR), get(POD_PRIVILEGED), get(PROFILES));
        outln!(
            out,
            "| {what} | {} | {} | {} | {} | {} | {} |",
            us(p),
            us(f),
            us(pp),
            us(q),
            ratio(p, f),
            ratio(p, pp)
        );
    }

    outln!(out, "\n## Module sizes\n");
    outln!(out, "| module | bytes | KiB |");
    outln!(out, "|---|---:|---:|");
    let mut modules: Vec<(String, PathBuf)> = vec![
        ("policy.wasm (as built)".into(), policy_wasm()),
        ("floor (as built)".into(), floor_wasm()),
        (
            "annotated-policy.wasm".into(),
            root().join("annotated-policy.wasm"),
        ),
        ("pod-privileged-policy.wasm".into(), pod_privileged_wasm()),
    ];
    // `make wasm-sizes` leaves wasm-opt outputs here.
    let sizes_dir = root().join("target/wasm-sizes");
    if let Ok(entries) = std::fs::read_dir(&sizes_dir) {
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            if path.extension().is_some_and(|e| e == "wasm") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                modules.push((format!("target/wasm-sizes/{name}"), path));
            }
        }
    }
    for (name, path) in modules {
        if let Some(size) = file_size(&path) {
            outln!(out, "| {name} | {size} | {:.1} |", size as f64 / 1024.0);
        }
    }

    outln!(
        out,
        "\n## README block (`make bench-readme` puts it into README.md)\n"
    );
    out.push_str(&readme_block(&run));
    outln!(
        out,
        "\n(criterion results: {}; medians; policy module {})",
        dir.display(),
        policy_wasm().display()
    );
    Ok(out)
}

/// The README's performance table, markers included: ratios only (they
/// hold across machines where times do not).
fn readme_block(run: &Run) -> String {
    let mut out = String::new();
    outln!(out, "{README_START}");
    outln!(
        out,
        "<!-- generated by `make bench-readme` from the last `make bench` (policy-bench/src/report.rs): do not edit by hand -->"
    );
    outln!(
        out,
        "| request | KiB | verdict | ÷ SDK floor, warm / fresh | ÷ pod-privileged, warm / fresh | ÷ same with settings `{{}}`, warm / fresh |"
    );
    outln!(out, "|---|---:|---|---:|---:|---:|");
    let pair = |subject: &str, other: &str, case: &str| {
        let w = ratio(
            run.get(groups::WARM, subject, case),
            run.get(groups::WARM, other, case),
        );
        let f = ratio(
            run.get(groups::FRESH, subject, case),
            run.get(groups::FRESH, other, case),
        );
        if w == "-" && f == "-" {
            "-".to_string()
        } else {
            format!("{w} / {f}")
        }
    };
    for case in &run.cases {
        outln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} |",
            case.title,
            kib(case.request_bytes()),
            run.verdict(POLICY, &case.name),
            pair(POLICY, FLOOR, &case.name),
            pair(POLICY, POD_PRIVILEGED, &case.name),
            pair(POLICY, NO_SETTINGS, &case.name),
        );
    }
    outln!(out, "");
    let profile_cases: Vec<&Case> = run
        .cases
        .iter()
        .filter(|c| run.get(groups::WARM, PROFILES, &c.name).is_some())
        .collect();
    if !profile_cases.is_empty() {
        outln!(
            out,
            "With {PROFILE_COUNT} DaemonSet profiles added to `policy.yaml`'s settings (none matching the request):\n"
        );
        outln!(
            out,
            "| request | guest call ÷ `policy.yaml` alone | the floor's own, guest call | evaluation ÷ `policy.yaml` alone, warm / fresh | settings cost ÷ without profiles, warm / fresh |"
        );
        outln!(out, "|---|---:|---:|---:|---:|");
        for case in profile_cases {
            let cost_ratio = |group: &str| {
                let get = |subject: &str| run.get(group, subject, &case.name);
                ratio(
                    diff(get(PROFILES), get(NO_SETTINGS)),
                    diff(get(POLICY), get(NO_SETTINGS)),
                )
            };
            let guest = |subject: &str| run.get(groups::GUEST, subject, &case.name);
            outln!(
                out,
                "| {} | {} | {} | {} | {} / {} |",
                case.title,
                ratio(guest(PROFILES), guest(POLICY)),
                ratio(guest(FLOOR_PROFILES), guest(FLOOR)),
                pair(PROFILES, POLICY, &case.name),
                cost_ratio(groups::WARM),
                cost_ratio(groups::FRESH),
            );
        }
        outln!(
            out,
            "\nThe guest call is the module's own work, the waPC host's copies of the payload included; \
             an evaluation adds the host serialising the request and the 10 KB longer settings for \
             every call (policy-server does the same), which the floor pays alike.\n"
        );
    }
    let compile = |subject: &str| median_us(&run.dir, groups::COMPILE, &[subject]);
    let size = |path: PathBuf| {
        file_size(&path)
            .map(|s| format!("{:.0} KB", s as f64 / 1000.0))
            .unwrap_or("-".into())
    };
    outln!(
        out,
        "Module compilation (wasmtime, as policy-server loads a module) ÷ the floor's: {}, \
         ÷ pod-privileged's: {}. Sizes: `policy.wasm` {}, floor {}, pod-privileged {}.",
        ratio(compile(POLICY), compile(FLOOR)),
        ratio(compile(POLICY), compile(POD_PRIVILEGED)),
        size(policy_wasm()),
        size(floor_wasm()),
        size(pod_privileged_wasm()),
    );
    outln!(out, "{README_END}");
    out
}

/// Replace the block between `README_START` and `README_END` (markers
/// included) of `readme` with the last run's; the file must hold both
/// markers, each on a line of its own.
pub fn update_readme(readme: &Path) -> Result<()> {
    let run = Run::load()?;
    let block = readme_block(&run);
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let start = text.find(README_START);
    let end = text.find(README_END);
    let (Some(start), Some(end)) = (start, end) else {
        anyhow::bail!(
            "{} has no `{README_START}` ... `{README_END}` block: put the two markers, \
             each on its own line, where the performance table goes",
            readme.display()
        );
    };
    if end < start {
        anyhow::bail!(
            "{}: `{README_END}` comes before `{README_START}`",
            readme.display()
        );
    }
    let after = end + README_END.len();
    let after = text[after..]
        .strip_prefix('\n')
        .map_or(after, |_| after + 1);
    let updated = format!("{}{block}{}", &text[..start], &text[after..]);
    if updated != text {
        std::fs::write(readme, updated)
            .with_context(|| format!("cannot write {}", readme.display()))?;
    }
    Ok(())
}
