//! Images: content-addressed builds, delivered to the cluster, referenced by digest.
//!
//! An image is identified by what goes into it: the files its `.dockerignore` keeps (paths,
//! modes, contents), the Dockerfile, build args, target stage and platform
//! ([`context_digest`]). The tag is `<project>-<image>:<first 12 hex of that digest>`
//! ([`tag_for`]), so "is a build needed?" is "does that tag exist?" — answered without building
//! ([`status`]). [`build`] streams the build to the engine named by `DOCKER_HOST`; [`push`]
//! sends it to a registry and returns the immutable `<registry>/<repo>@sha256:...` reference
//! that release values use.
//!
//! Flow: `context` (walk + hash, `dockerignore` rules) → `engine` (status, build, push via
//! bollard) → `registry` (HTTP API v2 for "is it there already") → `delivery` (how the cluster
//! gets the image).

mod context;
pub mod delivery;
pub mod dockerignore;
mod engine;
pub mod probe;
pub mod registry;

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

pub use context::{ContextDigest, HashCache, context_digest, context_digest_cached, tag_for};
pub use delivery::{Delivery, detect_delivery};
pub use engine::{DIGEST_LABEL, ImageStatus, build, connect, kind_load, push, status};

/// One image to build, as todo.toml describes it (the spec maps onto this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBuild {
    /// Project name: the first half of the repository name `<project>-<name>`.
    pub project: String,
    /// Image name in todo.toml (`[images.backend]` → `backend`).
    pub name: String,
    /// Build context directory.
    pub context: PathBuf,
    /// Dockerfile path (absolute, or relative to the working directory like `context`).
    pub dockerfile: PathBuf,
    pub build_args: IndexMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
}

impl ImageBuild {
    /// `<project>-<name>`: the repository part of every reference to this image.
    pub fn repository(&self) -> String {
        format!("{}-{}", self.project, self.name)
    }
}

/// Everything that can go wrong with an image, as a diagnostic that says what to do.
#[derive(Debug, Error, Diagnostic)]
pub enum ImageError {
    #[error("image `{image}`: build context {path} is not a directory")]
    #[diagnostic(
        code(todoplan::images::context_missing),
        help(
            "set `context` to the directory holding the image's sources (relative paths start at todo.toml's directory)"
        )
    )]
    ContextMissing { image: String, path: PathBuf },

    #[error("image `{image}`: Dockerfile {path} does not exist")]
    #[diagnostic(
        code(todoplan::images::dockerfile_missing),
        help(
            "set `dockerfile` to an existing file; it defaults to `Dockerfile` inside the context"
        )
    )]
    DockerfileMissing { image: String, path: PathBuf },

    #[error("image `{image}`: `{value}` cannot be part of an image reference")]
    #[diagnostic(
        code(todoplan::images::invalid_name),
        help(
            "project and image names must be lowercase letters, digits and single `-`, `_` or `.` between them (Docker's repository name rules)"
        )
    )]
    InvalidName { image: String, value: String },

    #[error("image `{image}`: cannot read {path}")]
    #[diagnostic(code(todoplan::images::io))]
    Io {
        image: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("image `{image}`: {path} is not valid UTF-8; Docker contexts need UTF-8 names")]
    #[diagnostic(
        code(todoplan::images::non_utf8_path),
        help("rename the file or add it to .dockerignore")
    )]
    NonUtf8Path { image: String, path: PathBuf },

    #[error("image `{image}`: .dockerignore {reason}")]
    #[diagnostic(
        code(todoplan::images::dockerignore),
        help(
            "Docker refuses this pattern too; fix or remove the line (patterns follow Go's filepath.Match)"
        )
    )]
    BadIgnorePattern {
        image: String,
        reason: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("this pattern")]
        span: SourceSpan,
    },

    #[error("image `{image}`: {path} changed while it was being sent to the engine")]
    #[diagnostic(
        code(todoplan::images::context_changed),
        help(
            "the image would not match the planned digest; run the plan again once the files stop changing"
        )
    )]
    ContextChanged { image: String, path: String },

    #[error("cannot reach the Docker engine at {host}")]
    #[diagnostic(
        code(todoplan::images::engine_unreachable),
        help(
            "start Docker, or set DOCKER_HOST to the engine's socket (for the test cluster: eval \"$(scripts/testenv env)\")"
        )
    )]
    EngineUnreachable {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("Docker engine request failed: {action}")]
    #[diagnostic(code(todoplan::images::engine))]
    Engine {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("image `{image}`: build failed at {step}\n{tail}")]
    #[diagnostic(
        code(todoplan::images::build_failed),
        help(
            "the lines above are the end of the build output; fix the Dockerfile step or the files it uses, then apply again"
        )
    )]
    BuildFailed {
        image: String,
        /// `Step 3/5 : RUN make` as the engine printed it.
        step: String,
        /// The last lines of the build output, the engine's error last.
        tail: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("this step failed")]
        span: Option<SourceSpan>,
    },

    #[error("pushing {reference} failed: {message}")]
    #[diagnostic(
        code(todoplan::images::push_failed),
        help(
            "check that the registry is running and reachable from the Docker engine (plain-HTTP registries must be on loopback or in the engine's insecure-registries)"
        )
    )]
    PushFailed { reference: String, message: String },

    #[error("registry {address}: {message}")]
    #[diagnostic(
        code(todoplan::images::registry),
        help(
            "check that the registry is running; todoplan asks it over HTTP API v2 (plain HTTP on loopback, otherwise through the Docker engine)"
        )
    )]
    Registry { address: String, message: String },
}
