//! A private copy of the repo's Todo stack for one end-to-end test: its own project name,
//! namespace and state, driven through the real todoplan binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SECRET_API_KEY: &str = "sk-e2e-known-value-4f1c9a7b2d";

pub struct Stack {
    dir: tempfile::TempDir,
    pub project: String,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

impl Stack {
    /// A copy of the repo's todo.toml, charts and app with project and namespace `name`.
    pub fn new(name: &str) -> Stack {
        super::require_cluster();
        super::require_docker();
        let project = format!("{name}-{}", std::process::id() % 100000);
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("charts"), &dir.path().join("charts"));
        copy_dir(&repo().join("app"), &dir.path().join("app"));
        let spec = std::fs::read_to_string(repo().join("todo.toml")).unwrap();
        let spec = spec
            .replacen("name = \"todo\"", &format!("name = \"{project}\""), 1)
            .replacen(
                "namespace = \"todo\"",
                &format!("namespace = \"{project}\""),
                1,
            );
        std::fs::write(dir.path().join("todo.toml"), spec).unwrap();
        Stack { dir, project }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// todoplan in this stack's directory with its secret source and registry set.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_todoplan"));
        c.args(args)
            .current_dir(self.path())
            .env("TODO_OPENAI_API_KEY", SECRET_API_KEY)
            .env("TODOPLAN_VAR_registry", super::registry())
            .env("NO_COLOR", "1");
        c
    }

    pub fn todoplan(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.todoplan(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "todoplan {args:?} failed:\n{text}");
        text
    }

    pub fn edit(&self, from: &str, to: &str) {
        let p = self.path().join("todo.toml");
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "todo.toml has no `{from}`");
        std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .args(args)
            .arg("-n")
            .arg(&self.project)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn resource_versions(&self) -> std::collections::BTreeMap<String, String> {
        let out = self.kubectl(&["get", "deploy,sts,svc,cm,secret,hpa", "-l", &format!("todoplan.dev/project={}", self.project), "-o", "jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}"]);
        out.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.project, "--wait=false"])
            .output();
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
