//! The broken-spec corpus: every file in tests/specs/broken/ is a todo.toml with a mistake, and
//! its header says exactly which problems todoplan must report and where.
//!
//! Header lines (comments at the top of each file):
//!   `# env: NAME`             load with `--env NAME`
//!   `# var: NAME=VALUE`       `TODOPLAN_VAR_NAME=VALUE` for this load
//!   `# expect: TEXT`          a problem whose message contains TEXT (in the order reported)
//!   `# at: L:C-L:C `TEXT``    its primary span (1-based, end exclusive) and the text under it,
//!                             or `# at: none` for a problem about no place in the file
//!   `# help: TEXT`            its help contains TEXT
//! The problems reported must be exactly the ones expected.

use std::path::{Path, PathBuf};

use todoplan::graph::DependencyGraph;
use todoplan::spec::{SpecError, load_str_with};

#[derive(Debug, Default)]
struct Expected {
    message: String,
    at: Option<String>,
    help: Option<String>,
}

struct Case {
    env: Option<String>,
    vars: Vec<(String, String)>,
    expected: Vec<Expected>,
}

fn read_case(text: &str) -> Case {
    let mut case = Case {
        env: None,
        vars: Vec::new(),
        expected: Vec::new(),
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(env) = line.strip_prefix("env:") {
            case.env = Some(env.trim().to_string());
        } else if let Some(var) = line.strip_prefix("var:") {
            let (k, v) = var.trim().split_once('=').expect("var: NAME=VALUE");
            case.vars.push((k.to_string(), v.to_string()));
        } else if let Some(message) = line.strip_prefix("expect:") {
            case.expected.push(Expected {
                message: message.trim().to_string(),
                ..Default::default()
            });
        } else if let Some(at) = line.strip_prefix("at:") {
            case.expected.last_mut().expect("at: after expect:").at = Some(at.trim().to_string());
        } else if let Some(help) = line.strip_prefix("help:") {
            case.expected.last_mut().expect("help: after expect:").help =
                Some(help.trim().to_string());
        }
    }
    case
}

/// The problems of an error in header form, so a failing case shows what was reported.
fn describe(err: &SpecError) -> Vec<(String, String, String)> {
    let source = err.source_file();
    err.problems()
        .iter()
        .map(|p| {
            let at = match p.span() {
                None => "none".to_string(),
                Some(span) => {
                    let (l1, c1) = source.line_col(span.start);
                    let (l2, c2) = source.line_col(span.end);
                    let text = source
                        .text
                        .get(span.start..span.end)
                        .unwrap_or("<out of range>");
                    format!("{l1}:{c1}-{l2}:{c2} `{text}`")
                }
            };
            (p.message.clone(), at, p.help.clone().unwrap_or_default())
        })
        .collect()
}

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case = read_case(&text);
    if case.expected.is_empty() {
        return Err("no `# expect:` lines".into());
    }
    let vars = case.vars.clone();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let base = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let result = load_str_with(&text, &name, base, case.env.as_deref(), &lookup)
        .and_then(|spec| DependencyGraph::build(&spec));
    let err = match result {
        Ok(_) => return Err("loaded without problems".into()),
        Err(e) => e,
    };
    let actual = describe(&err);
    let report = || {
        actual
            .iter()
            .map(|(m, at, help)| format!("# expect: {m}\n# at: {at}\n#   help: {help}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if actual.len() != case.expected.len() {
        return Err(format!(
            "expected {} problems, got {}:\n{}",
            case.expected.len(),
            actual.len(),
            report()
        ));
    }
    for (i, (want, (message, at, help))) in case.expected.iter().zip(&actual).enumerate() {
        if !message.contains(&want.message) {
            return Err(format!("problem {}: message differs:\n{}", i + 1, report()));
        }
        let want_at = want.at.as_deref().unwrap_or("<missing `# at:` line>");
        if want_at != at {
            return Err(format!(
                "problem {}: expected at {want_at}, got:\n{}",
                i + 1,
                report()
            ));
        }
        if let Some(want_help) = &want.help
            && !help.contains(want_help.as_str())
        {
            return Err(format!("problem {}: help differs:\n{}", i + 1, report()));
        }
    }
    Ok(())
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/specs/broken exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_corpus_holds_at_least_thirty_broken_specs() {
    assert!(corpus().len() >= 30, "only {} broken specs", corpus().len());
}

#[test]
fn every_broken_spec_reports_exactly_the_expected_problems() {
    let failures: Vec<String> = corpus()
        .iter()
        .filter_map(|path| {
            check(path).err().map(|why| {
                format!(
                    "--- {}\n{why}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
