//! Context hashing and the "is this image up to date" check on a generated 10,000-file tree,
//! against the named peer: a no-op (all cache hits) `docker build` of the same context with
//! the Docker CLI, measured in the same run on the same engine.
//!
//! Needs the test environment (dockerd, registry, docker CLI):
//!   scripts/testenv up && eval "$(scripts/testenv env)"
//!   cargo bench --bench context_hash
//!
//! "cold" means no todoplan hash cache (the OS page cache is warm: dropping it would disturb
//! everything else on the machine); "warm" reuses file hashes by size/mtime/ctime/inode.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use todoplan::images::{self, Delivery, HashCache, ImageBuild, ImageStatus};

const FILES: usize = 10_000;
const IGNORED: usize = 1_000;

const TESTENV_HINT: &str = "run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"` first";

/// 100 directories of 100 files, 512 B to ~8 KiB each (about 42 MB), plus 1,000 files a
/// `.dockerignore` excludes, like a source tree with a dependency folder.
fn generate_tree(root: &Path) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..FILES {
        let dir = root.join(format!("src/pkg{:03}", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let len = 512 + (next() % 7680) as usize;
        let body: Vec<u8> = (0..len)
            .map(|j| b'a' + ((j as u64 + next()) % 26) as u8)
            .collect();
        std::fs::write(dir.join(format!("file{i:05}.py")), body).unwrap();
    }
    for i in 0..IGNORED {
        let dir = root.join(format!("node_modules/dep{:02}", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("index{i}.js")),
            format!("module.exports = {i};\n"),
        )
        .unwrap();
    }
    std::fs::write(root.join(".dockerignore"), "node_modules\n*.md\n.git\n").unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        "FROM busybox:1.35.0\nCOPY . /ctx\n",
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let registry = std::env::var("TODOPLAN_TEST_REGISTRY")
        .unwrap_or_else(|_| panic!("TODOPLAN_TEST_REGISTRY is not set: {TESTENV_HINT}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let docker = rt
        .block_on(images::connect())
        .unwrap_or_else(|e| panic!("no Docker engine ({e}): {TESTENV_HINT}"));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ctx");
    generate_tree(&root);
    let build = ImageBuild {
        project: "bench".into(),
        name: "tree".into(),
        context: root.clone(),
        dockerfile: root.join("Dockerfile"),
        build_args: Default::default(),
        target: None,
        platform: None,
    };
    // Past the racy window, so the warm cache may keep every file.
    std::thread::sleep(Duration::from_millis(2_500));

    let digest = images::context_digest(&build).unwrap();
    assert_eq!(
        digest.files.keys().filter(|k| !k.ends_with('/')).count(),
        FILES + 2
    );
    let tag = images::tag_for(&build, &digest);
    rt.block_on(images::build(&docker, &build, &digest, &mut |_| {}))
        .unwrap();
    let pushed = rt.block_on(images::push(&docker, &tag, &registry)).unwrap();
    let registry_delivery = Delivery::Registry {
        address: registry.clone(),
    };

    // The peer's first build fills its cache; every measured one is a no-op.
    let docker_cli_build = || {
        let out = Command::new("docker")
            .args(["build", "-q", "-t", "bench-peer:noop"])
            .arg(&root)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap_or_else(|e| panic!("docker CLI ({e}): {TESTENV_HINT}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    docker_cli_build();

    let mut group = c.benchmark_group("images");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));

    group.bench_function("context_digest_cold_10k", |b| {
        b.iter(|| black_box(images::context_digest(&build).unwrap()))
    });

    let mut cache = HashCache::default();
    images::context_digest_cached(&build, &mut cache).unwrap();
    assert_eq!(cache.len(), FILES + 2, "every file cached");
    group.bench_function("context_digest_warm_10k", |b| {
        b.iter(|| black_box(images::context_digest_cached(&build, &mut cache).unwrap()))
    });

    group.bench_function("status_local_engine", |b| {
        b.iter(|| {
            let status = rt
                .block_on(images::status(
                    &docker,
                    &build,
                    &digest,
                    &Delivery::None,
                    None,
                ))
                .unwrap();
            assert!(matches!(status, ImageStatus::UpToDate { .. }));
        })
    });
    group.bench_function("status_registry_head", |b| {
        b.iter(|| {
            let status = rt
                .block_on(images::status(
                    &docker,
                    &build,
                    &digest,
                    &registry_delivery,
                    None,
                ))
                .unwrap();
            assert_eq!(
                status,
                ImageStatus::UpToDate {
                    reference: pushed.clone()
                }
            );
        })
    });
    group.bench_function("up_to_date_check_warm_10k", |b| {
        b.iter(|| {
            let d = images::context_digest_cached(&build, &mut cache).unwrap();
            let status = rt
                .block_on(images::status(
                    &docker,
                    &build,
                    &d,
                    &registry_delivery,
                    None,
                ))
                .unwrap();
            assert!(matches!(status, ImageStatus::UpToDate { .. }));
        })
    });
    group.bench_function("up_to_date_check_cold_10k", |b| {
        b.iter(|| {
            let d = images::context_digest(&build).unwrap();
            let status = rt
                .block_on(images::status(
                    &docker,
                    &build,
                    &d,
                    &registry_delivery,
                    None,
                ))
                .unwrap();
            assert!(matches!(status, ImageStatus::UpToDate { .. }));
        })
    });
    group.bench_function("peer_docker_build_noop_10k", |b| b.iter(docker_cli_build));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
