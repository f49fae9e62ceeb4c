//! `daemonset-csi-policy`: the project's command-line tool. Everything lives
//! in `policy_host::cli`; see `docs/cli.md`.

fn main() -> std::process::ExitCode {
    policy_host::cli::main()
}
