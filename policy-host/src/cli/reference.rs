//! The command-line reference (`docs/cli.md`), generated from the clap
//! definitions so that it cannot drift: `daemonset-csi-policy reference -o
//! docs/cli.md` writes it, and a test fails when the committed file differs.

use std::fmt::Write as _;

/// Markdown: a table of the subcommands, then each command's full help.
pub fn markdown(root: &clap::Command) -> String {
    let mut root = root.clone();
    root.build();
    let name = root.get_name().to_string();
    let mut out = String::new();
    let _ = writeln!(out, "# `{name}` command-line reference\n");
    let _ = writeln!(
        out,
        "Generated from the clap definitions (`policy-host/src/cli/`) by `{name} reference -o docs/cli.md` \
         (`make cli-docs`); `policy-host/tests/tool.rs` fails when this file is stale. Do not edit by hand.\n"
    );
    let _ = writeln!(out, "| command | what it does |\n| --- | --- |");
    for sub in visible_subcommands(&root) {
        let _ = writeln!(
            out,
            "| [`{name} {}`](#{name}-{}) | {} |",
            sub.get_name(),
            sub.get_name(),
            sub.get_about().map(|a| a.to_string()).unwrap_or_default()
        );
    }
    let _ = writeln!(out);
    section(&mut out, &mut root, &name, 2);
    out
}

fn visible_subcommands(command: &clap::Command) -> Vec<&clap::Command> {
    command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect()
}

fn section(out: &mut String, command: &mut clap::Command, path: &str, level: usize) {
    let _ = writeln!(out, "{} `{path}`\n", "#".repeat(level));
    let help = command.render_long_help().to_string();
    let _ = writeln!(out, "```text\n{}\n```\n", help.trim_end());
    let names: Vec<String> = visible_subcommands(command)
        .iter()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        if let Some(sub) = command.find_subcommand_mut(&name) {
            let mut sub = sub.clone().bin_name(format!("{path} {name}"));
            section(out, &mut sub, &format!("{path} {name}"), level + 1);
        }
    }
}
