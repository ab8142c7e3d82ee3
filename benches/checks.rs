//! The plan-time checks (`checks::run`) over generated plans of 100, 1,000 and 10,000 objects.
//! The peer is `serde_json::to_vec` of the same objects: one pass over every byte of them, the
//! floor of anything that looks at each object once. The ratio shows what the checks add to
//! that, and the three sizes show whether they stay linear.
//!
//! Each stack is five objects in one namespace (ConfigMap, Secret, Deployment, Service, HPA)
//! wired the way the repo's charts are (envFrom, secretKeyRef, named ports and probes, an HPA
//! on CPU); every tenth Deployment reads a Secret key that does not exist, so findings are made
//! and located in a todo.toml and a values file, as in a real plan.
//!
//! Time is the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID), as in graph_build.rs.
//!
//!   cargo bench --bench checks

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use thread_cpu_time::ThreadCpuTime;

#[path = "support/thread_cpu_time.rs"]
mod thread_cpu_time;
use serde_json::{Value, json};
use todoplan::checks::source::{SourceFile, SourceKind};
use todoplan::checks::{self, CheckInput, CheckObject};

fn object(release: &str, object: Value) -> CheckObject {
    let kind = object["kind"].as_str().unwrap_or("");
    let api = object["apiVersion"].as_str().unwrap_or("");
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    CheckObject {
        address: format!("release.{release}/{api}/{kind}/bench/{name}"),
        release: Some(release.to_string()),
        origin: format!("release.{release}"),
        origin_source: None,
        object,
    }
}

fn stack(i: usize) -> Vec<CheckObject> {
    let release = format!("rel{i}");
    let name = format!("app{i}");
    let meta = |n: &str| json!({"name": n, "namespace": "bench", "labels": {"app": name}});
    let key = if i.is_multiple_of(10) {
        "MISSING_KEY"
    } else {
        "JWT_SECRET_KEY"
    };
    vec![
        object(
            &release,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&name),
            "data": {"LOG_LEVEL": "info", "CORS_ORIGINS": "http://localhost:3000", "WORKERS": "4"}}),
        ),
        object(
            &release,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(&format!("{name}-secret")),
            "data": {"JWT_SECRET_KEY": "", "POSTGRES_PASSWORD": ""}}),
        ),
        object(
            &release,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(&name),
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name, "tier": "api"}},
                "spec": {"containers": [{"name": "api", "image": format!("127.0.0.1:5555/bench/api{i}@sha256:abc"),
                    "ports": [{"name": "http", "containerPort": 8000}],
                    "envFrom": [{"configMapRef": {"name": name}}],
                    "env": [{"name": "JWT", "valueFrom": {"secretKeyRef": {"name": format!("{name}-secret"), "key": key}}},
                            {"name": "DATABASE_URL", "value": "postgresql://todo:$(POSTGRES_PASSWORD)@db:5432/todo"}],
                    "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                    "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}}),
        ),
        object(
            &release,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(&name),
            "spec": {"selector": {"app": name}, "ports": [{"port": 8000, "targetPort": "http"}]}}),
        ),
        object(
            &release,
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(&name),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}),
        ),
    ]
}

fn generated_input(objects: usize) -> CheckInput {
    let stacks = objects / 5;
    let mut spec = String::from("[project]\nname = \"bench\"\n");
    let mut sources = Vec::new();
    for i in 0..stacks {
        let _ = write!(
            spec,
            "\n[releases.rel{i}]\nchart = \"charts/api\"\nvalues_files = [\"values/rel{i}.yaml\"]\n[releases.rel{i}.values]\nsecretKey = \"JWT_SECRET_KEY\"\nconfig = {{ LOG_LEVEL = \"info\" }}\n"
        );
        if i.is_multiple_of(10) {
            sources.push(SourceFile {
                path: format!("values/rel{i}.yaml"),
                text: "replicaCount: 2\nsecretKey: MISSING_KEY\nresources:\n  requests:\n    cpu: 100m\n".into(),
                release: Some(format!("rel{i}")),
                kind: SourceKind::ValuesFile,
            });
        }
    }
    sources.insert(
        0,
        SourceFile {
            path: "todo.toml".into(),
            text: spec,
            release: None,
            kind: SourceKind::Spec,
        },
    );
    CheckInput {
        planned: (0..stacks).flat_map(stack).collect(),
        sources,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("checks");
    for objects in [100usize, 1_000, 10_000] {
        let input = generated_input(objects);
        assert_eq!(input.planned.len(), objects);
        let found = checks::run(&input);
        assert_eq!(
            found.len(),
            objects / 50,
            "one finding per tenth stack: {found:#?}"
        );
        assert!(found.iter().all(|f| f.source.is_some()), "{found:#?}");
        group.throughput(Throughput::Elements(objects as u64));
        if objects >= 10_000 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::new("run", objects), &input, |b, input| {
            b.iter(|| checks::run(black_box(input)))
        });
        let planned: Vec<&Value> = input.planned.iter().map(|o| &o.object).collect();
        group.bench_with_input(
            BenchmarkId::new("to_json_peer", objects),
            &planned,
            |b, planned| b.iter(|| serde_json::to_vec(black_box(planned)).expect("serialisable")),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}
criterion_main!(benches);
