//! The README's Install section documents only commands and flags that exist: every
//! `todoplan ...` command in it (code blocks and code spans) parses through the clap
//! definition, every `--flag` it names is a flag of some verb, and the delivery it says each
//! local cluster's context gets is the one todoplan detects.

use clap::CommandFactory;
use clap::Parser;

const README: &str = include_str!("../../README.md");

/// From the Install section to the chart section: install, the five-minute walk, the CI recipe.
fn install_section() -> &'static str {
    let start = README
        .find("\n## Install\n")
        .expect("the README has an Install section");
    let rest = &README[start..];
    let end = rest
        .find("\n## Charts and rendering\n")
        .expect("the README has a Charts and rendering section after Install");
    &rest[..end]
}

/// `todoplan ...` invocations: lines of code blocks and code spans, comments, redirections and
/// `[OPTIONAL]` parts dropped, `&&`/`|` pipelines split.
fn documented_commands() -> Vec<String> {
    let section = install_section();
    let mut raw = Vec::new();
    let mut in_code = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            let line = line.split(" #").next().unwrap_or("");
            // Pipelines: ` | ` between commands (a `|` inside a word lists alternatives).
            raw.extend(
                line.split("&&")
                    .flat_map(|part| part.split(" | "))
                    .map(str::to_string),
            );
        } else {
            for (i, span) in line.split('`').enumerate() {
                if i % 2 == 1 {
                    raw.extend(
                        span.split("&&")
                            .flat_map(|part| part.split(" | "))
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    let optional = regex::Regex::new(r"\[[^\]]*\]").unwrap();
    raw.into_iter()
        .filter_map(|c| {
            let c = c.split('>').next().unwrap_or("").trim().to_string();
            let c = c.trim_start_matches("cd your-repo").trim();
            c.starts_with("todoplan ")
                .then(|| optional.replace_all(c, "").trim().to_string())
        })
        .collect()
}

#[test]
fn every_documented_command_parses() {
    let commands = documented_commands();
    assert!(
        commands.iter().any(|c| c.starts_with("todoplan init"))
            && commands
                .iter()
                .any(|c| c.starts_with("todoplan completions"))
            && commands.iter().any(|c| c.starts_with("todoplan man"))
            && commands
                .iter()
                .any(|c| c.starts_with("todoplan import --from-helm")),
        "the section shows init, import, completions and man: {commands:?}"
    );
    for command in &commands {
        // `completions bash|zsh|fish` style alternatives: each must parse.
        let words: Vec<&str> = command.split_whitespace().collect();
        let mut variants = vec![Vec::new()];
        for w in &words {
            let alts: Vec<&str> = w.split('|').collect();
            variants = variants
                .into_iter()
                .flat_map(|v: Vec<&str>| {
                    alts.iter().map(move |a| {
                        let mut v = v.clone();
                        v.push(*a);
                        v
                    })
                })
                .collect();
        }
        for v in variants {
            if let Err(e) = todoplan::cli::Cli::try_parse_from(&v) {
                panic!("README command `{}` does not parse: {e}", v.join(" "));
            }
        }
    }
}

#[test]
fn every_documented_flag_exists() {
    let cli = todoplan::cli::Cli::command();
    let mut flags: Vec<String> = Vec::new();
    let mut collect = |cmd: &clap::Command| {
        for a in cmd.get_arguments() {
            if let Some(l) = a.get_long() {
                flags.push(format!("--{l}"));
            }
            if let Some(s) = a.get_short() {
                flags.push(format!("-{s}"));
            }
        }
    };
    collect(&cli);
    for sub in cli.get_subcommands() {
        collect(sub);
    }
    let flag = regex::Regex::new(r"`(-[a-z]|--[a-z][a-z-]*)[ /`]").unwrap();
    let section = install_section();
    let mut seen = 0;
    for c in flag.captures_iter(section) {
        seen += 1;
        assert!(
            flags.contains(&c[1].to_string()),
            "the README's install section names `{}`, which no verb has",
            &c[1]
        );
    }
    assert!(seen >= 4, "the section documents init's flags");
}

#[test]
fn the_documented_deliveries_are_the_detected_ones() {
    use todoplan::images::{Delivery, detect_delivery};
    let section = install_section();
    assert!(section.contains("| `minikube` | build in minikube's Docker engine"));
    assert_eq!(detect_delivery("minikube"), Some(Delivery::Minikube));
    assert!(section.contains(
        "| `kind-NAME` | build in the local engine, then `kind load docker-image` into cluster NAME"
    ));
    assert_eq!(
        detect_delivery("kind-kind"),
        Some(Delivery::Kind {
            cluster: "kind".into()
        })
    );
    assert_eq!(detect_delivery("kwok-todoplan"), None);
}
