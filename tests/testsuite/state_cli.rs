//! State safety as a user meets it: `todoplan` refuses a state that is not this project's or
//! that lost its current file, and an unreadable lock comes with a `force-unlock` that works.
//! Through `plan --offline`, which reads the state and takes a free lock but needs no cluster.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn todoplan(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("todoplan").unwrap();
    cmd.current_dir(dir)
        .env_remove("TODOPLAN_ENV")
        .env_remove("TODOPLAN_FILE")
        .env("NO_COLOR", "1");
    cmd
}

/// A project directory with a minimal todo.toml.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("todo.toml"), "[project]\nname = \"todo\"\n").unwrap();
    fs::create_dir_all(dir.path().join("state/history")).unwrap();
    dir
}

fn state_json(project: &str, lineage: &str, revision: u64) -> String {
    serde_json::json!({
        "format_version": 1,
        "lineage": lineage,
        "serial": revision + 2,
        "revision": revision,
        "todoplan_version": "0.1.0",
        "project": project,
        "objects": {},
        "secrets": {},
        "images": {},
    })
    .to_string()
}

/// The diagnostic as one line: miette wraps long lines at 80 columns (breaking after `-` and
/// `/` too) and marks continued error lines with `│`.
fn unwrapped(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let joined = regex::Regex::new(r"([/-])\n[\s│]*")
        .unwrap()
        .replace_all(&text, "$1");
    regex::Regex::new(r"\s*\n[\s│]*")
        .unwrap()
        .replace_all(&joined, " ")
        .into_owned()
}

#[test]
fn a_missing_state_with_a_backup_and_history_is_refused_and_both_are_kept() {
    let dir = project();
    let state = dir.path().join("state");
    let backup = state_json("todo", "old-lineage", 2);
    fs::write(state.join("todoplan.state.json.backup"), &backup).unwrap();
    fs::write(state.join("history/000001.json"), "{\"kept\": true}").unwrap();
    let out = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    let stderr = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("state/todoplan.state.json is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "cp {0}/todoplan.state.json.backup {0}/todoplan.state.json",
            state.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--new-state"), "{stderr}");
    assert_eq!(
        fs::read_to_string(state.join("todoplan.state.json.backup")).unwrap(),
        backup
    );
    assert_eq!(
        fs::read_to_string(state.join("history/000001.json")).unwrap(),
        "{\"kept\": true}"
    );
    assert!(!state.join("todoplan.state.json").exists());
}

#[test]
fn a_state_of_another_project_is_refused_naming_both() {
    let dir = project();
    fs::write(
        dir.path().join("state/todoplan.state.json"),
        state_json("shop", "shop-lineage", 5),
    )
    .unwrap();
    let out = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    let stderr = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("belongs to project `shop`, not `todo`"),
        "{stderr}"
    );
    assert!(stderr.contains("shop-lineage"), "{stderr}");
}

#[test]
fn an_unreadable_lock_names_a_force_unlock_command_that_works() {
    let dir = project();
    let lock = dir.path().join("state/todoplan.lock");
    // What a holder killed while writing its name could leave.
    fs::write(&lock, "{\"id\": \"3f2a").unwrap();
    let out = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    let stderr = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let command = regex::Regex::new(r"`(todoplan force-unlock [^`]+)`")
        .unwrap()
        .captures(&stderr)
        .unwrap_or_else(|| panic!("no force-unlock command in: {stderr}"))[1]
        .to_string();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let unlock = todoplan(dir.path()).args(&args).output().unwrap();
    assert_eq!(
        unlock.status.code(),
        Some(0),
        "`{command}` failed: {}",
        unwrapped(&unlock.stderr)
    );
    assert!(
        String::from_utf8_lossy(&unlock.stdout).contains("Removed an unreadable state lock"),
        "{}",
        String::from_utf8_lossy(&unlock.stdout)
    );
    let again = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", unwrapped(&again.stderr));
}

/// `plan --offline` only reads: while another run holds the lock (an apply that takes
/// minutes), it reads the state beside it and says whose lock it did not take; the lock stays
/// the holder's. An online plan still waits for the lock.
#[test]
fn an_offline_plan_reads_beside_a_running_holder_and_leaves_its_lock() {
    let dir = project();
    let state = dir.path().join("state");
    fs::write(
        state.join("todoplan.state.json"),
        state_json("todo", "todo-lineage", 3),
    )
    .unwrap();
    let backend = todoplan::state::LocalBackend::new(&state);
    let held = backend
        .lock(&todoplan::state::LockOptions {
            command: "todoplan apply".into(),
            timeout: std::time::Duration::ZERO,
        })
        .unwrap();
    let lock_before = fs::read_to_string(state.join("todoplan.lock")).unwrap();
    let out = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    let stderr = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the state is locked by `todoplan apply`")
            && stderr.contains("reads the state without the lock"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("--offline"),
        "the plan is printed"
    );
    assert_eq!(
        fs::read_to_string(state.join("todoplan.lock")).unwrap(),
        lock_before,
        "the holder's lock is untouched"
    );
    // A run that writes is still refused while the lock is held.
    let migrate = todoplan(dir.path())
        .args(["state", "migrate", "--to", "local", "--dir", "moved"])
        .output()
        .unwrap();
    let stderr = unwrapped(&migrate.stderr);
    assert_eq!(migrate.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the state is locked by `todoplan apply`"),
        "{stderr}"
    );
    drop(held);
}

#[test]
fn an_empty_lock_file_does_not_block() {
    let dir = project();
    fs::write(dir.path().join("state/todoplan.lock"), "").unwrap();
    let out = todoplan(dir.path())
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", unwrapped(&out.stderr));
}

/// `state list` and `state show` read a recorded state as a person reads it (golden), with a
/// typo answered by the nearest address.
#[test]
fn state_list_and_show_print_what_is_recorded() {
    let dir = project();
    let mut state: serde_json::Value =
        serde_json::from_str(&state_json("todo", "lineage-1", 1)).unwrap();
    state["objects"] = serde_json::json!({
        "namespace.todo": {"release": "", "api_version": "v1", "kind": "Namespace", "name": "todo",
            "digest": "d0", "manifest": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "todo"}}, "protect": true},
        "release.web/v1/ConfigMap/todo/web": {"release": "web", "api_version": "v1", "kind": "ConfigMap",
            "namespace": "todo", "name": "web", "uid": "u-1", "digest": "d1", "tainted": true,
            "manifest": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "todo"}, "data": {"A": "1"}}}
    });
    fs::write(
        dir.path().join("state/todoplan.state.json"),
        state.to_string(),
    )
    .unwrap();
    let out = todoplan(dir.path())
        .args(["state", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("state_list", String::from_utf8_lossy(&out.stdout));
    let out = todoplan(dir.path())
        .args(["state", "show", "release.web/v1/ConfigMap/todo/web"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("state_show", String::from_utf8_lossy(&out.stdout));
    let out = todoplan(dir.path())
        .args(["state", "list", "release.nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an empty filter is exit 1");
    let out = todoplan(dir.path())
        .args(["state", "show", "release.web/v1/ConfigMap/todo/wbe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        unwrapped(&out.stderr).contains("did you mean `release.web/v1/ConfigMap/todo/web`?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A run without `--env` in a project with `[project] default_env` plans that environment,
/// against that environment's own state, and says so; `--env` still chooses another.
#[test]
fn a_run_without_env_uses_the_default_env_and_says_so() {
    let dir = project();
    fs::write(
        dir.path().join("todo.toml"),
        "[project]\nname = \"todo\"\ndefault_env = \"dev\"\n\n[cluster]\nnamespace = \"todo\"\n\n[env.dev.cluster]\nnamespace = \"todo-dev\"\n\n[env.prod.cluster]\nnamespace = \"todo-prod\"\n",
    )
    .unwrap();
    let plan = |args: &[&str]| {
        let out = todoplan(dir.path())
            .args(["plan", "--offline", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let stderr = unwrapped(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (json["env"].clone(), stderr)
    };
    let (env, stderr) = plan(&[]);
    assert_eq!(env, "dev");
    assert!(
        stderr.contains("note: environment `dev` ([project] default_env of todo.toml)"),
        "{stderr}"
    );
    let (env, stderr) = plan(&["--env", "prod"]);
    assert_eq!(env, "prod");
    assert!(!stderr.contains("default_env"), "{stderr}");
}
