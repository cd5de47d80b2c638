//! How a finished call becomes its answer: the verdict on how its worker ended, the budgets
//! that bit, the result itself ([`settle`]); and what a failure leaves behind: the module's
//! health, which every failure counts against (quarantine after
//! `quarantine.consecutive_failures` in a row), and an audit record for a sandbox event or a
//! budget ([`record_failure`]).

use pyward_policy::Policy;
use pyward_policy::config::SandboxLimits;
use pyward_worker::process::WorkerFailure;
use pyward_worker::runtime::CallOutcome;
use pyward_worker::verdict::{self, Layer};
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
                verdict.layer.as_ref().map_or("?", Layer::name),
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
            layer: Some(Layer::Cgroup),
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
            match budget::result_value(module, out.result.as_ref(), &policy.budgets) {
                Ok(result) => Ok(json!({ "result": result, "stdout": out.stdout })),
                Err(Ok(exceeded)) => Err(Failure::Budget(exceeded)),
                Err(Err(detail)) => Err(Failure::Verdict(verdict::Verdict {
                    status: verdict::Status::Error,
                    layer: Some(Layer::Module),
                    detail,
                })),
            }
        }
        // The module raised after a budget refused one of its host calls (uncaught
        // `BudgetExceeded`, or something that followed from it): that budget is why it failed.
        Ok(_) if verdict.layer == Some(Layer::Module) && bitten.soft.is_some() => {
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
            if verdict.status != verdict::Status::Error || verdict.layer != Some(Layer::Module) =>
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

#[cfg(test)]
mod tests {
    use pyward_worker::process::Ending;
    use pyward_worker::runtime::PyError;
    use pyward_worker::runtime::audit::Violation;
    use pyward_worker::sandbox::SandboxError;

    use super::*;
    use crate::daemon::rpc::RpcError;
    use crate::daemon::testing::Daemon;

    fn returned(result: &str) -> Result<CallOutcome, WorkerFailure> {
        Ok(CallOutcome {
            result: Some(pyward_worker::runtime::Returned::from_text(
                result.to_string(),
            )),
            error: None,
            stdout: "printed\n".into(),
            output_limit_hit: false,
            violation: None,
        })
    }

    fn raised(kind: &str) -> Result<CallOutcome, WorkerFailure> {
        Ok(CallOutcome {
            result: None,
            error: Some(PyError {
                kind: kind.into(),
                message: "it went wrong".into(),
                traceback: String::new(),
            }),
            stdout: String::new(),
            output_limit_hit: false,
            violation: None,
        })
    }

    fn died(ending: Ending) -> Result<CallOutcome, WorkerFailure> {
        Err(WorkerFailure::Died { ending })
    }

    fn bit(budget: &'static str) -> Exceeded {
        Exceeded {
            budget,
            limit: 1,
            message: format!("{budget} bit"),
        }
    }

    /// What a call comes to: its answer, or the client's error code with the audit record the
    /// failure gets (every failure also counts against the module's health; see below).
    fn judge(
        outcome: Result<CallOutcome, WorkerFailure>,
        oom: bool,
        bitten: Bitten,
    ) -> Result<Value, (i64, String, Option<&'static str>)> {
        let policy = Policy::default();
        let verdict = verdict_of(&outcome, oom, &policy.sandbox);
        settle("m", &policy, outcome, verdict, bitten).map_err(|failure| {
            let audit = failure_record(&failure, "m", "@ann").map(|(event, _)| event);
            let error = RpcError::from(DaemonError::from(failure));
            let reason = error.data["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (error.code, reason, audit)
        })
    }

    /// What happened, how the worker ended, whether the OOM killer ended it, and the expected
    /// (code, reason, audit record).
    type Case = (
        &'static str,
        Result<CallOutcome, WorkerFailure>,
        bool,
        (i64, &'static str, Option<&'static str>),
    );

    fn no_budget() -> Bitten {
        Bitten::default()
    }

    #[test]
    fn a_result_within_its_budget_is_the_answer() {
        assert_eq!(
            judge(returned("{\"a\": [1, 2]}"), false, no_budget()),
            Ok(json!({ "result": { "a": [1, 2] }, "stdout": "printed\n" }))
        );
        let none = Ok(CallOutcome {
            result: None,
            error: None,
            stdout: String::new(),
            output_limit_hit: false,
            violation: None,
        });
        assert_eq!(
            judge(none, false, no_budget()),
            Ok(json!({ "result": null, "stdout": "" }))
        );
        // A refusal the module caught and got past does not fail the call.
        let caught = Bitten {
            hard: None,
            soft: Some(bit("storage.max_keys")),
        };
        assert!(judge(returned("1"), false, caught).is_ok());
    }

    #[test]
    fn every_worker_outcome_maps_to_its_error_and_audit_record() {
        let sandbox = Some("sandbox_event");
        let cases: Vec<Case> = vec![
            (
                "a module exception",
                raised("ValueError"),
                false,
                (1010, "module_error", None),
            ),
            (
                "a result that is not JSON",
                returned("NaN"),
                false,
                (1010, "module_error", None),
            ),
            (
                "a result over its budget",
                returned(&"1".repeat(300_000)),
                false,
                (1012, "budget_exceeded", Some("budget_exceeded")),
            ),
            (
                "an interpreter guard",
                raised("SandboxViolation"),
                false,
                (1006, "sandbox_violation", sandbox),
            ),
            (
                "a refused import",
                raised("ImportError").map(|mut o| {
                    o.error.as_mut().unwrap().message = "pyward: no".into();
                    o
                }),
                false,
                (1006, "sandbox_violation", sandbox),
            ),
            (
                "a tripwire the module caught",
                returned("1").map(|mut o| {
                    o.violation = Some(Violation {
                        event: "open".into(),
                        detail: "/etc/passwd".into(),
                    });
                    o
                }),
                false,
                (1006, "sandbox_violation", sandbox),
            ),
            (
                "too much output",
                returned("1").map(|mut o| {
                    o.output_limit_hit = true;
                    o
                }),
                false,
                (1009, "output_limit", sandbox),
            ),
            (
                "the output guard",
                raised("OutputLimitExceeded"),
                false,
                (1009, "output_limit", sandbox),
            ),
            (
                "MemoryError",
                raised("MemoryError"),
                false,
                (1008, "memory_limit", sandbox),
            ),
            (
                "the wall-clock deadline",
                Err(WorkerFailure::Deadline { after_ms: 10 }),
                false,
                (1007, "timeout", sandbox),
            ),
            (
                "seccomp",
                died(Ending::Seccomp {
                    syscall: 59,
                    name: Some("execve".into()),
                }),
                false,
                (1006, "sandbox_violation", sandbox),
            ),
            (
                "the CPU limit",
                died(Ending::Signaled {
                    signal: libc::SIGXCPU,
                }),
                false,
                (1007, "timeout", sandbox),
            ),
            (
                "SIGKILL",
                died(Ending::Signaled {
                    signal: libc::SIGKILL,
                }),
                false,
                (1007, "timeout", sandbox),
            ),
            (
                "the OOM killer in its cgroup",
                died(Ending::Signaled {
                    signal: libc::SIGKILL,
                }),
                true,
                (1008, "memory_limit", sandbox),
            ),
            (
                "the address-space limit",
                died(Ending::Exited {
                    code: pyward_worker::exit::WorkerExit::OutOfMemory.code(),
                }),
                false,
                (1008, "memory_limit", sandbox),
            ),
            (
                "a crash",
                died(Ending::Signaled {
                    signal: libc::SIGSEGV,
                }),
                false,
                (1011, "worker_crashed", sandbox),
            ),
            (
                "a panic in the worker",
                died(Ending::Exited { code: 101 }),
                false,
                (1011, "worker_crashed", sandbox),
            ),
            (
                "an unknown ending",
                died(Ending::Running),
                false,
                (1011, "worker_crashed", sandbox),
            ),
            (
                "a broken link",
                Err(WorkerFailure::Protocol {
                    message: "garbage".into(),
                }),
                false,
                (1011, "worker_crashed", sandbox),
            ),
            (
                "a layer that could not be applied",
                Err(WorkerFailure::Sandbox {
                    error: SandboxError {
                        layer: pyward_worker::sandbox::Stage::Landlock,
                        message: "no".into(),
                    },
                }),
                false,
                (1011, "worker_crashed", sandbox),
            ),
        ];
        for (what, outcome, oom, (code, reason, audit)) in cases {
            assert_eq!(
                judge(outcome, oom, no_budget()),
                Err((code, reason.to_string(), audit)),
                "{what}"
            );
        }
    }

    #[test]
    fn a_budget_that_bit_comes_before_the_verdict() {
        let budget = Err((1012, "budget_exceeded".to_string(), Some("budget_exceeded")));
        // One that stopped the call is why it failed, however the worker ended.
        for outcome in [
            returned("1"),
            raised("ValueError"),
            died(Ending::Signaled {
                signal: libc::SIGKILL,
            }),
        ] {
            let hard = Bitten {
                hard: Some(bit("budgets.max_host_calls_per_call")),
                soft: None,
            };
            assert_eq!(judge(outcome, false, hard), budget);
        }
        // One the module was refused and then raised over is why it failed too ...
        let soft = || Bitten {
            hard: None,
            soft: Some(bit("storage_kb")),
        };
        assert_eq!(judge(raised("BudgetExceeded"), false, soft()), budget);
        // ... but not when a sandbox layer stopped it.
        assert_eq!(
            judge(raised("SandboxViolation"), false, soft()),
            Err((1006, "sandbox_violation".into(), Some("sandbox_event")))
        );
    }

    #[test]
    fn failure_records_name_the_module_and_the_caller() {
        let (event, details) =
            failure_record(&Failure::Budget(bit("storage_kb")), "notes", "@ann").unwrap();
        assert_eq!(event, "budget_exceeded");
        assert_eq!(
            details,
            json!({ "budget": "storage_kb", "limit": 1, "detail": "storage_kb bit", "module": "notes", "user": "@ann" })
        );
        let verdict = verdict::from_failure(
            &WorkerFailure::Deadline { after_ms: 1 },
            &Policy::default().sandbox,
        );
        let (event, details) =
            failure_record(&Failure::Verdict(verdict.clone()), "notes", "@ann").unwrap();
        assert_eq!(event, "sandbox_event");
        assert_eq!(
            details,
            json!({ "module": "notes", "user": "@ann", "verdict": verdict })
        );
    }

    #[test]
    fn every_failure_counts_towards_quarantine_and_the_one_that_quarantines_is_audited() {
        let d = Daemon::new("[quarantine]\nconsecutive_failures = 3\n");
        d.load("notes", "def f():\n    return 1\n", "community");
        let exception = Failure::Verdict(verdict::Verdict {
            status: verdict::Status::Error,
            layer: Some(Layer::Module),
            detail: "ValueError: no".into(),
        });
        let fail = |failure: &Failure| {
            RpcError::from(record_failure(&d.state, "notes", "@ann", failure).unwrap_err())
        };
        for _ in 0..2 {
            let e = fail(&exception);
            assert_eq!((e.code, e.message.as_str()), (1010, "ValueError: no"));
        }
        let health = |d: &Daemon| lock(&d.state.modules)["notes"].health.clone();
        assert_eq!(health(&d).consecutive_failures, 2);
        assert!(!health(&d).quarantined);
        assert_eq!(
            d.audited("sandbox_event"),
            0,
            "a module's exception is not audited"
        );
        let e = fail(&Failure::Budget(bit("storage_kb")));
        assert_eq!(
            e.code, 1012,
            "the call's own error, not the quarantine: {e:?}"
        );
        assert_eq!(d.audited("budget_exceeded"), 1);
        assert_eq!(d.audited("quarantined"), 1);
        assert_eq!(
            d.last_record("quarantined")["after"],
            "BudgetExceeded (storage_kb): storage_kb bit"
        );
        assert!(health(&d).quarantined);
        let stored = lock(&d.state.store).modules().unwrap();
        assert!(stored[0].health.quarantined, "written at once");
        // A fourth failure still counts, but quarantines (and is audited as such) only once.
        fail(&exception);
        assert_eq!(health(&d).consecutive_failures, 4);
        assert_eq!(d.audited("quarantined"), 1);
        // A module unloaded meanwhile: nothing to count against.
        lock(&d.state.modules).remove("notes");
        assert_eq!(fail(&exception).code, 1001);
    }
}
