//! A team shares one state: a teammate's or CI's checkout of it sees what the applying checkout
//! sees. The local backend's digest key (never committed) is kept in the cluster by apply, so a
//! second checkout plans "No changes" instead of "every secret changed outside todoplan" and a
//! pod restart; a checkout that can find the key nowhere refuses instead of making a new one.
#![cfg(feature = "e2e")]

use std::path::Path;

use crate::support;

use support::{DeleteNamespaceOnDrop as Cleanup, output_text as text, todoplan_in as todoplan};

/// A project whose Deployment reads a generated secret (so its pods carry the secret's
/// checksum, and a false "changed" would restart them).
fn write_project(dir: &Path, name: &str) {
    std::fs::write(
        dir.join("todo.toml"),
        format!(
            "[project]\nname = \"{name}\"\n[cluster]\nnamespace = \"{name}\"\n[state]\nbackend = \"local\"\ndir = \"state\"\n\n[secrets.app.keys]\nTOKEN = {{ generate = true }}\n\n[releases.web]\nchart = \"web\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("web/objects.yaml"),
        format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: c
        image: "busybox:1.35.0"
        env: [{{name: TOKEN, valueFrom: {{secretKeyRef: {{name: {name}-app, key: TOKEN}}}}}}]
"#
        ),
    )
    .unwrap();
}

/// A checkout of the same repository: everything but what git does not carry (the digest key).
fn second_checkout(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    crate::support::stack::copy_dir(from, to.path());
    let _ = std::fs::remove_file(to.path().join("state/digest.key"));
    to
}

#[test]
fn a_second_checkout_of_the_state_sees_no_changes_and_restarts_nothing() {
    support::require_cluster();
    let name = support::unique_name("team-key");
    let _cleanup = Cleanup(name.clone());
    let first = tempfile::tempdir().unwrap();
    write_project(first.path(), &name);
    let out = todoplan(first.path(), &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    let generation = support::kubectl([
        "-n",
        &name,
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);

    let second = second_checkout(first.path());
    assert!(!second.path().join("state/digest.key").exists());
    let plan = todoplan(second.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the second checkout sees changes:\n{}",
        text(&plan)
    );
    assert!(!text(&plan).contains("changed outside"), "{}", text(&plan));
    let out = todoplan(second.path(), &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        support::kubectl([
            "-n",
            &name,
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.generation}",
        ]),
        generation,
        "the pods were rolled for nothing"
    );
    // And the first checkout still agrees.
    let plan = todoplan(first.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn a_checkout_that_finds_the_key_nowhere_refuses_instead_of_making_a_new_one() {
    support::require_cluster();
    let name = support::unique_name("team-nokey");
    let _cleanup = Cleanup(name.clone());
    let first = tempfile::tempdir().unwrap();
    write_project(first.path(), &name);
    let out = todoplan(first.path(), &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    let secrets = support::kubectl(["-n", &name, "get", "secrets", "-o", "name"]);
    let kept = secrets
        .lines()
        .find(|l| l.contains("todoplan-digest-key-"))
        .unwrap_or_else(|| panic!("apply kept no digest key in the cluster: {secrets}"))
        .to_string();
    support::kubectl(["-n", &name, "delete", &kept]);

    let second = second_checkout(first.path());
    let plan = todoplan(second.path(), &["plan"]);
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan));
    assert!(
        text(&plan).contains("not its secret digest key"),
        "{}",
        text(&plan)
    );
    assert!(
        !second.path().join("state/digest.key").exists(),
        "no new key was made"
    );
}

/// Two environments whose overlays name the same state never share it: the state records its
/// environment, and the other environment's run is refused before it plans anything (it would
/// prune the first one's objects as no longer declared).
#[test]
fn two_environments_naming_one_state_are_refused_and_touch_nothing() {
    support::require_cluster();
    let name = support::unique_name("team-envs");
    let (dev, prod) = (format!("{name}-dev"), format!("{name}-prod"));
    let _cleanup = (Cleanup(dev.clone()), Cleanup(prod.clone()));
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &name);
    let mut toml = std::fs::read_to_string(dir.path().join("todo.toml")).unwrap();
    toml.push_str(&format!(
        "\n[env.dev.cluster]\nnamespace = \"{dev}\"\n[env.dev.state]\nbackend = \"local\"\ndir = \"shared\"\n\n[env.prod.cluster]\nnamespace = \"{prod}\"\n[env.prod.state]\nbackend = \"local\"\ndir = \"shared\"\n"
    ));
    std::fs::write(dir.path().join("todo.toml"), toml).unwrap();
    // The Deployment goes to the environment's namespace (the release's, as it names none).
    let objects = dir.path().join("web/objects.yaml");
    let yaml = std::fs::read_to_string(&objects).unwrap();
    std::fs::write(
        &objects,
        yaml.replace(&format!("{{name: web, namespace: {name}}}"), "{name: web}"),
    )
    .unwrap();

    let out = todoplan(dir.path(), &["--env", "dev", "apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = todoplan(dir.path(), &["--env", "prod", "apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to --env dev"),
        "{}",
        text(&out)
    );
    assert!(
        support::namespace_exists(&dev),
        "dev's namespace was not touched"
    );
}

/// An object this state never recorded is never deleted without the flag, whatever its labels
/// say: another environment's ConfigMap relabelled by hand with this instance's labels stays.
#[test]
fn an_object_labelled_by_hand_as_this_instances_is_not_deleted_without_the_flag() {
    support::require_cluster();
    let name = support::unique_name("team-relabel");
    let _cleanup = Cleanup(name.clone());
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &name);
    // The project has ConfigMaps of its own, so the kind is in its inventory.
    let objects = dir.path().join("web/objects.yaml");
    let mut yaml = std::fs::read_to_string(&objects).unwrap();
    yaml.push_str(&format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {name}}}\ndata: {{b: \"2\"}}\n"
    ));
    std::fs::write(&objects, yaml).unwrap();
    let out = todoplan(dir.path(), &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
    let labels =
        support::kubectl_json(["-n", &name, "get", "deployment", "web"])["metadata"]["labels"]
            .clone();
    let instance = labels["todoplan.dev/instance"]
        .as_str()
        .unwrap()
        .to_string();
    let project = labels["todoplan.dev/project"].as_str().unwrap().to_string();
    support::kubectl_apply(
        &name,
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: precious\n  labels: {{todoplan.dev/instance: \"{instance}\", todoplan.dev/project: \"{project}\", todoplan.dev/release: web}}\ndata: {{a: \"1\"}}\n"
        ),
    );
    let plan = todoplan(dir.path(), &["plan"]);
    assert!(
        text(&plan).contains("never recorded it") && text(&plan).contains("--allow-data-loss"),
        "{}",
        text(&plan)
    );
    let _ = todoplan(dir.path(), &["apply", "--auto-approve"]);
    let kept = support::run_tool("kubectl", ["-n", &name, "get", "configmap", "precious"]);
    assert!(
        kept.status.success(),
        "the relabelled ConfigMap was deleted"
    );
}

/// A saved plan is sealed with a key of the state's secret storage: a file edited to widen what
/// was approved (`allow_data_loss = true`) with its old-style checksum recomputed is refused
/// as modified, before anything is planned or written.
#[test]
fn a_forged_plan_file_with_a_recomputed_checksum_is_refused() {
    use sha2::{Digest, Sha256};
    support::require_cluster();
    let name = support::unique_name("team-forge");
    let _cleanup = Cleanup(name.clone());
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &name);
    let out = todoplan(dir.path(), &["plan", "--out", "p.plan"]);
    assert!(out.status.success(), "{}", text(&out));
    let path = dir.path().join("p.plan");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["plan"]["options"]["allow_data_loss"] = serde_json::Value::Bool(true);
    // What anyone who can read the file could compute: sha256 over the content.
    file["checksum"] = serde_json::Value::String(String::new());
    let mut h = Sha256::new();
    h.update(b"todoplan-plan-file\0");
    h.update(serde_json::to_vec(&file).unwrap());
    file["checksum"] = serde_json::Value::String(hex::encode(h.finalize()));
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();

    let out = todoplan(dir.path(), &["apply", "p.plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("modified"), "{}", text(&out));
    assert!(
        !support::namespace_exists(&name),
        "nothing was applied from the forged file"
    );
}

/// `plan --env dev --out FILE` then `apply FILE`: the saved plan carries its environment, so
/// the apply the plan command suggests works as printed; another `--env` is refused.
#[test]
fn a_saved_plan_applies_to_the_environment_it_was_made_for() {
    support::require_cluster();
    let name = support::unique_name("team-planenv");
    let dev = format!("{name}-dev");
    let _cleanup = (Cleanup(name.clone()), Cleanup(dev.clone()));
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &name);
    let mut toml = std::fs::read_to_string(dir.path().join("todo.toml")).unwrap();
    toml.push_str(&format!(
        "\n[env.dev.cluster]\nnamespace = \"{dev}\"\n\n[env.prod.cluster]\nnamespace = \"{name}-prod\"\n"
    ));
    std::fs::write(dir.path().join("todo.toml"), toml).unwrap();
    let objects = dir.path().join("web/objects.yaml");
    let yaml = std::fs::read_to_string(&objects).unwrap();
    std::fs::write(
        &objects,
        yaml.replace(&format!("{{name: web, namespace: {name}}}"), "{name: web}"),
    )
    .unwrap();

    let out = todoplan(dir.path(), &["--env", "dev", "plan", "--out", "p.plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("todoplan apply p.plan"),
        "{}",
        text(&out)
    );
    let wrong = todoplan(dir.path(), &["--env", "prod", "apply", "p.plan"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("was made for --env dev"),
        "{}",
        text(&wrong)
    );
    let out = todoplan(dir.path(), &["apply", "p.plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(support::namespace_exists(&dev));
}
