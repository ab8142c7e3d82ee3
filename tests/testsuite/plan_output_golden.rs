//! Golden (snapshot) tests of every plan and drift format a person or a machine reads: text,
//! markdown (the pull-request comment) and JSON. The plan holds one of every action, an adopted
//! object, a refused replace, an error line, images and drift, with fixed times so the output is
//! byte-identical run to run. Review a changed snapshot with `cargo insta review`.

use serde_json::json;

use todoplan::plan::output::{Format, render};
use todoplan::plan::{
    Action, DriftItem, DriftKind, ImageAction, ImageChange, ObjectChange, PLAN_FORMAT_VERSION,
    Plan, PlanOptions,
};

fn change(
    name: &str,
    kind: &str,
    action: Action,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    reason: Option<&str>,
) -> ObjectChange {
    let api_version = if kind == "Deployment" {
        "apps/v1"
    } else {
        "v1"
    };
    ObjectChange {
        address: format!("release.backend/{api_version}/{kind}/todo/{name}"),
        release: "backend".into(),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some("todo".into()),
        name: name.into(),
        action,
        reason: reason.map(str::to_string),
        before: before.map(Into::into),
        after: after.map(Into::into),
        protected: kind == "PersistentVolumeClaim",
        adopt: false,
        orphan_dependents: false,
        migrate_from: Vec::new(),
        live_uid: None,
    }
}

pub(crate) fn plan() -> Plan {
    let deployment = |replicas: u32, image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "todo-backend", "namespace": "todo"},
            "spec": {"replicas": replicas, "strategy": {"type": "Recreate"},
                "template": {"spec": {"containers": [{"name": "backend", "image": image}]}}}})
    };
    let cm = |cors: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "todo-backend-config", "namespace": "todo"},
            "data": {"CORS_ORIGINS": cors, "LOG_LEVEL": "info"}})
    };
    let mut adopted = change(
        "todo-extra",
        "ConfigMap",
        Action::Update,
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "todo-extra"}})),
        Some(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "todo-extra",
            "labels": {"todoplan.dev/instance": "7b0c"}}}),
        ),
        Some("exists in the cluster but was not made by todoplan: apply takes it over"),
    );
    adopted.adopt = true;
    Plan {
        format_version: PLAN_FORMAT_VERSION.into(),
        todoplan_version: "0.1.0".into(),
        created_at: "2026-11-30T12:00:00Z".parse().unwrap(),
        project: "todo".into(),
        env: Some("prod".into()),
        offline: false,
        context: Some("kwok-todoplan".into()),
        server: Some("https://127.0.0.1:6443/".into()),
        instance: "7b0c".into(),
        options: PlanOptions {
            allow_data_loss: false,
            rotate: vec!["secret.app.JWT_SECRET_KEY".into()],
            replace: vec![],
            adopt_instance: None,
            targets: vec![],
            full_refresh: false,
        },
        lineage: Some("7b0c".into()),
        serial: 12,
        checks: vec![],
        value_changes: vec![todoplan::plan::values_diff::ValueChange {
            release: "backend".into(),
            path: "config.CORS_ORIGINS".into(),
            before: Some("\"http://localhost:3000\"".into()),
            after: Some("\"https://todo.example.com\"".into()),
            source: Some("todo.toml:57".into()),
        }],
        base: Some(todoplan::plan::BaseComparison {
            reference: "origin/main".into(),
            commit: "1a2b3c4d5e6f".into(),
            pending: vec!["release.backend/v1/ConfigMap/todo/todo-old".into()],
        }),
        smoke_checks: vec![todoplan::model::smoke::SmokeCheck {
            release: "backend".into(),
            namespace: "todo".into(),
            service: "backend".into(),
            port: "8000".into(),
            path: "/health".into(),
            expect: 200,
            contains: Some("\"database\":\"ok\"".into()),
            timeout_secs: 60,
            source: Some("todo.toml:41".into()),
        }],
        notes: vec!["images are pushed to 127.0.0.1:5555 (delivery: registry)".into()],
        images: vec![ImageChange {
            address: "image.backend".into(),
            action: ImageAction::Build,
            reason: "the build context changed".into(),
            changed_files: vec!["app/backend/main.py".into()],
            reference: "127.0.0.1:5555/todo-backend:3f2a (digest known after apply)".into(),
        }],
        drift: vec![DriftItem {
            address: "release.backend/apps/v1/Deployment/todo/todo-backend".into(),
            field: "spec.replicas".into(),
            kind: DriftKind::Changed,
            recorded: Some(json!(1)),
            live: Some(json!(3)),
            manager: Some("kubectl".into()),
            changed_at: Some("2026-11-30T11:00:00Z".into()),
            note: None,
        }],
        objects: vec![
            change(
                "todo-backend-migrate",
                "Job",
                Action::Create,
                None,
                Some(json!({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": "todo-backend-migrate", "annotations": {
                        "helm.sh/hook": "pre-install,pre-upgrade",
                        "helm.sh/hook-weight": "-5",
                        "helm.sh/hook-delete-policy": "before-hook-creation"}},
                    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                        {"name": "migrate", "image": "todo-backend:1"}]}}}})),
                None,
            ),
            change(
                "todo-backend-config",
                "ConfigMap",
                Action::Update,
                Some(cm("http://localhost:3000")),
                Some(cm("https://todo.example.org")),
                None,
            ),
            change(
                "todo-backend",
                "Deployment",
                Action::Update,
                Some(deployment(1, "todo-backend:1")),
                Some(deployment(1, "127.0.0.1:5555/todo-backend:3f2a")),
                Some("pods roll: the checksum of ConfigMap/todo-backend-config changed"),
            ),
            change(
                "todo-cache",
                "Service",
                Action::Create,
                None,
                Some(json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "todo-cache"}, "spec": {"ports": [{"port": 6379}]}})),
                None,
            ),
            change(
                "uploads",
                "PersistentVolumeClaim",
                Action::Refused,
                Some(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim"})),
                None,
                Some(
                    "release.backend/v1/PersistentVolumeClaim/todo/uploads is a PersistentVolumeClaim (its volume holds data): replacing it would delete it and create it again (an immutable field changes (spec)); nothing is changed. Pass --allow-data-loss to allow it",
                ),
            ),
            change(
                "todo-old",
                "ConfigMap",
                Action::Delete,
                Some(cm("x")),
                None,
                None,
            ),
            change(
                "todo-gone",
                "ConfigMap",
                Action::Forget,
                None,
                None,
                Some("already deleted outside todoplan"),
            ),
            change(
                "todo-widget",
                "Service",
                Action::Error,
                None,
                None,
                Some(
                    "the API server rejected v1 Service todo/todo-widget: spec.ports[0].port: Invalid value: 70000",
                ),
            ),
            adopted,
        ],
    }
}

#[test]
fn text_plan() {
    insta::assert_snapshot!(render(&plan(), Format::Text, false));
}

#[test]
fn markdown_plan() {
    insta::assert_snapshot!(render(&plan(), Format::Markdown, false));
}

#[test]
fn json_plan() {
    insta::assert_snapshot!(render(&plan(), Format::Json, false));
}

/// Drift of every kind: the golden's, and the JSON schema test's.
pub(crate) fn drift_items() -> Vec<DriftItem> {
    let mut items = plan().drift;
    items.push(DriftItem {
        address: "release.backend/v1/ConfigMap/todo/todo-backend-config".into(),
        field: "(object)".into(),
        kind: DriftKind::Deleted,
        recorded: None,
        live: None,
        manager: None,
        changed_at: None,
        note: None,
    });
    items.push(DriftItem {
        address: "release.backend/v1/Secret/todo/todo-app".into(),
        field: "data.JWT_SECRET_KEY".into(),
        kind: DriftKind::Changed,
        recorded: Some(json!("(sensitive value)")),
        live: Some(json!("(sensitive value changed)")),
        manager: Some("kubectl-edit".into()),
        changed_at: None,
        note: None,
    });
    items
}

#[test]
fn drift_in_every_format() {
    let items = drift_items();
    for (name, format) in [
        ("drift_text", Format::Text),
        ("drift_markdown", Format::Markdown),
        ("drift_json", Format::Json),
    ] {
        insta::assert_snapshot!(name, todoplan::cli::drift::render(&items, format));
    }
}

/// A plan too long for a pull-request comment: every change stays in the table, diffs are left
/// out from the one that would cross the limit on, and a note says how many and where they are.
#[test]
fn markdown_comment_stays_under_the_platform_limit() {
    let mut big = plan();
    big.objects = (0..300)
        .map(|i| {
            change(
                &format!("config-{i:03}"),
                "ConfigMap",
                Action::Create,
                None,
                Some(json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": format!("config-{i:03}"), "namespace": "todo"},
                            "data": {"payload": "x".repeat(400)}})),
                None,
            )
        })
        .collect();
    let comment = render(&big, Format::Markdown, false);
    assert!(
        comment.len() <= todoplan::plan::output::COMMENT_LIMIT,
        "{} characters",
        comment.len()
    );
    for i in 0..300 {
        assert!(
            comment.contains(&format!(
                "| + Create | `release.backend/v1/ConfigMap/todo/config-{i:03}` |"
            )),
            "config-{i:03} is missing from the table"
        );
    }
    let shown = comment.matches("<details><summary><code>+ ").count();
    assert!(shown > 10 && shown < 300, "{shown} diffs shown");
    let note = comment.lines().last().unwrap();
    assert_eq!(
        note,
        format!(
            "> **{} of 300 diffs are not shown**: this comment stays under 60000 characters (GitHub's limit is 65,536). Every change is listed in the table above; the full diffs are in `todoplan plan --format text` and in the saved plan (`todoplan plan --out FILE`).",
            300 - shown
        )
    );
    // Byte-identical for identical input.
    assert_eq!(comment, render(&big, Format::Markdown, false));
}
