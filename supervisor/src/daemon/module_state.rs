//! What the supervisor keeps for each loaded module and answers itself, never relaying it to the
//! bot: its key-value storage, the config values an admin set for it, and its one-off schedules.
//! Each host call is checked here against the module's approved capabilities and the policy's
//! budgets; a budget that bites refuses the call with nothing changed (`pyward.BudgetExceeded`
//! in the module, `budget_exceeded` with `data.budget` if the call then fails).

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyward_policy::Policy;
use pyward_policy::config::HostCall;
use pyward_policy::manifest::Capabilities;
use serde_json::{Value, json};

use super::budget::Exceeded;
use super::state::lock;
use super::store::{KvRefusal, Store};

/// Why a host call answered here was refused.
#[derive(Debug)]
pub enum Refusal {
    /// A budget bit: the module sees `BudgetExceeded`.
    Budget(Exceeded),
    /// Bad arguments (an expired time, a private name): the module sees `ValueError`.
    Invalid(String),
    /// Not granted by the approved manifest: the module sees `SandboxViolation`.
    Denied(String),
    /// The database failed: the module sees `RuntimeError`.
    Internal(String),
}

/// A key-value call answered from a store in memory that lives for one run (a one-shot `run`
/// in the daemon, `pyward run`): the same answers as the kept store gives, without its budgets.
/// `call` must be a storage call ([`HostCall::is_storage`]).
pub(crate) fn kv_in_memory(
    kv: &mut BTreeMap<String, Value>,
    call: HostCall,
    args: &Value,
) -> Value {
    debug_assert!(call.is_storage(), "{call:?} is not a storage call");
    let key = args["key"].as_str().unwrap_or_default().to_string();
    match call {
        HostCall::KvGet => kv.get(&key).cloned().unwrap_or(Value::Null),
        HostCall::KvSet => {
            kv.insert(key, args["value"].clone());
            Value::Null
        }
        HostCall::KvKeys => {
            let prefix = args["prefix"].as_str().unwrap_or_default();
            json!(
                kv.keys()
                    .filter(|k| k.starts_with(prefix))
                    .collect::<Vec<_>>()
            )
        }
        _ => json!(kv.remove(&key).is_some()),
    }
}

fn internal(e: rusqlite::Error) -> Refusal {
    Refusal::Internal(format!("pyward's state database failed: {e}"))
}

fn string_arg<'a>(args: &'a Value, key: &str) -> Result<&'a str, Refusal> {
    args[key]
        .as_str()
        .ok_or_else(|| Refusal::Invalid(format!("`{key}` must be a string")))
}

/// Answer a storage, config or schedule call of `module` (a loaded module, with `caps`).
pub fn answer(
    store: &Mutex<Store>,
    policy: &Policy,
    module: &str,
    caps: &Capabilities,
    call: HostCall,
    args: &Value,
    now_ms: u64,
) -> Result<Value, Refusal> {
    let limits = &policy.storage;
    match call {
        HostCall::KvGet => {
            let key = string_arg(args, "key")?;
            let value = lock(store).kv_get(module, key).map_err(internal)?;
            Ok(value
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or(Value::Null))
        }
        HostCall::KvSet => {
            let key = string_arg(args, "key")?;
            if key.len() > limits.max_key_bytes {
                return Err(Refusal::Budget(Exceeded {
                    budget: "storage.max_key_bytes",
                    limit: limits.max_key_bytes as u64,
                    message: format!(
                        "module `{module}` tried to store a key of {} bytes, over \
                         storage.max_key_bytes ({}); nothing was stored",
                        key.len(),
                        limits.max_key_bytes
                    ),
                }));
            }
            let value = args.get("value").cloned().unwrap_or(Value::Null);
            let text = value.to_string();
            if text.len() > limits.max_value_bytes {
                return Err(Refusal::Budget(Exceeded {
                    budget: "storage.max_value_bytes",
                    limit: limits.max_value_bytes as u64,
                    message: format!(
                        "module `{module}` tried to store a value of {} bytes under `{key}`, over \
                         storage.max_value_bytes ({}); nothing was stored",
                        text.len(),
                        limits.max_value_bytes
                    ),
                }));
            }
            let max_bytes = caps.storage_kb * 1024;
            let refused = lock(store)
                .kv_set(module, key, &text, limits.max_keys, max_bytes)
                .map_err(internal)?;
            match refused {
                Ok(()) => Ok(Value::Null),
                Err(KvRefusal::Keys(max)) => Err(Refusal::Budget(Exceeded {
                    budget: "storage.max_keys",
                    limit: max as u64,
                    message: format!(
                        "module `{module}` already holds {max} keys (storage.max_keys); `{key}` \
                         was not stored: delete some first"
                    ),
                })),
                Err(KvRefusal::Bytes(max)) => Err(Refusal::Budget(Exceeded {
                    budget: "storage_kb",
                    limit: caps.storage_kb,
                    message: format!(
                        "module `{module}`'s storage would hold more than its quota of {} KiB \
                         ({max} bytes: the manifest's storage_kb, or storage.default_kb); `{key}` \
                         was not stored: delete some first, or ask for more storage_kb",
                        caps.storage_kb
                    ),
                })),
            }
        }
        HostCall::KvDelete => {
            let key = string_arg(args, "key")?;
            let deleted = lock(store).kv_delete(module, key).map_err(internal)?;
            Ok(json!(deleted))
        }
        HostCall::KvKeys => {
            let prefix = args["prefix"].as_str().unwrap_or("");
            let keys = lock(store)
                .kv_keys(module, prefix, limits.max_keys)
                .map_err(internal)?;
            Ok(json!(keys))
        }
        HostCall::Config => {
            let key = string_arg(args, "key")?;
            if !caps.config.contains(key) {
                return Err(Refusal::Denied(format!(
                    "config key `{key}` is not declared in this module's approved manifest \
                     (config=[...])"
                )));
            }
            let value = lock(store).config_get(module, key).map_err(internal)?;
            Ok(value
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or(Value::Null))
        }
        HostCall::ScheduleAt => schedule_at(store, policy, module, args, now_ms),
        HostCall::CancelSchedule => {
            let name = string_arg(args, "name")?;
            let cancelled = lock(store)
                .cancel_schedule(module, name)
                .map_err(internal)?;
            Ok(json!(cancelled))
        }
        other => Err(Refusal::Internal(format!(
            "`{}` is not answered by pyward itself",
            other.name()
        ))),
    }
}

/// A valid handler name for a schedule: a public Python identifier.
pub fn valid_handler_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic())
        && name.len() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn schedule_at(
    store: &Mutex<Store>,
    policy: &Policy,
    module: &str,
    args: &Value,
    now_ms: u64,
) -> Result<Value, Refusal> {
    let limits = &policy.schedules;
    let name = string_arg(args, "name")?;
    if !valid_handler_name(name) {
        return Err(Refusal::Invalid(format!(
            "`{name}` is not a public module-level function name (letters, digits and _, not \
             starting with _)"
        )));
    }
    let Some(at) = args["unix_ms"].as_u64() else {
        return Err(Refusal::Invalid(
            "`unix_ms` must be a time in milliseconds since the epoch".into(),
        ));
    };
    if at <= now_ms {
        return Err(Refusal::Invalid(format!(
            "the time {at} has already passed (now is {now_ms}, in unix milliseconds): a one-off \
             must be set in the future"
        )));
    }
    let max_ahead = limits.max_delay_days * 86_400_000;
    if at - now_ms > max_ahead {
        return Err(Refusal::Budget(Exceeded {
            budget: "schedules.max_delay_days",
            limit: limits.max_delay_days,
            message: format!(
                "module `{module}` tried to schedule `{name}` more than \
                 schedules.max_delay_days ({}) ahead",
                limits.max_delay_days
            ),
        }));
    }
    let payload = args
        .get("payload")
        .cloned()
        .unwrap_or(Value::Null)
        .to_string();
    if payload.len() > limits.max_payload_bytes {
        return Err(Refusal::Budget(Exceeded {
            budget: "schedules.max_payload_bytes",
            limit: limits.max_payload_bytes as u64,
            message: format!(
                "module `{module}` gave `{name}` a payload of {} bytes, over \
                 schedules.max_payload_bytes ({}); nothing was scheduled",
                payload.len(),
                limits.max_payload_bytes
            ),
        }));
    }
    let id = lock(store)
        .schedule_at(module, name, &payload, at, limits.max_pending_per_module)
        .map_err(internal)?;
    match id {
        Some(id) => Ok(json!(id)),
        None => Err(Refusal::Budget(Exceeded {
            budget: "schedules.max_pending_per_module",
            limit: limits.max_pending_per_module as u64,
            message: format!(
                "module `{module}` already has {} one-off runs pending \
                 (schedules.max_pending_per_module); `{name}` was not scheduled",
                limits.max_pending_per_module
            ),
        })),
    }
}

/// The periodic handlers a module declares (its manifest asked for schedules), checked against
/// the policy's schedule budgets: `(name, interval_ms)` to keep, or the budget it is over.
pub fn periodic_schedules(
    module: &str,
    declared: &[pyward_worker::runtime::PeriodicInfo],
    policy: &Policy,
) -> Result<Vec<(String, u64)>, Exceeded> {
    let limits = &policy.schedules;
    if declared.is_empty() {
        return Ok(Vec::new());
    }
    if declared.len() > limits.max_periodic_per_module {
        return Err(Exceeded {
            budget: "schedules.max_periodic_per_module",
            limit: limits.max_periodic_per_module as u64,
            message: format!(
                "module `{module}` declares {} periodic handlers, more than \
                 schedules.max_periodic_per_module ({})",
                declared.len(),
                limits.max_periodic_per_module
            ),
        });
    }
    let mut out = Vec::new();
    for p in declared {
        if p.seconds < limits.min_interval_seconds {
            return Err(Exceeded {
                budget: "schedules.min_interval_seconds",
                limit: limits.min_interval_seconds,
                message: format!(
                    "module `{module}`'s @pyward.every({}) handler `{}` runs more often than \
                     schedules.min_interval_seconds ({}) allows",
                    p.seconds, p.name, limits.min_interval_seconds
                ),
            });
        }
        out.push((p.name.clone(), p.seconds * 1000));
    }
    Ok(out)
}
