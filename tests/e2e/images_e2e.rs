//! Images against the test environment's real dockerd and registry: build, push, "is it up to
//! date" without building, and failures as diagnostics.
#![cfg(feature = "e2e")]

use std::path::{Path, PathBuf};
use std::process::Command;

use todoplan::images::{
    self, ContextDigest, DIGEST_LABEL, Delivery, ImageBuild, ImageError, ImageStatus,
};

const TESTENV_HINT: &str = "run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"` first";

fn registry() -> String {
    std::env::var("TODOPLAN_TEST_REGISTRY")
        .unwrap_or_else(|_| panic!("TODOPLAN_TEST_REGISTRY is not set: {TESTENV_HINT}"))
}

async fn docker() -> bollard::Docker {
    if std::env::var_os("DOCKER_HOST").is_none() {
        panic!("DOCKER_HOST is not set: {TESTENV_HINT}");
    }
    images::connect()
        .await
        .unwrap_or_else(|e| panic!("cannot reach dockerd ({e}): {TESTENV_HINT}"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of app/backend under a project name no other test run uses, so tags
/// built by earlier runs cannot make a status look up to date.
fn backend_copy() -> (tempfile::TempDir, ImageBuild) {
    let dir = tempfile::tempdir().unwrap();
    let build = app_copy(dir.path(), &fresh_project(), "backend");
    (dir, build)
}

fn fresh_project() -> String {
    format!("e2e{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A copy of app/NAME under `dir`, as image NAME of `project`.
fn app_copy(dir: &Path, project: &str, name: &str) -> ImageBuild {
    let context = dir.join(name);
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("app").join(name),
        &context,
    );
    ImageBuild {
        project: project.to_owned(),
        name: name.into(),
        dockerfile: context.join("Dockerfile"),
        context,
        build_args: Default::default(),
        target: None,
        platform: None,
    }
}

/// Tags of this test's own repository (other tests build in parallel).
async fn project_images(docker: &bollard::Docker, build: &ImageBuild) -> Vec<String> {
    let options = bollard::query_parameters::ListImagesOptions {
        filters: Some(std::collections::HashMap::from([(
            "reference".to_owned(),
            vec![build.repository()],
        )])),
        ..Default::default()
    };
    let mut tags: Vec<String> = docker
        .list_images(Some(options))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|image| image.repo_tags)
        .collect();
    tags.sort();
    tags
}

fn digest(build: &ImageBuild) -> ContextDigest {
    images::context_digest(build).expect("context digest")
}

async fn build_quietly(
    docker: &bollard::Docker,
    build: &ImageBuild,
    d: &ContextDigest,
) -> Result<String, ImageError> {
    let mut lines = Vec::new();
    let result = images::build(docker, build, d, &mut |line| lines.push(line.to_owned())).await;
    if result.is_ok() {
        assert!(
            lines.iter().any(|l| l.starts_with("Step 1/")),
            "progress is streamed: {lines:?}"
        );
    }
    result
}

#[tokio::test]
async fn build_push_and_the_registry_holds_the_digest() {
    let docker = docker().await;
    let registry = registry();
    let delivery = Delivery::Registry {
        address: registry.clone(),
    };
    let (_dir, build) = backend_copy();
    let d = digest(&build);
    let local_tag = images::tag_for(&build, &d);

    match images::status(&docker, &build, &d, &delivery, None)
        .await
        .unwrap()
    {
        ImageStatus::BuildNeeded { reason, .. } => assert!(reason.contains("no image"), "{reason}"),
        other => panic!("fresh project must need a build: {other:?}"),
    }

    let id = build_quietly(&docker, &build, &d).await.expect("build");
    let inspect = docker
        .inspect_image(&local_tag)
        .await
        .expect("tag exists after build");
    assert_eq!(inspect.id.as_deref(), Some(id.as_str()));
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get(DIGEST_LABEL),
        Some(&d.digest),
        "image carries its context digest"
    );

    assert_eq!(
        images::status(&docker, &build, &d, &delivery, None)
            .await
            .unwrap(),
        ImageStatus::PushNeeded {
            local_tag: local_tag.clone()
        }
    );

    let reference = images::push(&docker, &local_tag, &registry)
        .await
        .expect("push");
    let repository = build.repository();
    let (name, manifest_digest) = reference.split_once('@').expect("reference by digest");
    assert_eq!(name, format!("{registry}/{repository}"));
    assert!(
        manifest_digest.starts_with("sha256:") && manifest_digest.len() == 71,
        "{reference}"
    );

    // The registry serves that digest, and the content tag points at it.
    let by_digest = images::registry::fetch_manifest(&registry, &repository, manifest_digest)
        .await
        .unwrap()
        .expect("registry holds the pushed digest");
    assert_eq!(by_digest.digest, manifest_digest);
    let by_tag = images::registry::fetch_manifest(&registry, &repository, d.short())
        .await
        .unwrap()
        .expect("registry holds the content tag");
    assert_eq!(by_tag.digest, manifest_digest);
    assert_eq!(by_tag.body, by_digest.body);

    assert_eq!(
        images::status(&docker, &build, &d, &delivery, Some(&d))
            .await
            .unwrap(),
        ImageStatus::UpToDate { reference }
    );
}

#[tokio::test]
async fn unchanged_context_is_up_to_date_and_edits_are_told_apart() {
    let docker = docker().await;
    let (_dir, build) = backend_copy();
    let built = digest(&build);
    let id = build_quietly(&docker, &build, &built).await.expect("build");
    let images_before = project_images(&docker, &build).await;

    // Unchanged: a fresh digest of the same files names the image just built.
    let again = digest(&build);
    assert_eq!(again, built);
    let status = images::status(&docker, &build, &again, &Delivery::None, Some(&built))
        .await
        .unwrap();
    assert_eq!(
        status,
        ImageStatus::UpToDate {
            reference: images::tag_for(&build, &built)
        }
    );

    // Files .dockerignore excludes (README, tests/) do not count.
    std::fs::write(build.context.join("README.md"), "edited\n").unwrap();
    std::fs::write(build.context.join("tests/extra.sh"), "echo\n").unwrap();
    let ignored_edit = digest(&build);
    assert_eq!(ignored_edit.digest, built.digest);
    assert!(matches!(
        images::status(
            &docker,
            &build,
            &ignored_edit,
            &Delivery::None,
            Some(&built)
        )
        .await
        .unwrap(),
        ImageStatus::UpToDate { .. }
    ));

    // A source file does, and the status names it.
    std::fs::write(build.context.join("www/api/todos"), "[{\"id\":1}]\n").unwrap();
    let source_edit = digest(&build);
    match images::status(&docker, &build, &source_edit, &Delivery::None, Some(&built))
        .await
        .unwrap()
    {
        ImageStatus::BuildNeeded {
            reason,
            changed_files,
        } => {
            assert_eq!(changed_files, ["www/api/todos"]);
            assert!(reason.contains("www/api/todos"), "{reason}");
        }
        other => panic!("source edit must need a build: {other:?}"),
    }

    // Looking did not build anything.
    let images_after = project_images(&docker, &build).await;
    assert_eq!(images_before, [images::tag_for(&build, &built)]);
    assert_eq!(images_before, images_after, "status must not build");
    let still = docker
        .inspect_image(&images::tag_for(&build, &built))
        .await
        .unwrap();
    assert_eq!(still.id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn only_the_image_whose_sources_changed_needs_a_build() {
    let docker = docker().await;
    let dir = tempfile::tempdir().unwrap();
    let project = fresh_project();
    let backend = app_copy(dir.path(), &project, "backend");
    let frontend = app_copy(dir.path(), &project, "frontend");
    let (backend_built, frontend_built) = (digest(&backend), digest(&frontend));
    build_quietly(&docker, &backend, &backend_built)
        .await
        .expect("backend builds");
    build_quietly(&docker, &frontend, &frontend_built)
        .await
        .expect("frontend builds");

    std::fs::write(backend.context.join("www/health"), "degraded\n").unwrap();
    let backend_now = digest(&backend);
    let frontend_now = digest(&frontend);
    assert!(matches!(
        images::status(&docker, &backend, &backend_now, &Delivery::None, Some(&backend_built)).await.unwrap(),
        ImageStatus::BuildNeeded { ref changed_files, .. } if changed_files == &["www/health"]
    ));
    assert_eq!(
        images::status(
            &docker,
            &frontend,
            &frontend_now,
            &Delivery::None,
            Some(&frontend_built)
        )
        .await
        .unwrap(),
        ImageStatus::UpToDate {
            reference: images::tag_for(&frontend, &frontend_built)
        }
    );
}

#[tokio::test]
async fn failing_step_is_a_diagnostic_naming_the_step_and_its_output() {
    let docker = docker().await;
    let (_dir, build) = backend_copy();
    std::fs::write(
        &build.dockerfile,
        "FROM busybox:1.35.0\nCOPY www /www\nRUN /bin/busybox sh -c 'echo checking www; exit 3'\nUSER 10001:10001\n",
    )
    .unwrap();
    let d = digest(&build);
    let err = build_quietly(&docker, &build, &d)
        .await
        .expect_err("RUN exits 3");
    match &err {
        ImageError::BuildFailed {
            step,
            tail,
            span,
            src,
            ..
        } => {
            // Step 3 of FROM, COPY, RUN, USER and the LABEL step the engine adds for the digest label.
            assert!(
                step.starts_with("Step 3/5 : RUN /bin/busybox sh -c"),
                "{step}"
            );
            assert!(
                tail.contains("checking www"),
                "the step's own output is shown: {tail}"
            );
            assert!(tail.contains("non-zero code: 3"), "{tail}");
            let span = span.expect("points into the Dockerfile");
            let text = std::fs::read_to_string(&build.dockerfile).unwrap();
            assert!(text[span.offset()..].starts_with("RUN /bin/busybox sh -c"));
            assert!(src.name().ends_with("Dockerfile"));
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    // As a user sees it: the step's line in the Dockerfile, labelled.
    let mut shown = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut shown, &err)
        .unwrap();
    assert!(shown.contains("this step failed"), "{shown}");
    assert!(shown.contains("3 │ RUN /bin/busybox sh -c"), "{shown}");
    let no_image = docker.inspect_image(&images::tag_for(&build, &d)).await;
    assert!(no_image.is_err(), "a failed build leaves no tagged image");
}

#[tokio::test]
async fn unknown_instruction_points_at_its_line() {
    let docker = docker().await;
    let (_dir, build) = backend_copy();
    std::fs::write(
        &build.dockerfile,
        "FROM busybox:1.35.0\nCOPY www /www\nFROBNICATE all\n",
    )
    .unwrap();
    let d = digest(&build);
    match build_quietly(&docker, &build, &d)
        .await
        .expect_err("bad instruction")
    {
        ImageError::BuildFailed {
            step, tail, span, ..
        } => {
            assert_eq!(step, "Dockerfile line 3");
            assert!(tail.to_lowercase().contains("frobnicate"), "{tail}");
            let span = span.expect("span");
            assert_eq!((span.offset(), span.len()), (34, 14));
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
}

/// Our `.dockerignore` port against the real Docker CLI: both build the same context with
/// `COPY . /ctx`; the files inside the two images must be the same.
#[tokio::test]
async fn context_matches_what_the_docker_cli_sends() {
    let docker_cli = PathBuf::from("docker");
    let docker = docker().await;
    let (_dir, build) = backend_copy();
    let root = &build.context;
    for rel in [
        "src/main.py",
        "src/util/helpers.py",
        "src/util/cache.tmp",
        "docs/guide.md",
        "docs/keep.txt",
        "notes.md",
        "deep/a/b/c.log",
        "deep/a/keep.log",
        "file1.txt",
        "filex.txt",
        ".git/HEAD",
        "nested/.git/HEAD",
    ] {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rel).unwrap();
    }
    std::fs::write(
        root.join(".dockerignore"),
        "# comment\n*.md\ntests/\n**/.git\nsrc/**/*.tmp\ndocs\n!docs/keep.txt\ndeep/**/*.log\n!deep/a/keep.log\nfile[0-9].txt\n",
    )
    .unwrap();
    std::fs::write(&build.dockerfile, "FROM busybox:1.35.0\nCOPY . /ctx\n").unwrap();

    let d = digest(&build);
    build_quietly(&docker, &build, &d)
        .await
        .expect("build with todoplan");
    let ours = images::tag_for(&build, &d);
    let theirs = format!("{}-cli:1", build.repository());
    let out = Command::new(&docker_cli)
        .args(["build", "-q", "-t", &theirs])
        .arg(root)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap_or_else(|e| panic!("docker CLI not runnable ({e}): {TESTENV_HINT}"));
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let list = |image: &str| {
        let out = Command::new(&docker_cli)
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                image,
                "/bin/busybox",
                "find",
                "/ctx",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        files.sort();
        files
    };
    let from_cli = list(&theirs);
    assert_eq!(list(&ours), from_cli);
    // And the digest covers exactly what was sent: its entries plus the parent directories
    // that extraction creates for a re-included file (Docker does not send those either).
    let mut hashed = std::collections::BTreeSet::from(["/ctx".to_owned()]);
    for key in d.files.keys() {
        let path = key.trim_end_matches('/');
        for (i, _) in path.match_indices('/') {
            hashed.insert(format!("/ctx/{}", &path[..i]));
        }
        hashed.insert(format!("/ctx/{path}"));
    }
    assert_eq!(hashed.into_iter().collect::<Vec<_>>(), from_cli);
    assert!(
        !d.files.contains_key("docs/"),
        "the excluded directory itself is not sent"
    );
    assert!(from_cli.contains(&"/ctx/docs/keep.txt".to_owned()));
    assert!(!from_cli.contains(&"/ctx/docs/guide.md".to_owned()));
}

/// Delivery is never guessed: a project with images, no registry and no delivery, on a
/// context that is not a local cluster todoplan recognises, is a plan error saying what to
/// set, before anything is built (the seeds' ImagePullBackOff, found at plan time).
#[test]
fn a_project_with_images_and_no_way_to_deliver_them_is_a_plan_error() {
    crate::support::require_cluster();
    let dir = tempfile::tempdir().unwrap();
    let name = crate::support::unique_name("nodelivery");
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM busybox:1.35.0\n").unwrap();
    std::fs::create_dir_all(dir.path().join("web")).unwrap();
    std::fs::write(
        dir.path().join("web/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web, namespace: {name}}}\ndata: {{image: \"${{images.app.ref}}\"}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("todo.toml"),
        format!("[project]\nname = \"{name}\"\n[cluster]\nnamespace = \"{name}\"\n\n[images.app]\ncontext = \"app\"\n\n[releases.web]\nchart = \"web\"\n"),
    )
    .unwrap();
    let out = crate::support::todoplan_in(dir.path(), &["plan"]);
    let said = crate::support::one_line(&crate::support::output_text(&out));
    assert!(!out.status.success(), "the plan must fail:\n{said}");
    assert!(
        said.contains("says nothing about how they reach context") && said.contains("registry = "),
        "{said}"
    );
    assert!(
        !crate::support::namespace_exists(&name),
        "nothing was created"
    );
}
