//! Talking to the Docker engine (bollard): is the image there, build it, push it.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, PushImageOptions, TagImageOptions};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use tokio::sync::mpsc;

use super::context::{ContextDigest, io_error, tag_for, write_context_tar};
use super::delivery::Delivery;
use super::registry;
use super::{ImageBuild, ImageError};

/// Lines of build output kept for the failure diagnostic.
const TAIL_LINES: usize = 15;

/// Label carrying the context digest on every image todoplan builds, so an image can be
/// traced back to the inputs it was made from.
pub const DIGEST_LABEL: &str = "dev.todoplan.context-digest";

/// What planning found for one image, without building anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageStatus {
    /// The image for this exact context exists where the cluster gets it from. `reference`
    /// is what manifests use: `<registry>/<repo>@sha256:...` for registry delivery, the
    /// content tag otherwise.
    UpToDate { reference: String },
    /// No image with this content exists: build (and then deliver) it.
    BuildNeeded {
        reason: String,
        /// Context paths added, removed or changed since the previous digest (empty when
        /// there is no previous digest or only settings changed).
        changed_files: Vec<String>,
    },
    /// Built locally but not in the registry yet.
    PushNeeded { local_tag: String },
}

/// The engine `DOCKER_HOST` names (the platform default when unset), at an API version both
/// sides speak: bollard defaults to a newer API than Docker 20.10 accepts.
pub async fn connect() -> Result<Docker, ImageError> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let unreachable = |source| ImageError::EngineUnreachable {
        host: host.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(unreachable)?;
    docker.negotiate_version().await.map_err(unreachable)
}

/// Whether `build` needs building or delivering, found by looking, not building: the content
/// tag in the registry (registry delivery) or in the local engine (every other delivery).
/// `previous` is the digest recorded at the last apply; it only improves the reason given.
pub async fn status(
    docker: &Docker,
    build: &ImageBuild,
    digest: &ContextDigest,
    delivery: &Delivery,
    previous: Option<&ContextDigest>,
) -> Result<ImageStatus, ImageError> {
    let local_tag = tag_for(build, digest);
    let place = match delivery {
        Delivery::Registry { address } => {
            if let Some(reference) = registry_reference(docker, address, build, digest).await? {
                return Ok(ImageStatus::UpToDate { reference });
            }
            if local_image_id(docker, &local_tag).await?.is_some() {
                return Ok(ImageStatus::PushNeeded { local_tag });
            }
            format!("locally or in registry {address}")
        }
        _ => {
            if local_image_id(docker, &local_tag).await?.is_some() {
                return Ok(ImageStatus::UpToDate {
                    reference: local_tag,
                });
            }
            "in the Docker engine".to_owned()
        }
    };
    Ok(build_needed(&local_tag, &place, digest, previous))
}

fn build_needed(
    local_tag: &str,
    place: &str,
    digest: &ContextDigest,
    previous: Option<&ContextDigest>,
) -> ImageStatus {
    let Some(previous) = previous else {
        return ImageStatus::BuildNeeded {
            reason: format!("no image {local_tag} {place}"),
            changed_files: Vec::new(),
        };
    };
    if previous.digest == digest.digest {
        return ImageStatus::BuildNeeded {
            reason: format!("context unchanged, but image {local_tag} is missing {place}"),
            changed_files: Vec::new(),
        };
    }
    let changed_files = digest.changed_files(previous);
    let changed_settings = digest.changed_settings(previous);
    let mut parts = Vec::new();
    if !changed_files.is_empty() {
        let shown: Vec<&str> = changed_files.iter().take(5).map(String::as_str).collect();
        let more = changed_files.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("context changed: {}{more}", shown.join(", ")));
    }
    if !changed_settings.is_empty() {
        parts.push(format!(
            "build settings changed: {}",
            changed_settings.join(", ")
        ));
    }
    if parts.is_empty() {
        parts.push("content digest changed".to_owned());
    }
    ImageStatus::BuildNeeded {
        reason: parts.join("; "),
        changed_files,
    }
}

/// `<registry>/<repo>@sha256:...` when the registry holds the content tag.
async fn registry_reference(
    docker: &Docker,
    address: &str,
    build: &ImageBuild,
    digest: &ContextDigest,
) -> Result<Option<String>, ImageError> {
    let repository = build.repository();
    let found = if registry::is_loopback(address) {
        registry::manifest_digest(address, &repository, digest.short()).await?
    } else {
        // TLS and credentials for remote registries are the engine's business already.
        let name = format!("{address}/{repository}:{}", digest.short());
        match docker.inspect_registry_image(&name, None).await {
            Ok(inspect) => Some(inspect.descriptor.digest).flatten(),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) if status_code == 404 || message.contains("manifest unknown") => None,
            Err(e) => {
                return Err(ImageError::Registry {
                    address: address.to_owned(),
                    message: format!("asking the engine about {name}: {e}"),
                });
            }
        }
    };
    Ok(found.map(|d| format!("{address}/{repository}@{d}")))
}

/// The local engine's image id for `reference`, or `None` when it has no such image.
async fn local_image_id(docker: &Docker, reference: &str) -> Result<Option<String>, ImageError> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(image.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(ImageError::Engine {
            action: format!("inspect image {reference}"),
            source,
        }),
    }
}

/// Sends the tar to the request body in chunks; dropping it ends the body.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }
}

/// Builds `build` as `tag_for(build, digest)` from exactly the files in `digest`, streaming
/// the engine's output line by line to `progress`. Returns the image id.
pub async fn build(
    docker: &Docker,
    build: &ImageBuild,
    digest: &ContextDigest,
    progress: &mut dyn FnMut(&str),
) -> Result<String, ImageError> {
    let tag = tag_for(build, digest);
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    let writer_build = build.clone();
    let writer_digest = digest.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let abort = tx.clone();
        let result = write_context_tar(
            &writer_build,
            &writer_digest,
            ChannelWriter {
                tx,
                buffer: Vec::new(),
            },
        )
        .and_then(|mut out| {
            out.flush()
                .map_err(|e| io_error(&writer_build, &writer_build.context, e))
        });
        if let Err(error) = &result {
            // An error item makes the HTTP body fail, so the engine never builds from a
            // truncated context that happens to end on an entry boundary.
            let _ = abort.blocking_send(Err(io::Error::other(error.to_string())));
        }
        result
    });
    let body = bollard::body_try_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));

    let options = BuildImageOptions {
        dockerfile: digest.dockerfile().to_owned(),
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        buildargs: Some(
            build
                .build_args
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        ),
        target: build.target.clone().unwrap_or_default(),
        platform: build.platform.clone().unwrap_or_default(),
        labels: Some(HashMap::from([(
            DIGEST_LABEL.to_owned(),
            digest.digest.clone(),
        )])),
        ..Default::default()
    };

    let mut output = BuildOutput::default();
    let mut failure = None;
    {
        let mut stream = docker.build_image(options, None, Some(body));
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = &info.stream {
                        for line in text.lines() {
                            if let Some(line) = output.record(line) {
                                progress(line);
                            }
                        }
                    }
                    if let Some(status) = &info.status {
                        progress(status);
                    }
                    if let Some(id) = info.aux.and_then(|aux| aux.id) {
                        output.image_id = Some(id);
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    failure = Some(error);
                    break;
                }
                Err(other) => {
                    failure = Some(other.to_string());
                    break;
                }
            }
        }
    }
    // The build stream, and with it the request body's receiver, is gone now, so a writer
    // still sending sees a closed channel and stops.
    let written = writer.await.unwrap_or_else(|join| {
        Err(io_error(
            build,
            &build.context,
            io::Error::other(join.to_string()),
        ))
    });
    match (written, failure) {
        // The engine's error would only be "unexpected EOF"; ours says why.
        (Err(error @ ImageError::ContextChanged { .. }), _) => return Err(error),
        (_, Some(message)) => return Err(build_failed(build, &output, &message)),
        (Err(error), None) => return Err(error),
        (Ok(()), None) => {}
    }
    match output.image_id {
        Some(id) => Ok(id),
        None => local_image_id(docker, &tag).await?.ok_or_else(|| {
            build_failed(
                build,
                &output,
                "the engine reported no error but has no image with the tag",
            )
        }),
    }
}

#[derive(Default)]
struct BuildOutput {
    step: Option<String>,
    tail: VecDeque<String>,
    image_id: Option<String>,
}

impl BuildOutput {
    /// Keeps the line for the failure report; returns it trimmed when it is worth showing.
    fn record<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        let line = line.trim_end();
        if line.trim().is_empty() {
            return None;
        }
        if line.starts_with("Step ") {
            self.step = Some(line.to_owned());
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
        Some(line)
    }
}

fn build_failed(build: &ImageBuild, output: &BuildOutput, message: &str) -> ImageError {
    let dockerfile_text = std::fs::read_to_string(&build.dockerfile).unwrap_or_default();
    let parse_error_line = parse_error_line(message);
    let step = match (&output.step, parse_error_line) {
        (_, Some(line)) => format!("Dockerfile line {line}"),
        (Some(step), None) => step.clone(),
        (None, None) => "the start of the build".to_owned(),
    };
    let span = match parse_error_line {
        Some(line) => line_span(&dockerfile_text, line),
        None => output
            .step
            .as_deref()
            .and_then(|step| step.split_once(" : "))
            .and_then(|(_, instruction)| instruction_span(&dockerfile_text, instruction)),
    };
    let mut tail: Vec<String> = output.tail.iter().cloned().collect();
    tail.push(message.trim().to_owned());
    ImageError::BuildFailed {
        image: build.name.clone(),
        step,
        tail: tail.join("\n"),
        src: Arc::new(NamedSource::new(
            build.dockerfile.display().to_string(),
            dockerfile_text,
        )),
        span,
    }
}

/// "dockerfile parse error line 3: unknown instruction: FOO" → 3.
fn parse_error_line(message: &str) -> Option<usize> {
    let rest = message.split("parse error line ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn line_span(text: &str, line: usize) -> Option<SourceSpan> {
    let mut offset = 0;
    for (index, content) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            return Some((offset, content.trim_end().len()).into());
        }
        offset += content.len();
    }
    None
}

/// The Dockerfile line that starts `instruction` as the engine echoed it ("RUN make all").
fn instruction_span(text: &str, instruction: &str) -> Option<SourceSpan> {
    let wanted = instruction.trim();
    let mut offset = 0;
    let mut fallback = None;
    for content in text.split_inclusive('\n') {
        let trimmed = content.trim();
        let start = offset + (content.len() - content.trim_start().len());
        let span: SourceSpan = (start, trimmed.len()).into();
        if trimmed == wanted {
            return Some(span);
        }
        // Continued lines are echoed joined; match on the first physical line.
        let first = trimmed.trim_end_matches('\\').trim_end();
        if fallback.is_none()
            && !first.is_empty()
            && !first.starts_with('#')
            && wanted.starts_with(first)
        {
            fallback = Some(span);
        }
        offset += content.len();
    }
    fallback
}

/// Tags `local_tag` into `registry` and pushes it; returns the immutable
/// `<registry>/<repo>@sha256:...` reference the registry now holds.
pub async fn push(docker: &Docker, local_tag: &str, registry: &str) -> Result<String, ImageError> {
    let (repository, tag) = split_tag(local_tag);
    let target = format!("{registry}/{repository}");
    let reference = format!("{target}:{tag}");
    let push_failed = |message: String| ImageError::PushFailed {
        reference: reference.clone(),
        message,
    };
    docker
        .tag_image(
            local_tag,
            Some(TagImageOptions {
                repo: Some(target.clone()),
                tag: Some(tag.to_owned()),
            }),
        )
        .await
        .map_err(|source| ImageError::Engine {
            action: format!("tag {local_tag} as {reference}"),
            source,
        })?;
    let mut stream = docker.push_image(
        &target,
        Some(PushImageOptions {
            tag: Some(tag.to_owned()),
            platform: None,
        }),
        None,
    );
    let mut pushed = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(digest) = info.status.as_deref().and_then(digest_in_status) {
                    pushed = Some(digest);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(push_failed(error));
            }
            Err(other) => return Err(push_failed(other.to_string())),
        }
    }
    let digest = match pushed {
        Some(digest) => digest,
        None if registry::is_loopback(registry) => {
            registry::manifest_digest(registry, repository, tag)
                .await?
                .ok_or_else(|| {
                    push_failed("the push finished but the registry does not have the tag".into())
                })?
        }
        None => {
            return Err(push_failed(
                "the engine did not report the pushed digest".into(),
            ));
        }
    };
    Ok(format!("{target}@{digest}"))
}

/// `name:tag` → (`name`, `tag`); a `:` inside the registry's `host:port` is not a tag.
fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    }
}

/// "abc123: digest: sha256:<64 hex> size: 527" → "sha256:<64 hex>".
fn digest_in_status(status: &str) -> Option<String> {
    let start = status.find("digest: sha256:")? + "digest: ".len();
    let candidate = status.get(start..start + 71)?;
    let hex = candidate.strip_prefix("sha256:")?;
    hex.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| candidate.to_owned())
}

/// Loads `local_tag` into the nodes of kind cluster `cluster` (`kind load docker-image`).
pub async fn kind_load(local_tag: &str, cluster: &str) -> Result<(), ImageError> {
    let output = tokio::process::Command::new("kind")
        .args(["load", "docker-image", local_tag, "--name", cluster])
        .output()
        .await
        .map_err(|e| ImageError::PushFailed {
            reference: local_tag.to_owned(),
            message: format!("cannot run `kind`: {e}"),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ImageError::PushFailed {
            reference: local_tag.to_owned(),
            message: format!(
                "`kind load docker-image` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn digest(files: &[(&str, &str)], settings: &[(&str, &str)]) -> ContextDigest {
        ContextDigest {
            digest: format!("{:0>64}", files.len() * 7 + settings.len()),
            files: files
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn build_needed_names_changed_files_and_settings() {
        let before = digest(&[("a", "1"), ("b", "2")], &[("target", "x")]);
        let after = digest(&[("a", "1"), ("b", "3"), ("c", "4")], &[("target", "y")]);
        match build_needed("todo-backend:abc", "here", &after, Some(&before)) {
            ImageStatus::BuildNeeded {
                reason,
                changed_files,
            } => {
                assert_eq!(changed_files, ["b", "c"]);
                assert!(reason.contains("context changed: b, c"), "{reason}");
                assert!(
                    reason.contains("build settings changed: target"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        match build_needed("todo-backend:abc", "in the Docker engine", &after, None) {
            ImageStatus::BuildNeeded {
                reason,
                changed_files,
            } => {
                assert!(changed_files.is_empty());
                assert_eq!(reason, "no image todo-backend:abc in the Docker engine");
            }
            other => panic!("{other:?}"),
        }
        match build_needed("t:1", "here", &after, Some(&after.clone())) {
            ImageStatus::BuildNeeded { reason, .. } => {
                assert!(reason.contains("missing"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_change_lists_are_shortened_in_the_reason_only() {
        let before = digest(&[], &[]);
        let names: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
        let after = digest(&files, &[]);
        match build_needed("t:1", "here", &after, Some(&before)) {
            ImageStatus::BuildNeeded {
                reason,
                changed_files,
            } => {
                assert_eq!(changed_files.len(), 8);
                assert!(reason.ends_with("f4 and 3 more"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failure_points_at_the_step_line() {
        let text = "FROM busybox:1.35.0\n# comment\nCOPY www /www\n  RUN false\n";
        let span = instruction_span(text, "RUN false").unwrap();
        assert_eq!(
            &text[span.offset()..span.offset() + span.len()],
            "RUN false"
        );
        let text = "FROM x\nRUN a && \\\n    b\n";
        let span = instruction_span(text, "RUN a &&     b").unwrap();
        assert_eq!(
            &text[span.offset()..span.offset() + span.len()],
            "RUN a && \\"
        );
        assert_eq!(
            parse_error_line("dockerfile parse error line 3: unknown instruction: FOO"),
            Some(3)
        );
        let span = line_span("FROM x\nCOPY a b\nFOO\n", 3).unwrap();
        assert_eq!((span.offset(), span.len()), (16, 3));
        assert_eq!(line_span("FROM x\n", 9), None);
    }

    #[test]
    fn tags_and_push_digests_are_parsed() {
        assert_eq!(
            split_tag("todo-backend:0123456789ab"),
            ("todo-backend", "0123456789ab")
        );
        assert_eq!(
            split_tag("127.0.0.1:5555/x"),
            ("127.0.0.1:5555/x", "latest")
        );
        assert_eq!(split_tag("127.0.0.1:5555/x:1"), ("127.0.0.1:5555/x", "1"));
        let hex = "a".repeat(64);
        assert_eq!(
            digest_in_status(&format!("0123: digest: sha256:{hex} size: 527")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_in_status("Pushed"), None);
        assert_eq!(digest_in_status("digest: sha256:zz"), None);
    }

    #[test]
    fn build_output_keeps_a_bounded_tail_and_the_current_step() {
        let mut out = BuildOutput::default();
        for i in 0..40 {
            out.record(&format!("line {i}"));
        }
        out.record("Step 2/3 : RUN false");
        assert_eq!(out.record("   "), None);
        assert_eq!(out.tail.len(), TAIL_LINES);
        assert_eq!(out.step.as_deref(), Some("Step 2/3 : RUN false"));
        assert_eq!(
            out.tail.back().map(String::as_str),
            Some("Step 2/3 : RUN false")
        );
    }
}
