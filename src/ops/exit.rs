//! How a command ended, as one documented set of exit codes (README, "Exit codes"). Every verb
//! returns an [`ExitStatus`]; the CLI turns it into the process's code and nothing else does.

use crate::apply::ApplyReport;
use crate::state::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, or nothing to do.
    Success,
    /// An error: the command could not do what was asked (a diagnostic says why). Nothing was
    /// written, or the failure is about recording what was.
    Failure,
    /// `plan`/`drift --detailed-exitcode`: the plan has changes, or drift was found.
    ChangesPresent,
    /// The plan has errors (lines marked E, or error findings in Checks): nothing was applied.
    PlanHasErrors,
    /// The user declined at the prompt, or interrupted the run before anything was written.
    Cancelled,
    /// Some objects were written (or deleted) and then a step failed or the run was
    /// interrupted: the state records exactly what was done; plan again to see the rest.
    PartialApply,
    /// `apply FILE`: the saved plan is stale (the cluster, the state or an input moved since it
    /// was made), so nothing was applied: a CI job plans again and posts the new plan.
    PlanStale,
    /// The command line itself is wrong (an unknown flag or verb, a bad value): nothing ran.
    /// sysexits' EX_USAGE, so that it is never read as `--detailed-exitcode`'s 2.
    UsageError,
}

impl ExitStatus {
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::ChangesPresent => 2,
            ExitStatus::PlanHasErrors => 3,
            ExitStatus::Cancelled => 4,
            ExitStatus::PartialApply => 5,
            ExitStatus::PlanStale => 6,
            ExitStatus::UsageError => 64,
        }
    }

    /// Every status with its code and meaning, for the README table and its test.
    pub const ALL: [ExitStatus; 8] = [
        ExitStatus::Success,
        ExitStatus::Failure,
        ExitStatus::ChangesPresent,
        ExitStatus::PlanHasErrors,
        ExitStatus::Cancelled,
        ExitStatus::PartialApply,
        ExitStatus::PlanStale,
        ExitStatus::UsageError,
    ];

    pub const fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => "success, or nothing to do",
            ExitStatus::Failure => "error: nothing was done (a diagnostic says why)",
            ExitStatus::ChangesPresent => {
                "changes present (`plan`/`drift` with `--detailed-exitcode`)"
            }
            ExitStatus::PlanHasErrors => "the plan has errors: nothing was applied",
            ExitStatus::Cancelled => {
                "cancelled: declined at the prompt, or interrupted before any write"
            }
            ExitStatus::PartialApply => {
                "partial apply: some writes were made, then a step failed or the run was interrupted"
            }
            ExitStatus::PlanStale => {
                "the saved plan is stale (the cluster, the state or an input moved since it was made): nothing was applied; plan again"
            }
            ExitStatus::UsageError => "usage error: the command line is wrong; nothing ran",
        }
    }

    /// The status of an apply-like run (apply, destroy, rollback) from its report.
    pub fn of_apply(report: &ApplyReport) -> ExitStatus {
        if report.record_error.is_some() {
            return ExitStatus::Failure;
        }
        match report.outcome {
            Outcome::Succeeded => ExitStatus::Success,
            // Partial: the executor made writes before it failed or was interrupted.
            Outcome::Partial => ExitStatus::PartialApply,
            _ if report.interrupted => ExitStatus::Cancelled,
            _ => ExitStatus::Failure,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, written: usize, interrupted: bool) -> ApplyReport {
        ApplyReport {
            outcome,
            failures: Vec::new(),
            skipped: Vec::new(),
            written,
            deleted: 0,
            revision: 1,
            record_error: None,
            interrupted,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ExitStatus::ALL.len());
    }

    #[test]
    fn an_apply_maps_to_its_status() {
        assert_eq!(
            ExitStatus::of_apply(&report(Outcome::Succeeded, 3, false)),
            ExitStatus::Success
        );
        assert_eq!(
            ExitStatus::of_apply(&report(Outcome::Partial, 1, false)),
            ExitStatus::PartialApply
        );
        // A second Ctrl-C drops the executor: its counts are unknown, the outcome says partial.
        assert_eq!(
            ExitStatus::of_apply(&report(Outcome::Partial, 0, true)),
            ExitStatus::PartialApply
        );
        assert_eq!(
            ExitStatus::of_apply(&report(Outcome::Failed, 0, true)),
            ExitStatus::Cancelled
        );
        assert_eq!(
            ExitStatus::of_apply(&report(Outcome::Failed, 0, false)),
            ExitStatus::Failure
        );
        let mut unrecorded = report(Outcome::Succeeded, 1, false);
        unrecorded.record_error = Some("disk full".into());
        assert_eq!(ExitStatus::of_apply(&unrecorded), ExitStatus::Failure);
    }
}
