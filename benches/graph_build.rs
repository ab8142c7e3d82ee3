//! Loading todo.toml and building the dependency graph, for generated specs of 100, 1,000 and
//! 10,000 nodes. The peer is a plain `toml` parse of the same text into `toml::Table`: the floor
//! any TOML-based tool pays, so the ratio shows what spans, checks and the graph add.
//!
//! Time is the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time:
//! the machine is shared by many jobs, and CPU time is what the work itself costs.
//!
//!   cargo bench --bench graph_build

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use thread_cpu_time::ThreadCpuTime;

#[path = "support/thread_cpu_time.rs"]
mod thread_cpu_time;
use todoplan::graph::DependencyGraph;
use todoplan::spec::load_str_with;

/// A spec with `nodes` graph nodes: one namespace, a tenth images, a tenth secret sets, the
/// rest releases. Each release references an image, a secret and the release before it, and
/// every tenth release also `depends_on` one ten back, so the graph is a long, crossed chain.
fn generated_spec(nodes: usize) -> String {
    let images = nodes / 10;
    let secrets = nodes / 10;
    let releases = nodes - images - secrets - 1;
    let mut s = String::from("[project]\nname = \"bench\"\n\n[cluster]\nnamespace = \"bench\"\n");
    for i in 0..images {
        let _ = write!(s, "\n[images.img{i}]\ncontext = \"../app/web\"\n");
    }
    for i in 0..secrets {
        let _ = write!(
            s,
            "\n[secrets.sec{i}.keys]\nTOKEN = {{ generate = true }}\nAPI_KEY = {{ env = \"BENCH_KEY_{i}\" }}\n"
        );
    }
    for i in 0..releases {
        let _ = write!(
            s,
            "\n[releases.rel{i}]\nchart = \"../charts/web\"\ntimeout = \"2m\"\n"
        );
        if i >= 10 && i % 10 == 0 {
            let _ = writeln!(s, "depends_on = [\"release.rel{}\"]", i - 10);
        }
        let _ = write!(
            s,
            "[releases.rel{i}.values]\nimage.ref = \"${{images.img{}.ref}}\"\nsecretName = \"${{secrets.sec{}.name}}\"\nreplicaCount = 2\nconfig = {{ LOG_LEVEL = \"info\", PORT = \"8000\" }}\n",
            i % images.max(1),
            i % secrets.max(1),
        );
        if i > 0 {
            let _ = writeln!(
                s,
                "upstream = \"http://${{releases.rel{}.name}}:8000\"",
                i - 1
            );
        }
    }
    s
}

fn base_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/valid")
}

fn load_and_build(text: &str, base: &Path) -> DependencyGraph {
    let spec = load_str_with(text, "todo.toml", base, None, &|_| None)
        .unwrap_or_else(|e| panic!("generated spec is invalid: {:?}", miette::Report::new(e)));
    DependencyGraph::build(&spec).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let base = base_dir();
    let mut group = c.benchmark_group("spec");
    for nodes in [100usize, 1_000, 10_000] {
        let text = generated_spec(nodes);
        let graph = load_and_build(&text, &base);
        assert_eq!(
            graph.node_count(),
            nodes,
            "generator made the wrong number of nodes"
        );
        group.throughput(Throughput::Elements(nodes as u64));
        if nodes >= 10_000 {
            group.sample_size(10);
        }
        group.bench_with_input(
            BenchmarkId::new("load_and_build", nodes),
            &text,
            |b, text| b.iter(|| load_and_build(black_box(text), &base)),
        );
        group.bench_with_input(
            BenchmarkId::new("toml_parse_peer", nodes),
            &text,
            |b, text| b.iter(|| black_box(text).parse::<toml::Table>().expect("valid TOML")),
        );
        // Breakdown: the spanned parse todoplan starts from, and the graph build alone.
        group.bench_with_input(
            BenchmarkId::new("toml_spanned_parse", nodes),
            &text,
            |b, text| b.iter(|| toml::de::DeTable::parse(black_box(text)).expect("valid TOML")),
        );
        let spec = load_str_with(&text, "todo.toml", &base, None, &|_| None).expect("valid spec");
        group.bench_with_input(
            BenchmarkId::new("graph_build_only", nodes),
            &spec,
            |b, spec| b.iter(|| DependencyGraph::build(black_box(spec)).expect("acyclic")),
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
