//! Checks that two builds of the policy answer the same: every
//! `test_data/requests/*.json` request and every benchmark case, with policy.yaml's
//! settings, through the engine; the AdmissionResponses (verdict, message,
//! patch, warnings) must be equal. For vetting a profile variant or a
//! `wasm-opt` output before adopting it.
//!
//! `compare REFERENCE.wasm CANDIDATE.wasm`

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, candidate] = args.as_slice() else {
        bail!("usage: compare REFERENCE.wasm CANDIDATE.wasm");
    };
    let (_, reference) = policy_bench::load_module(&PathBuf::from(reference))?;
    let (_, candidate) = policy_bench::load_module(&PathBuf::from(candidate))?;
    let settings = policy_bench::settings()?;
    let mut requests = Vec::new();
    let dir = policy_bench::root().join("test_data").join("requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let request = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        requests.push((path.display().to_string(), request));
    }
    for case in policy_bench::all_cases()? {
        requests.push((case.name, case.request));
    }
    let mut differ = 0;
    for (name, request) in &requests {
        let a = reference.evaluate(request, &settings)?;
        let b = candidate.evaluate(request, &settings)?;
        if a != b {
            differ += 1;
            println!("DIFFERENT {name}:\n  reference {a:?}\n  candidate {b:?}");
        }
    }
    println!("{} requests, {differ} different", requests.len());
    if differ > 0 {
        bail!("the builds disagree");
    }
    Ok(())
}
