//! Prints the report of the last `cargo bench -p policy-bench` run (ratio
//! tables policy vs floor, scaling, sizes): `policy_bench::report`.
//!
//! `cargo run --profile bench -p policy-bench --bin report`

fn main() -> anyhow::Result<()> {
    print!("{}", policy_bench::report::render()?);
    Ok(())
}
