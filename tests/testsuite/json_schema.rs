//! `docs/plan.schema.json` is the published contract of todoplan's JSON output, and this test
//! holds the output to it: a real `plan --offline --format json` of the repository's own
//! todo.toml (base and `--env prod`), the golden plan with every optional field filled in,
//! drift of every kind, and `history --format json`, `history show N --format json` and
//! `history diff A B --format json`. The schema
//! allows no property it does not describe, so a field added to the output without the schema
//! fails here, and so does one the schema requires that the output lost.

use std::path::Path;

use serde_json::{Value, json};

use todoplan::plan::output::{Format, render};

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan.schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A validator for one definition of the schema (`plan`, `drift`, ...), or the whole schema
/// (any of them) when `definition` is None. Formats (`date-time`) are checked too.
fn validator(definition: Option<&str>) -> jsonschema::Validator {
    let mut schema = schema();
    if let Some(name) = definition {
        let root = schema.as_object_mut().unwrap();
        assert!(
            root["$defs"].get(name).is_some(),
            "the schema defines no `{name}`"
        );
        root.remove("oneOf");
        root.insert("$ref".into(), json!(format!("#/$defs/{name}")));
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("docs/plan.schema.json is not a valid JSON Schema: {e}"))
}

/// Fails naming every violation with its place in the instance.
fn assert_valid(definition: &str, instance: &Value, what: &str) {
    let errors: Vec<String> = validator(Some(definition))
        .iter_errors(instance)
        .map(|e| format!("  at `{}`: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match $defs/{definition} of docs/plan.schema.json:\n{}",
        errors.join("\n")
    );
    assert!(
        validator(None).is_valid(instance),
        "{what} matches $defs/{definition} but not the schema's top level (exactly one of its forms)"
    );
}

fn parse(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON ({e}):\n{text}"))
}

/// The repository's todo.toml with its charts and app, in a directory of its own (the plan takes
/// the state lock and would create `state/` next to todo.toml).
fn repo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("todo.toml"), dir.path().join("todo.toml")).unwrap();
    for sub in ["charts", "app"] {
        let out = std::process::Command::new("cp")
            .arg("-r")
            .arg(repo.join(sub))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    dir
}

#[test]
fn the_offline_plan_of_the_repos_todo_toml_matches_the_schema() {
    let dir = repo_copy();
    for env in [None, Some("prod")] {
        let mut cmd = crate::support::todoplan_cli();
        cmd.current_dir(dir.path())
            .env("TODO_OPENAI_API_KEY", "not-a-real-key")
            .args(["plan", "--offline", "--format", "json"]);
        if let Some(env) = env {
            cmd.args(["--env", env]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let what = format!("plan --offline --env {env:?}");
        let plan = parse(&text, &what);
        assert!(
            !plan["resource_changes"].as_array().unwrap().is_empty(),
            "{what} plans objects"
        );
        assert_valid("plan", &plan, &what);
    }
}

#[test]
fn a_plan_with_every_optional_field_matches_the_schema() {
    let mut plan = crate::plan_output_golden::plan();
    plan.checks.push(todoplan::checks::Finding {
        id: "svc.selector".into(),
        severity: todoplan::checks::Severity::Error,
        address: "release.backend/v1/Service/todo/todo-backend".into(),
        field: "spec.selector".into(),
        message: "selects no pod".into(),
        source: None,
    });
    plan.options.adopt_instance = Some("0ld".into());
    plan.options.targets = vec!["release.backend".into()];
    let value = parse(&render(&plan, Format::Json, false), "the golden plan");
    assert_valid("plan", &value, "the golden plan");
    plan.base = None;
    plan.env = None;
    plan.context = None;
    plan.server = None;
    let value = parse(&render(&plan, Format::Json, false), "the golden plan");
    assert_valid("plan", &value, "the golden plan without base, env, context");
}

#[test]
fn drift_of_every_kind_matches_the_schema() {
    let items = crate::plan_output_golden::drift_items();
    let value = parse(&todoplan::cli::drift::render(&items, Format::Json), "drift");
    assert_valid("drift", &value, "drift --format json");
    let none = parse(&todoplan::cli::drift::render(&[], Format::Json), "drift");
    assert_valid("drift", &none, "drift --format json without drift");
}

#[test]
fn history_json_matches_the_schema() {
    use crate::history_cli::{project, stdout, todoplan};
    let dir = project();
    let list = parse(
        &stdout(&todoplan(dir.path(), &["history", "--format", "json"])),
        "history",
    );
    assert_valid("history", &list, "history --format json");
    for revision in ["1", "2", "3"] {
        let what = format!("history show {revision} --format json");
        let shown = parse(
            &stdout(&todoplan(
                dir.path(),
                &["history", "show", revision, "--format", "json"],
            )),
            &what,
        );
        assert_valid("history_revision", &shown, &what);
    }
    for (from, to) in [("1", "3"), ("2", "3"), ("3", "1")] {
        let what = format!("history diff {from} {to} --format json");
        let diff = parse(
            &stdout(&todoplan(
                dir.path(),
                &["history", "diff", from, to, "--format", "json"],
            )),
            &what,
        );
        assert_valid("history_diff", &diff, &what);
    }
}

/// The schema is strict where it should be: an unknown field, a lost required field and a
/// wrong type are each refused, so the tests above prove the output and the schema agree.
#[test]
fn the_schema_refuses_what_the_output_must_not_be() {
    let plan = parse(
        &render(&crate::plan_output_golden::plan(), Format::Json, false),
        "the golden plan",
    );
    let plan_validator = validator(Some("plan"));
    assert!(plan_validator.is_valid(&plan));
    let mut extra = plan.clone();
    extra["resource_changes"][0]["undocumented"] = json!(1);
    assert!(!plan_validator.is_valid(&extra), "an unknown field");
    let mut missing = plan.clone();
    missing["summary"].as_object_mut().unwrap().remove("add");
    assert!(!plan_validator.is_valid(&missing), "a required field lost");
    let mut wrong = plan.clone();
    wrong["resource_changes"][0]["actions"] = json!(["create", "delete"]);
    assert!(
        !plan_validator.is_valid(&wrong),
        "an action list not planned"
    );
    let mut time = plan;
    time["created_at"] = json!("yesterday");
    assert!(
        !plan_validator.is_valid(&time),
        "a time that is not RFC 3339"
    );
}
