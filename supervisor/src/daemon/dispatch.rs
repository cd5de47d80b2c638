//! The protocol boundary: each method to its handler, after the role check and with its
//! parameters read (`params`); the handler's [`DaemonError`] becomes the [`RpcError`] the
//! client sees here.

use std::sync::Arc;

use pyward_policy::config::Role;
use serde_json::Value;

use super::connection::Conn;
use super::error::DaemonError;
use super::params::{
    Approve, AuditList, Call, Configure, DeliverEvent, GrantRequest, Load, Release, Run, Subscribe,
    Unload,
};
use super::rpc::RpcError;
use super::state::State;
use super::{audit, calls, events, grants, one_shot, registry, reload};

/// The methods only an admin may call; a bot may call the others (docs/protocol.md, "Who may
/// connect").
const ADMIN_ONLY: &[&str] = &[
    "module.load",
    "module.unload",
    "module.pending",
    "module.approve",
    "module.configure",
    "policy.reload",
    "acl.grant",
    "acl.revoke",
    "audit.list",
    "quarantine.release",
];

/// May `role` call `method`? Checked before its parameters are read.
fn authorize(role: Role, method: &str) -> Result<(), DaemonError> {
    if role == Role::Admin || !ADMIN_ONLY.contains(&method) {
        Ok(())
    } else {
        Err(DaemonError::AdminOnly {
            method: method.to_string(),
        })
    }
}

/// A request's answer; its error, if any, as the client sees it.
pub(super) async fn dispatch(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    handle(state, conn, role, method, params)
        .await
        .map_err(RpcError::from)
}

async fn handle(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    method: &str,
    params: Value,
) -> Result<Value, DaemonError> {
    authorize(role, method)?;
    match method {
        "module.load" => on_blocking_thread(state, Load::parse(params)?, registry::load).await,
        "module.unload" => registry::unload(state, Unload::parse(params)?),
        "module.list" => Ok(Value::Array(registry::list_modules(state))),
        "module.pending" => registry::pending(state),
        "module.approve" => {
            on_blocking_thread(state, Approve::parse(params)?, registry::approve).await
        }
        "module.configure" => {
            on_blocking_thread(state, Configure::parse(params)?, registry::configure).await
        }
        "module.event" => events::deliver_event(state, conn, DeliverEvent::parse(params)?).await,
        "host.subscribe" => events::subscribe(state, conn, Subscribe::parse(params)?),
        "health" => Ok(registry::health(state)),
        "policy.reload" => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || reload::reload_policy(&state)).await?
        }
        "module.call" => calls::call(state, conn, Call::parse(params)?).await,
        "run" => one_shot::run_one_shot(state, conn, Run::parse(params)?).await,
        "acl.grant" => grants::grant(state, GrantRequest::parse(params)?),
        "acl.revoke" => grants::revoke(state, GrantRequest::parse(params)?),
        "acl.list" => Ok(grants::list(state)),
        "audit.list" => audit::list(state, AuditList::parse(params)),
        "quarantine.release" => registry::release(state, Release::parse(params)?),
        other => Err(DaemonError::NoMethod {
            method: other.to_string(),
        }),
    }
}

/// Work that blocks (a worker to start, the database to write) on a blocking thread, so that
/// the connection's task and the others stay free meanwhile.
async fn on_blocking_thread<P: Send + 'static>(
    state: &Arc<State>,
    params: P,
    work: fn(&Arc<State>, P) -> Result<Value, DaemonError>,
) -> Result<Value, DaemonError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state, params)).await?
}

#[cfg(test)]
mod tests {
    use pyward_policy::config::KNOWN_EVENTS;
    use serde_json::json;

    use super::*;
    use crate::daemon::state::lock;
    use crate::daemon::testing::Daemon;

    async fn ask(d: &Daemon, role: Role, method: &str, params: Value) -> Result<Value, RpcError> {
        dispatch(&d.state, &d.conn, role, method, params).await
    }

    /// The error a request gets; it must be one.
    async fn refusal(d: &Daemon, role: Role, method: &str, params: Value) -> RpcError {
        match ask(d, role, method, params.clone()).await {
            Ok(answer) => panic!("{method} {params} was answered: {answer}"),
            Err(e) => e,
        }
    }

    #[test]
    fn bots_may_call_what_the_protocol_says_and_admins_everything() {
        let bot = [
            "module.call",
            "module.event",
            "host.subscribe",
            "run",
            "module.list",
            "health",
            "acl.list",
        ];
        for method in bot {
            assert!(authorize(Role::Bot, method).is_ok(), "{method}");
        }
        for method in ADMIN_ONLY {
            assert!(authorize(Role::Admin, method).is_ok(), "{method}");
            let e = RpcError::from(authorize(Role::Bot, method).unwrap_err());
            assert_eq!(e.code, 1003, "{method}");
            assert_eq!(e.message, format!("{method} needs the admin role"));
            assert_eq!(e.data["reason"], "acl_denied");
            assert_eq!(e.data["method"], *method);
        }
        // An unknown method is not an admin method: everyone is told it does not exist.
        assert!(authorize(Role::Bot, "no.such").is_ok());
    }

    #[tokio::test]
    async fn a_bot_is_refused_admin_methods_before_their_parameters_are_read() {
        let d = Daemon::new("");
        for method in ADMIN_ONLY {
            let e = refusal(&d, Role::Bot, method, json!("not even an object")).await;
            assert_eq!(e.code, 1003, "{method}: {e:?}");
            assert_eq!(e.message, format!("{method} needs the admin role"));
        }
        assert_eq!(d.audited("acl_denied"), 0, "a role refusal is not audited");
        let e = refusal(&d, Role::Bot, "no.such.method", json!({})).await;
        assert_eq!(e.code, -32601);
        assert_eq!(e.message, "no method `no.such.method`");
        assert_eq!(e.data["method"], "no.such.method");
        assert_eq!(
            ask(&d, Role::Bot, "module.list", json!({})).await,
            Ok(json!([]))
        );
    }

    /// Each method's parameter errors: code -32602 (`bad_request`), the message, and the
    /// parameter `data.param` names (`None`: these errors never named one).
    #[tokio::test]
    async fn every_method_names_its_missing_or_wrong_parameter() {
        let d = Daemon::new("");
        let admin = Role::Admin;
        let missing = |p: &str| format!("missing string parameter `{p}`");
        let name_rule = "a module name is 1 to 64 letters, digits, _ and -";
        let grant_lifetime = |v: &str| {
            format!(
                "`expires_in_seconds` must be a number of seconds above 0 and at most 315360000, \
                 not {v}; leave it out for a grant that never expires"
            )
        };
        let cases: Vec<(&str, Value, String, Option<&str>)> = vec![
            ("module.load", json!({}), missing("name"), Some("name")),
            (
                "module.load",
                json!({ "name": 5, "source": "x" }),
                missing("name"),
                Some("name"),
            ),
            (
                "module.load",
                json!(["notes", "x = 1"]),
                missing("name"),
                Some("name"),
            ),
            ("module.load", Value::Null, missing("name"), Some("name")),
            (
                "module.load",
                json!({ "name": "a" }),
                missing("source"),
                Some("source"),
            ),
            (
                "module.load",
                json!({ "approve": "yes", "source": "x = 1", "name": "a" }),
                "`approve` must be true or false".into(),
                Some("approve"),
            ),
            (
                "module.load",
                json!({ "name": "a/b", "source": "x = 1" }),
                name_rule.into(),
                Some("name"),
            ),
            (
                "module.load",
                json!({ "name": "a", "source": "x = 1", "tier": "gold" }),
                "no trust tier `gold`".into(),
                None,
            ),
            ("module.unload", json!({}), missing("name"), Some("name")),
            (
                "module.unload",
                json!({ "name": "a", "purge": 1 }),
                "`purge` must be true or false".into(),
                Some("purge"),
            ),
            (
                "module.approve",
                json!({ "source_sha256": "00" }),
                missing("name"),
                Some("name"),
            ),
            (
                "module.configure",
                json!({ "values": {} }),
                missing("name"),
                Some("name"),
            ),
            (
                "module.configure",
                json!({ "name": "a", "values": [] }),
                "`values` must be an object of config keys and values".into(),
                Some("values"),
            ),
            (
                "module.configure",
                json!({ "name": "a", "values": {}, "secret": "api_key" }),
                "`secret` must be a list of keys".into(),
                Some("secret"),
            ),
            (
                "module.configure",
                json!({ "name": "a", "values": {}, "secret": [1] }),
                "`secret` must be a list of keys".into(),
                Some("secret"),
            ),
            (
                "module.event",
                json!({ "event": "hello" }),
                "`event` must be an object with a `type`".into(),
                Some("event"),
            ),
            (
                "module.event",
                json!({ "event": { "type": "typing" } }),
                format!("`event.type` must be one of {}", KNOWN_EVENTS.join(", ")),
                Some("event"),
            ),
            (
                "host.subscribe",
                json!({}),
                "`modules` must be a list of module names, or \"*\"".into(),
                Some("modules"),
            ),
            (
                "host.subscribe",
                json!({ "modules": "notes" }),
                "`modules` must be a list of module names, or \"*\"".into(),
                Some("modules"),
            ),
            (
                "host.subscribe",
                json!({ "modules": ["notes", 1] }),
                "`modules` must be a list of names, or \"*\"".into(),
                Some("modules"),
            ),
            (
                "host.subscribe",
                json!({ "modules": ["a b"] }),
                name_rule.into(),
                Some("name"),
            ),
            (
                "module.call",
                json!({ "command": "x" }),
                missing("module"),
                Some("module"),
            ),
            (
                "module.call",
                json!({ "module": "m", "caller": "@ann", "command": "x" }),
                "missing `caller.user` (the chat identity calling)".into(),
                Some("caller.user"),
            ),
            (
                "module.call",
                json!({ "module": "m", "caller": { "user": "@ann" } }),
                "give exactly one of `command` or `function`".into(),
                Some("command"),
            ),
            (
                "module.call",
                json!({ "module": "m", "caller": { "user": "@ann" }, "command": "a", "function": "b" }),
                "give exactly one of `command` or `function`".into(),
                Some("command"),
            ),
            (
                "run",
                json!({ "name": 5 }),
                "`name` must be a string".into(),
                Some("name"),
            ),
            (
                "run",
                json!({ "name": "", "source": "x = 1", "function": "f" }),
                name_rule.into(),
                Some("name"),
            ),
            (
                "run",
                json!({ "function": "f" }),
                missing("source"),
                Some("source"),
            ),
            (
                "run",
                json!({ "source": "x = 1" }),
                missing("function"),
                Some("function"),
            ),
            (
                "run",
                json!({ "source": "x = 1", "function": "f", "tier": "gold" }),
                "no trust tier `gold`".into(),
                None,
            ),
            (
                "acl.grant",
                json!({ "module": "m" }),
                missing("user"),
                Some("user"),
            ),
            (
                "acl.grant",
                json!({ "user": "@a" }),
                missing("module"),
                Some("module"),
            ),
            (
                "acl.grant",
                json!({ "user": "@a", "module": "m", "expires_in_seconds": "3600" }),
                grant_lifetime("\"3600\""),
                Some("expires_in_seconds"),
            ),
            (
                "acl.grant",
                json!({ "user": "@a", "module": "m", "expires_in_seconds": 0 }),
                grant_lifetime("0"),
                Some("expires_in_seconds"),
            ),
            (
                "acl.revoke",
                json!({ "user": "@a", "module": "m", "expires_in_seconds": -5 }),
                grant_lifetime("-5"),
                Some("expires_in_seconds"),
            ),
            (
                "acl.revoke",
                json!({ "user": "@a", "module": "m", "expires_in_seconds": 1e12 }),
                grant_lifetime("1000000000000.0"),
                Some("expires_in_seconds"),
            ),
            (
                "quarantine.release",
                json!({ "name": "m" }),
                missing("module"),
                Some("module"),
            ),
        ];
        for (method, params, message, param) in cases {
            let e = refusal(&d, admin, method, params.clone()).await;
            let case = format!("{method} {params}: {e:?}");
            assert_eq!(e.code, -32602, "{case}");
            assert_eq!(e.data["reason"], "bad_request", "{case}");
            assert_eq!(e.message, message, "{case}");
            match param {
                Some(param) => assert_eq!(e.data["param"], param, "{case}"),
                None => assert_eq!(e.data.get("param"), None, "{case}"),
            }
        }
        assert!(
            lock(&d.state.grants).is_empty(),
            "no refused grant was kept"
        );
    }

    #[tokio::test]
    async fn unknown_keys_and_loose_optional_parameters_are_accepted_as_before() {
        let d = Daemon::new("");
        // Unknown keys are ignored: the request gets as far as the missing module.
        let e = refusal(
            &d,
            Role::Admin,
            "module.unload",
            json!({ "name": "ghost", "colour": "blue" }),
        )
        .await;
        assert_eq!(
            (e.code, e.message.as_str()),
            (1001, "no module named `ghost` is loaded")
        );
        // `limit` that is not a whole number reads as absent (100), as it always did.
        let log = ask(&d, Role::Admin, "audit.list", json!({ "limit": "all" })).await;
        assert!(log.expect("audit.list answers").is_array());
        // `null` for an optional string is absent: a grant of the whole module.
        let granted = ask(
            &d,
            Role::Admin,
            "acl.grant",
            json!({ "user": "@a", "module": "m", "command": null }),
        )
        .await
        .expect("granted");
        assert_eq!(
            granted["granted"]["target"],
            json!({ "kind": "module", "module": "m" })
        );
        assert_eq!(d.audited("grant"), 1);
        let revoked = ask(
            &d,
            Role::Admin,
            "acl.revoke",
            json!({ "user": "@a", "module": "m" }),
        )
        .await;
        assert_eq!(revoked, Ok(json!({ "revoked": 1 })));
    }

    #[tokio::test]
    async fn an_optional_string_of_another_type_is_refused_not_read_as_absent() {
        let d = Daemon::new("");
        // Read as absent, each would widen the request: a grant of one command would grant the
        // whole module, an approval pinned to a reviewed source would approve whatever waits.
        let cases = [
            (
                "acl.grant",
                json!({ "user": "@a", "module": "m", "command": 7 }),
                "command",
            ),
            (
                "acl.revoke",
                json!({ "user": "@a", "module": "m", "command": [] }),
                "command",
            ),
            (
                "module.approve",
                json!({ "name": "m", "source_sha256": 1 }),
                "source_sha256",
            ),
            (
                "module.load",
                json!({ "name": "m", "source": "", "tier": {} }),
                "tier",
            ),
            (
                "module.call",
                json!({ "module": "m", "caller": { "user": "@a" }, "function": "f", "command": 1 }),
                "command",
            ),
        ];
        for (method, params, param) in cases {
            let e = refusal(&d, Role::Admin, method, params).await;
            assert_eq!(e.code, -32602, "{method}");
            assert_eq!(e.message, format!("`{param}` must be a string"), "{method}");
            assert_eq!(e.data["param"], json!(param), "{method}");
        }
        assert!(lock(&d.state.grants).is_empty(), "no grant was made");
    }

    #[tokio::test]
    async fn a_refused_load_is_audited_with_its_findings() {
        let d = Daemon::new("");
        let e = refusal(
            &d,
            Role::Admin,
            "module.load",
            json!({ "name": "bad", "source": "eval('1')\n" }),
        )
        .await;
        assert_eq!(e.code, 1002, "{e:?}");
        assert_eq!(e.message, "module `bad` was rejected by the scanner");
        assert_eq!(e.data["findings"][0]["rule"], "forbidden-name", "{e:?}");
        assert_eq!(e.data.get("audit_failed"), None);
        assert_eq!(d.audited("scan_rejected"), 1);
        assert_eq!(d.last_record("scan_rejected")["module"], "bad");
        // Asking for more than the tier can grant: refused even with `approve`, and audited.
        let greedy = "import pyward\npyward.manifest(events=[\"join\"])\n";
        let e = refusal(
            &d,
            Role::Admin,
            "module.load",
            json!({ "name": "greedy", "source": greedy, "approve": true }),
        )
        .await;
        assert_eq!(e.code, 1013, "{e:?}");
        assert_eq!(e.data["module"], "greedy");
        assert_eq!(e.data["tier"], "community");
        assert!(
            e.data["over"].as_array().is_some_and(|o| !o.is_empty()),
            "{e:?}"
        );
        assert_eq!(d.audited("capability_denied"), 1);
        assert!(lock(&d.state.modules).is_empty());
    }
}
