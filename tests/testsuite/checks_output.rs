//! The Checks section of a plan, as people (text, markdown) and machines (json) read it, against
//! golden files in tests/golden/. `TODOPLAN_BLESS=1 cargo test --test testsuite checks_output::` rewrites
//! them after a deliberate change; review the diff.

use std::path::{Path, PathBuf};

use serde_json::json;
use todoplan::checks::{Finding, Severity};
use todoplan::plan::output::{Format, render};
use todoplan::plan::{Action, ObjectChange, PLAN_FORMAT_VERSION, Plan};

fn plan() -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION.into(),
        todoplan_version: "0.1.0".into(),
        created_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        project: "todo".into(),
        env: None,
        offline: false,
        context: None,
        server: None,
        instance: "instance-1".into(),
        options: Default::default(),
        lineage: None,
        serial: 0,
        notes: vec![],
        images: vec![],
        drift: vec![],
        smoke_checks: vec![],
        base: None,
        value_changes: vec![],
        objects: vec![ObjectChange {
            address: "release.backend/apps/v1/Deployment/todo/backend".into(),
            release: "backend".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("todo".into()),
            name: "backend".into(),
            action: Action::Create,
            reason: None,
            before: None,
            after: Some(json!({"spec": {"replicas": 1}}).into()),
            protected: false,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        }],
        checks: vec![
            Finding {
                id: "ref.secret-key".into(),
                severity: Severity::Error,
                address: "release.backend/apps/v1/Deployment/todo/backend".into(),
                field: "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.key".into(),
                message: "Secret `todo-app` (from [secrets.app.keys] in todo.toml) has no key `JWT_SECRET_KEY`; its keys: POSTGRES_PASSWORD".into(),
                source: Some("todo.toml:37".into()),
            },
            Finding {
                id: "value.credential".into(),
                severity: Severity::Warning,
                address: "release.backend/v1/ConfigMap/todo/backend".into(),
                field: "data.GROQ_API_KEY".into(),
                message: "`GROQ_API_KEY` looks like a credential written as a literal value; move it to todo.toml [secrets] and read it with secretKeyRef | not a table cell".into(),
                source: None,
            },
        ],
    }
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn check_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("TODOPLAN_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (TODOPLAN_BLESS=1 writes it)", path.display()));
    assert_eq!(
        actual, expected,
        "{name} differs from its golden file (TODOPLAN_BLESS=1 rewrites it)"
    );
}

#[test]
fn text_lists_checks_before_the_changes() {
    check_golden("checks-plan.txt", &render(&plan(), Format::Text, false));
}

#[test]
fn markdown_shows_checks_as_a_risk_table_under_the_summary() {
    check_golden("checks-plan.md", &render(&plan(), Format::Markdown, false));
}

#[test]
fn json_has_a_top_level_checks_array() {
    let text = render(&plan(), Format::Json, false);
    check_golden("checks-plan.json", &text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["checks"][0]["id"], "ref.secret-key");
    assert_eq!(value["checks"][1]["source"], serde_json::Value::Null);
}

#[test]
fn a_plan_file_without_checks_still_reads() {
    let mut old = serde_json::to_value(plan()).unwrap();
    old.as_object_mut().unwrap().remove("checks");
    let read: Plan = serde_json::from_value(old).unwrap();
    assert!(read.checks.is_empty());
}
