//! What every operation starts from: the spec, the state backend, the cluster, the plan.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::images::Delivery;
use crate::observe::ClusterClient;
use crate::plan::compute::{self, Computed, PlanRequest};
use crate::plan::images::{self, ImagePlan};
pub use crate::plan::model::PlanOptions;
use crate::spec::{Spec, StateConfig};
use crate::state::{
    KubernetesBackend, LocalBackend, LockGuard, LockOptions, State, StateBackend, StateStore,
};

pub struct Workspace {
    pub spec: Spec,
    pub backend: StateStore,
    /// `--context`, if given: it overrides `[cluster].context`.
    pub context_override: Option<String>,
    /// `--new-state`: start a new state where an old one left a backup or history.
    pub allow_new_state: bool,
}

/// Whether the `[env.NAME]` overlay names a state of its own (`[env.NAME.state]`).
fn overlay_names_state(spec: &Spec, env: &str) -> bool {
    toml::from_str::<toml::Table>(&spec.source.text)
        .ok()
        .and_then(|t| t.get("env")?.get(env)?.get("state").cloned())
        .is_some()
}

/// The kubernetes backend's base name for the environment: `NAME-env-ENV` (its own Secrets and
/// Lease), unless the overlay names a state of its own.
pub fn env_state_name(spec: &Spec, name: &str) -> String {
    match &spec.env {
        Some(env) if !overlay_names_state(spec, env) => format!("{name}-env-{env}"),
        _ => name.to_string(),
    }
}

/// The backend `[state]` names, for `context` (the kubernetes backend lives in that cluster).
pub fn backend_for(spec: &Spec, context: Option<&str>) -> StateStore {
    match &spec.state {
        StateConfig::Local { dir } => {
            StateStore::Local(LocalBackend::new(env_state_dir(spec, dir)))
        }
        StateConfig::Kubernetes { namespace, name } => {
            StateStore::Kubernetes(KubernetesBackend::new(
                namespace,
                &env_state_name(spec, name),
                context.map(str::to_string),
            ))
        }
    }
}

/// Each environment is its own instance with its own state: `--env NAME` keeps its state in
/// `<dir>/env/NAME` (as Terraform keeps a workspace's in `terraform.tfstate.d/NAME`), unless its
/// overlay names a state of its own (`[env.NAME.state]`).
pub fn env_state_dir(spec: &Spec, dir: &Path) -> std::path::PathBuf {
    let Some(env) = &spec.env else {
        return dir.to_path_buf();
    };
    if overlay_names_state(spec, env) {
        dir.to_path_buf()
    } else {
        dir.join("env").join(env)
    }
}

impl Workspace {
    /// Reads the spec (`file`, with the `[env.NAME]` overlay) and opens its state backend.
    pub fn open(file: &Path, env: Option<&str>, context: Option<String>) -> miette::Result<Self> {
        Self::open_with(file, env, context, crate::spec::LoadOptions::default())
    }

    /// [`Workspace::open`] with [`crate::spec::LoadOptions`] (`--locked`).
    pub fn open_with(
        file: &Path,
        env: Option<&str>,
        context: Option<String>,
        options: crate::spec::LoadOptions,
    ) -> miette::Result<Self> {
        let spec = crate::spec::load_with(file, env, options)?;
        let backend = backend_for(
            &spec,
            context.as_deref().or(spec.cluster.context.as_deref()),
        );
        Ok(Workspace {
            spec,
            backend,
            context_override: context,
            allow_new_state: false,
        })
    }

    /// --context, else [cluster].context, else the kubeconfig's current context.
    pub fn context(&self) -> Option<&str> {
        self.context_override
            .as_deref()
            .or(self.spec.cluster.context.as_deref())
    }

    pub async fn connect_cluster(&self) -> miette::Result<ClusterClient> {
        let cluster = ClusterClient::connect(self.context()).await?;
        // Fail early and clearly when the server is not there.
        cluster.server_version().await?;
        if let StateStore::Kubernetes(backend) = &self.backend {
            backend.share_connection(cluster.client());
        }
        Ok(cluster)
    }

    pub async fn lock(&self, command: &str, timeout: Duration) -> miette::Result<LockGuard> {
        let guard = self
            .backend
            .lock_state(&LockOptions {
                command: command.to_string(),
                timeout,
            })
            .await?;
        if let Some(old) = &guard.recovered_from {
            eprintln!(
                "warning: took over the state lock left by {old}: {}",
                guard
                    .recovered_because
                    .as_deref()
                    .unwrap_or("that process no longer exists")
            );
        }
        Ok(guard)
    }

    /// The state (refusing another project's, and a missing one that left a backup or history
    /// unless `new_state`), keyed for secret digests by the backend's digest key.
    ///
    /// A local state's key comes from this checkout (`state/digest.key`) or, when this checkout
    /// has the state but not its key (a teammate's, CI's), from the copy apply keeps in the
    /// cluster ([`super::digest_key`]); an existing state's key is never silently made anew.
    pub async fn state(&self, cluster: Option<&ClusterClient>) -> miette::Result<State> {
        let new_state = if self.allow_new_state {
            crate::state::NewState::Allow
        } else {
            crate::state::NewState::Refuse
        };
        let (opened, key) = match &self.backend {
            // In the cluster, two round trips at once.
            StateStore::Kubernetes(_) => {
                let (opened, key) = tokio::join!(
                    self.backend.open(&self.spec.project.name, new_state),
                    self.backend.digest_key()
                );
                (opened?, key?)
            }
            StateStore::Local(local) => {
                let opened = self
                    .backend
                    .open(&self.spec.project.name, new_state)
                    .await?;
                let key = self.local_digest_key(local, &opened.state, cluster).await?;
                (opened, key)
            }
        };
        if let Some(archived) = &opened.archived {
            eprintln!("note: the old state's backup and history were moved to {archived}");
        }
        let mut state = opened.state;
        let environment = self.spec.env.clone().unwrap_or_default();
        match &state.environment {
            Some(recorded) if *recorded != environment => {
                let name = |e: &str| {
                    if e.is_empty() {
                        "the base (no --env)".to_string()
                    } else {
                        format!("--env {e}")
                    }
                };
                return Err(miette::miette!(
                    help = "give each environment its own state: a distinct `dir` (local) or `name` (kubernetes) under [env.NAME.state], or leave it out and each environment gets its own by default",
                    "this state belongs to {}, and this run is {}: two environments never share a state (each would prune the other's objects)",
                    name(recorded),
                    name(&environment)
                ));
            }
            // Recorded by the next write (a state that predates the record is taken as this
            // environment's).
            _ => state.environment = Some(environment),
        }
        state.digest_salt = Some(key.bytes_digest("todoplan-secret-digest", b""));
        Ok(state)
    }

    async fn local_digest_key(
        &self,
        local: &crate::state::LocalBackend,
        state: &State,
        cluster: Option<&ClusterClient>,
    ) -> miette::Result<crate::state::DigestKey> {
        if let Some(key) = local.existing_key()? {
            return Ok(key);
        }
        let applied_before = state.serial > 0;
        if !applied_before {
            // A new state: its key is made here, and kept in the cluster by its first apply.
            return Ok(self.backend.digest_key().await?);
        }
        let Some(cluster) = cluster else {
            // Offline, nothing to read it from: digests of this run only, never written.
            eprintln!(
                "note: this checkout has no state/digest.key (it is not committed) and the plan is offline: secret digests are not compared with the recorded ones"
            );
            return Ok(crate::state::DigestKey::generate());
        };
        match super::digest_key::read(cluster, &self.spec, &state.lineage).await? {
            Some(key) => {
                local.adopt_key(&key)?;
                Ok(key)
            }
            None => {
                let at = super::digest_key::secret_of(&self.spec, &state.lineage);
                Err(miette::miette!(
                    help = format!(
                        "copy state/digest.key from the checkout that applied this state, or apply once from there: apply keeps the key in the cluster (Secret {} in namespace {}), where every checkout finds it",
                        at.name,
                        at.namespace.as_deref().unwrap_or_default()
                    ),
                    "this checkout has the state (revision {}) but not its secret digest key, and the cluster holds no copy of it: a new key would show every secret as changed and restart the pods that read them",
                    state.revision
                ))
            }
        }
    }

    /// After an apply of a local state: the digest key is kept in the cluster, where another
    /// checkout of the same state finds it.
    pub async fn keep_digest_key(&self, cluster: &ClusterClient, state: &State) {
        let StateStore::Local(local) = &self.backend else {
            return;
        };
        let Ok(Some(key)) = local.existing_key() else {
            return;
        };
        if let Err(e) = super::digest_key::keep(cluster, &self.spec, &state.lineage, &key).await {
            eprintln!(
                "warning: the secret digest key could not be kept in the cluster (another checkout of this state will not find it): {e}"
            );
        }
    }

    pub fn rotations(&self, args: &PlanOptions) -> miette::Result<BTreeSet<(String, String)>> {
        args.rotate
            .iter()
            .map(|r| {
                crate::secrets::parse_rotate(r, &self.spec.secrets).map_err(miette::Report::from)
            })
            .collect()
    }
}

/// The lock for a run that only reads the state (`plan --offline`): taken when free, so no
/// other run starts writing meanwhile; when a running command holds it, the run goes on without
/// it and says so. Reading beside a writer is safe: the state file is replaced atomically and
/// the journal of the running apply is replayed in memory only, so the plan is against what
/// that apply recorded so far. A lock whose holder is not provably running is still refused.
pub async fn lock_or_read_beside(
    ws: &Workspace,
    command: &str,
    timeout: Duration,
) -> miette::Result<Option<LockGuard>> {
    match ws.lock(command, timeout).await {
        Ok(guard) => Ok(Some(guard)),
        Err(report) => match report.downcast_ref::<crate::state::StateError>() {
            Some(crate::state::StateError::Locked { holder, .. }) => {
                eprintln!(
                    "note: the state is locked by {holder}: this offline plan reads the state without the lock, as that run has recorded it so far"
                );
                Ok(None)
            }
            _ => Err(report),
        },
    }
}

/// The Docker engine named by DOCKER_HOST (or the default socket), if it answers.
pub async fn docker() -> miette::Result<bollard::Docker> {
    let docker = crate::images::connect().await?;
    docker.ping().await.map_err(|e| {
        miette::miette!(
            help = "start Docker, or for the local test environment run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"`",
            "the Docker engine does not answer: {e}"
        )
    })?;
    Ok(docker)
}

pub struct Planned {
    pub computed: Computed,
    pub images: Vec<ImagePlan>,
    pub delivery: Delivery,
}

/// Images first (their references feed the releases), then every object.
pub async fn make_plan(
    ws: &Workspace,
    cluster: Option<&ClusterClient>,
    state: &State,
    args: &PlanOptions,
    reuse: Option<Planned>,
) -> miette::Result<Planned> {
    if let Some(c) = cluster
        && let Some(undecided) = images::undecided_delivery(&ws.spec, &c.context)
    {
        return Err(undecided);
    }
    let (delivery, delivery_note) =
        images::choose_delivery(&ws.spec, cluster.map(|c| c.context.as_str()));
    let docker = match (cluster, ws.spec.images.is_empty()) {
        (Some(_), false) => Some(docker().await?),
        _ => None,
    };
    let image_plans = images::plan_images(&ws.spec, state, docker.as_ref(), &delivery).await?;
    let (refs, image_changes) = images::references(&image_plans, &delivery);
    let mut notes = Vec::new();
    if !ws.spec.images.is_empty() {
        notes.push(delivery_note);
    }
    let computed = compute::compute(PlanRequest {
        spec: &ws.spec,
        cluster,
        state,
        options: args.clone(),
        rotate: ws.rotations(args)?,
        images: refs,
        image_changes,
        reuse_secrets: reuse.map(|r| r.computed.secrets),
        notes,
    })
    .await?;
    let mut computed = computed;
    if computed.plan.has_changes()
        && state.revision > 0
        && let Ok(last) = ws.backend.read_history(state.revision).await
        && last.summary.starts_with("rollback to revision")
    {
        let what = last.summary.split(':').next().unwrap_or_default();
        computed.plan.notes.push(format!(
            "the last apply (revision {}) was a {what}: this plan undoes it, because todo.toml still declares what was rolled back",
            state.revision
        ));
    }
    if let Some(c) = cluster
        && let Some(note) = forgotten_environment(ws, c, &computed.plan).await
    {
        computed.plan.notes.push(note);
    }
    Ok(Planned {
        computed,
        images: image_plans,
        delivery,
    })
}

/// When the plan meets objects of another instance of this project, and that instance is the
/// state of another environment of todo.toml (or of the base, without `--env`): "did you
/// forget `--env dev`?", the usual cause, instead of leaving the user to compare lineages.
async fn forgotten_environment(
    ws: &Workspace,
    cluster: &ClusterClient,
    plan: &crate::plan::Plan,
) -> Option<String> {
    use crate::state::StateBackend as _;
    const MARK: &str = "belongs to another instance of this project (";
    let owners: BTreeSet<&str> = plan
        .objects
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .filter_map(|r| r.split_once(MARK))
        .filter_map(|(_, rest)| rest.split(';').next())
        .collect();
    if owners.is_empty() {
        return None;
    }
    let file = Path::new(&ws.spec.source.name);
    let others = std::iter::once(None)
        .chain(ws.spec.envs.iter().map(|e| Some(e.as_str())))
        .filter(|e| e.map(str::to_string) != ws.spec.env);
    for env in others {
        let options = crate::spec::LoadOptions {
            locked: ws.spec.locked,
        };
        let Ok(spec) = crate::spec::load_with(file, env, options) else {
            continue;
        };
        let mut backend = backend_for(&spec, ws.context());
        backend.set_look_only();
        if let StateStore::Kubernetes(b) = &backend {
            b.share_connection(cluster.client());
        }
        let Ok(Some(state)) = backend.read_state().await else {
            continue;
        };
        if owners.contains(state.lineage.as_str()) {
            return Some(match env {
                Some(env) => format!(
                    "the objects marked as another instance's belong to environment `{env}` (its state's lineage {}): did you forget `--env {env}`?",
                    state.lineage
                ),
                None => format!(
                    "the objects marked as another instance's belong to the base state, without --env (lineage {}): did you mean to plan without `--env`?",
                    state.lineage
                ),
            });
        }
    }
    None
}

/// The manifests of the releases (all, or `only`), rendered as apply would render them, with
/// image references from the last apply (or their tags when not built yet). No cluster, no
/// secret values needed.
pub async fn render_releases(
    ws: &Workspace,
    only: Option<&str>,
) -> miette::Result<Vec<crate::chart::Manifest>> {
    let spec = &ws.spec;
    if let Some(name) = only
        && !spec.releases.contains_key(name)
    {
        let known: Vec<_> = spec.releases.keys().cloned().collect();
        return Err(miette::miette!(
            help = format!("releases in {}: {}", spec.source.name, known.join(", ")),
            "there is no release `{name}`"
        ));
    }
    let state = ws.state(None).await?;
    let (delivery, _) = images::choose_delivery(spec, None);
    let image_plans = images::plan_images(spec, &state, None, &delivery).await?;
    let (refs, _) = images::references(&image_plans, &delivery);
    let graph = crate::graph::DependencyGraph::build(spec)?;
    let mut out = Vec::new();
    for address in graph.apply_order() {
        let crate::graph::Address::Release(name) = &address else {
            continue;
        };
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let Some(release) = spec.releases.get(name) else {
            continue;
        };
        let values = compute::release_values(spec, release, &refs, &mut Vec::new())?;
        let manifests = match release.kind {
            crate::spec::ReleaseKind::Chart => {
                let request = crate::chart::RenderRequest {
                    chart_dir: &release.chart,
                    release_name: &release.name,
                    namespace: &release.namespace,
                    values_files: &release.values_files,
                    inline_values: values,
                    revision: state.revision + 1,
                    is_upgrade: crate::plan::desired::is_upgrade(&state, name),
                    capabilities: crate::chart::Capabilities::default(),
                    lookup: None,
                };
                crate::plan::desired::release_documents(release, crate::chart::render(&request)?)
            }
            crate::spec::ReleaseKind::Manifests => {
                crate::chart::render_manifest_dir(&release.chart)?
            }
        };
        out.extend(manifests);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str, env: Option<&str>) -> Spec {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(&file, text).unwrap();
        crate::spec::load(&file, env).unwrap()
    }

    #[test]
    fn each_environment_has_its_own_state_secrets_unless_its_overlay_names_one() {
        let base = "[project]\nname = \"todo\"\n[state]\nbackend = \"kubernetes\"\nnamespace = \"st\"\n[env.prod]\n[env.dev.state]\nbackend = \"kubernetes\"\nname = \"dev-own\"\n";
        let name = |env| match backend_for(&spec(base, env), None) {
            StateStore::Kubernetes(b) => (b.namespace().to_string(), b.name().to_string()),
            StateStore::Local(b) => panic!("local backend at {}", b.dir().display()),
        };
        assert_eq!(name(None), ("st".into(), "todo-state".into()));
        assert_eq!(
            name(Some("prod")),
            ("st".into(), "todo-state-env-prod".into())
        );
        assert_eq!(name(Some("dev")).1, "dev-own");
    }
}
