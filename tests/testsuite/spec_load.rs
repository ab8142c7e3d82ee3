//! A valid spec using every section reads into the values it says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use todoplan::graph::Address;
use todoplan::spec::{self, Delivery, ReleaseKind, SecretSource, Spec, StateConfig, load_str_with};

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs")
}

fn full(env: Option<&str>, vars: &[(&str, &str)]) -> Spec {
    let path = specs_dir().join("valid/full.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match load_str_with(&text, "full.toml", &specs_dir().join("valid"), env, &lookup) {
        Ok(spec) => spec,
        Err(e) => panic!("{:?}", miette::Report::new(e)),
    }
}

#[test]
fn project_cluster_state_and_variables() {
    let spec = full(None, &[]);
    assert_eq!(spec.project.name, "todo");
    assert_eq!(spec.cluster.context.as_deref(), Some("minikube"));
    assert_eq!(spec.cluster.namespace, "todo");
    assert_eq!(spec.cluster.registry.as_deref(), Some("127.0.0.1:5555"));
    assert_eq!(spec.cluster.delivery, Some(Delivery::Registry));
    assert_eq!(
        spec.state,
        StateConfig::Local {
            dir: specs_dir().join("state-dir")
        }
    );
    assert_eq!(spec.variables["registry"], "127.0.0.1:5555");
    assert_eq!(spec.envs, vec!["prod", "dev"]);
    assert_eq!(spec.env, None);
}

#[test]
fn variables_take_the_environment_over_the_default() {
    let spec = full(
        None,
        &[("registry", "10.0.0.1:5000"), ("namespace", "staging")],
    );
    assert_eq!(spec.cluster.registry.as_deref(), Some("10.0.0.1:5000"));
    assert_eq!(spec.cluster.namespace, "staging");
    assert_eq!(spec.releases["api"].namespace, "staging");
    assert_eq!(spec.secrets["app"].namespace, "staging");
}

#[test]
fn images_resolve_context_and_dockerfile() {
    let spec = full(None, &[]);
    let web = &spec.images["web"];
    assert_eq!(web.context, specs_dir().join("app/web"));
    assert_eq!(web.dockerfile, specs_dir().join("app/web/Dockerfile"));
    assert!(web.build_args.is_empty());
    let api = &spec.images["api"];
    assert_eq!(api.dockerfile, specs_dir().join("app/api/Dockerfile.prod"));
    assert_eq!(api.build_args["PYTHON_VERSION"], "3.12");
    assert_eq!(api.build_args["WORKERS"], "4");
    assert_eq!(api.target.as_deref(), Some("build"));
    assert_eq!(api.platform.as_deref(), Some("linux/amd64"));
}

#[test]
fn secrets_name_their_sources() {
    let spec = full(None, &[]);
    let app = &spec.secrets["app"];
    assert_eq!(app.k8s_name, "todo-app");
    assert_eq!(app.namespace, "todo");
    assert_eq!(
        app.keys["JWT_SECRET_KEY"],
        SecretSource::Generate { length: 32 }
    );
    assert_eq!(
        app.keys["POSTGRES_PASSWORD"],
        SecretSource::Generate { length: 48 }
    );
    assert_eq!(
        app.keys["OPENAI_API_KEY"],
        SecretSource::Env {
            var: "TODO_OPENAI_API_KEY".into()
        }
    );
    assert_eq!(
        app.keys["TLS_KEY"],
        SecretSource::File {
            path: specs_dir().join("secrets/tls.key")
        }
    );
    assert_eq!(spec.secrets["db"].k8s_name, "todo-database");
    let span = app.key_spans["OPENAI_API_KEY"];
    assert_eq!(
        &spec.source.text[span.start..span.end],
        r#"{ env = "TODO_OPENAI_API_KEY" }"#
    );
}

#[test]
fn releases_read_every_key_with_defaults() {
    let spec = full(None, &[]);
    let names: Vec<&str> = spec.releases.keys().map(String::as_str).collect();
    assert_eq!(names, ["db", "api", "web", "plain"]);
    let db = &spec.releases["db"];
    assert_eq!(db.kind, ReleaseKind::Chart);
    assert!(db.protect);
    assert_eq!(db.timeout, Duration::from_secs(600));
    assert_eq!(
        db.values,
        json!({"auth": {"existingSecret": "${secrets.db.name}"}})
    );
    let api = &spec.releases["api"];
    assert!(!api.protect);
    assert_eq!(api.timeout, spec::DEFAULT_TIMEOUT);
    assert_eq!(api.values_files, vec![specs_dir().join("values/prod.yaml")]);
    assert_eq!(
        api.ignore_changes,
        vec![
            "spec.replicas",
            "Deployment/*:spec.template.metadata.annotations"
        ]
    );
    assert_eq!(
        api.values,
        json!({
            "image": {"ref": "${images.api.ref}"},
            "secretName": "${secrets.app.name}",
            "database": {"host": "${releases.db.name}-postgres.${releases.db.namespace}"},
            "config": {"LOG_LEVEL": "info", "CLUSTER_NS": "todo", "PRICE": "$${not.a.reference}"},
            "replicaCount": 1
        })
    );
    let web = &spec.releases["web"];
    assert_eq!(web.namespace, "web");
    assert_eq!(web.depends_on, vec![Address::Release("api".into())]);
    assert_eq!(
        web.values,
        json!({"image": {"ref": "${images.web.ref}"}, "port": 3000, "ratio": 0.5, "tags": ["a", "b"]})
    );
    assert_eq!(spec.releases["plain"].kind, ReleaseKind::Manifests);
}

#[test]
fn references_keep_their_spans() {
    let spec = full(None, &[]);
    let api = &spec.releases["api"];
    let written: Vec<(String, &str)> = api
        .references
        .iter()
        .map(|r| (r.expression(), &spec.source.text[r.span.start..r.span.end]))
        .collect();
    assert_eq!(
        written,
        vec![
            ("${images.api.ref}".to_string(), "${images.api.ref}"),
            ("${secrets.app.name}".to_string(), "${secrets.app.name}"),
            ("${releases.db.name}".to_string(), "${releases.db.name}"),
            (
                "${releases.db.namespace}".to_string(),
                "${releases.db.namespace}"
            ),
        ]
    );
}

#[test]
fn interpolate_values_resolves_references_and_unescapes() {
    let spec = full(None, &[]);
    let api = &spec.releases["api"];
    let values = api
        .interpolate_values(&mut |r| {
            spec.static_attribute(r)
                .or_else(|| match (&r.target, r.attribute.as_str()) {
                    (Address::Image(n), "ref") => {
                        Some(format!("127.0.0.1:5555/todo-{n}@sha256:00"))
                    }
                    _ => None,
                })
                .ok_or_else(|| format!("cannot resolve {r}"))
        })
        .unwrap();
    assert_eq!(values["image"]["ref"], "127.0.0.1:5555/todo-api@sha256:00");
    assert_eq!(values["secretName"], "todo-app");
    assert_eq!(values["database"]["host"], "db-postgres.todo");
    assert_eq!(values["config"]["PRICE"], "${not.a.reference}");
}

#[test]
fn env_overlay_merges_deeply_over_the_base() {
    let spec = full(Some("prod"), &[]);
    assert_eq!(spec.env.as_deref(), Some("prod"));
    let api = &spec.releases["api"];
    assert_eq!(api.values["replicaCount"], 3);
    assert_eq!(
        api.values["autoscaling"],
        json!({"enabled": true, "maxReplicas": 5})
    );
    assert_eq!(api.values["image"]["ref"], "${images.api.ref}");
    assert_eq!(api.values["config"]["LOG_LEVEL"], "warning");
    assert_eq!(spec.variables["log_level"], "warning");
    assert_eq!(spec.cluster.context.as_deref(), Some("minikube"));

    let dev = full(Some("dev"), &[]);
    assert_eq!(dev.cluster.context.as_deref(), Some("kind-dev"));
    assert_eq!(dev.releases["api"].values["replicaCount"], 1);
}

#[test]
fn load_reads_a_file_and_resolves_paths_against_its_directory() {
    let spec = spec::load(&specs_dir().join("valid/full.toml"), None);
    let spec = spec.unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    assert_eq!(spec.base_dir, specs_dir().join("valid"));
    assert_eq!(spec.releases["db"].chart, specs_dir().join("charts/db"));
}

#[test]
fn a_missing_file_is_a_diagnostic_with_advice() {
    let err = spec::load(Path::new("/nonexistent/todo.toml"), None).unwrap_err();
    let problem = &err.problems()[0];
    assert!(
        problem
            .message
            .starts_with("cannot read /nonexistent/todo.toml")
    );
    assert!(problem.help.as_deref().unwrap().contains("--file"));
}

#[test]
fn invalid_utf8_points_at_the_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("todo.toml");
    std::fs::write(&path, b"[project]\nname = \"t\xffodo\"\n").unwrap();
    let err = spec::load(&path, None).unwrap_err();
    let problem = &err.problems()[0];
    assert!(problem.message.contains("not valid UTF-8"));
    assert_eq!(
        err.source_file().line_col(problem.span().unwrap().start),
        (2, 10)
    );
}

#[test]
fn a_whole_string_number_variable_stays_a_number_in_values() {
    let text = r#"
[project]
name = "todo"
[variables.replicas]
default = 2
[variables.debug]
default = false
[releases.web]
chart = "../charts/web"
values = { replicaCount = "${var.replicas}", debug = "${var.debug}", label = "x${var.replicas}" }
"#;
    let load = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load_str_with(
            text,
            "t.toml",
            &specs_dir().join("valid"),
            None,
            &move |n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
        )
    };
    let spec = load(&[]).unwrap();
    assert_eq!(
        spec.releases["web"].values,
        json!({"replicaCount": 2, "debug": false, "label": "x2"})
    );
    let spec = load(&[("replicas", "5"), ("debug", "true")]).unwrap();
    assert_eq!(
        spec.releases["web"].values,
        json!({"replicaCount": 5, "debug": true, "label": "x5"})
    );
    assert_eq!(spec.variables["replicas"], "5");
}

/// `enabled = false` in an overlay switches a release off in that environment only: it is not
/// read, rendered or applied there, and a release still using it is a diagnostic at both places.
#[test]
fn an_overlay_can_disable_a_release() {
    let text = r#"
[project]
name = "todo"
[releases.web]
chart = "../charts/web"
[releases.db]
chart = "../charts/db"
[env.dev.releases.db]
enabled = false
[env.broken.releases.db]
enabled = false
[env.broken.releases.web.values]
database = "${releases.db.name}"
[env.typo.releases.db]
enabled = "no"
"#;
    let load = |env: Option<&str>| {
        load_str_with(text, "t.toml", &specs_dir().join("valid"), env, &|_| None)
    };
    let base = load(None).unwrap();
    assert_eq!(base.releases.keys().collect::<Vec<_>>(), ["web", "db"]);
    assert!(base.disabled_releases.is_empty());
    let dev = load(Some("dev")).unwrap();
    assert_eq!(dev.releases.keys().collect::<Vec<_>>(), ["web"]);
    assert_eq!(dev.disabled_releases, ["db"]);

    let err = load(Some("broken")).unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(
        problem.message,
        "`${releases.db.name}` refers to release `db`, which is disabled (enabled = false)"
    );
    assert_eq!(problem.labels.len(), 2, "{problem:?}");
    let at = |i: usize| {
        let span = problem.labels[i].span;
        &text[span.start..span.end]
    };
    assert_eq!(at(0), "\"${releases.db.name}\"".trim_matches('"'));
    assert_eq!(at(1), "false");

    let err = load(Some("typo")).unwrap_err();
    assert_eq!(
        err.problems()[0].message,
        "`enabled` in [releases.db] must be a boolean (true or false), found a string"
    );
}

/// `[project] default_env` names the overlay a run without `--env` uses (a team whose base is
/// only the common part never deploys the bare base by mistake); `--env` still chooses
/// another; a default naming no overlay, or not a string, is a diagnostic at the value.
#[test]
fn a_default_env_is_used_without_env_and_checked() {
    let with_default = |default: &str| {
        format!(
            r#"
[project]
name = "todo"
default_env = {default}
[releases.web]
chart = "../charts/web"
values = {{ replicas = 1 }}
[env.dev.releases.web.values]
replicas = 2
[env.prod.releases.web.values]
replicas = 5
"#
        )
    };
    let load = |text: &str, env: Option<&str>| {
        load_str_with(text, "t.toml", &specs_dir().join("valid"), env, &|_| None)
    };
    let text = with_default("\"dev\"");
    let bare = load(&text, None).unwrap();
    assert_eq!(bare.env.as_deref(), Some("dev"));
    assert_eq!(bare.releases["web"].values["replicas"], 2);
    let prod = load(&text, Some("prod")).unwrap();
    assert_eq!(prod.env.as_deref(), Some("prod"));
    assert_eq!(prod.releases["web"].values["replicas"], 5);

    let text = with_default("\"stage\"");
    let err = load(&text, None).unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(
        problem.message,
        "there is no environment `stage` (from [project] default_env) in this file"
    );
    let span = problem.labels[0].span;
    assert_eq!(&text[span.start..span.end], "\"stage\"");
    assert!(
        problem.help.as_deref().unwrap_or("").contains("`dev`"),
        "{problem:?}"
    );
    // With --env, a wrong default is not in the way.
    assert_eq!(
        load(&text, Some("prod")).unwrap().env.as_deref(),
        Some("prod")
    );

    let text = with_default("3");
    let err = load(&text, None).unwrap_err();
    assert_eq!(
        err.problems()[0].message,
        "`default_env` in [project] must be a string naming an [env.NAME], found an integer"
    );
}
