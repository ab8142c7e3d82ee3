//! The one carry-out path: every plan that writes to the cluster (apply, a saved plan, destroy,
//! rollback, the `--atomic` undo) passes [`execute`], which refuses a plan with errors, runs the
//! executor, and honours both interrupts: the first Ctrl-C starts nothing new, the second stops
//! waiting at once and records what was done as a partial revision.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::workspace::Workspace;
use crate::apply::StateSink;
use crate::apply::{ApplyOptions, ApplyReport};
use crate::observe::ClusterClient;
use crate::plan::compute::Computed;
use crate::state::{Outcome, State};

/// What Ctrl-C sets: `cancelled` after the first press (start nothing new), `abort` notified
/// after the second (stop waiting now).
#[derive(Clone)]
pub struct Interrupts {
    pub cancelled: Arc<AtomicBool>,
    pub abort: Arc<tokio::sync::Notify>,
}

impl Interrupts {
    /// Interrupts that only a caller sets (tests, or a run with no terminal to press keys in).
    pub fn none() -> Interrupts {
        Interrupts {
            cancelled: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Listens for Ctrl-C for the rest of the process: the first press starts nothing new and
    /// lets in-flight writes finish; a second stops waiting at once (state is saved after every
    /// write, so it is already true).
    pub fn on_ctrl_c() -> Interrupts {
        let interrupts = Interrupts::none();
        let (flag, abort) = (interrupts.cancelled.clone(), interrupts.abort.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!(
                "\nInterrupt: starting nothing new; waiting for in-flight steps, then saving state. Press Ctrl-C again to stop waiting now."
            );
            flag.store(true, Ordering::SeqCst);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nSecond interrupt: stopping now; saving state.");
                abort.notify_one();
            }
        });
        interrupts
    }
}

/// Refuses a plan that has error lines or error findings: nothing of it is carried out.
pub fn refuse_plan_errors(computed: &Computed) -> miette::Result<()> {
    if computed.plan.has_errors() {
        return Err(miette::miette!(
            help = "fix what the plan's error lines say, then plan again",
            "the plan has objects that cannot be planned; nothing was applied"
        ));
    }
    if crate::checks::has_errors(&computed.plan.checks) {
        return Err(miette::miette!(
            help = "fix what the Checks section says (or silence a finding with a reason in [checks] ignore), then plan again",
            "the plan's checks found errors that would fail in the cluster; nothing was applied"
        ));
    }
    Ok(())
}

/// Carries out `computed` with the one executor, behind the plan-error guard and both
/// interrupts.
pub async fn execute(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &mut State,
    computed: &Computed,
    options: &ApplyOptions,
    interrupts: &Interrupts,
) -> miette::Result<ApplyReport> {
    refuse_plan_errors(computed)?;
    let finished = {
        let execution = crate::apply::execute(cluster, computed, &ws.backend, state, options);
        tokio::select! {
            report = execution => Some(report),
            // Second interrupt: stop waiting now. Every write so far is already recorded.
            _ = interrupts.abort.notified() => None,
        }
    };
    if let Some(report) = finished {
        ws.keep_digest_key(cluster, state).await;
        return Ok(report);
    }
    let (revision, record_error) = match ws
        .backend
        .record_revision(
            state,
            "interrupted while applying".into(),
            Outcome::Partial,
            &options.provenance,
        )
        .await
    {
        Ok(r) => (r, None),
        Err(e) => (
            state.revision,
            Some(format!("{:?}", miette::Report::from(e))),
        ),
    };
    Ok(ApplyReport {
        outcome: Outcome::Partial,
        failures: vec![("apply".into(), "interrupted twice: stopped waiting".into())],
        skipped: Vec::new(),
        // Not counted: the executor was dropped mid-run. The journal and the revision hold
        // what it wrote.
        written: 0,
        deleted: 0,
        revision,
        record_error,
        interrupted: true,
        warnings: crate::observe::warnings::take(),
    })
}

/// A run that writes: the workspace, its cluster connection, the state lock held until the
/// session is dropped, and the state read under that lock. Every writing verb opens one.
pub struct Session {
    pub ws: Workspace,
    pub cluster: ClusterClient,
    pub state: State,
    _lock: crate::state::LockGuard,
}

impl Session {
    /// Connects first (a state in the cluster then shares the connection), then takes the lock
    /// (waiting up to `lock_timeout`), then reads the state.
    pub async fn open(
        ws: Workspace,
        command: &str,
        lock_timeout: std::time::Duration,
    ) -> miette::Result<Session> {
        let cluster = ws.connect_cluster().await?;
        let lock = ws.lock(command, lock_timeout).await?;
        let state = ws.state(Some(&cluster)).await?;
        Ok(Session {
            ws,
            cluster,
            state,
            _lock: lock,
        })
    }

    /// [`execute`] on this session's state.
    pub async fn execute(
        &mut self,
        computed: &Computed,
        options: &ApplyOptions,
        interrupts: &Interrupts,
    ) -> miette::Result<ApplyReport> {
        execute(
            &self.ws,
            &self.cluster,
            &mut self.state,
            computed,
            options,
            interrupts,
        )
        .await
    }
}
