//! Request parameters: one type per method that takes any, read from the request's `params`.
//!
//! What is accepted is what the daemon has always accepted. docs/protocol.md promises no
//! strictness about unknown keys, so they are ignored; `params` that is not an object reads as
//! `{}`; an optional string parameter of another type (`tier`, `command`, `function`,
//! `source_sha256`) is refused, since reading it as absent would widen the request; `limit` of
//! another type reads as the default. Reading the JSON never fails (every field
//! is a [`Param`]); each type's `parse` then checks its parameters in a fixed order, so which
//! error a client gets does not depend on the order of its keys, and the error names the
//! parameter as it always did (`data.param`, code -32602).

use std::collections::BTreeSet;

use pyward_worker::runtime::Target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value, json};

use super::error::DaemonError;
use super::grants::MAX_GRANT_SECONDS;

/// One parameter as the client sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) enum Param<T> {
    #[default]
    Absent,
    Null,
    Given(T),
    /// Present, but not a `T`.
    Wrong(Value),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Param<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Param::Null,
            value => match T::deserialize(&value) {
                Ok(given) => Param::Given(given),
                Err(_) => Param::Wrong(value),
            },
        })
    }
}

impl<T> Param<T> {
    /// The value, if it was given as a `T`; absent, `null` or of another type reads as `None`.
    pub(super) fn given(self) -> Option<T> {
        match self {
            Param::Given(given) => Some(given),
            _ => None,
        }
    }
}

impl Param<String> {
    /// A parameter that must be a string.
    pub(super) fn required(&self, param: &'static str) -> Result<&str, DaemonError> {
        match self {
            Param::Given(text) => Ok(text),
            _ => Err(DaemonError::MissingString { param }),
        }
    }

    /// A parameter that may be left out (or `null`) but, when given, must be a string: read as
    /// "absent", a wrong type would widen the request (a grant of one command would grant the
    /// whole module; an approval pinned to a reviewed source would approve any).
    pub(super) fn optional(self, param: &'static str) -> Result<Option<String>, DaemonError> {
        match self {
            Param::Absent | Param::Null => Ok(None),
            Param::Given(text) => Ok(Some(text)),
            Param::Wrong(_) => Err(DaemonError::NotAString { param }),
        }
    }
}

impl Param<bool> {
    /// `true` or `false`; absent or `null` is `false`, anything else is refused.
    fn flag(self, param: &'static str) -> Result<bool, DaemonError> {
        match self {
            Param::Absent | Param::Null => Ok(false),
            Param::Given(flag) => Ok(flag),
            Param::Wrong(_) => Err(DaemonError::NotABool { param }),
        }
    }
}

impl Param<Value> {
    /// The value if the key is present, `null` included.
    fn present(self) -> Option<Value> {
        match self {
            Param::Absent => None,
            Param::Null => Some(Value::Null),
            Param::Given(value) | Param::Wrong(value) => Some(value),
        }
    }
}

/// A method's parameters, every field a [`Param`] (so this never fails).
fn read<T: DeserializeOwned + Default>(params: Value) -> T {
    let params = match params {
        Value::Object(_) => params,
        _ => Value::Object(Map::new()),
    };
    // Cannot fail: a `Param` takes any value, and absent fields take their default.
    T::deserialize(params).unwrap_or_default()
}

/// `module.load`.
#[derive(Debug)]
pub(super) struct Load {
    pub(super) name: String,
    pub(super) source: String,
    /// The trust tier (the policy's `default_tier` if `None`).
    pub(super) tier: Option<String>,
    pub(super) approve: bool,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawLoad {
    name: Param<String>,
    source: Param<String>,
    tier: Param<String>,
    approve: Param<bool>,
}

impl Load {
    pub(super) fn parse(params: Value) -> Result<Load, DaemonError> {
        let raw: RawLoad = read(params);
        Ok(Load {
            name: raw.name.required("name")?.to_string(),
            source: raw.source.required("source")?.to_string(),
            approve: raw.approve.flag("approve")?,
            tier: raw.tier.optional("tier")?,
        })
    }
}

/// `module.unload`.
#[derive(Debug)]
pub(super) struct Unload {
    pub(super) name: String,
    /// Remove its storage, config and approval too.
    pub(super) purge: bool,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawUnload {
    name: Param<String>,
    purge: Param<bool>,
}

impl Unload {
    pub(super) fn parse(params: Value) -> Result<Unload, DaemonError> {
        let raw: RawUnload = read(params);
        Ok(Unload {
            name: raw.name.required("name")?.to_string(),
            purge: raw.purge.flag("purge")?,
        })
    }
}

/// `module.approve`.
#[derive(Debug)]
pub(super) struct Approve {
    pub(super) name: String,
    /// The hash the admin reviewed, which the waiting version must have.
    pub(super) source_sha256: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawApprove {
    name: Param<String>,
    source_sha256: Param<String>,
}

impl Approve {
    pub(super) fn parse(params: Value) -> Result<Approve, DaemonError> {
        let raw: RawApprove = read(params);
        Ok(Approve {
            name: raw.name.required("name")?.to_string(),
            source_sha256: raw.source_sha256.optional("source_sha256")?,
        })
    }
}

/// `module.configure`.
#[derive(Debug)]
pub(super) struct Configure {
    pub(super) name: String,
    /// Config keys and their values (`null` removes one), in the order sent.
    pub(super) values: Map<String, Value>,
    /// Keys whose values are never shown again.
    pub(super) secret: BTreeSet<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawConfigure {
    name: Param<String>,
    values: Param<Map<String, Value>>,
    secret: Param<BTreeSet<String>>,
}

impl Configure {
    pub(super) fn parse(params: Value) -> Result<Configure, DaemonError> {
        let raw: RawConfigure = read(params);
        let name = raw.name.required("name")?.to_string();
        let Param::Given(values) = raw.values else {
            return Err(DaemonError::BadParam {
                param: "values",
                why: "`values` must be an object of config keys and values",
            });
        };
        let secret = match raw.secret {
            Param::Absent | Param::Null => BTreeSet::new(),
            Param::Given(keys) => keys,
            Param::Wrong(_) => {
                return Err(DaemonError::BadParam {
                    param: "secret",
                    why: "`secret` must be a list of keys",
                });
            }
        };
        Ok(Configure {
            name,
            values,
            secret,
        })
    }
}

/// `module.event`.
#[derive(Debug)]
pub(super) struct DeliverEvent {
    /// The event as the bot sent it (an object), passed on to each handler.
    pub(super) event: Value,
    /// Its `type`, one of `KNOWN_EVENTS`.
    pub(super) kind: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawDeliverEvent {
    event: Param<Map<String, Value>>,
}

impl DeliverEvent {
    pub(super) fn parse(params: Value) -> Result<DeliverEvent, DaemonError> {
        let raw: RawDeliverEvent = read(params);
        let Param::Given(event) = raw.event else {
            return Err(DaemonError::BadParam {
                param: "event",
                why: "`event` must be an object with a `type`",
            });
        };
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| pyward_policy::config::KNOWN_EVENTS.contains(t))
            .ok_or(DaemonError::UnknownEventType)?
            .to_string();
        Ok(DeliverEvent {
            event: Value::Object(event),
            kind,
        })
    }
}

/// `host.subscribe`.
#[derive(Debug, PartialEq)]
pub(super) enum Subscribe {
    /// `"*"`: every module.
    All,
    /// These modules (names not checked yet).
    Modules(Vec<String>),
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawSubscribe {
    modules: Param<RawModules>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawModules {
    Names(Vec<String>),
    One(String),
}

impl Subscribe {
    pub(super) fn parse(params: Value) -> Result<Subscribe, DaemonError> {
        let raw: RawSubscribe = read(params);
        match raw.modules {
            Param::Given(RawModules::One(all)) if all == "*" => Ok(Subscribe::All),
            Param::Given(RawModules::Names(names)) => Ok(Subscribe::Modules(names)),
            // A list, but not of strings.
            Param::Wrong(Value::Array(_)) => Err(DaemonError::BadParam {
                param: "modules",
                why: "`modules` must be a list of names, or \"*\"",
            }),
            _ => Err(DaemonError::BadParam {
                param: "modules",
                why: "`modules` must be a list of module names, or \"*\"",
            }),
        }
    }
}

/// `module.call`.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) module: String,
    /// `caller.user`: the chat identity the ACL judges.
    pub(super) user: String,
    /// The command or function called.
    pub(super) target: Target,
    /// Its name (the command's or the function's), as the ACL and the audit records see it.
    pub(super) name: String,
    /// `args`, or `""` for a command and `[]` for a function when absent.
    pub(super) args: Value,
    /// `event`, or `{"sender": user}` when absent.
    pub(super) event: Value,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawCall {
    module: Param<String>,
    caller: Param<Map<String, Value>>,
    command: Param<String>,
    function: Param<String>,
    args: Param<Value>,
    event: Param<Value>,
}

impl Call {
    pub(super) fn parse(params: Value) -> Result<Call, DaemonError> {
        let raw: RawCall = read(params);
        let module = raw.module.required("module")?.to_string();
        let user = raw
            .caller
            .given()
            .and_then(|caller| caller.get("user")?.as_str().map(str::to_string))
            .ok_or(DaemonError::NoCaller)?;
        let (command, function) = (
            raw.command.optional("command")?,
            raw.function.optional("function")?,
        );
        let (target, name) = match (command, function) {
            (Some(c), None) => (Target::Command(c.clone()), c),
            (None, Some(f)) => (Target::Function(f.clone()), f),
            _ => return Err(DaemonError::CommandOrFunction),
        };
        let args = raw.args.present().unwrap_or(match target {
            Target::Command(_) => json!(""),
            _ => json!([]),
        });
        let event = raw.event.present().unwrap_or(json!({ "sender": user }));
        Ok(Call {
            module,
            user,
            target,
            name,
            args,
            event,
        })
    }
}

/// `run`. Every parameter is checked here, before the run takes a one-shot slot or a
/// rate-limit token: a malformed request costs the peer nothing.
#[derive(Debug)]
pub(super) struct Run {
    /// `pipeline` when absent (the name is checked like a module's afterwards).
    pub(super) name: String,
    pub(super) source: String,
    pub(super) function: String,
    pub(super) tier: Option<String>,
    /// `args`, or `[]` when absent.
    pub(super) args: Value,
    /// `event`, or `null`.
    pub(super) event: Value,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawRun {
    name: Param<String>,
    source: Param<String>,
    function: Param<String>,
    tier: Param<String>,
    args: Param<Value>,
    event: Param<Value>,
}

impl Run {
    pub(super) fn parse(params: Value) -> Result<Run, DaemonError> {
        let raw: RawRun = read(params);
        let name = raw
            .name
            .optional("name")?
            .unwrap_or_else(|| "pipeline".to_string());
        Ok(Run {
            name,
            source: raw.source.required("source")?.to_string(),
            function: raw.function.required("function")?.to_string(),
            tier: raw.tier.optional("tier")?,
            args: raw.args.present().unwrap_or(json!([])),
            event: raw.event.present().unwrap_or(Value::Null),
        })
    }
}

/// `acl.grant` and `acl.revoke`.
#[derive(Debug)]
pub(super) struct GrantRequest {
    pub(super) user: String,
    pub(super) module: String,
    /// The command granted; the whole module if `None`.
    pub(super) command: Option<String>,
    /// How long the grant lasts, above 0 and at most [`MAX_GRANT_SECONDS`]; for ever if `None`.
    pub(super) expires_in_seconds: Option<f64>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawGrant {
    user: Param<String>,
    module: Param<String>,
    command: Param<String>,
    expires_in_seconds: Param<Number>,
}

impl GrantRequest {
    pub(super) fn parse(params: Value) -> Result<GrantRequest, DaemonError> {
        let raw: RawGrant = read(params);
        let user = raw.user.required("user")?.to_string();
        let module = raw.module.required("module")?.to_string();
        // A lifetime that is present but not a positive number is refused: read as "no
        // lifetime", it would make a grant meant to expire last forever.
        let expires_in_seconds = match raw.expires_in_seconds {
            Param::Absent | Param::Null => None,
            Param::Given(number) => match number.as_f64() {
                Some(seconds) if seconds > 0.0 && seconds <= MAX_GRANT_SECONDS => Some(seconds),
                _ => {
                    return Err(DaemonError::BadLifetime {
                        value: Value::Number(number),
                    });
                }
            },
            Param::Wrong(value) => return Err(DaemonError::BadLifetime { value }),
        };
        Ok(GrantRequest {
            user,
            module,
            command: raw.command.optional("command")?,
            expires_in_seconds,
        })
    }
}

/// `audit.list`.
#[derive(Debug)]
pub(super) struct AuditList {
    /// How many of the newest records: 100 unless a whole number is given, at most 10,000.
    pub(super) limit: u32,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawAuditList {
    limit: Param<u64>,
}

impl AuditList {
    pub(super) fn parse(params: Value) -> AuditList {
        let raw: RawAuditList = read(params);
        AuditList {
            limit: raw.limit.given().unwrap_or(100).min(10_000) as u32,
        }
    }
}

/// `quarantine.release`.
#[derive(Debug)]
pub(super) struct Release {
    pub(super) module: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RawRelease {
    module: Param<String>,
}

impl Release {
    pub(super) fn parse(params: Value) -> Result<Release, DaemonError> {
        let raw: RawRelease = read(params);
        Ok(Release {
            module: raw.module.required("module")?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_that_are_not_an_object_read_as_empty_never_by_position() {
        for params in [
            json!(["notes", "x = 1"]),
            json!("notes"),
            json!(7),
            Value::Null,
        ] {
            let e = Load::parse(params.clone()).unwrap_err();
            assert!(
                matches!(e, DaemonError::MissingString { param: "name" }),
                "{params}: {e:?}"
            );
        }
        assert_eq!(AuditList::parse(json!([5])).limit, 100);
    }

    #[test]
    fn which_parameter_is_reported_does_not_depend_on_key_order() {
        for params in [
            r#"{"approve": "yes", "name": 5}"#,
            r#"{"name": 5, "approve": "yes"}"#,
        ] {
            let e = Load::parse(serde_json::from_str(params).unwrap()).unwrap_err();
            assert!(
                matches!(e, DaemonError::MissingString { param: "name" }),
                "{params}: {e:?}"
            );
        }
    }

    #[test]
    fn optional_parameters_left_out_or_null_read_as_absent_and_of_another_type_are_refused() {
        let load = Load::parse(json!({ "name": "n", "source": "s", "tier": null })).unwrap();
        assert_eq!(load.tier, None);
        assert!(!load.approve);
        let load = Load::parse(json!({ "name": "n", "source": "s", "approve": null })).unwrap();
        assert!(!load.approve);
        let approve = Approve::parse(json!({ "name": "n" })).unwrap();
        assert_eq!(approve.source_sha256, None);
        assert!(matches!(
            Load::parse(json!({ "name": "n", "source": "s", "tier": 3 })),
            Err(DaemonError::NotAString { param: "tier" })
        ));
        assert!(matches!(
            Approve::parse(json!({ "name": "n", "source_sha256": ["ab"] })),
            Err(DaemonError::NotAString {
                param: "source_sha256"
            })
        ));
        for (limit, read) in [
            (json!(5), 5),
            (json!(20_000), 10_000),
            (json!(-1), 100),
            (json!(1.5), 100),
            (json!("all"), 100),
        ] {
            assert_eq!(
                AuditList::parse(json!({ "limit": limit })).limit,
                read,
                "{limit}"
            );
        }
    }

    #[test]
    fn a_call_gets_the_defaults_it_always_got() {
        let command = Call::parse(json!({
            "module": "m", "caller": { "user": "@ann" }, "command": "note"
        }))
        .unwrap();
        assert_eq!(command.target, Target::Command("note".into()));
        assert_eq!(command.name, "note");
        assert_eq!(command.args, json!(""));
        assert_eq!(command.event, json!({ "sender": "@ann" }));
        let function = Call::parse(json!({
            "module": "m", "caller": { "user": "@ann" }, "function": "f", "command": null,
            "args": null, "event": null
        }))
        .unwrap();
        assert_eq!(function.target, Target::Function("f".into()));
        // An explicit `null` is passed on, not replaced by the default.
        assert_eq!(function.args, Value::Null);
        assert_eq!(function.event, Value::Null);
        let function = Call::parse(json!({
            "module": "m", "caller": { "user": "@ann", "x": 1 }, "function": "f"
        }))
        .unwrap();
        assert_eq!(function.args, json!([]));
        // `caller` must be an object with a string `user`.
        for caller in [json!(["@ann"]), json!({ "user": 1 }), json!("@ann")] {
            let e = Call::parse(json!({ "module": "m", "caller": caller, "function": "f" }));
            assert!(matches!(e, Err(DaemonError::NoCaller)), "{caller}");
        }
    }

    #[test]
    fn a_run_gets_the_defaults_it_always_got() {
        let run = Run::parse(json!({ "name": null, "source": "s", "function": "f" })).unwrap();
        assert_eq!(run.name, "pipeline");
        assert_eq!(run.args, json!([]));
        assert_eq!(run.event, Value::Null);
        let run = Run::parse(json!({ "source": "s", "function": "f", "args": {"a": 1} })).unwrap();
        assert_eq!((run.source.as_str(), run.function.as_str()), ("s", "f"));
        assert_eq!(run.args, json!({ "a": 1 }));
        // Checked before the run takes a slot or a rate-limit token.
        for (params, param) in [
            (json!({ "function": "f" }), "source"),
            (json!({ "source": "s" }), "function"),
            (json!({ "source": "s", "function": 1 }), "function"),
        ] {
            match Run::parse(params) {
                Err(DaemonError::MissingString { param: p }) => assert_eq!(p, param),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn subscriptions_events_config_and_grants_read_as_sent() {
        assert_eq!(
            Subscribe::parse(json!({ "modules": "*" })).unwrap(),
            Subscribe::All
        );
        assert_eq!(
            Subscribe::parse(json!({ "modules": [] })).unwrap(),
            Subscribe::Modules(Vec::new())
        );
        let sent = r#"{"type":"message","text":"hi","n":1.5,"big":18446744073709551615,"z":{"b":1,"a":2}}"#;
        let event =
            DeliverEvent::parse(json!({ "event": serde_json::from_str::<Value>(sent).unwrap() }))
                .unwrap();
        assert_eq!(event.kind, "message");
        assert_eq!(
            event.event.to_string(),
            sent,
            "passed on as sent, key order kept"
        );
        let configure = Configure::parse(json!({
            "name": "m", "values": { "b": 1, "a": null }, "secret": ["b", "b"]
        }))
        .unwrap();
        assert_eq!(configure.values.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(configure.secret, BTreeSet::from(["b".to_string()]));
        let grant = GrantRequest::parse(json!({
            "user": "@a", "module": "m", "command": "c", "expires_in_seconds": 0.5
        }))
        .unwrap();
        assert_eq!(grant.command.as_deref(), Some("c"));
        assert_eq!(grant.expires_in_seconds, Some(0.5));
        let forever =
            GrantRequest::parse(json!({ "user": "@a", "module": "m", "expires_in_seconds": null }))
                .unwrap();
        assert_eq!(forever.expires_in_seconds, None);
    }
}
