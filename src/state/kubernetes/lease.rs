//! The lock of the kubernetes backend: a `coordination.k8s.io/v1` Lease `NAME-lock`.
//!
//! Taking it is a create (only one succeeds) or, for a released or expired Lease, a replace
//! carrying the resourceVersion read (only one succeeds): two runs can never both hold it. The
//! holder renews it in the background every third of [`LEASE_SECONDS`]; a holder killed stops
//! renewing, and once the Lease has expired the next run takes it over with a warning. The
//! holder (pid, host, command, lock ID) is in `holderIdentity` for `kubectl get lease`, and in
//! full in an annotation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};

use super::super::backend::{LockGuard, LockRelease, Unlocked};
use super::super::{LockHolder, LockOptions, StateError};
use super::{KubernetesBackend, api_error, is_status};

/// How long a Lease outlives its last renewal.
pub const LEASE_SECONDS: i32 = 15;
const HOLDER_ANNOTATION: &str = "todoplan.dev/holder";
const POLL: Duration = Duration::from_millis(500);

fn lease_name(backend: &KubernetesBackend) -> String {
    backend.object("-lock")
}

fn identity(holder: &LockHolder) -> String {
    format!(
        "{} (pid {} on {}, lock ID {})",
        holder.command, holder.pid, holder.host, holder.id
    )
}

fn holder_of(lease: &Lease) -> Option<LockHolder> {
    let text = lease
        .metadata
        .annotations
        .as_ref()?
        .get(HOLDER_ANNOTATION)?;
    let mut holder: LockHolder = serde_json::from_str(text).ok()?;
    holder.expires_at = expiry(lease);
    Some(holder)
}

fn expiry(lease: &Lease) -> Option<chrono::DateTime<chrono::Utc>> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let renewed = chrono::DateTime::from_timestamp_millis(renewed.as_millisecond())?;
    let seconds = spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS);
    Some(renewed + chrono::Duration::seconds(i64::from(seconds)))
}

/// True when nobody holds `lease`: released (no holder), or its holder stopped renewing.
fn is_free(lease: &Lease) -> bool {
    let held = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .is_some_and(|h| !h.is_empty());
    !held || expiry(lease).is_none_or(|e| e < chrono::Utc::now())
}

fn lease_for(
    backend: &KubernetesBackend,
    holder: &LockHolder,
    resource_version: Option<String>,
) -> Lease {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    Lease {
        metadata: ObjectMeta {
            name: Some(lease_name(backend)),
            namespace: Some(backend.namespace.clone()),
            labels: Some(backend.labels("lock")),
            annotations: Some(
                [(
                    HOLDER_ANNOTATION.to_string(),
                    serde_json::to_string(holder).unwrap_or_default(),
                )]
                .into(),
            ),
            resource_version,
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(identity(holder)),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..Default::default()
        }),
    }
}

async fn api(backend: &KubernetesBackend) -> Result<Api<Lease>, StateError> {
    let client = backend.lease_api().await?;
    Ok(Api::namespaced(client, &backend.namespace))
}

fn what(backend: &KubernetesBackend, doing: &str) -> String {
    format!(
        "cannot {doing} the state lock Lease {}/{}",
        backend.namespace,
        lease_name(backend)
    )
}

pub async fn acquire(
    backend: &KubernetesBackend,
    options: &LockOptions,
) -> Result<LockGuard, StateError> {
    let leases = api(backend).await?;
    let name = lease_name(backend);
    let holder = LockHolder::this_process(&options.command);
    let deadline = Instant::now() + options.timeout;
    let mut namespace_made = false;
    // Usually nobody holds it (a released Lease is deleted): try the create first.
    let mut try_create = true;
    loop {
        let found = if try_create {
            try_create = false;
            None
        } else {
            leases
                .get_opt(&name)
                .await
                .map_err(|e| api_error(what(backend, "read"), e))?
        };
        // A holder on this host whose process is gone (kill -9) is not waited out until its
        // Lease expires: the same proof of death as the local lock file's.
        let dead_holder = found
            .as_ref()
            .filter(|lease| !is_free(lease))
            .and_then(holder_of)
            .and_then(|h| match super::super::lock::liveness(&h) {
                super::super::lock::Liveness::Dead(why) => Some(why),
                super::super::lock::Liveness::NotProvenDead(_) => None,
            });
        let (attempt, previous) = match &found {
            None => (
                leases
                    .create(&PostParams::default(), &lease_for(backend, &holder, None))
                    .await,
                None,
            ),
            Some(lease) if is_free(lease) || dead_holder.is_some() => {
                let previous = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.holder_identity.as_deref())
                    .filter(|h| !h.is_empty())
                    .map(|_| holder_of(lease));
                let rv = lease.metadata.resource_version.clone();
                (
                    leases
                        .replace(
                            &name,
                            &PostParams::default(),
                            &lease_for(backend, &holder, rv),
                        )
                        .await,
                    previous,
                )
            }
            Some(lease) => {
                if Instant::now() >= deadline {
                    let current = holder_of(lease);
                    return Err(StateError::Locked {
                        holder: current.as_ref().map(|h| h.to_string()).unwrap_or_else(|| {
                            lease
                                .spec
                                .as_ref()
                                .and_then(|s| s.holder_identity.clone())
                                .unwrap_or_default()
                        }),
                        id: current.as_ref().map(|h| h.id.clone()).unwrap_or_default(),
                        hint: format!(
                            "; the lock is the Lease {}/{name}: it expires {LEASE_SECONDS}s after its holder stops renewing it (a holder that was killed), or run `todoplan force-unlock {}` if that command is gone",
                            backend.namespace,
                            current.map(|h| h.id).unwrap_or_default()
                        ),
                    });
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        match attempt {
            Ok(taken) => {
                let (recovered_from, because) = match previous {
                    Some(old) => {
                        let since = old
                            .as_ref()
                            .and_then(|h| h.expires_at)
                            .map(|e| e.format("%H:%M:%S UTC").to_string())
                            .unwrap_or_else(|| "a while".into());
                        let because = match &dead_holder {
                            Some(why) => format!("its holder is gone: {why}"),
                            None => format!(
                                "its Lease expired at {since}: the holder stopped renewing it"
                            ),
                        };
                        (old, Some(because))
                    }
                    None => (None, None),
                };
                let recovered_from = recovered_from.or_else(|| {
                    // An expired Lease whose annotation could not be read still had a holder.
                    because.as_ref().map(|_| LockHolder {
                        command: "an unknown command".into(),
                        ..LockHolder::this_process("unknown")
                    })
                });
                let release = start_renewing(backend, holder.clone(), taken).await?;
                return Ok(LockGuard::new(
                    holder,
                    recovered_from,
                    because,
                    Box::new(release),
                ));
            }
            // Someone else took it between our read and write: look again.
            Err(e) if is_status(&e, 409) => continue,
            // The state's namespace does not exist, so no state does: a command that only
            // looks has nothing to hold, and must not create the namespace to say so.
            Err(e) if is_status(&e, 404) && backend.is_look_only() => {
                return Ok(LockGuard::new(holder, None, None, Box::new(NothingHeld)));
            }
            Err(e) if is_status(&e, 404) && !namespace_made => {
                backend.ensure_namespace().await?;
                namespace_made = true;
                try_create = true;
            }
            Err(e) => return Err(api_error(what(backend, "take"), e)),
        }
    }
}

/// The lock of a look-only command where no state exists yet: nothing to release.
#[derive(Debug)]
struct NothingHeld;

impl LockRelease for NothingHeld {
    fn release(self: Box<Self>) {}
}

/// Clears the Lease when `id` names its holder.
pub async fn force_unlock(backend: &KubernetesBackend, id: &str) -> Result<Unlocked, StateError> {
    let leases = api(backend).await?;
    let name = lease_name(backend);
    let found = leases
        .get_opt(&name)
        .await
        .map_err(|e| api_error(what(backend, "read"), e))?;
    let current = found.as_ref().filter(|l| {
        l.spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            .is_some_and(|h| !h.is_empty())
    });
    let Some(lease) = current else {
        return Err(StateError::UnlockMismatch {
            given: id.to_string(),
            current: None,
        });
    };
    let holder = holder_of(lease);
    if holder.as_ref().map(|h| h.id.as_str()) != Some(id) {
        return Err(StateError::UnlockMismatch {
            given: id.to_string(),
            current: holder.map(|h| h.id),
        });
    }
    // As the local lock: a holder on this host whose process still runs is not unlocked from
    // under it (a second apply would run beside it). Another host's holder cannot be checked.
    if let Some(h) = &holder
        && !is_free(lease)
        && h.host == super::super::lock::this_host()
        && matches!(
            super::super::lock::liveness(h),
            super::super::lock::Liveness::NotProvenDead(_)
        )
    {
        return Err(StateError::StillHeld {
            holder: h.to_string(),
        });
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: lease.metadata.resource_version.clone(),
            uid: lease.metadata.uid.clone(),
        }),
        ..Default::default()
    };
    match leases.delete(&name, &params).await {
        Ok(_) => {}
        Err(e) if is_status(&e, 404) => {}
        Err(e) if is_status(&e, 409) => {
            return Err(StateError::Conflict {
                location: format!("Lease {}/{name}", backend.namespace),
            });
        }
        Err(e) => return Err(api_error(what(backend, "remove"), e)),
    }
    match holder {
        Some(h) => Ok(Unlocked::Holder(h)),
        None => Ok(Unlocked::Unreadable { len: 0 }),
    }
}

/// What the executor asks before each write: is the Lease still ours? Lost when a renewal was
/// refused (another holder took it), or when the last successful renewal is older than the
/// Lease's life less a margin (the renewals stopped: a pause, a frozen connection), since by
/// then another run may have taken it over.
#[derive(Debug, Clone)]
pub struct LeaseHealth {
    renewed: Arc<Mutex<std::time::Instant>>,
    lost: Arc<Mutex<Option<String>>>,
    name: String,
}

/// How long before the Lease's expiry its holder stops writing: a write under way when the
/// check passed still lands before another run can take the Lease.
const FENCE_MARGIN: Duration = Duration::from_secs(4);

impl LeaseHealth {
    pub fn check(&self) -> Result<(), String> {
        if let Some(why) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Err(format!(
                "the state lock (Lease {}) is no longer this run's: {why}; nothing more is written (another run may hold it)",
                self.name
            ));
        }
        let since = self
            .renewed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed();
        let life = Duration::from_secs(LEASE_SECONDS as u64);
        if since + FENCE_MARGIN >= life {
            return Err(format!(
                "the state lock (Lease {}) was last renewed {}s ago and expires after {LEASE_SECONDS}s (this run was paused or cut off from the API server); nothing more is written, since another run may have taken it over",
                self.name,
                since.as_secs()
            ));
        }
        Ok(())
    }
}

/// A held Lease: renewed in the background, deleted on release.
struct Held {
    namespace: String,
    name: String,
    context: Option<String>,
    client: kube::Client,
    /// The Lease as last written (its resourceVersion is the next write's precondition).
    current: Arc<Mutex<Lease>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease {}/{}", self.namespace, self.name)
    }
}

async fn start_renewing(
    backend: &KubernetesBackend,
    holder: LockHolder,
    taken: Lease,
) -> Result<Held, StateError> {
    {
        let client = backend.lease_api().await?;
        let context = backend.context().map(str::to_string);
        let leases: Api<Lease> = Api::namespaced(client.clone(), &backend.namespace);
        let current = Arc::new(Mutex::new(taken));
        let name = lease_name(backend);
        let renewing = current.clone();
        let renew_name = name.clone();
        let health = LeaseHealth {
            renewed: Arc::new(Mutex::new(std::time::Instant::now())),
            lost: Arc::new(Mutex::new(None)),
            name: format!("{}/{name}", backend.namespace),
        };
        *backend
            .lease_health
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(health.clone());
        let renewer = tokio::spawn(async move {
            let every = Duration::from_secs((LEASE_SECONDS as u64 / 3).max(1));
            loop {
                tokio::time::sleep(every).await;
                let mut next = renewing.lock().unwrap_or_else(|p| p.into_inner()).clone();
                // The renewal is asked for now: its success vouches for the Lease from now on.
                let asked = std::time::Instant::now();
                if health.check().is_err() {
                    // Past the Lease's life without a renewal: another run may hold it now. A
                    // renewal could still succeed (nobody took it), but the writes it would let
                    // through could interleave with another run's: this run stays fenced.
                    let mut lost = health.lost.lock().unwrap_or_else(|p| p.into_inner());
                    lost.get_or_insert_with(|| {
                        "its renewals stopped for longer than its life".into()
                    });
                    return;
                }
                if let Some(spec) = next.spec.as_mut() {
                    spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
                }
                match leases
                    .replace(&renew_name, &PostParams::default(), &next)
                    .await
                {
                    Ok(written) => {
                        *renewing.lock().unwrap_or_else(|p| p.into_inner()) = written;
                        *health.renewed.lock().unwrap_or_else(|p| p.into_inner()) = asked;
                    }
                    Err(e) => {
                        // A lost Lease cannot be won back safely; say so once and stop.
                        eprintln!(
                            "warning: could not renew the state lock ({}): {}",
                            identity(&holder),
                            match &e {
                                kube::Error::Api(s) => s.message.clone(),
                                other => other.to_string(),
                            }
                        );
                        if is_status(&e, 409) || is_status(&e, 404) {
                            *health.lost.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some("its renewal was refused: another run took it over".into());
                            return;
                        }
                    }
                }
            }
        });
        Ok(Held {
            namespace: backend.namespace.clone(),
            name,
            context,
            client,
            current,
            renewer,
        })
    }
}

async fn delete_lease(leases: Api<Lease>, namespace: &str, name: &str, lease: &Lease) {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: lease.metadata.resource_version.clone(),
            uid: lease.metadata.uid.clone(),
        }),
        ..Default::default()
    };
    if let Err(e) = leases.delete(name, &params).await
        && !is_status(&e, 404)
    {
        eprintln!(
            "warning: could not release the state lock Lease {namespace}/{name}; it expires {LEASE_SECONDS}s after its last renewal: {e}"
        );
    }
}

impl LockRelease for Held {
    fn release(self: Box<Self>) {
        self.renewer.abort();
        let lease = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (namespace, name, context, client) =
            (self.namespace, self.name, self.context, self.client);
        // Drop is synchronous. On a multi-threaded runtime (the CLI's) the connection already
        // open is used in place; elsewhere (a single-threaded test runtime) a thread of its own
        // with its own client. Either way this waits, so a normal exit never leaves the lock.
        if let Ok(handle) = tokio::runtime::Handle::try_current()
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| {
                handle.block_on(delete_lease(
                    Api::namespaced(client, &namespace),
                    &namespace,
                    &name,
                    &lease,
                ))
            });
            return;
        }
        let done = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(config) = super::load_config(context.as_deref()).await else {
                    return;
                };
                let Ok(client) = kube::Client::try_from(config) else {
                    return;
                };
                delete_lease(
                    Api::namespaced(client, &namespace),
                    &namespace,
                    &name,
                    &lease,
                )
                .await;
            });
        });
        let _ = done.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(renewed_ago: Duration, lost: Option<&str>) -> LeaseHealth {
        LeaseHealth {
            renewed: Arc::new(Mutex::new(
                std::time::Instant::now()
                    .checked_sub(renewed_ago)
                    .unwrap_or_else(std::time::Instant::now),
            )),
            lost: Arc::new(Mutex::new(lost.map(str::to_string))),
            name: "ns/st-lock".into(),
        }
    }

    #[test]
    fn a_lease_fences_writes_once_lost_or_too_long_unrenewed() {
        assert!(health(Duration::from_secs(2), None).check().is_ok());
        let stale = health(Duration::from_secs(12), None).check().unwrap_err();
        assert!(
            stale.contains("last renewed 12s ago") && stale.contains("nothing more is written"),
            "{stale}"
        );
        let taken = health(Duration::ZERO, Some("its renewal was refused"))
            .check()
            .unwrap_err();
        assert!(taken.contains("its renewal was refused"), "{taken}");
    }
}
