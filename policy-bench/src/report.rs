//! The markdown report of a `cargo bench -p policy-bench` run: criterion's
//! estimates (`<criterion dir>/<group>/<module>/<case>/new/estimates.json`,
//! median) as tables of policy vs floor with ratios, size scaling per KiB,
//! settings, instantiation, compilation, and module sizes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::Value;

use crate::{Case, all_cases, criterion_dir, floor_wasm, groups, policy_wasm, root};

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
        Some(v) if v >= 1000.0 => format!("{v:.0}"),
        Some(v) if v >= 100.0 => format!("{v:.1}"),
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

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The markdown report of the last run.
pub fn render() -> Result<String> {
    let mut out = String::new();
    let dir = criterion_dir();
    if !dir.is_dir() {
        anyhow::bail!(
            "no criterion results in {} (run `cargo bench -p policy-bench` first)",
            dir.display()
        );
    }
    let settings = crate::settings()?;
    let cases: Vec<Case> = all_cases()?;

    outln!(
        out,
        "## validate: policy vs floor (median µs per evaluation)\n"
    );
    outln!(
        out,
        "Warm: one instance reused (`PolicyInstance::evaluate`). Fresh: new instance per call \
         (`PolicyModule::evaluate`, what policy-server does). Guest: the bare waPC `validate` \
         call on a warm instance (no host-side JSON work).\n"
    );
    outln!(
        out,
        "| case | payload KiB | warm policy | warm floor | ratio | fresh policy | fresh floor | ratio | guest policy | guest floor | ratio | guest policy − floor |"
    );
    outln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for case in &cases {
        let get = |group: &str, module: &str| median_us(&dir, group, &[module, &case.name]);
        let (wp, wf) = (get(groups::WARM, "policy"), get(groups::WARM, "floor"));
        let (fp, ff) = (get(groups::FRESH, "policy"), get(groups::FRESH, "floor"));
        let (gp, gf) = (get(groups::GUEST, "policy"), get(groups::GUEST, "floor"));
        let extra = match (gp, gf) {
            (Some(p), Some(f)) => us(Some(p - f)),
            _ => "-".into(),
        };
        outln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            kib(case.payload_bytes(&settings)),
            us(wp),
            us(wf),
            ratio(wp, wf),
            us(fp),
            us(ff),
            ratio(fp, ff),
            us(gp),
            us(gf),
            ratio(gp, gf),
            extra,
        );
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
    for case in cases.iter().filter(|c| c.name.starts_with("ds-scale-")) {
        let size = kib(case.payload_bytes(&settings));
        let p = median_us(&dir, groups::GUEST, &["policy", &case.name]);
        let f = median_us(&dir, groups::GUEST, &["floor", &case.name]);
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
    outln!(out, "| what | policy | floor | ratio |");
    outln!(out, "|---|---:|---:|---:|");
    let rows: [(&str, &str, &[&str]); 4] = [
        ("validate_settings, warm", groups::SETTINGS, &["warm"]),
        ("validate_settings, fresh", groups::SETTINGS, &["fresh"]),
        ("instantiate (+ wapc_init)", groups::INSTANTIATE, &[]),
        (
            "compile (PolicyModule::from_bytes_with)",
            groups::COMPILE,
            &[],
        ),
    ];
    for (what, group, rest) in rows {
        let get = |module: &str| {
            let mut parts = vec![module];
            parts.extend_from_slice(rest);
            median_us(&dir, group, &parts)
        };
        let (p, f) = (get("policy"), get("floor"));
        outln!(out, "| {what} | {} | {} | {} |", us(p), us(f), ratio(p, f));
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
        "\n(criterion results: {}; medians; policy module {})",
        dir.display(),
        policy_wasm().display()
    );
    Ok(out)
}
