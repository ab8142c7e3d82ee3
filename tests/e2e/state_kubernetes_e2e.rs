//! End-to-end: `[state] backend = "kubernetes"` through the CLI against the local cluster. An
//! apply holding the Lease blocks a second one; killed with SIGKILL on this host, the next apply
//! takes it over at once (a holder of another host is waited out until its Lease expires);
//! `state migrate` both ways keeps the state (the plan after is empty).
#![cfg(feature = "e2e")]

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn todoplan(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_todoplan"));
    c.args(args).current_dir(dir).env("NO_COLOR", "1");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    todoplan(dir, args).output().unwrap()
}

fn text(out: &Output) -> String {
    support::one_line(&support::output_text(out))
}

/// A Deployment and its Service; with `slow`, a smoke check that cannot pass (the fake node's
/// pods serve nothing), so apply keeps retrying it, holding the lock, for a minute.
fn write_stack(dir: &Path, project: &str, state: &str, slow: bool) {
    let check = if slow {
        "checks = [{ http = \"/\", service = \"web\", port = 80, timeout = \"60s\" }]\n"
    } else {
        ""
    };
    std::fs::write(
        dir.join("todo.toml"),
        format!(
            "[project]\nname = \"{project}\"\n[cluster]\nnamespace = \"{project}\"\n{state}\n[releases.web]\nchart = \"web\"\n{check}"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("web/objects.yaml"),
        format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {project}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: "busybox:1.35.0"}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {project}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80}}]
"#
        ),
    )
    .unwrap();
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.0, "--wait=false"])
            .output();
    }
}

fn lease_holder(namespace: &str, lease: &str) -> Option<String> {
    let out = support::run_tool(
        "kubectl",
        [
            "-n",
            namespace,
            "get",
            "lease",
            lease,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
        .filter(|h| !h.is_empty())
}

#[test]
fn an_apply_holding_the_lease_blocks_a_second_and_after_kill_9_the_next_takes_over() {
    support::require_cluster();
    let project = support::unique_name("e2e-stlease");
    let _cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let state = "[state]\nbackend = \"kubernetes\"\nname = \"st\"";
    write_stack(dir.path(), &project, state, true);
    let mut holder = todoplan(dir.path(), &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let identity = loop {
        if let Some(h) = lease_holder(&project, "st-lock") {
            break h;
        }
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the first apply ended before it was seen holding the Lease"
        );
        assert!(
            Instant::now() < deadline,
            "the first apply never took the Lease"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid = holder.id().to_string();
    assert!(
        identity.contains("todoplan apply") && identity.contains(&format!("pid {pid} ")),
        "holderIdentity names the command and pid: {identity}"
    );
    // Let it renew at least once, then a second apply is refused, naming the holder.
    std::thread::sleep(Duration::from_secs(6));
    let second = run(dir.path(), &["apply", "--auto-approve"]);
    let said = text(&second);
    assert_eq!(second.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the state is locked by `todoplan apply`")
            && said.contains(&format!("pid {pid} "))
            && said.contains("force-unlock"),
        "{said}"
    );
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the holder still runs"
    );
    // force-unlock of a holder on this host that still runs is refused, as the local lock
    // refuses it (a second apply would otherwise run beside the first).
    // The lock ID (a UUID) as the Lease's holderIdentity names it.
    let lock_id = identity
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.len() == 36 && w.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no lock ID in the Lease's holder: {identity}"))
        .to_string();
    let unlock = run(dir.path(), &["force-unlock", &lock_id]);
    let unlock_said = text(&unlock);
    assert_eq!(unlock.status.code(), Some(1), "{unlock_said}");
    assert!(unlock_said.contains("still running"), "{unlock_said}");
    assert!(
        lease_holder(&project, "st-lock").is_some(),
        "the Lease of a running holder was deleted"
    );

    // kill -9: nothing releases the Lease. Its holder ran on this host and is provably gone,
    // so the next apply takes it over at once, saying why.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed_at = Instant::now();
    write_stack(dir.path(), &project, state, false);
    let next = run(
        dir.path(),
        &["apply", "--auto-approve", "--lock-timeout", "60s"],
    );
    let said = text(&next);
    assert_eq!(next.status.code(), Some(0), "{said}");
    assert!(
        said.contains("took over the state lock left by `todoplan apply`")
            && said.contains(&format!("pid {pid} "))
            && said.contains(&format!("no process {pid} exists any more")),
        "{said}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "a dead holder on this host was waited out: {:?}",
        killed_at.elapsed()
    );
    assert!(
        lease_holder(&project, "st-lock").is_none(),
        "a finished apply releases the Lease"
    );

    // A holder on another host cannot be proven gone: its Lease is waited out until it
    // expires. Made by hand: a fresh Lease whose holder claims another host.
    let now = support::run_ok("date", ["-u", "+%Y-%m-%dT%H:%M:%S.000000Z"]);
    let holder_json = serde_json::json!({
        "id": "0123456789ab", "pid": 1, "host": "another-host", "command": "todoplan apply",
        "started_at": now.trim(),
    })
    .to_string();
    let lease = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "st-lock", "namespace": project,
                     "annotations": {"todoplan.dev/holder": holder_json}},
        "spec": {"holderIdentity": "todoplan apply (pid 1 on another-host)",
                 "leaseDurationSeconds": 15, "acquireTime": now.trim(), "renewTime": now.trim()},
    });
    support::kubectl_apply(&project, &lease.to_string());
    let made_at = Instant::now();
    let after = run(
        dir.path(),
        &["apply", "--auto-approve", "--lock-timeout", "60s"],
    );
    let said = text(&after);
    assert_eq!(after.status.code(), Some(0), "{said}");
    assert!(
        said.contains("took over the state lock") && said.contains("expired"),
        "{said}"
    );
    assert!(
        made_at.elapsed() >= Duration::from_secs(10),
        "the other host's Lease was taken over before it could have expired"
    );
    let plan = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn state_migrate_both_ways_keeps_the_state_and_the_plan_after_is_empty() {
    support::require_cluster();
    let project = support::unique_name("e2e-stmig");
    let _cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    write_stack(dir.path(), &project, "", false);
    let apply = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let local: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state/todoplan.state.json")).unwrap(),
    )
    .unwrap();

    let to_cluster = run(
        dir.path(),
        &["state", "migrate", "--to", "kubernetes", "--name", "shared"],
    );
    let said = text(&to_cluster);
    assert_eq!(to_cluster.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("lineage {}", local["lineage"].as_str().unwrap()))
            && said.contains(&format!("serial {}", local["serial"])),
        "{said}"
    );
    write_stack(
        dir.path(),
        &project,
        "[state]\nbackend = \"kubernetes\"\nname = \"shared\"",
        false,
    );
    let plan = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let history = run(dir.path(), &["history"]);
    assert!(text(&history).contains("succeeded"), "{}", text(&history));
    let listed = run(dir.path(), &["state", "list"]);
    assert!(
        text(&listed).contains("release.web/apps/v1/Deployment"),
        "{}",
        text(&listed)
    );

    // The old directory still holds the state: migrating into it is refused.
    let refused = run(dir.path(), &["state", "migrate", "--to", "local"]);
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("refusing to write over"), "{said}");

    let back = run(
        dir.path(),
        &["state", "migrate", "--to", "local", "--dir", "state2"],
    );
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    write_stack(
        dir.path(),
        &project,
        "[state]\nbackend = \"local\"\ndir = \"state2\"",
        false,
    );
    let plan = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let round_trip: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state2/todoplan.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(round_trip["lineage"], local["lineage"]);
    assert_eq!(round_trip["serial"], local["serial"]);
    assert_eq!(round_trip["objects"], local["objects"]);
    assert!(dir.path().join("state2/history/000001.json").exists());
    assert_eq!(
        std::fs::read(dir.path().join("state2/digest.key")).unwrap(),
        std::fs::read(dir.path().join("state/digest.key")).unwrap(),
        "the digest key moved with the state (secret digests stay comparable)"
    );

    // A migration killed part way (its key and history written, no state yet) is resumed by
    // running it again; the remains of another state's migration are refused.
    for (target, key) in [("state3", "same"), ("state4", "other")] {
        let to = dir.path().join(target);
        std::fs::create_dir_all(to.join("history")).unwrap();
        let digest_key = if key == "same" {
            std::fs::read(dir.path().join("state2/digest.key")).unwrap()
        } else {
            format!("{}\n", "ab".repeat(32)).into_bytes()
        };
        std::fs::write(to.join("digest.key"), digest_key).unwrap();
        std::fs::copy(
            dir.path().join("state2/history/000001.json"),
            to.join("history/000001.json"),
        )
        .unwrap();
        let resumed = run(
            dir.path(),
            &["state", "migrate", "--to", "local", "--dir", target],
        );
        let said = text(&resumed);
        if key == "same" {
            assert_eq!(resumed.status.code(), Some(0), "{said}");
            assert!(said.contains("resuming a migration"), "{said}");
            assert!(to.join("todoplan.state.json").exists());
        } else {
            assert_eq!(resumed.status.code(), Some(1), "{said}");
            assert!(said.contains("refusing to write over"), "{said}");
            assert!(!to.join("todoplan.state.json").exists());
        }
    }
}

#[test]
fn plan_and_drift_of_a_new_project_create_nothing_and_apply_makes_the_namespace_its_own() {
    support::require_cluster();
    let project = support::unique_name("e2e-stlook");
    let _cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    write_stack(
        dir.path(),
        &project,
        "[state]\nbackend = \"kubernetes\"",
        false,
    );
    let plan = run(dir.path(), &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        text(&plan).contains(&format!("namespace.{project} will be created")),
        "{}",
        text(&plan)
    );
    let drift = run(dir.path(), &["drift"]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
    // Only looking: no namespace, no digest key, no Lease was made for the state.
    assert!(
        !support::namespace_exists(&project),
        "plan or drift created the namespace"
    );

    let apply = run(dir.path(), &["apply", "--auto-approve"]);
    let applied = text(&apply);
    assert_eq!(apply.status.code(), Some(0), "{applied}");
    // The state backend made the namespace first; the plan labels it, it does not adopt it.
    assert!(!applied.contains("adopt"), "{applied}");
    assert!(
        applied.contains("made by todoplan to hold the state"),
        "{applied}"
    );
    let again = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let drift = run(dir.path(), &["drift", "--detailed-exitcode"]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
}

/// Many releases applied at once with the state in the cluster, round after round (each round
/// changes every object): every apply finishes, records everything and converges. Two releases
/// in one wave hung in 2 to 5 of 6 runs before the executor kept driving its units while it
/// synced the state (the sync's lock was handed to a unit nobody polled).
#[test]
fn many_releases_per_wave_with_the_state_in_the_cluster_never_hang() {
    many_releases_per_wave_never_hang(
        "kwave",
        "[state]\nbackend = \"kubernetes\"\nname = \"st\"\n",
    );
}

/// The same stress on the local backend: both backends pass it.
#[test]
fn many_releases_per_wave_with_a_local_state_never_hang() {
    many_releases_per_wave_never_hang("lwave", "");
}

fn many_releases_per_wave_never_hang(prefix: &str, state: &str) {
    support::require_cluster();
    let project = support::unique_name(prefix);
    let dir = tempfile::tempdir().unwrap();
    let mut toml =
        format!("[project]\nname = \"{project}\"\n[cluster]\nnamespace = \"{project}\"\n{state}");
    const RELEASES: usize = 8;
    const PER_RELEASE: usize = 15;
    for r in 0..RELEASES {
        toml.push_str(&format!("\n[releases.r{r}]\nchart = \"c{r}\"\n"));
        std::fs::create_dir_all(dir.path().join(format!("c{r}"))).unwrap();
    }
    std::fs::write(dir.path().join("todo.toml"), toml).unwrap();
    let _cleanup = support::DeleteNamespaceOnDrop(project.clone());
    for round in 0..4 {
        for r in 0..RELEASES {
            let objects: String = (0..PER_RELEASE)
                .map(|i| {
                    format!(
                        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: r{r}-cm-{i}, namespace: {project}}}\ndata: {{round: \"{round}\"}}\n"
                    )
                })
                .collect();
            std::fs::write(dir.path().join(format!("c{r}/objects.yaml")), objects).unwrap();
        }
        let mut child = todoplan(
            dir.path(),
            &["apply", "--auto-approve", "--parallelism", "8"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(180) {
                let _ = child.kill();
                panic!("round {round}: the apply hung (still running after 180 s)");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(status.success(), "round {round}: the apply failed");
        let out = run(dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: the plan after the apply is not 'No changes':\n{}",
            text(&out)
        );
    }
}

/// Fencing: an apply paused (SIGSTOP) past its Lease's life loses the lock; a second apply takes
/// the expired Lease and writes its values; the first, resumed, writes nothing more (it checks
/// its Lease before every write), so the cluster keeps the second writer's values and the state
/// agrees with it. Before, the first resumed and applied its own plan over the second's.
#[test]
fn an_apply_paused_past_its_lease_writes_nothing_after_a_second_took_over() {
    support::require_cluster();
    let project = support::unique_name("e2e-fence");
    let _cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    // Enough objects that planning takes a moment: the pause lands before or while writing.
    let write = |value: &str| {
        std::fs::write(
            dir.path().join("todo.toml"),
            format!(
                "[project]\nname = \"{project}\"\n[cluster]\nnamespace = \"{project}\"\n[state]\nbackend = \"kubernetes\"\nname = \"st\"\n[releases.config]\nchart = \"config\"\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let docs: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: {project}}}\ndata: {{writer: {value}}}\n"
                )
            })
            .collect();
        std::fs::write(dir.path().join("config/objects.yaml"), docs.join("---\n")).unwrap();
    };
    // One instance (one state) for both runs: applied once before.
    write("ZERO");
    let initial = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(initial.status.code(), Some(0), "{}", text(&initial));
    write("FIRST");
    let mut first = todoplan(dir.path(), &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lease_holder(&project, "st-lock").is_none() {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first apply ended before it was seen holding the Lease"
        );
        assert!(
            Instant::now() < deadline,
            "the first apply never took the Lease"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Pause it past the Lease's life (15 s).
    assert!(
        support::run_tool("kill", ["-STOP", &pid.to_string()])
            .status
            .success()
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first apply finished before it could be paused: the test needs more objects"
    );
    std::thread::sleep(Duration::from_secs(20));
    write("SECOND");
    let second = run(
        dir.path(),
        &["apply", "--auto-approve", "--lock-timeout", "60s"],
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(
        support::run_tool("kill", ["-CONT", &pid.to_string()])
            .status
            .success()
    );
    let resumed = first.wait_with_output().unwrap();
    let said = text(&resumed);
    // The end of what it said (a plan of 300 objects comes before).
    let said = said
        .char_indices()
        .rev()
        .nth(3000)
        .map(|(i, _)| said[i..].to_string())
        .unwrap_or(said);
    let values = support::kubectl([
        "-n",
        &project,
        "get",
        "configmaps",
        "-l",
        "todoplan.dev/release=config",
        "-o",
        "jsonpath={.items[*].data.writer}",
    ]);
    let firsts = values.split_whitespace().filter(|v| *v == "FIRST").count();
    assert_eq!(
        firsts, 0,
        "the paused apply wrote after losing its Lease ({firsts} objects say FIRST):\n{said}"
    );
    assert_eq!(values.split_whitespace().count(), 300, "{values}");
    if !resumed.status.success() {
        assert!(
            said.contains("nothing more is written"),
            "the resumed apply says why it stopped:\n{said}"
        );
    }
    let plan = run(dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the state agrees with the cluster:\n{}",
        text(&plan)
    );
}

/// A revision larger than one Secret holds (over 1 MiB compressed: hundreds of objects of
/// incompressible data) is written in parts, as the state is: apply succeeds, `history` lists
/// it, and `history show` reads it back whole. Before, every such apply exited 1.
#[test]
fn a_history_revision_larger_than_a_secret_is_written_in_parts() {
    support::require_cluster();
    let project = support::unique_name("e2e-bighist");
    let _cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("todo.toml"),
        format!(
            "[project]\nname = \"{project}\"\n[cluster]\nnamespace = \"{project}\"\n[state]\nbackend = \"kubernetes\"\nname = \"st\"\n[releases.bulk]\nchart = \"bulk\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("bulk")).unwrap();
    let docs: Vec<String> = (0..400)
        .map(|i| {
            let noise: String = (0..160).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bulk{i}, namespace: {project}}}\ndata: {{noise: \"{noise}\"}}\n"
            )
        })
        .collect();
    std::fs::write(dir.path().join("bulk/objects.yaml"), docs.join("---\n")).unwrap();
    let applied = run(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let parts = support::kubectl([
        "-n",
        &project,
        "get",
        "secrets",
        "-l",
        "todoplan.dev/state-role=history-part",
        "-o",
        "name",
    ]);
    assert!(
        !parts.trim().is_empty(),
        "the revision needed parts (is the test data large enough?)"
    );
    let history = run(dir.path(), &["history"]);
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    assert!(text(&history).contains('1'), "{}", text(&history));
    let shown = run(dir.path(), &["history", "show", "1"]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    assert!(text(&shown).contains("bulk399"), "{}", text(&shown));
}
