//! The crate's modules form layers, and a layer uses only the ones below it: a reader follows a
//! value from todo.toml to the cluster top to bottom, and no stage calls back up. This test reads
//! every `crate::…` path in `src/` and fails on any edge that goes up or sideways out of order.
//!
//! The order (each line may use every line below it, never one above):
//!
//! ```text
//! cli                        argument parsing and printing
//! ops                        the operations: lock, state, confirmation, one carry-out path
//! apply                      the executor
//! plan                       the planner: diff, drift, protection gate, output
//! checks                     plan-time checks
//! drift, state, graph        drift rules, state backends, the dependency graph
//! secrets                    secret values
//! spec                       todo.toml
//! observe, chart, images     the cluster, chart rendering, images
//! model                      what every stage shares
//! ```

use std::collections::BTreeMap;
use std::path::Path;

const LAYERS: &[(&str, u8)] = &[
    ("model", 0),
    ("observe", 1),
    ("chart", 1),
    ("images", 1),
    ("spec", 2),
    ("secrets", 3),
    ("drift", 4),
    ("state", 4),
    ("graph", 4),
    ("checks", 5),
    ("plan", 6),
    ("apply", 7),
    ("ops", 8),
    ("cli", 9),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// (file, from module, to module) for every `crate::to` path in a file of module `from`.
fn edges() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let mut parts = relative.iter().map(|p| p.to_string_lossy().to_string());
            let first = parts.next().unwrap();
            let from = first.trim_end_matches(".rs").to_string();
            if from == "lib" || from == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let to: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !to.is_empty() && to != from {
                    out.push((relative.display().to_string(), from.clone(), to));
                }
            }
        }
    }
    out
}

#[test]
fn every_top_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
                .map(|m| m.trim_end_matches(';'))
        })
        .collect();
    assert!(declared.len() > 8, "lib.rs declares {declared:?}");
    for module in declared {
        assert!(
            rank(module).is_some(),
            "src/{module} is not placed in a layer: add it to LAYERS in this test and to the README's architecture section"
        );
    }
}

#[test]
fn no_module_imports_upward_or_sideways() {
    let mut wrong: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, from, to) in edges() {
        let (Some(f), Some(t)) = (rank(&from), rank(&to)) else {
            continue;
        };
        if t >= f {
            wrong.entry((from, to)).or_default().push(file);
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order (from → to: files):\n{}",
        wrong
            .iter()
            .map(|((f, t), files)| format!("  {f} → {t}: {}", files.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_edge_reader_sees_real_edges() {
    // A test that reads nothing proves nothing: the planner does use the chart engine and the
    // executor the planner.
    let edges = edges();
    for (from, to) in [
        ("plan", "chart"),
        ("apply", "plan"),
        ("ops", "apply"),
        ("cli", "ops"),
    ] {
        assert!(
            edges.iter().any(|(_, f, t)| f == from && t == to),
            "no edge {from} → {to} found: the reader is broken"
        );
    }
}
#[test]
fn the_cli_calls_no_executor() {
    // Every verb goes through ops, which owns the lock, the state, cancellation and the one
    // carry-out path; the CLI only parses and prints.
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    for entry in std::fs::read_dir(cli).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("apply::execute"),
            "{} calls the executor directly; call an ops function instead",
            path.display()
        );
    }
}
