//! No input makes `spec::load` (or building the graph from what it loads) panic: random bytes,
//! and valid specs mutated with the characters that matter to TOML and to `${...}` references.

use std::path::Path;

use proptest::prelude::*;
use todoplan::graph::DependencyGraph;
use todoplan::spec::{self, load_str_with};

const VALID: &str = include_str!("../specs/valid/full.toml");
const CORPUS_SAMPLE: &str =
    include_str!("../specs/broken/30-cycle-three-releases-with-depends-on.toml");

/// Fragments that steer mutations towards the parser's and the loader's edge cases.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    "\"\"\"",
    "=",
    ",",
    ".",
    "\n",
    "#",
    "$",
    "${",
    "$${",
    "${images.",
    "${secrets.app.",
    "${releases.",
    "${var.",
    "${project.name}",
    "\\u00e9",
    "\\",
    "é",
    "0x7f",
    "-1",
    "1e400",
    "nan",
    "inf",
    "true",
    "1979-05-27T07:32:00Z",
    "[env.prod]",
    "[releases.x]",
    "chart = \"../charts/web\"",
    "depends_on = [\"release.api\"]",
    "\u{0}",
    "timeout = \"0s\"",
    "length = 99999999999999999999",
    "ignore_changes = [\"A/*:\"]",
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, usize),
    Delete(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(at, f)| Mutation::Insert(at, f)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut s = text.to_string();
    for m in mutations {
        match *m {
            Mutation::Insert(at, f) => {
                let at = floor_boundary(&s, at % (s.len() + 1));
                s.insert_str(at, FRAGMENTS[f]);
            }
            Mutation::Delete(at, len) => {
                let start = floor_boundary(&s, at % (s.len() + 1));
                let end = floor_boundary(&s, start + len);
                s.replace_range(start..end, "");
            }
            Mutation::DuplicateLine(i) => {
                let mut lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let i = i % lines.len();
                    lines.insert(i, lines[i]);
                }
                s = lines.join("\n");
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let (a, b) = (a % lines.len(), b % lines.len());
                    lines.swap(a, b);
                }
                s = lines.join("\n");
            }
        }
    }
    s
}

/// Loads and builds; true when the text was a valid spec.
fn load_and_build(text: &str, env: Option<&str>) -> bool {
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs/valid"));
    let result = load_str_with(text, "todo.toml", base, env, &|name| {
        (name == "registry").then(|| "${images.x.ref}".to_string())
    });
    match result {
        Ok(spec) => {
            if let Ok(graph) = DependencyGraph::build(&spec) {
                let _ = (
                    graph.apply_order(),
                    graph.waves(),
                    graph.to_dot(),
                    graph.to_text_tree(),
                );
            }
            true
        }
        Err(err) => {
            // Rendering must not panic either, and every span must lie inside the text.
            let _ = format!("{:?}", miette::Report::new(err.clone()));
            for problem in err.problems() {
                for label in &problem.labels {
                    assert!(
                        label.span.end <= text.len(),
                        "{problem:?} points past the end"
                    );
                }
            }
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("todo.toml");
        std::fs::write(&path, &bytes).unwrap();
        let _ = spec::load(&path, None);
        let _ = spec::load(&path, Some("prod"));
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,600}") {
        let _ = load_and_build(&text, None);
    }

    #[test]
    fn mutated_valid_specs_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..8),
        env in prop_oneof![Just(None), Just(Some("prod")), Just(Some("dev")), Just(Some("nope"))],
        which in 0usize..2,
    ) {
        let base = if which == 0 { VALID } else { CORPUS_SAMPLE };
        let text = apply(base, &mutations);
        let _ = load_and_build(&text, env);
    }
}

#[test]
fn deeply_nested_values_are_refused_not_a_stack_overflow() {
    let depth = 5000;
    let text = format!(
        "[project]\nname = \"todo\"\n[releases.x]\nchart = \"../charts/web\"\nvalues = {{ a = {}1{} }}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(!load_and_build(&text, None));
    let dotted = format!(
        "[project]\nname = \"todo\"\n[releases.x]\nchart = \"../charts/web\"\n[releases.x.values]\n{} = 1\n",
        vec!["k"; depth].join(".")
    );
    assert!(!load_and_build(&dotted, None));
}
