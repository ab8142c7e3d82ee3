//! `todoplan state migrate --to kubernetes|local`: moves the state, its history and its digest
//! key from the backend todo.toml names to another, keeping lineage and serial (so the cluster's
//! objects, labelled with the lineage, stay this instance's) and never writing over a state.

use super::workspace::Workspace;
use crate::state::{LockOptions, StateBackend, StateStore};

#[derive(Debug)]
pub struct Migrated {
    pub from: String,
    pub to: String,
    pub serial: u64,
    pub revision: u64,
    pub lineage: String,
    pub history: usize,
}

pub async fn migrate(
    ws: &Workspace,
    target: &StateStore,
    lock_timeout: std::time::Duration,
) -> miette::Result<Migrated> {
    if ws.backend.location() == target.location() {
        return Err(miette::miette!(
            help = "name another place with --namespace/--name or --dir",
            "the state is already in {}",
            target.location()
        ));
    }
    let _source_lock = ws.lock("todoplan state migrate", lock_timeout).await?;
    let _target_lock = target
        .lock_state(&LockOptions {
            command: "todoplan state migrate".into(),
            timeout: lock_timeout,
        })
        .await?;
    // The journal of an unfinished apply is part of the state: read with it, written folded in.
    let Some(state) = ws.backend.read_state().await? else {
        return Err(miette::miette!(
            help = "nothing was applied with this state yet: point `[state]` at the new backend instead",
            "there is no state in {} to migrate",
            ws.backend.location()
        ));
    };
    if state.project != ws.spec.project.name {
        return Err(crate::state::StateError::ForeignProject {
            path: ws.backend.location().into(),
            found: state.project,
            expected: ws.spec.project.name.clone(),
            lineage: state.lineage,
        }
        .into());
    }
    if let Some(found) = target.read_state().await? {
        return Err(miette::miette!(
            help = "migrate only into an empty place: choose another --name/--namespace or --dir, or remove what is there yourself if it is not needed",
            "refusing to write over {}: it holds a state (project `{}`, serial {})",
            target.location(),
            found.project,
            found.serial
        ));
    }
    // Leftovers without a state: a migration of this state stopped part way (its digest key
    // and some revisions written) is resumed; anything else is refused by the import, which
    // only accepts the same key and the same revisions.
    let leftovers = target.leftovers().await?.found;
    if !leftovers.is_empty() {
        eprintln!(
            "note: {} holds {}: resuming a migration that stopped part way (only the same key and revisions are accepted)",
            target.location(),
            leftovers.join(" and ")
        );
    }
    let history = ws.backend.history().await?;
    let key = ws.backend.digest_key().await?;
    let imported = match target {
        StateStore::Local(b) => b.import(&state, &history, &key),
        StateStore::Kubernetes(b) => b.import(&state, &history, &key).await,
    };
    if let Err(e) = imported {
        return Err(miette::miette!(
            help = "migrate only into an empty place, or into the remains of a migration of this very state: choose another --name/--namespace or --dir, or remove what is there yourself if it is not needed",
            "refusing to write over {}: {e}",
            target.location()
        ));
    }
    // Read back: what the new backend serves must be what the old one held.
    let back = target.read_state().await?;
    if back.as_ref() != Some(&state) || target.digest_key().await? != key {
        return Err(miette::miette!(
            "the state read back from {} differs from what was written; the old state in {} is untouched",
            target.location(),
            ws.backend.location()
        ));
    }
    Ok(Migrated {
        from: ws.backend.location(),
        to: target.location(),
        serial: state.serial,
        revision: state.revision,
        lineage: state.lineage,
        history: history.len(),
    })
}

/// Where `state migrate --to` writes: the given place, or the default of that backend for this
/// spec (and environment), as `[state]` would name it.
pub fn target_backend(
    ws: &Workspace,
    to: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    dir: Option<&std::path::Path>,
) -> StateStore {
    let spec = &ws.spec;
    if to == "local" {
        let dir = dir
            .map(|d| spec.base_dir.join(d))
            .unwrap_or_else(|| spec.base_dir.join("state"));
        StateStore::Local(crate::state::LocalBackend::new(
            super::workspace::env_state_dir(spec, &dir),
        ))
    } else {
        let default_name = format!("{}-state", spec.project.name);
        StateStore::Kubernetes(crate::state::KubernetesBackend::new(
            namespace.unwrap_or(&spec.cluster.namespace),
            &super::workspace::env_state_name(spec, name.unwrap_or(&default_name)),
            ws.context().map(str::to_string),
        ))
    }
}
