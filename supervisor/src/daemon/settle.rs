//! How a finished call becomes its answer: the verdict on how its worker ended, the budgets
//! that bit, the result itself ([`settle`]); and what a failure leaves behind: the module's
//! health, which every failure counts against (quarantine after
//! `quarantine.consecutive_failures` in a row), and an audit record for a sandbox event or a
//! budget ([`record_failure`]).

use pyward_policy::Policy;
use pyward_policy::config::SandboxLimits;
use pyward_worker::process::WorkerFailure;
use pyward_worker::runtime::CallOutcome;
use pyward_worker::verdict;
use serde_json::{Value, json};

use super::budget::{self, Bitten, Exceeded};
use super::error::DaemonError;
use super::registry::not_found;
use super::state::{State, lock};

/// Why a call failed: what its worker said, or a budget that bit.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    Verdict(verdict::Verdict),
    Budget(Exceeded),
}

impl Failure {
    /// What the module's health records as its last violation.
    fn what(&self) -> String {
        match self {
            Failure::Verdict(verdict) => format!(
                "{:?} ({}): {}",
                verdict.status,
                verdict.layer.as_deref().unwrap_or("?"),
                verdict.detail.lines().next().unwrap_or("")
            ),
            Failure::Budget(exceeded) => {
                format!("BudgetExceeded ({}): {}", exceeded.budget, exceeded.message)
            }
        }
    }
}

impl From<Failure> for DaemonError {
    fn from(failure: Failure) -> DaemonError {
        match failure {
            Failure::Verdict(verdict) => DaemonError::Verdict(verdict),
            Failure::Budget(exceeded) => DaemonError::Budget(exceeded),
        }
    }
}

/// How a call in a persistent worker ended, as a verdict: what the worker said, except that a
/// worker the kernel's OOM killer ended in its cgroup (memory.max, SIGKILL) reached the memory
/// limit, whatever it looked like.
pub(super) fn verdict_of(
    outcome: &Result<CallOutcome, WorkerFailure>,
    oom: bool,
    limits: &SandboxLimits,
) -> verdict::Verdict {
    match outcome {
        Ok(out) => verdict::from_outcome(out),
        Err(_) if oom => verdict::Verdict {
            status: verdict::Status::MemoryLimit,
            layer: Some("cgroup".into()),
            detail: format!(
                "the worker reached the policy's memory limit of {} MiB (memory.max) and the kernel killed it",
                limits.memory_bytes >> 20
            ),
        },
        Err(failure) => verdict::from_failure(failure, limits),
    }
}

/// The answer to a call from how its worker ended: a budget that bit during the call comes
/// first (the module may have caught the refusal and gone on); then the verdict; then the
/// result itself, which must fit `budgets.max_result_bytes` and be JSON pyward can pass on.
pub(super) fn settle(
    module: &str,
    policy: &Policy,
    outcome: Result<CallOutcome, WorkerFailure>,
    verdict: verdict::Verdict,
    bitten: Bitten,
) -> Result<Value, Failure> {
    if let Some(exceeded) = bitten.hard {
        return Err(Failure::Budget(exceeded));
    }
    match outcome {
        Ok(out) if verdict.status == verdict::Status::Ok => {
            match budget::result_value(module, out.result.as_deref(), &policy.budgets) {
                Ok(result) => Ok(json!({ "result": result, "stdout": out.stdout })),
                Err(Ok(exceeded)) => Err(Failure::Budget(exceeded)),
                Err(Err(detail)) => Err(Failure::Verdict(verdict::Verdict {
                    status: verdict::Status::Error,
                    layer: Some("module".into()),
                    detail,
                })),
            }
        }
        // The module raised after a budget refused one of its host calls (uncaught
        // `BudgetExceeded`, or something that followed from it): that budget is why it failed.
        Ok(_) if verdict.layer.as_deref() == Some("module") && bitten.soft.is_some() => {
            Err(Failure::Budget(bitten.soft.expect("checked")))
        }
        _ => Err(Failure::Verdict(verdict)),
    }
}

/// A failed call: the module's health (consecutive failures, maybe quarantine) and its audit
/// records, then the error the caller sees. Blocking.
pub(super) fn record_failure(
    state: &State,
    module_name: &str,
    user: &str,
    failure: &Failure,
) -> Result<Value, DaemonError> {
    let policy = state.policy();
    let what = failure.what();
    let mut modules = lock(&state.modules);
    let module = modules
        .get_mut(module_name)
        .ok_or_else(|| not_found(module_name))?;
    let quarantined = module.health.record_failure(&policy.quarantine, &what);
    let health = module.health.clone();
    // Locked before the modules lock is let go: health writes land in the order of the changes.
    let store = lock(&state.store);
    drop(modules);
    let saved = store.save_health(module_name, &health);
    drop(store);
    let mut error = DaemonError::from(failure.clone());
    // The caller is told why the call failed even if the disk refuses the new health; the error
    // then says that too.
    if let Err(source) = saved {
        error = DaemonError::HealthNotRecorded {
            error: Box::new(error),
            source,
        };
    }
    if let Some((event, details)) = failure_record(failure, module_name, user) {
        error = state.refuse(error, event, details);
    }
    if quarantined {
        error = state.refuse(
            error,
            "quarantined",
            json!({ "module": module_name, "after": what }),
        );
    }
    Err(error)
}

/// The audit record a failed call gets: a sandbox event for any verdict but the module's own
/// exception (its bug, not a security event, gets none), or the budget that stopped it.
fn failure_record(failure: &Failure, module: &str, user: &str) -> Option<(&'static str, Value)> {
    match failure {
        Failure::Verdict(verdict)
            if verdict.status != verdict::Status::Error
                || verdict.layer.as_deref() != Some("module") =>
        {
            let details = json!({ "module": module, "user": user, "verdict": verdict });
            Some(("sandbox_event", details))
        }
        Failure::Verdict(_) => None,
        Failure::Budget(exceeded) => {
            let mut details = exceeded.details();
            details["module"] = json!(module);
            details["user"] = json!(user);
            Some(("budget_exceeded", details))
        }
    }
}
