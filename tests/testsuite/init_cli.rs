//! `todoplan init` on a repository laid out like the seeds' (tests/fixtures/init-repo: an
//! umbrella chart with two subcharts, values-dev/prod.yaml with literal secrets as the seeds
//! had them, two Dockerfiles): the written todo.toml (golden), that it validates, that no
//! secret value of the values files reaches it, that it is never overwritten without --force,
//! and that its releases render what the real `helm template` renders with the team's values.
//!
//! The helm comparison needs the pinned helm on PATH (`eval "$(scripts/testenv env)"`); it
//! fails saying so otherwise, it never skips.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/init-repo");
/// Every secret value the fixture's values files hold; none may appear in what init writes.
const SECRET_VALUES: [&str; 3] = [
    "dev-jwt-Zq7vX93kLpR2",
    "devpw-Hn4TtY8cWq",
    "sk-dev-Kd82jfQ0pLmN",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the fixture repository (init writes into it).
fn repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("todo-repo");
    copy_dir(Path::new(FIXTURE), &root);
    (dir, root)
}

fn todoplan(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("todoplan").unwrap();
    cmd.current_dir(root)
        .env_remove("TODOPLAN_FILE")
        .env_remove("TODOPLAN_ENV");
    cmd
}

fn init(root: &Path, extra: &[&str]) -> std::process::Output {
    todoplan(root)
        .args(["init", "--name", "todo"])
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn init_writes_the_golden_todo_toml_and_summary() {
    let (_dir, root) = repo();
    let out = init(&root, &[]);
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    insta::assert_snapshot!("init_todo_toml", written);
    insta::assert_snapshot!("init_summary", text(&out.stdout));
}

#[test]
fn init_with_a_registry_writes_the_registry_variable() {
    let (_dir, root) = repo();
    let out = init(&root, &["--registry", "127.0.0.1:5555", "-n", "todo-dev"]);
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    assert!(
        written.contains("registry = \"${var.registry}\""),
        "{written}"
    );
    assert!(
        written.contains("default = \"127.0.0.1:5555\""),
        "{written}"
    );
    assert!(written.contains("namespace = \"todo-dev\""), "{written}");
    assert!(!text(&out.stdout).contains("how images reach the cluster"));
}

#[test]
fn the_written_file_validates_in_every_environment() {
    let (_dir, root) = repo();
    assert!(init(&root, &[]).status.success());
    let out = todoplan(&root).arg("validate").output().unwrap();
    assert!(
        out.status.success(),
        "validate failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("overlays checked: dev, prod"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn no_secret_value_reaches_the_file_or_the_output() {
    let (_dir, root) = repo();
    let out = init(&root, &[]);
    assert!(out.status.success());
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    for value in SECRET_VALUES {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        for (what, hay) in [
            ("todo.toml", &written),
            ("stdout", &text(&out.stdout)),
            ("stderr", &text(&out.stderr)),
        ] {
            assert!(!hay.contains(value), "a secret value is in {what}");
            assert!(!hay.contains(&b64), "a base64 secret value is in {what}");
        }
    }
}

#[test]
fn an_existing_file_is_kept_without_force() {
    let (_dir, root) = repo();
    std::fs::write(root.join("todo.toml"), "# mine\n").unwrap();
    let out = init(&root, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("todo.toml")).unwrap(),
        "# mine\n"
    );
    let out = init(&root, &["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(root.join("todo.toml"))
            .unwrap()
            .contains("[releases.todo-app]")
    );
}

#[test]
fn a_directory_without_dockerfiles_or_charts_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "hi\n").unwrap();
    let out = init(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing to deploy"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("todo.toml").exists());
    let out = todoplan(dir.path())
        .args(["init", "missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a directory"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unguarded_chart_secret_is_reported_not_guessed() {
    let (_dir, root) = repo();
    let secret = root.join("helm/todo-app/templates/secret.yaml");
    let body = std::fs::read_to_string(&secret).unwrap();
    let body = body
        .replace("{{- if .Values.secrets.create }}\n", "")
        .replace("{{- end }}\n", "");
    std::fs::write(&secret, body).unwrap();
    let out = init(&root, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("renders Secret todo-secrets from values with no `if .Values...`"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    assert!(!written.contains("\nsecrets.create = false"), "{written}");
}

fn helm_objects(root: &Path, env: Option<&str>) -> Vec<Value> {
    let mut cmd = Command::new("helm");
    cmd.current_dir(root).args([
        "template",
        "todo-app",
        "helm/todo-app",
        "--namespace",
        "todo",
    ]);
    if let Some(env) = env {
        cmd.args(["-f", &format!("helm/todo-app/values-{env}.yaml")]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run helm ({e}): {}", support::START_HINT));
    assert!(
        out.status.success(),
        "helm template failed: {}",
        text(&out.stderr)
    );
    let mut objects = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_slice(&out.stdout) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if !v.is_null() {
            objects.push(v);
        }
    }
    objects
}

fn key_of(v: &Value) -> String {
    format!(
        "{}/{}",
        v["kind"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// What todoplan renders for the release of the written todo.toml, with the images resolved to
/// what the team's values named (so the comparison is about everything else).
fn todoplan_objects(root: &Path, env: Option<&str>) -> (Vec<Value>, todoplan::spec::Spec) {
    let spec = todoplan::spec::load(&root.join("todo.toml"), env).expect("the written file loads");
    let release = &spec.releases["todo-app"];
    let values = release
        .interpolate_values(&mut |r| -> Result<String, String> {
            if let Some(v) = spec.static_attribute(r) {
                return Ok(v);
            }
            match (r.target.to_string().as_str(), r.attribute.as_str()) {
                (image, "repository") => Ok(format!("todo-{}", image.trim_start_matches("image."))),
                (_, "tag") => Ok("latest".into()),
                (t, a) => Err(format!("unexpected reference {t}.{a}")),
            }
        })
        .unwrap();
    let request = todoplan::chart::RenderRequest {
        chart_dir: &release.chart,
        release_name: &release.name,
        namespace: &release.namespace,
        values_files: &release.values_files,
        inline_values: values,
        revision: 1,
        is_upgrade: false,
        capabilities: Default::default(),
        lookup: None,
    };
    let rendered = todoplan::chart::render(&request).expect("the release renders");
    let objects = rendered
        .manifests
        .into_iter()
        .map(|m| m.object)
        .filter(|o| !o.is_null())
        .collect();
    (objects, spec)
}

#[test]
fn releases_render_what_helm_template_renders_with_the_teams_values() {
    let (_dir, root) = repo();
    assert!(init(&root, &[]).status.success());
    for env in [None, Some("dev"), Some("prod")] {
        let helm = helm_objects(&root, env);
        let (mine, spec) = todoplan_objects(&root, env);
        // The chart's Secret is now todoplan's [secrets.todo-secrets]: same name, same keys.
        let (secrets, helm_rest): (Vec<Value>, Vec<Value>) =
            helm.into_iter().partition(|o| o["kind"] == "Secret");
        assert_eq!(secrets.len(), 1, "helm renders the chart's Secret");
        let set = &spec.secrets["todo-secrets"];
        assert_eq!(secrets[0]["metadata"]["name"], set.k8s_name.as_str());
        let mut helm_keys: Vec<&String> = secrets[0]["data"].as_object().unwrap().keys().collect();
        let mut my_keys: Vec<&String> = set.keys.keys().collect();
        helm_keys.sort();
        my_keys.sort();
        assert_eq!(helm_keys, my_keys, "{env:?}: the Secret's keys");
        assert!(
            mine.iter().all(|o| o["kind"] != "Secret"),
            "{env:?}: the chart's own Secret is switched off"
        );
        let mut a: Vec<(String, &Value)> = helm_rest.iter().map(|o| (key_of(o), o)).collect();
        let mut b: Vec<(String, &Value)> = mine.iter().map(|o| (key_of(o), o)).collect();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        let names = |v: &[(String, &Value)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b), "{env:?}: the same objects");
        assert_eq!(a.len(), 5, "{env:?}: ConfigMap, 2 Services, 2 Deployments");
        for ((k, h), (_, m)) in a.iter().zip(&b) {
            assert_eq!(h, m, "{env:?}: {k} differs from helm's");
        }
    }
}

/// The written file plans against the real cluster (delivery through the test registry).
#[cfg(feature = "e2e")]
#[test]
fn the_written_file_plans_against_the_cluster() {
    support::require_cluster();
    let registry = support::registry();
    let (_dir, root) = repo();
    let namespace = support::unique_name("init-plan");
    let out = init(&root, &["--registry", &registry, "-n", &namespace]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = todoplan(&root)
        .args(["plan", "--env", "dev", "--detailed-exitcode", "--no-color"])
        .env("TODO_OPENAI_API_KEY", "init-test-key")
        .env("TODOPLAN_VAR_registry", &registry)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "plan:\n{stdout}{}",
        text(&out.stderr)
    );
    for needle in [
        "secret.todo-secrets",
        &format!("release.todo-app/apps/v1/Deployment/{namespace}/todo-app-backend"),
        "image.backend",
    ] {
        assert!(
            stdout.contains(needle),
            "the plan names {needle}:\n{stdout}"
        );
    }
    assert!(!stdout.contains("init-test-key"));
}

/// The project's own charts (`image.ref` empty by default, a schema that constrains strings,
/// a required Secret name init cannot know): images are wired by chart name, and what is
/// missing is said instead of a file that silently fails to validate.
#[test]
fn charts_that_need_values_init_cannot_know_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&here.join("charts"), &root.join("charts"));
    copy_dir(&here.join("app/backend"), &root.join("app/backend"));
    copy_dir(&here.join("app/frontend"), &root.join("app/frontend"));
    let out = init(&root, &["--registry", "127.0.0.1:5555"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    for wired in [
        "[releases.backend.values]\nimage.ref = \"${images.backend.ref}\"",
        "[releases.frontend.values]\nimage.ref = \"${images.frontend.ref}\"",
    ] {
        assert!(written.contains(wired), "{wired} in:\n{written}");
    }
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("release backend does not render yet") && stdout.contains("secretName"),
        "{stdout}"
    );
    assert!(
        stdout.contains("release postgres does not render yet")
            && stdout.contains("auth.existingSecret"),
        "{stdout}"
    );
    assert!(!stdout.contains("were not examined"), "{stdout}");
}

/// A chart whose Secret is named after the release (`{{ .Release.Name }}-secrets`): init examines
/// the chart as the release it writes (`todo-app`), so the secret set names the Secret apply will
/// see, not Helm's placeholder `release-name-secrets` (the plan then failed, and after import a
/// second Secret with fresh random values was created beside the live one).
#[test]
fn a_secret_named_after_the_release_gets_the_written_release_name() {
    let (_dir, root) = repo();
    let secret = root.join("helm/todo-app/templates/secret.yaml");
    let body = std::fs::read_to_string(&secret).unwrap();
    std::fs::write(
        &secret,
        body.replace(
            "{{ .Values.global.secretName }}",
            "{{ .Release.Name }}-secrets",
        ),
    )
    .unwrap();
    let out = init(&root, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    assert!(!written.contains("release-name"), "{written}");
    assert!(
        written.contains("[releases.todo-app]") && written.contains("name = \"todo-app-secrets\""),
        "{written}"
    );
}
