//! docs/reference.md against the code, both ways: every todo.toml key the loader accepts is in
//! the reference's table for its section and every key there is accepted; every flag of every
//! verb (from the clap definitions) is in the verb's table and every flag there exists.
//!
//! The loader's accepted keys are read from its own diagnostics: a key nobody would write is put
//! in each section, and the "the keys of … are: …" help lists what that section accepts.

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;
use todoplan::spec::load_str_with;

fn reference() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md"))
        .expect("docs/reference.md")
}

/// Backticked names in the first column of the first table under the `### HEADING` line.
fn table_under(doc: &str, heading: &str) -> Vec<String> {
    let start = doc
        .lines()
        .position(|l| l.trim() == format!("### {heading}"))
        .unwrap_or_else(|| panic!("docs/reference.md has no `### {heading}`"));
    doc.lines()
        .skip(start + 1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| row.split('|').nth(1).unwrap_or("").trim().to_string())
        .collect()
}

fn keys_under(doc: &str, heading: &str) -> BTreeSet<String> {
    table_under(doc, heading)
        .iter()
        .filter_map(|cell| cell.split('`').nth(1).map(str::to_string))
        .collect()
}

const BOGUS: &str = "zz_not_a_key_anyone_writes";

/// The keys `snippet`'s section accepts, from the unknown-key diagnostic of the bogus key.
fn accepted_keys(snippet: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/valid");
    let err = load_str_with(snippet, "t.toml", &dir, None, &|_| None)
        .expect_err("the bogus key is refused");
    let problem = err
        .problems()
        .iter()
        .find(|p| p.message.contains(BOGUS))
        .unwrap_or_else(|| panic!("no unknown-key problem for:\n{snippet}\n{err:?}"));
    let help = problem.help.as_deref().expect("the help lists the keys");
    let list = help.split_once(": ").map(|(_, l)| l).unwrap_or(help);
    list.split(", ")
        .map(|k| k.trim_matches('`').to_string())
        .collect()
}

#[test]
fn every_todo_toml_key_is_in_the_reference_and_every_documented_key_exists() {
    let doc = reference();
    let base = "[project]\nname = \"todo\"\n";
    let cases: Vec<(&str, String)> = vec![
        ("Top level", format!("{BOGUS} = 1\n{base}")),
        (
            "`[project]`",
            format!("[project]\nname = \"todo\"\n{BOGUS} = 1\n"),
        ),
        ("`[cluster]`", format!("{base}[cluster]\n{BOGUS} = 1\n")),
        (
            "`[state]`",
            format!("{base}[state]\nbackend = \"local\"\n{BOGUS} = 1\n"),
        ),
        (
            "`[state]`",
            format!("{base}[state]\nbackend = \"kubernetes\"\n{BOGUS} = 1\n"),
        ),
        (
            "`[variables.NAME]`",
            format!("{base}[variables.x]\ndefault = 1\n{BOGUS} = 1\n"),
        ),
        (
            "`[images.NAME]`",
            format!("{base}[images.web]\ncontext = \"../app/web\"\n{BOGUS} = 1\n"),
        ),
        (
            "`[secrets.NAME]`",
            format!(
                "{base}[secrets.app]\n{BOGUS} = 1\n[secrets.app.keys]\nA = {{ generate = true }}\n"
            ),
        ),
        (
            "`[secrets.NAME.keys]` entries",
            format!("{base}[secrets.app.keys]\nA = {{ generate = true, {BOGUS} = 1 }}\n"),
        ),
        (
            "`[releases.NAME]`",
            format!("{base}[releases.web]\nchart = \"../charts/web\"\n{BOGUS} = 1\n"),
        ),
        (
            "Release `checks` entries",
            format!(
                "{base}[releases.web]\nchart = \"../charts/web\"\nchecks = [{{ http = \"/\", service = \"web\", port = 80, {BOGUS} = 1 }}]\n"
            ),
        ),
        ("`[checks]`", format!("{base}[checks]\n{BOGUS} = 1\n")),
        (
            "`[checks] ignore` entries",
            format!("{base}[checks]\nignore = [{{ finding = \"svc.selector\", {BOGUS} = 1 }}]\n"),
        ),
        ("`[env.NAME]`", format!("{base}[env.prod]\n{BOGUS} = 1\n")),
    ];
    let mut problems = Vec::new();
    let mut by_heading: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for (heading, snippet) in &cases {
        by_heading
            .entry(heading)
            .or_default()
            .extend(accepted_keys(snippet));
    }
    for (heading, accepted) in by_heading {
        let documented = keys_under(&doc, heading);
        for k in accepted.difference(&documented) {
            problems.push(format!("{heading}: `{k}` is accepted but not documented"));
        }
        for k in documented.difference(&accepted) {
            problems.push(format!("{heading}: `{k}` is documented but not accepted"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Long flags of a command, without `--help`.
fn flags_of(cmd: &clap::Command) -> BTreeSet<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "help" && *l != "version")
        .map(|l| format!("--{l}"))
        .collect()
}

/// `--flag` names in the first column of the table under `heading`, plus the planning flags
/// when a row says so.
fn documented_flags(doc: &str, heading: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for cell in table_under(doc, heading) {
        if cell == "planning flags" {
            out.extend(documented_flags(doc, "Planning flags"));
            continue;
        }
        for part in cell.split('`').skip(1).step_by(2) {
            if let Some(flag) = part
                .split_whitespace()
                .next()
                .filter(|f| f.starts_with("--"))
            {
                out.insert(flag.to_string());
            }
        }
    }
    out
}

#[test]
fn every_flag_of_every_verb_is_in_the_reference_and_every_documented_flag_exists() {
    let doc = reference();
    let mut root = todoplan::cli::Cli::command();
    root.build();
    let global: BTreeSet<String> = flags_of(&root);
    let mut problems = Vec::new();
    for (flag, documented) in [(global.clone(), documented_flags(&doc, "Global flags"))] {
        for f in flag.symmetric_difference(&documented) {
            problems.push(format!(
                "global flag {f}: in one of code and reference only"
            ));
        }
    }
    let mut verbs: Vec<(String, clap::Command)> = Vec::new();
    for sub in root.get_subcommands().filter(|s| s.get_name() != "help") {
        // A verb that does something alone and has subcommands too (`history`, `history show`).
        if sub.has_subcommands() && !flags_of(sub).is_subset(&global) {
            verbs.push((sub.get_name().to_string(), sub.clone()));
        }
        if sub.has_subcommands() {
            for inner in sub.get_subcommands().filter(|s| s.get_name() != "help") {
                verbs.push((
                    format!("{} {}", sub.get_name(), inner.get_name()),
                    inner.clone(),
                ));
            }
        } else {
            verbs.push((sub.get_name().to_string(), sub.clone()));
        }
    }
    let headings: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `todoplan "))
        .map(|l| l.trim_end_matches('`').to_string())
        .collect();
    for (name, cmd) in &verbs {
        let Some(heading) = headings
            .iter()
            .find(|h| *h == name || h.starts_with(&format!("{name} ")))
        else {
            problems.push(format!("`todoplan {name}` has no section in the reference"));
            continue;
        };
        let code: BTreeSet<String> = flags_of(cmd).difference(&global).cloned().collect();
        let documented = documented_flags(&doc, &format!("`todoplan {heading}`"));
        for f in code.difference(&documented) {
            problems.push(format!("todoplan {name}: {f} exists but is not documented"));
        }
        for f in documented.difference(&code) {
            problems.push(format!(
                "todoplan {name}: {f} is documented but does not exist"
            ));
        }
    }
    for heading in &headings {
        let verb = heading.split_whitespace().take(2).collect::<Vec<_>>();
        let known = verbs.iter().any(|(name, _)| {
            heading == name || heading.starts_with(&format!("{name} ")) || verb.join(" ") == *name
        });
        if !known {
            problems.push(format!(
                "the reference documents `todoplan {heading}`, which does not exist"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
