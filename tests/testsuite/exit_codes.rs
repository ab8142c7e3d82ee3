//! The exit codes: the README's table is the code's (`ops::exit::ExitStatus`), and real runs end
//! with the documented code for each situation that needs no cluster.

use std::process::Command;

use todoplan::ops::exit::ExitStatus;

fn readme_table() -> Vec<(u8, String)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("the README has an `## Exit codes` section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| code"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].parse().expect("a numeric code"),
                cells[1].to_string(),
            )
        })
        .collect()
}

#[test]
fn the_readme_lists_every_exit_status_with_its_meaning() {
    let documented = readme_table();
    let code: Vec<(u8, String)> = ExitStatus::ALL
        .iter()
        .map(|s| (s.code(), s.meaning().to_string()))
        .collect();
    assert_eq!(documented, code);
}

fn todoplan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TODOPLAN_ENV")
        .env_remove("TODOPLAN_FILE")
        .output()
        .unwrap()
}

#[test]
fn a_wrong_command_line_is_a_usage_error_never_read_as_changes_present() {
    for args in [
        &["plan", "--no-such-flag"][..],
        &["no-such-verb"][..],
        &["plan", "--detailed-exitcode", "--parallelism", "0"][..],
    ] {
        let out = todoplan(args);
        assert_eq!(
            out.status.code(),
            Some(i32::from(ExitStatus::UsageError.code())),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn help_and_version_succeed() {
    for args in [&["--help"][..], &["--version"][..], &["plan", "--help"][..]] {
        let out = todoplan(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
    }
}

#[test]
fn a_missing_todo_toml_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(["validate", "--file"])
        .arg(dir.path().join("todo.toml"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(ExitStatus::Failure.code()))
    );
}
