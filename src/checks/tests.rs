use serde_json::json;

use super::*;

fn object(address: &str, object: Value) -> CheckObject {
    CheckObject {
        address: address.into(),
        object,
        release: Some("web".into()),
        origin: "release.web".into(),
        origin_source: None,
    }
}

fn service(selector: Value) -> CheckObject {
    object(
        "release.web/v1/Service/todo/web",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "todo"},
               "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}}),
    )
}

fn deployment() -> CheckObject {
    object(
        "release.web/apps/v1/Deployment/todo/web",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "todo"},
               "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}]}]}}}}),
    )
}

#[test]
fn a_matching_service_is_clean_and_a_mismatched_one_is_found_once() {
    let clean = CheckInput {
        planned: vec![service(json!({"app": "web"})), deployment()],
        ..Default::default()
    };
    assert_eq!(run(&clean), vec![]);
    let broken = CheckInput {
        planned: vec![service(json!({"app": "wbe"})), deployment()],
        ..Default::default()
    };
    let found = run(&broken);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].id, "svc.selector");
    assert_eq!(found[0].severity, Severity::Warning, "offline: not proven");
}

#[test]
fn coverage_turns_an_unproven_absence_into_an_error() {
    let mut input = CheckInput {
        planned: vec![service(json!({"app": "wbe"})), deployment()],
        ..Default::default()
    };
    input.coverage.namespaces.insert("todo".into());
    let found = run(&input);
    assert_eq!(found[0].severity, Severity::Error);
    assert!(has_errors(&found));
}

#[test]
fn ignore_rules_match_by_id_and_exact_or_prefix_address() {
    let input = |ignore: &str| CheckInput {
        planned: vec![service(json!({"app": "wbe"})), deployment()],
        ignore: vec![IgnoreRule::parse(ignore).unwrap()],
        ..Default::default()
    };
    assert!(run(&input("svc.selector")).is_empty());
    assert!(run(&input("svc.selector:release.web/v1/Service/todo/web")).is_empty());
    assert!(run(&input("svc.selector:release.web/*")).is_empty());
    assert_eq!(run(&input("svc.selector:release.other/*")).len(), 1);
    assert_eq!(run(&input("svc.target-port")).len(), 1);
}

#[test]
fn ignore_entries_are_checked() {
    assert!(
        IgnoreRule::parse("svc.selectr")
            .unwrap_err()
            .contains("did you mean `svc.selector`")
    );
    assert!(IgnoreRule::parse("svc.selector:").is_err());
    assert!(IgnoreRule::parse("svc.selector:nonsense").is_err());
}

#[test]
fn findings_serialise_with_every_field_even_without_a_source() {
    let f = Finding {
        id: "svc.selector".into(),
        severity: Severity::Error,
        address: "a".into(),
        field: "spec.selector".into(),
        message: "m".into(),
        source: None,
    };
    assert_eq!(
        serde_json::to_value(&f).unwrap(),
        json!({"id": "svc.selector", "severity": "error", "address": "a", "field": "spec.selector", "message": "m", "source": null})
    );
}

fn reader_of(config_map: &str) -> CheckObject {
    object(
        "release.web/apps/v1/Deployment/todo/reader",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "reader", "namespace": "todo"},
               "spec": {"template": {"metadata": {"labels": {"app": "reader"}},
                        "spec": {"containers": [{"name": "r", "image": "busybox:1.35.0",
                                 "envFrom": [{"configMapRef": {"name": config_map}}]}]}}}}),
    )
}

#[test]
fn a_live_object_the_plan_deletes_counts_as_gone() {
    let live_config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "todo"}, "data": {}});
    let mut input = CheckInput {
        planned: vec![reader_of("old")],
        live: vec![live_config],
        ..Default::default()
    };
    input.coverage.namespaces.insert("todo".into());
    assert_eq!(run(&input), vec![], "kept live: the reference holds");
    input.delete([crate::observe::ObjectKey {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("todo".into()),
        name: "old".into(),
    }]);
    let found = run(&input);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].id, "ref.configmap");
    assert_eq!(found[0].severity, Severity::Error);
}

#[test]
fn an_unlisted_namespace_proves_nothing_missing() {
    let input = CheckInput {
        planned: vec![reader_of("made-by-hand")],
        ..Default::default()
    };
    assert_eq!(run(&input), vec![]);
}

#[test]
fn service_account_token_secrets_get_their_keys_later() {
    let token = object(
        "release.web/v1/Secret/todo/sa-token",
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
               "metadata": {"name": "sa-token", "namespace": "todo"}}),
    );
    let pod = object(
        "release.web/v1/Pod/todo/p",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "todo"},
               "spec": {"containers": [{"name": "c", "image": "busybox:1.35.0", "env": [
                   {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sa-token", "key": "token"}}}]}]}}),
    );
    let input = CheckInput {
        planned: vec![token, pod],
        ..Default::default()
    };
    assert_eq!(run(&input), vec![]);
}

#[test]
fn a_container_resource_metric_needs_the_request_of_its_container_only() {
    let hpa = |container: &str| {
        object(
            "release.web/autoscaling/v2/HorizontalPodAutoscaler/todo/web",
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                   "metadata": {"name": "web", "namespace": "todo"},
                   "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                            "metrics": [{"type": "ContainerResource", "containerResource": {
                                "name": "cpu", "container": container,
                                "target": {"type": "Utilization", "averageUtilization": 60}}}]}}),
        )
    };
    let workload = object(
        "release.web/apps/v1/Deployment/todo/web",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "todo"},
               "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                   {"name": "app", "image": "busybox:1.35.0", "resources": {"requests": {"cpu": "100m"}}},
                   {"name": "sidecar", "image": "busybox:1.35.0"}]}}}}),
    );
    let input = |container| CheckInput {
        planned: vec![hpa(container), workload.clone()],
        ..Default::default()
    };
    assert_eq!(run(&input("app")), vec![]);
    let found = run(&input("sidecar"));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].id, "hpa.requests");
    assert_eq!(
        found[0].field,
        "spec.template.spec.containers[1].resources.requests.cpu"
    );
}

#[test]
fn a_missing_key_points_at_the_keys_table_and_says_where_the_key_is_named() {
    let secret = CheckObject {
        address: "secret.app".into(),
        object: json!({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "todo-app", "namespace": "todo"}, "data": {"POSTGRES_PASSWORD": ""}}),
        release: None,
        origin: "from [secrets.app.keys] in todo.toml".into(),
        origin_source: Some("todo.toml:2".into()),
    };
    let pod = object(
        "release.web/v1/Pod/todo/p",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "todo"},
               "spec": {"containers": [{"name": "c", "image": "busybox:1.35.0", "env": [
                   {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "todo-app", "key": "DB_PASSWORD"}}}]}]}}),
    );
    let spec = "[secrets.app.keys]\nPOSTGRES_PASSWORD = { generate = true }\n\n[releases.web.values]\npasswordKey = \"DB_PASSWORD\"\n";
    let input = CheckInput {
        planned: vec![secret, pod],
        sources: vec![SourceFile {
            path: "todo.toml".into(),
            text: spec.into(),
            release: None,
            kind: source::SourceKind::Spec,
        }],
        ..Default::default()
    };
    let found = run(&input);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].source.as_deref(), Some("todo.toml:2"));
    assert!(
        found[0]
            .message
            .ends_with("(`DB_PASSWORD` is named at todo.toml:5)"),
        "{}",
        found[0].message
    );
}

fn smoke(service: &str, port: &str) -> crate::model::smoke::SmokeCheck {
    crate::model::smoke::SmokeCheck {
        release: "web".into(),
        namespace: "todo".into(),
        service: service.into(),
        port: port.into(),
        path: "/health".into(),
        expect: 200,
        contains: None,
        timeout_secs: 60,
        source: Some("todo.toml:9".into()),
    }
}

#[test]
fn a_smoke_check_must_name_a_service_of_its_release_and_a_port_it_has() {
    let with = |checks: Vec<crate::model::smoke::SmokeCheck>| {
        let mut input = CheckInput {
            planned: vec![service(json!({"app": "web"})), deployment()],
            smoke_checks: checks,
            ..Default::default()
        };
        input.coverage.namespaces.insert("todo".into());
        run(&input)
    };
    assert_eq!(with(vec![smoke("web", "80")]), vec![]);
    let wrong_name = with(vec![smoke("backend", "80")]);
    assert_eq!(wrong_name.len(), 1, "{wrong_name:#?}");
    assert_eq!(wrong_name[0].id, "smoke.service");
    assert_eq!(wrong_name[0].severity, Severity::Error);
    assert_eq!(wrong_name[0].address, "release.web");
    assert_eq!(wrong_name[0].field, "checks[0]");
    assert_eq!(wrong_name[0].source.as_deref(), Some("todo.toml:9"));
    assert!(
        wrong_name[0]
            .message
            .ends_with("; release.web renders Services `web`"),
        "{}",
        wrong_name[0].message
    );
    let wrong_port = with(vec![smoke("web", "80"), smoke("web", "8000")]);
    assert_eq!(wrong_port.len(), 1, "{wrong_port:#?}");
    assert_eq!(wrong_port[0].field, "checks[1]");
    assert_eq!(
        wrong_port[0].message,
        "smoke check /health uses port `8000` of Service `web`, which has ports 80"
    );
    let by_name = with(vec![smoke("web", "http")]);
    assert_eq!(
        by_name.len(),
        1,
        "the Service's port has no name: {by_name:#?}"
    );
}

#[test]
fn only_namespaces_where_a_planned_object_looks_something_up_are_listed() {
    let config_map = object(
        "release.web/v1/ConfigMap/cfg/settings",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "cfg"}}),
    );
    let claim = object(
        "release.web/v1/PersistentVolumeClaim/data/claim",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim", "namespace": "data"}}),
    );
    let only_config = CheckInput {
        planned: vec![config_map.clone()],
        ..Default::default()
    };
    assert_eq!(only_config.lookups(), Lookups::default());
    let mixed = CheckInput {
        planned: vec![config_map, claim, deployment()],
        smoke_checks: vec![{
            let mut s = smoke("web", "80");
            s.namespace = "probe".into();
            s
        }],
        ..Default::default()
    };
    let lookups = mixed.lookups();
    assert_eq!(
        lookups.namespaces.into_iter().collect::<Vec<_>>(),
        vec!["probe", "todo"]
    );
    assert!(lookups.storage_classes);
    let keys = mixed.planned_keys();
    assert!(keys.contains("ConfigMap", "cfg", "settings"));
    assert!(!keys.contains("ConfigMap", "todo", "settings"));
}
