//! `todoplan render` on a chart that reaches outside itself: the diagnostic a user sees
//! (golden files in tests/charts/golden/unsafe-*.txt), exit code 1, nothing of the target read,
//! no hang on a FIFO.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

fn chart_in(dir: &Path) {
    std::fs::create_dir_all(dir.join("chart/templates")).unwrap();
    std::fs::create_dir_all(dir.join("chart/files")).unwrap();
    std::fs::write(
        dir.join("chart/Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/templates/cm.yaml"),
        "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  all: {{ .Files.Glob \"files/*\" | toYaml | quote }}\n",
    )
    .unwrap();
}

fn render(dir: &Path) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["render", "--chart", "chart", "--release-name", "r"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/charts/golden/{name}")),
    )
    .unwrap()
}

#[test]
fn a_link_to_a_system_file_is_refused_with_a_diagnostic() {
    let tmp = tempfile::tempdir().unwrap();
    chart_in(tmp.path());
    std::os::unix::fs::symlink("/etc/passwd", tmp.path().join("chart/files/passwd")).unwrap();
    let out = render(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        golden("unsafe-link.txt").trim_end()
    );
}

#[test]
fn a_fifo_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    chart_in(tmp.path());
    let fifo = std::ffi::CString::new(
        tmp.path()
            .join("chart/files/pipe")
            .to_str()
            .unwrap()
            .to_string(),
    )
    .unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path and touches no Rust memory.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let out = render(tmp.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "a FIFO must be refused, not read"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        golden("unsafe-fifo.txt").trim_end()
    );
}
