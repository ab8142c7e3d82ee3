//! The repository's own todo.toml describes the Todo stack the seeds deployed by hand.
//!
//! The charts and app stand-ins it points at live in other parts of the repository; this test
//! copies todo.toml next to minimal stand-ins of those directories so it checks the file's
//! meaning (sections, references, order, the prod overlay) on its own. `todoplan validate` in
//! the repository root checks it against the real charts.

use std::path::Path;

use todoplan::graph::{Address, DependencyGraph};
use todoplan::spec::{Delivery, SecretSource, Spec, load_str_with};

fn root_spec(env: Option<&str>) -> (Spec, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for chart in ["postgres", "backend", "frontend"] {
        let path = dir.path().join("charts").join(chart);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(
            path.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {chart}\nversion: 0.1.0\n"),
        )
        .unwrap();
    }
    for app in ["backend", "frontend"] {
        let path = dir.path().join("app").join(app);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("Dockerfile"), "FROM busybox:1.36\n").unwrap();
    }
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("todo.toml")).unwrap();
    let spec = load_str_with(&text, "todo.toml", dir.path(), env, &|_| None)
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    (spec, dir)
}

#[test]
fn root_spec_deploys_postgres_backend_frontend_in_order() {
    let (spec, dir) = root_spec(None);
    assert_eq!(spec.project.name, "todo");
    assert_eq!(spec.cluster.namespace, "todo");
    assert_eq!(spec.cluster.registry.as_deref(), Some("127.0.0.1:5555"));
    assert_eq!(spec.cluster.delivery, Some(Delivery::Registry));
    assert_eq!(
        spec.images["backend"].context,
        dir.path().join("app/backend")
    );
    assert_eq!(
        spec.images["frontend"].context,
        dir.path().join("app/frontend")
    );
    let app = &spec.secrets["app"];
    assert_eq!(app.k8s_name, "todo-app");
    assert!(matches!(
        app.keys["JWT_SECRET_KEY"],
        SecretSource::Generate { .. }
    ));
    assert!(matches!(
        app.keys["POSTGRES_PASSWORD"],
        SecretSource::Generate { .. }
    ));
    assert!(matches!(
        app.keys["OPENAI_API_KEY"],
        SecretSource::Env { .. }
    ));
    assert!(spec.releases["postgres"].protect);

    let graph = DependencyGraph::build(&spec).unwrap();
    let order = graph.apply_order();
    let at = |s: &str| {
        order
            .iter()
            .position(|a| *a == s.parse::<Address>().unwrap())
            .unwrap()
    };
    assert!(at("secret.app") < at("release.postgres"));
    assert!(at("release.postgres") < at("release.backend"));
    assert!(at("image.backend") < at("release.backend"));
    assert!(at("release.backend") < at("release.frontend"));
    assert!(at("image.frontend") < at("release.frontend"));
}

#[test]
fn root_spec_wires_the_chart_values_contract() {
    let (spec, _dir) = root_spec(None);
    let resolve = |release: &str| {
        spec.releases[release]
            .interpolate_values(&mut |r| {
                spec.static_attribute(r)
                    .or_else(|| matches!(r.target, Address::Image(_)).then(|| format!("{}", r)))
                    .ok_or(())
            })
            .unwrap()
    };
    let postgres = resolve("postgres");
    assert_eq!(postgres["auth"]["existingSecret"], "todo-app");
    assert_eq!(postgres["auth"]["passwordKey"], "POSTGRES_PASSWORD");
    let backend = resolve("backend");
    assert_eq!(backend["image"]["ref"], "${images.backend.ref}");
    assert_eq!(backend["secretName"], "todo-app");
    assert_eq!(backend["database"]["host"], "postgres");
    assert_eq!(backend["config"]["LOG_LEVEL"], "info");
    let frontend = resolve("frontend");
    assert_eq!(frontend["backend"]["serviceName"], "backend");
    assert_eq!(frontend["replicaCount"], 1);
}

#[test]
fn prod_overlay_scales_out() {
    let (spec, _dir) = root_spec(Some("prod"));
    for release in ["backend", "frontend"] {
        let r = &spec.releases[release];
        assert_eq!(r.values["replicaCount"], 3, "{release}");
        assert_eq!(r.values["autoscaling"]["enabled"], true, "{release}");
        assert_eq!(r.ignore_changes, vec!["Deployment/*:spec.replicas"]);
    }
    assert_eq!(
        spec.releases["backend"].values["config"]["LOG_LEVEL"],
        "warning"
    );
    assert_eq!(
        spec.releases["postgres"].values["persistence"]["size"],
        "10Gi"
    );
    assert_eq!(spec.releases["frontend"].values["ingress"]["enabled"], true);
}
