//! Budgets that bite inside one call or one load: host calls per call and the size of their
//! arguments, the size of a call's result, and what a module declares (commands, names, help
//! texts). Each refusal names its policy key and says what to change; the protocol reports it
//! as `budget_exceeded` with `data.budget` (the key) and `data.limit` (its value).

use pyward_policy::config::{Budgets, HostCall};
use pyward_worker::link::HostCallError;
use pyward_worker::runtime::{CommandInfo, Returned};
use serde_json::{Value, json};

use super::rpc::{self, Reason, RpcError};

/// A budget that bit: which one (its policy key), its value, and a sentence for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub budget: &'static str,
    pub limit: u64,
    pub message: String,
}

impl Exceeded {
    pub fn error(&self) -> RpcError {
        rpc::error(
            Reason::BudgetExceeded,
            self.message.clone(),
            json!({ "budget": self.budget, "limit": self.limit }),
        )
    }

    /// What an audit record of it holds.
    pub fn details(&self) -> Value {
        json!({ "budget": self.budget, "limit": self.limit, "detail": self.message })
    }
}

/// An answer of `size` bytes that does not fit in one protocol line.
pub fn line_too_long(size: usize, max_line: usize) -> RpcError {
    rpc::error(
        Reason::BudgetExceeded,
        format!(
            "the answer is {size} bytes, longer than server.max_line_bytes ({max_line}), so it was \
             not sent; ask for less (audit.list takes a `limit`) or raise server.max_line_bytes \
             in the policy, and the client's line limit with it"
        ),
        json!({ "budget": "server.max_line_bytes", "limit": max_line, "size": size }),
    )
}

/// The host calls one call (module call or one-shot run) has made, against its budgets. Once
/// a budget bites, every further host call of the call is refused and the call itself fails
/// with that budget's error.
#[derive(Debug)]
pub struct HostCalls {
    module: String,
    budgets: Budgets,
    max_line: usize,
    made: u32,
    /// Host calls refused because the tier does not grant them.
    denied: u32,
    exceeded: Option<Exceeded>,
    /// The first budget that refused one host call without stopping the call (a storage quota,
    /// a file too large): the module may catch it; if the call fails anyway, this is why.
    soft: Option<Exceeded>,
    /// The call was told to stop (see [`HostCalls::must_stop`]).
    stopped: bool,
    /// Brokered HTTP requests made so far (`http.max_requests_per_call`).
    http_requests: u32,
}

/// The budgets that bit during a call: one that stopped it, and one that refused a host call
/// the module may have caught.
#[derive(Debug, Default)]
pub struct Bitten {
    pub hard: Option<Exceeded>,
    pub soft: Option<Exceeded>,
}

impl HostCalls {
    pub fn new(module: &str, budgets: &Budgets, max_line: usize) -> HostCalls {
        HostCalls {
            module: module.to_string(),
            budgets: *budgets,
            max_line,
            made: 0,
            denied: 0,
            exceeded: None,
            soft: None,
            stopped: false,
            http_requests: 0,
        }
    }

    /// Count one brokered HTTP request; how many this call has made, this one included.
    pub fn count_http_request(&mut self) -> u32 {
        self.http_requests += 1;
        self.http_requests
    }

    /// Count one host call with its JSON arguments. `Err` is what the module is told (a
    /// denial: `SandboxViolation`).
    pub fn admit(&mut self, call: HostCall, args_json: &str) -> Result<(), HostCallError> {
        if let Some(exceeded) = &self.exceeded {
            return Err(HostCallError::denied(&exceeded.message));
        }
        let max_calls = self.budgets.max_host_calls_per_call;
        let max_args = self.budgets.max_host_call_args_bytes;
        if self.made >= max_calls {
            return self.bite(Exceeded {
                budget: "budgets.max_host_calls_per_call",
                limit: max_calls.into(),
                message: format!(
                    "module `{}` made more than {max_calls} host calls in one call \
                     (budgets.max_host_calls_per_call), so the call was stopped; make fewer \
                     host calls per call, or raise the budget in the policy",
                    self.module
                ),
            });
        }
        // A file's size has its own budget (media.max_file_bytes), checked when it is relayed.
        if args_json.len() > max_args && call != HostCall::SendFile {
            return self.bite(Exceeded {
                budget: "budgets.max_host_call_args_bytes",
                limit: max_args as u64,
                message: format!(
                    "module `{}` passed {} bytes of arguments to host call `{call}`, over \
                     budgets.max_host_call_args_bytes ({max_args}), so the call was stopped; \
                     send less per host call, or raise the budget in the policy",
                    self.module,
                    args_json.len(),
                    call = call.name(),
                ),
            });
        }
        self.made += 1;
        Ok(())
    }

    /// Count a host call the tier does not grant; `true` for the call's first.
    pub fn first_denial(&mut self) -> bool {
        self.denied += 1;
        self.denied == 1
    }

    /// The `host.call` line built for a host call is longer than a protocol line may be;
    /// returns what the module is told.
    pub fn line_too_long(&mut self, call: &str, size: usize) -> HostCallError {
        let max_line = self.max_line;
        let refused = self.bite(Exceeded {
            budget: "server.max_line_bytes",
            limit: max_line as u64,
            message: format!(
                "module `{}`'s host call `{call}` would be a line of {size} bytes, over \
                 server.max_line_bytes ({max_line}), so the call was stopped; send less per \
                 host call",
                self.module
            ),
        });
        refused.unwrap_err()
    }

    fn bite(&mut self, exceeded: Exceeded) -> Result<(), HostCallError> {
        // The first budget that bit is the one the call fails with.
        if let Some(first) = &self.exceeded {
            return Err(HostCallError::denied(&first.message));
        }
        let refused = HostCallError::denied(&exceeded.message);
        self.exceeded = Some(exceeded);
        Err(refused)
    }

    /// `true` once, right after a budget bit: the call must be stopped.
    pub fn must_stop(&mut self) -> bool {
        if self.exceeded.is_some() && !self.stopped {
            self.stopped = true;
            return true;
        }
        false
    }

    /// Refuse one host call for a budget without stopping the call; returns what the module is
    /// told (`pyward.BudgetExceeded`).
    pub fn refuse_soft(&mut self, exceeded: Exceeded) -> HostCallError {
        let refused = HostCallError::OverBudget {
            message: exceeded.message.clone(),
        };
        self.soft.get_or_insert(exceeded);
        refused
    }

    /// Every budget that bit.
    pub fn bitten(self) -> Bitten {
        Bitten {
            hard: self.exceeded,
            soft: self.soft,
        }
    }
}

/// A call's result (from the worker) as a value, within `budgets.max_result_bytes`.
/// `Err(Ok(..))`: over the budget; `Err(Err(detail))`: it cannot be passed on as JSON at all.
pub fn result_value(
    module: &str,
    result: Option<&Returned>,
    budgets: &Budgets,
) -> Result<Value, Result<Exceeded, String>> {
    let Some(returned) = result else {
        return Ok(Value::Null);
    };
    let max = budgets.max_result_bytes;
    if returned.bytes() > max {
        return Err(Ok(Exceeded {
            budget: "budgets.max_result_bytes",
            limit: max as u64,
            message: format!(
                "module `{module}` returned a result of {} bytes, over budgets.max_result_bytes \
                 ({max}); return less, or raise the budget in the policy",
                returned.bytes()
            ),
        }));
    }
    parse_result(returned).map_err(Err)
}

/// A handler's result as a value. Nothing is dropped silently: what is not JSON (`NaN` or
/// `Infinity`, which Python's `json.dumps` writes) and what serde_json cannot read into a value
/// (nested deeper than its limit of 128 levels) is an error that says why.
pub fn parse_result(returned: &Returned) -> Result<Value, String> {
    let not_json = |e: &dyn std::fmt::Display| {
        format!(
            "the handler's result is not valid JSON ({e}), so it was not passed on; NaN and \
             Infinity have no JSON form"
        )
    };
    let json = match returned {
        Returned::Json(json) => json,
        Returned::NotJson { error, .. } => return Err(not_json(error)),
    };
    serde_json::from_str(json.get()).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            "the handler's result is nested more than 128 levels deep, deeper than pyward passes \
             on as JSON (serde_json's limit), so it was not passed on; return a flatter value"
                .to_string()
        } else {
            not_json(&e)
        }
    })
}

/// What a module declared at load, against `max_commands`, `max_command_name_bytes` and
/// `max_help_bytes`: every `module.list` and `health` answer carries it while it is loaded.
pub fn check_commands(
    module: &str,
    commands: &[CommandInfo],
    budgets: &Budgets,
) -> Result<(), Exceeded> {
    if commands.len() > budgets.max_commands {
        return Err(Exceeded {
            budget: "budgets.max_commands",
            limit: budgets.max_commands as u64,
            message: format!(
                "module `{module}` declares {} commands, more than budgets.max_commands ({}); \
                 declare fewer, or raise the budget in the policy",
                commands.len(),
                budgets.max_commands
            ),
        });
    }
    for command in commands {
        if command.name.len() > budgets.max_command_name_bytes {
            return Err(Exceeded {
                budget: "budgets.max_command_name_bytes",
                limit: budgets.max_command_name_bytes as u64,
                message: format!(
                    "module `{module}` declares a command name of {} bytes, longer than \
                     budgets.max_command_name_bytes ({}); use a shorter name",
                    command.name.len(),
                    budgets.max_command_name_bytes
                ),
            });
        }
        if command.help.len() > budgets.max_help_bytes {
            return Err(Exceeded {
                budget: "budgets.max_help_bytes",
                limit: budgets.max_help_bytes as u64,
                message: format!(
                    "module `{module}`'s command `{}` has a help text of {} bytes, longer than \
                     budgets.max_help_bytes ({}); shorten it, or raise the budget in the policy",
                    command.name,
                    command.help.len(),
                    budgets.max_help_bytes
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pyward_policy::Policy;

    use super::*;

    fn budgets() -> Budgets {
        Budgets {
            max_host_calls_per_call: 2,
            max_host_call_args_bytes: 10,
            max_result_bytes: 20,
            max_commands: 1,
            max_command_name_bytes: 4,
            max_help_bytes: 5,
            ..Policy::default().budgets
        }
    }

    #[test]
    fn host_calls_stop_at_the_first_budget_that_bites() {
        let mut calls = HostCalls::new("m", &budgets(), 1000);
        assert!(calls.admit(HostCall::Reply, "{}").is_ok());
        assert!(calls.admit(HostCall::Reply, "{}").is_ok());
        let refused = calls.admit(HostCall::Reply, "{}").unwrap_err();
        let HostCallError::Denied { reason } = &refused else {
            panic!("a budget that stops the call is a denial: {refused:?}")
        };
        assert!(
            reason.contains("budgets.max_host_calls_per_call"),
            "{reason}"
        );
        assert!(calls.must_stop(), "the call is stopped once");
        assert!(!calls.must_stop());
        // Refused from now on, under the same budget.
        assert!(calls.admit(HostCall::Log, "{}").is_err());
        let exceeded = calls.bitten().hard.unwrap();
        assert_eq!(exceeded.budget, "budgets.max_host_calls_per_call");
        assert_eq!(exceeded.error().data["reason"], "budget_exceeded");
        assert_eq!(exceeded.error().data["limit"], 2);

        let mut calls = HostCalls::new("m", &budgets(), 1000);
        assert!(
            calls
                .admit(HostCall::Log, "{\"message\": \"long\"}")
                .is_err()
        );
        assert_eq!(
            calls.bitten().hard.unwrap().budget,
            "budgets.max_host_call_args_bytes"
        );
    }

    #[test]
    fn results_are_bounded_and_never_silently_dropped() {
        let b = budgets();
        let returned = |text: &str| Returned::from_text(text.to_string());
        assert_eq!(
            result_value("m", Some(&returned("[1]")), &b),
            Ok(json!([1]))
        );
        assert_eq!(result_value("m", None, &b), Ok(Value::Null));
        let big = format!("\"{}\"", "x".repeat(30));
        let Err(Ok(exceeded)) = result_value("m", Some(&returned(&big)), &b) else {
            panic!("a result over the budget passed")
        };
        assert_eq!(exceeded.budget, "budgets.max_result_bytes");
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let error = parse_result(&returned(&deep)).unwrap_err();
        assert!(error.contains("128 levels"), "{error}");
        let error = parse_result(&returned("NaN")).unwrap_err();
        assert!(error.contains("NaN"), "{error}");
        // Over the budget comes first, even for what is not JSON.
        let big_nan = format!("[{}]", ["NaN"; 10].join(", "));
        let Err(Ok(exceeded)) = result_value("m", Some(&returned(&big_nan)), &b) else {
            panic!("a result over the budget passed")
        };
        assert_eq!(exceeded.budget, "budgets.max_result_bytes");
    }

    #[test]
    fn refusals_are_typed_by_what_the_module_may_do_about_them() {
        let mut calls = HostCalls::new("m", &budgets(), 1000);
        let soft = calls.refuse_soft(Exceeded {
            budget: "storage_kb",
            limit: 1,
            message: "storage full".into(),
        });
        assert_eq!(
            soft,
            HostCallError::OverBudget {
                message: "storage full".into()
            }
        );
        assert!(!calls.must_stop(), "a soft refusal does not stop the call");
        let hard = calls.line_too_long("reply", 5000);
        assert!(
            matches!(&hard, HostCallError::Denied { reason } if reason.contains("server.max_line_bytes")),
            "{hard:?}"
        );
        assert!(calls.must_stop());
        let bitten = calls.bitten();
        assert_eq!(bitten.soft.unwrap().budget, "storage_kb");
        assert_eq!(bitten.hard.unwrap().budget, "server.max_line_bytes");
    }

    #[test]
    fn declarations_are_bounded() {
        let command = |name: &str, help: &str| CommandInfo {
            name: name.into(),
            security: None,
            help: help.into(),
        };
        let b = budgets();
        assert!(check_commands("m", &[command("ping", "pong")], &b).is_ok());
        let over = |commands: &[CommandInfo]| check_commands("m", commands, &b).unwrap_err().budget;
        assert_eq!(
            over(&[command("a", ""), command("b", "")]),
            "budgets.max_commands"
        );
        assert_eq!(
            over(&[command("toolong", "")]),
            "budgets.max_command_name_bytes"
        );
        assert_eq!(
            over(&[command("ping", "helpful")]),
            "budgets.max_help_bytes"
        );
    }
}
