//! Prints the report of the last `cargo bench -p policy-bench` run (tables
//! of the policy against the floor, pod-privileged and settings `{}`,
//! scaling, sizes, the README block): `policy_bench::report`.
//!
//! `cargo run --profile bench -p policy-bench --bin report [-- --readme README.md]`:
//! with `--readme FILE`, rewrites the block between `<!-- bench:start -->`
//! and `<!-- bench:end -->` of FILE instead (`make bench-readme`).

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => print!("{}", policy_bench::report::render()?),
        [flag, file] if flag == "--readme" => {
            let path = std::path::Path::new(file);
            policy_bench::report::update_readme(path)
                .with_context(|| format!("cannot update {}", path.display()))?;
            println!(
                "{}: performance block rewritten from the last run",
                path.display()
            );
        }
        _ => bail!("usage: report [--readme FILE]"),
    }
    Ok(())
}
