use std::path::Path;

use super::*;
use crate::spec::load_str_with;

fn specs_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs/valid"))
}

fn spec(body: &str) -> Spec {
    let text = format!("[project]\nname = \"todo\"\n[cluster]\nnamespace = \"todo\"\n{body}");
    load_str_with(&text, "todo.toml", specs_dir(), None, &|_| None)
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn graph(body: &str) -> DependencyGraph {
    DependencyGraph::build(&spec(body)).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

fn names(list: &[Address]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

const STACK: &str = r#"
[images.backend]
context = "../app/api"
[images.frontend]
context = "../app/web"
[secrets.app.keys]
JWT = { generate = true }
[releases.postgres]
chart = "../charts/db"
values = { auth.existingSecret = "${secrets.app.name}" }
[releases.backend]
chart = "../charts/web"
values = { image.ref = "${images.backend.ref}", db = "${releases.postgres.name}", s = "${secrets.app.name}" }
[releases.frontend]
chart = "../charts/web"
values = { image.ref = "${images.frontend.ref}", api = "${releases.backend.name}" }
"#;

#[test]
fn build_adds_every_node_and_the_edges_the_spec_implies() {
    let g = graph(STACK);
    assert_eq!(
        names(&g.nodes()),
        [
            "namespace.todo",
            "image.backend",
            "image.frontend",
            "secret.app",
            "release.postgres",
            "release.backend",
            "release.frontend"
        ]
    );
    assert_eq!(
        names(&g.dependencies(&a("release.backend"))),
        [
            "namespace.todo",
            "image.backend",
            "secret.app",
            "release.postgres"
        ]
    );
    assert_eq!(
        names(&g.dependents(&a("secret.app"))),
        ["release.postgres", "release.backend"]
    );
    assert_eq!(names(&g.dependencies(&a("secret.app"))), ["namespace.todo"]);
    let edges = g.edges();
    let (_, _, edge) = edges
        .iter()
        .find(|(from, to, _)| *from == a("image.backend") && *to == a("release.backend"))
        .unwrap();
    assert_eq!(
        edge.reason,
        EdgeReason::Reference("${images.backend.ref}".into())
    );
    assert!(edge.span.is_some());
}

#[test]
fn apply_order_respects_every_edge_and_delete_order_reverses_it() {
    let g = graph(STACK);
    let order = g.apply_order();
    assert_eq!(order.len(), g.node_count());
    let position = |x: &Address| order.iter().position(|o| o == x).unwrap();
    for (from, to, _) in g.edges() {
        assert!(
            position(&from) < position(&to),
            "{from} must come before {to}"
        );
    }
    let mut reversed = g.delete_order();
    reversed.reverse();
    assert_eq!(reversed, order);
}

#[test]
fn waves_group_independent_nodes() {
    let g = graph(STACK);
    let waves: Vec<Vec<String>> = g.waves().iter().map(|w| names(w)).collect();
    assert_eq!(
        waves,
        vec![
            vec!["namespace.todo", "image.backend", "image.frontend"],
            vec!["secret.app"],
            vec!["release.postgres"],
            vec!["release.backend"],
            vec!["release.frontend"],
        ]
    );
}

#[test]
fn depends_on_adds_an_edge() {
    let g = graph(
        r#"
[releases.a]
chart = "../charts/web"
[releases.b]
chart = "../charts/web"
depends_on = ["release.a"]
"#,
    );
    assert_eq!(
        names(&g.dependencies(&a("release.b"))),
        ["namespace.todo", "release.a"]
    );
    let edge = g
        .edges()
        .into_iter()
        .find(|(from, _, _)| *from == a("release.a"))
        .unwrap()
        .2;
    assert_eq!(edge.reason, EdgeReason::DependsOn);
}

#[test]
fn a_cycle_is_reported_with_every_step() {
    let s = spec(
        r#"
[releases.a]
chart = "../charts/web"
values = { x = "${releases.c.name}" }
[releases.b]
chart = "../charts/web"
values = { x = "${releases.a.name}" }
[releases.c]
chart = "../charts/web"
depends_on = ["release.b"]
"#,
    );
    let err = DependencyGraph::build(&s).unwrap_err();
    let problem = &err.problems()[0];
    assert_eq!(
        problem.message,
        "dependency cycle: release.a → release.b → release.c → release.a"
    );
    let texts: Vec<&str> = problem
        .labels
        .iter()
        .map(|l| &s.source.text[l.span.start..l.span.end])
        .collect();
    assert_eq!(
        texts,
        ["${releases.a.name}", "\"release.b\"", "${releases.c.name}"]
    );
}

#[test]
fn release_objects_follow_kind_order_inside_the_release() {
    let mut g = graph(STACK);
    let object = |kind: &str, name: &str| ObjectKey {
        api_version: if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        }
        .into(),
        kind: kind.into(),
        namespace: Some("todo".into()),
        name: name.into(),
    };
    g.add_release_objects(
        "backend",
        &[
            object("Deployment", "backend"),
            object("Service", "backend"),
            object("ConfigMap", "backend-config"),
            object("Secret", "backend-extra"),
        ],
    );
    assert_eq!(
        names(&g.objects_of("backend")),
        [
            "release.backend/v1/Secret/todo/backend-extra",
            "release.backend/v1/ConfigMap/todo/backend-config",
            "release.backend/v1/Service/todo/backend",
            "release.backend/apps/v1/Deployment/todo/backend",
        ]
    );
    let order = g.apply_order();
    let position = |x: &str| order.iter().position(|o| o.to_string() == x).unwrap();
    // The release's own dependencies come before its first objects ...
    assert!(position("image.backend") < position("release.backend/v1/Secret/todo/backend-extra"));
    assert!(
        position("release.postgres") < position("release.backend/v1/Secret/todo/backend-extra")
    );
    // ... and everything that needs the release waits for all its objects.
    assert!(
        position("release.backend/apps/v1/Deployment/todo/backend") < position("release.backend")
    );
    assert!(position("release.backend") < position("release.frontend"));
    for (from, to, _) in g.edges() {
        assert!(
            order.iter().position(|o| *o == from) < order.iter().position(|o| *o == to),
            "{from} must come before {to}"
        );
    }

    // Adding again replaces the objects.
    g.add_release_objects("backend", &[object("Service", "backend")]);
    assert_eq!(
        names(&g.objects_of("backend")),
        ["release.backend/v1/Service/todo/backend"]
    );
}

#[test]
fn text_tree_shows_each_node_with_what_it_needs() {
    let g = graph(STACK);
    let tree = g.to_text_tree();
    let expected = "\
release.frontend
├── namespace.todo  (namespace)
├── image.frontend  (${images.frontend.ref})
└── release.backend  (${releases.backend.name})
    ├── namespace.todo  (namespace)
    ├── image.backend  (${images.backend.ref})
    ├── secret.app  (${secrets.app.name})
    │   └── namespace.todo  (namespace)
    └── release.postgres  (${releases.postgres.name})
        ├── namespace.todo  (namespace)
        └── secret.app  (${secrets.app.name}) (*)
";
    assert_eq!(tree, expected);
}

#[test]
fn dot_output_names_every_node_and_labels_edges() {
    let g = graph(STACK);
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph todoplan {"));
    assert!(dot.trim_end().ends_with('}'));
    for node in g.nodes() {
        assert!(
            dot.contains(&format!("\"{node}\" [shape=")),
            "{node} missing"
        );
    }
    assert!(
        dot.contains("\"image.backend\" -> \"release.backend\" [label=\"${images.backend.ref}\"];")
    );
    assert_eq!(dot.matches(" -> ").count(), g.edge_count());
}

#[test]
fn a_long_chain_orders_without_recursion_limits() {
    let mut body = String::new();
    for i in 0..3000 {
        body.push_str(&format!("[releases.r{i}]\nchart = \"../charts/web\"\n"));
        if i > 0 {
            body.push_str(&format!("depends_on = [\"release.r{}\"]\n", i - 1));
        }
    }
    let g = graph(&body);
    assert_eq!(g.waves().len(), 3001);
    assert!(g.to_text_tree().lines().count() > 3000);
}

#[test]
fn objects_rendered_by_two_releases_are_conflicts() {
    let mut g = graph(STACK);
    let service = |api_version: &str, name: &str| ObjectKey {
        api_version: api_version.into(),
        kind: "Service".into(),
        namespace: Some("todo".into()),
        name: name.into(),
    };
    g.add_release_objects("backend", &[service("v1", "api"), service("v1", "backend")]);
    g.add_release_objects(
        "frontend",
        &[service("v1", "api"), service("v1", "frontend")],
    );
    assert_eq!(
        g.conflicting_objects(),
        vec![(
            a("release.backend/v1/Service/todo/api"),
            a("release.frontend/v1/Service/todo/api")
        )]
    );
}

#[test]
fn hooks_order_around_the_release_objects_by_stage_and_weight() {
    use crate::chart::hooks::Stage;
    let mut g = graph(STACK);
    let key = |kind: &str, name: &str| ObjectKey {
        api_version: if kind == "Job" { "batch/v1" } else { "v1" }.into(),
        kind: kind.into(),
        namespace: Some("todo".into()),
        name: name.into(),
    };
    g.add_release_objects_ordered(
        "backend",
        &[
            (key("ConfigMap", "post"), (Stage::Post, 0)),
            (key("Service", "main"), (Stage::Main, 0)),
            (key("Job", "late"), (Stage::Pre, 5)),
            (key("Secret", "early"), (Stage::Pre, -5)),
        ],
    );
    let order: Vec<String> = g
        .apply_order()
        .iter()
        .map(|a| a.to_string())
        .filter(|a| a.starts_with("release.backend/"))
        .collect();
    assert_eq!(
        order,
        [
            "release.backend/v1/Secret/todo/early",
            "release.backend/batch/v1/Job/todo/late",
            "release.backend/v1/Service/todo/main",
            "release.backend/v1/ConfigMap/todo/post",
        ]
    );
}

#[test]
fn an_ordering_learnt_from_rendering_orders_the_release_and_its_objects_but_never_closes_a_cycle() {
    let mut g = graph(
        r#"
[releases.things]
chart = "../charts/web"
[releases.crds]
chart = "../charts/web"
[releases.later]
chart = "../charts/web"
depends_on = ["release.things"]
"#,
    );
    let object = |kind: &str| ObjectKey {
        api_version: "example.test/v1".into(),
        kind: kind.into(),
        namespace: Some("todo".into()),
        name: "x".into(),
    };
    g.add_release_objects("things", &[object("Gadget")]);
    g.add_release_objects("crds", &[object("CustomResourceDefinition")]);
    assert!(g.add_ordering(
        &a("release.crds"),
        &a("release.things"),
        EdgeReason::CustomResources
    ));
    assert!(
        !g.add_ordering(
            &a("release.crds"),
            &a("release.things"),
            EdgeReason::CustomResources
        ),
        "an ordering is added once"
    );
    let order = g.apply_order();
    let position = |x: &str| order.iter().position(|o| o.to_string() == x).unwrap();
    assert!(position("release.crds") < position("release.things/example.test/v1/Gadget/todo/x"));
    // `crds` now comes before `things` (and `later`, which depends on it): ordering either of
    // them before `crds` would close a cycle, and is refused.
    assert!(!g.add_ordering(
        &a("release.things"),
        &a("release.crds"),
        EdgeReason::CustomResources
    ));
    assert!(!g.add_ordering(
        &a("release.later"),
        &a("release.crds"),
        EdgeReason::CustomResources
    ));
    assert_eq!(order.len(), g.node_count(), "every node stays in the order");
}
