//! The module platform through the real daemon: manifests and approval, the storage pyward
//! keeps, config, events, schedules, files; each with its refusals.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::daemon::*;
use serde_json::{Value, json};

fn load_source(c: &mut Client, name: &str, source: &str, approve: bool) -> Value {
    c.call(
        "module.load",
        json!({ "name": name, "source": source, "approve": approve }),
    )
}

fn call_fn(c: &mut Client, module: &str, function: &str, args: Value) -> Value {
    c.call_with(
        "module.call",
        json!({ "module": module, "function": function, "args": args, "caller": { "user": "@owner" } }),
        &mut |p| panic!("no host call expected here: {p}"),
    )
}

fn events(c: &mut Client, event: &str) -> Vec<Value> {
    audit_records(c)
        .into_iter()
        .filter(|r| r["event"] == event)
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

const WEATHER_V1: &str = "import pyward\n\npyward.manifest(config=['api_key'])\n\ndef key():\n    return pyward.config('api_key')\n";
const WEATHER_V2: &str = "import pyward\n\npyward.manifest(config=['api_key'], schedules=True)\n\ndef key():\n    return ['v2', pyward.config('api_key')]\n";
const WEATHER_V3: &str = "import pyward\n\npyward.manifest(config=['api_key'], storage_kb=0)\n\ndef key():\n    return ['v3', pyward.config('api_key')]\n";

#[test]
fn a_manifest_beyond_the_baseline_waits_for_approval_and_widening_keeps_the_old_version() {
    let mut daemon = Daemon::start("approve", "");
    let mut c = daemon.client();
    // Asks for config: beyond the baseline, so it waits.
    let r = load_source(&mut c, "weather", WEATHER_V1, false);
    assert_eq!(r["result"]["pending_approval"], true, "{r}");
    assert_eq!(r["result"]["running"], false, "{r}");
    assert_eq!(r["result"]["widening"], json!(["config `api_key`"]), "{r}");
    let sha = r["result"]["source_sha256"].as_str().unwrap().to_string();
    assert_eq!(
        reason(&call_fn(&mut c, "weather", "key", json!([]))),
        "not_found"
    );
    let pending = c.call("module.pending", json!({}));
    assert_eq!(pending["result"][0]["name"], "weather", "{pending}");
    // Approving something else than what was reviewed is refused.
    let wrong = c.call(
        "module.approve",
        json!({ "name": "weather", "source_sha256": "00" }),
    );
    assert_eq!(reason(&wrong), "bad_request", "{wrong}");
    let ok = c.call(
        "module.approve",
        json!({ "name": "weather", "source_sha256": sha }),
    );
    assert_eq!(ok["result"]["approval"], "approved_now", "{ok}");
    assert_eq!(ok["result"]["capabilities"]["config"], json!(["api_key"]));
    let approved = events(&mut c, "approved");
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["source_sha256"], sha.as_str());
    c.call(
        "module.configure",
        json!({ "name": "weather", "values": { "api_key": "k1" } }),
    );
    assert_eq!(
        call_fn(&mut c, "weather", "key", json!([]))["result"]["result"],
        "k1"
    );

    // A new version asking for more (schedules) waits; the approved one keeps running.
    let r = load_source(&mut c, "weather", WEATHER_V2, false);
    assert_eq!(r["result"]["pending_approval"], true, "{r}");
    assert_eq!(r["result"]["running"], true, "{r}");
    assert_eq!(r["result"]["widening"], json!(["schedules"]), "{r}");
    assert_eq!(
        call_fn(&mut c, "weather", "key", json!([]))["result"]["result"],
        "k1"
    );
    let list = c.call("module.list", json!({}));
    assert_eq!(
        list["result"][0]["capabilities"]["schedules"], false,
        "{list}"
    );
    assert_eq!(
        list["result"][0]["pending"]["requested"]["schedules"], true,
        "{list}"
    );

    // Asking for less than was approved needs nothing, and replaces what waited.
    let r = load_source(&mut c, "weather", WEATHER_V3, false);
    assert_eq!(r["result"]["approval"], "previously_approved", "{r}");
    assert_eq!(
        call_fn(&mut c, "weather", "key", json!([]))["result"]["result"],
        json!(["v3", "k1"])
    );
    assert!(
        c.call("module.pending", json!({}))["result"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Approvals survive a kill -9: the module comes back, and the approved set still covers v1.
    daemon.kill9_and_restart();
    let mut c = daemon.client();
    assert_eq!(
        call_fn(&mut c, "weather", "key", json!([]))["result"]["result"],
        json!(["v3", "k1"])
    );
    let r = load_source(&mut c, "weather", WEATHER_V1, false);
    assert_eq!(r["result"]["approval"], "previously_approved", "{r}");
    // `approve: true` on load approves (and audits) at once.
    let r = load_source(&mut c, "weather", WEATHER_V2, true);
    assert_eq!(r["result"]["approval"], "approved_now", "{r}");
    assert_eq!(events(&mut c, "approved").len(), 2);
}

#[test]
fn manifests_are_read_statically_and_capped_by_the_tier() {
    let daemon = Daemon::start("manifest", "");
    let mut c = daemon.client();
    // Not constants, not at module level, twice: scan findings with their rule ids.
    for (source, rule) in [
        (
            "import pyward\nHOSTS = ['a.org']\npyward.manifest(http=HOSTS)\n",
            "manifest-not-constant",
        ),
        (
            "import pyward\ndef f():\n    pyward.manifest(schedules=True)\n",
            "manifest-not-module-level",
        ),
        (
            "import pyward\npyward.manifest()\npyward.manifest(schedules=True)\n",
            "manifest-duplicate",
        ),
        (
            "import pyward\npyward.manifest(network=True)\n",
            "manifest-unknown-key",
        ),
        (
            "import pyward\npyward.manifest(events=['telepathy'])\n",
            "manifest-bad-value",
        ),
    ] {
        let r = load_source(&mut c, "m", source, true);
        assert_eq!(reason(&r), "scan_rejected", "{source}: {r}");
        assert_eq!(r["error"]["data"]["findings"][0]["rule"], rule, "{r}");
    }
    // Beyond the community tier: refused even with approve, and audited.
    let r = load_source(
        &mut c,
        "m",
        "import pyward\npyward.manifest(events=['join'], http=['api.example.org'], storage_kb=999999)\n",
        true,
    );
    assert_eq!(reason(&r), "capability_denied", "{r}");
    assert_eq!(r["error"]["code"], 1013);
    assert_eq!(
        r["error"]["data"]["over"].as_array().unwrap().len(),
        3,
        "{r}"
    );
    assert_eq!(events(&mut c, "capability_denied").len(), 1);
    // The trusted tier grants them (HTTP is only approved here: the broker is another piece).
    let r = c.call(
        "module.load",
        json!({ "name": "m", "source": "import pyward\npyward.manifest(events=['join'], http=['api.example.org'])\n", "tier": "trusted", "approve": true }),
    );
    assert_eq!(
        r["result"]["capabilities"]["http"],
        json!(["api.example.org"]),
        "{r}"
    );
    // A handler for an event the manifest does not ask for is refused at load.
    let r = load_source(
        &mut c,
        "n",
        "import pyward\n@pyward.on('message')\ndef f(event):\n    return 1\n",
        true,
    );
    assert_eq!(reason(&r), "capability_denied", "{r}");
    // A manifest within the baseline needs no approval; at run time the manifest call (made
    // while the module loads) does nothing.
    let r = load_source(
        &mut c,
        "plain",
        "import pyward\nX = pyward.manifest\n",
        false,
    );
    assert_eq!(reason(&r), "scan_rejected", "{r}");
    let r = load_source(
        &mut c,
        "plain",
        "import pyward\npyward.manifest(storage_kb=8)\n\ndef f():\n    return 1\n",
        false,
    );
    assert_eq!(r["result"]["approval"], "baseline", "{r}");
    assert_eq!(r["result"]["capabilities"]["storage_kb"], 8, "{r}");
    assert_eq!(
        call_fn(&mut c, "plain", "f", json!([]))["result"]["result"],
        1
    );
    // A host call the manifest does not grant is refused by the supervisor too.
    let r = load_source(
        &mut c,
        "quiet",
        "import pyward\npyward.manifest(host_calls=['log'])\n\ndef f():\n    try:\n        pyward.reply('x')\n    except Exception as e:\n        return type(e).__name__\n",
        false,
    );
    assert_eq!(r["result"]["approval"], "baseline", "{r}");
    assert_eq!(
        call_fn(&mut c, "quiet", "f", json!([]))["result"]["result"],
        "AttributeError",
        "the function does not even exist in the worker"
    );
}

const STORE: &str = r#"import pyward

pyward.manifest(storage_kb=1)

def put(key, value):
    pyward.kv_set(key, value)
    return pyward.kv_get(key)

def careful(key, value):
    try:
        pyward.kv_set(key, value)
    except pyward.BudgetExceeded as e:
        return "refused: " + str(e)
    return "stored"

def keys(prefix):
    return pyward.kv_keys(prefix)

def drop(key):
    return pyward.kv_delete(key)

def get(key):
    return pyward.kv_get(key, "none")
"#;

#[test]
fn storage_is_kept_by_pyward_with_quotas_and_survives_kill_9() {
    let mut daemon = Daemon::start(
        "storage",
        "[storage]\nmax_keys = 3\nmax_value_bytes = 1000\n",
    );
    let mut c = daemon.client();
    assert!(load_source(&mut c, "store", STORE, false)["result"].is_object());
    assert!(load_source(&mut c, "other", STORE, false)["result"].is_object());
    let r = call_fn(&mut c, "store", "put", json!(["a:1", {"n": 1}]));
    assert_eq!(r["result"]["result"], json!({"n": 1}), "{r}");
    call_fn(&mut c, "store", "put", json!(["a:2", 2]));
    call_fn(&mut c, "store", "put", json!(["b", "x"]));
    assert_eq!(
        call_fn(&mut c, "store", "keys", json!(["a:"]))["result"]["result"],
        json!(["a:1", "a:2"])
    );
    // Scoped by module.
    assert_eq!(
        call_fn(&mut c, "other", "get", json!(["a:1"]))["result"]["result"],
        "none"
    );
    // A fourth key: over storage.max_keys. Caught: the module goes on; uncaught: the call
    // fails with budget_exceeded naming the key. Nothing stored either way.
    let r = call_fn(&mut c, "store", "careful", json!(["c", 1]));
    assert!(
        r["result"]["result"]
            .as_str()
            .unwrap()
            .starts_with("refused: "),
        "{r}"
    );
    let r = call_fn(&mut c, "store", "put", json!(["c", 1]));
    assert_eq!(reason(&r), "budget_exceeded", "{r}");
    assert_eq!(r["error"]["data"]["budget"], "storage.max_keys", "{r}");
    // An oversize value, and a total over the module's storage_kb (1 KiB).
    let r = call_fn(&mut c, "store", "put", json!(["b", "y".repeat(1500)]));
    assert_eq!(
        r["error"]["data"]["budget"], "storage.max_value_bytes",
        "{r}"
    );
    call_fn(&mut c, "store", "put", json!(["b", "y".repeat(900)]));
    let r = call_fn(&mut c, "store", "put", json!(["a:2", "z".repeat(900)]));
    assert_eq!(r["error"]["data"]["budget"], "storage_kb", "{r}");
    assert_eq!(
        call_fn(&mut c, "store", "get", json!(["a:2"]))["result"]["result"],
        2,
        "kept"
    );
    assert!(!events(&mut c, "budget_exceeded").is_empty());
    // A kill -9 right after an acknowledged kv_set keeps it.
    assert_eq!(
        call_fn(&mut c, "store", "drop", json!(["a:1"]))["result"]["result"],
        true
    );
    call_fn(&mut c, "store", "put", json!(["a:2", "last"]));
    daemon.kill9_and_restart();
    let mut c = daemon.client();
    assert_eq!(
        call_fn(&mut c, "store", "get", json!(["a:2"]))["result"]["result"],
        "last"
    );
    assert_eq!(
        call_fn(&mut c, "store", "get", json!(["a:1"]))["result"]["result"],
        "none"
    );
    let list = c.call("module.list", json!({}));
    let store = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "store")
        .unwrap();
    assert_eq!(store["storage"]["keys"], 2, "{store}");
    // Unload keeps the data for the next load; purge forgets it.
    c.call("module.unload", json!({ "name": "store" }));
    load_source(&mut c, "store", STORE, false);
    assert_eq!(
        call_fn(&mut c, "store", "get", json!(["b"]))["result"]["result"],
        "y".repeat(900)
    );
    c.call("module.unload", json!({ "name": "store", "purge": true }));
    load_source(&mut c, "store", STORE, false);
    assert_eq!(
        call_fn(&mut c, "store", "get", json!(["b"]))["result"]["result"],
        "none"
    );
}

#[test]
fn config_values_reach_only_declared_keys_and_secrets_never_show() {
    let daemon = Daemon::start("config", "");
    let mut c = daemon.client();
    let source = "import pyward\npyward.manifest(config=['api_key', 'cooldown'])\n\ndef read(key):\n    return pyward.config(key, 'unset')\n";
    assert!(load_source(&mut c, "cfg", source, true)["result"].is_object());
    let secret = "sk-live-0123456789abcdef";
    let r = c.call(
        "module.configure",
        json!({ "name": "cfg", "values": { "api_key": secret, "cooldown": 30 }, "secret": ["api_key"] }),
    );
    assert_eq!(
        r["result"]["config"]["api_key"],
        json!({ "secret": true }),
        "{r}"
    );
    assert_eq!(
        r["result"]["config"]["cooldown"],
        json!({ "value": 30 }),
        "{r}"
    );
    assert_eq!(
        call_fn(&mut c, "cfg", "read", json!(["api_key"]))["result"]["result"],
        secret
    );
    assert_eq!(
        call_fn(&mut c, "cfg", "read", json!(["cooldown"]))["result"]["result"],
        30
    );
    // An undeclared key: refused to the admin, and to the module (a sandbox violation).
    let r = c.call(
        "module.configure",
        json!({ "name": "cfg", "values": { "password": "x" } }),
    );
    assert_eq!(reason(&r), "bad_request", "{r}");
    let r = call_fn(&mut c, "cfg", "read", json!(["password"]));
    assert_eq!(reason(&r), "sandbox_violation", "{r}");
    let r = c.call(
        "module.configure",
        json!({ "name": "cfg", "values": { "cooldown": "x".repeat(5000) } }),
    );
    assert_eq!(
        r["error"]["data"]["budget"], "module_config.max_value_bytes",
        "{r}"
    );
    // null removes a value.
    c.call(
        "module.configure",
        json!({ "name": "cfg", "values": { "cooldown": null } }),
    );
    assert_eq!(
        call_fn(&mut c, "cfg", "read", json!(["cooldown"]))["result"]["result"],
        "unset"
    );
    // The secret is in no listing, no audit record, no log line.
    let list = c.call("module.list", json!({})).to_string();
    assert!(!list.contains(secret), "{list}");
    let audit = c.call("audit.list", json!({ "limit": 10000 })).to_string();
    assert!(audit.contains("configured"), "{audit}");
    assert!(!audit.contains(secret), "{audit}");
    let db = std::process::Command::new("sqlite3")
        .arg(daemon.dir.join("state/state.db"))
        .arg("SELECT record FROM audit")
        .output();
    if let Ok(out) = db {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
    let log = std::fs::read_to_string(daemon.dir.join("serve.log")).unwrap();
    assert!(log.contains("configured"), "{log}");
    assert!(!log.contains(secret), "the secret is in the log");
}

const AFK: &str = r#"import pyward

pyward.manifest(events=["message"])

@pyward.on("message")
def on_message(event):
    if "afk" in event.get("text", ""):
        pyward.reply(event["sender"] + " is away")
        return "replied"
    return None
"#;

const BROKEN: &str = r#"import pyward

pyward.manifest(events=["message"])

@pyward.on("message")
def on_message(event):
    raise ValueError("broken handler")
"#;

#[test]
fn events_go_to_each_module_that_asked_under_its_own_limits() {
    let daemon = Daemon::start(
        "events",
        "[rate_limit]\ncalls_per_window = 2\nwindow_seconds = 60\n",
    );
    let mut c = daemon.client();
    assert!(load_source(&mut c, "afk", AFK, true)["result"].is_object());
    assert!(load_source(&mut c, "broken", BROKEN, true)["result"].is_object());
    // A module that did not ask for events gets none.
    assert!(load_source(&mut c, "calc", "def f():\n    return 1\n", false)["result"].is_object());
    // A bot subscribed for afk gets its host calls; the forwarding connection gets none.
    let mut bot = daemon.client();
    let s = bot.call("host.subscribe", json!({ "modules": ["afk"] }));
    assert_eq!(s["result"]["subscribed"], json!(["afk"]), "{s}");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let message = bot.read();
        assert_eq!(message["method"], "host.call", "{message}");
        bot.send_line(
            &json!({ "jsonrpc": "2.0", "id": message["id"], "result": null }).to_string(),
        );
        tx.send(message["params"].clone()).unwrap();
        bot
    });
    let event = json!({ "type": "message", "chat": "c1", "sender": "@ann", "text": "afk lunch" });
    let r = c.call("module.event", json!({ "event": event }));
    let delivered = r["result"]["delivered"].as_array().unwrap().clone();
    assert_eq!(delivered.len(), 2, "{r}");
    assert_eq!(delivered[0]["module"], "afk");
    assert_eq!(delivered[0]["ok"], true, "{r}");
    assert_eq!(delivered[0]["result"], json!(["replied"]));
    assert_eq!(delivered[1]["module"], "broken");
    assert_eq!(delivered[1]["ok"], false);
    assert_eq!(
        delivered[1]["error"]["data"]["reason"], "module_error",
        "{r}"
    );
    let host = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(host["call"], "reply");
    assert_eq!(host["origin"], "event");
    assert_eq!(host["args"]["text"], "@ann is away");
    let _bot = reader.join().unwrap();
    // Each module's own rate limit (2 a window per sender); broken is quarantined after 3
    // failures in a row, afk goes on.
    let quiet = json!({ "type": "message", "chat": "c1", "sender": "@ann", "text": "hi" });
    let r = c.call("module.event", json!({ "event": quiet }));
    assert_eq!(r["result"]["delivered"][0]["ok"], true, "{r}");
    let r = c.call("module.event", json!({ "event": quiet }));
    assert_eq!(
        r["result"]["delivered"][0]["error"]["data"]["reason"], "rate_limited",
        "{r}"
    );
    // Bad input.
    for bad in [
        json!({ "type": "telepathy" }),
        json!("message"),
        json!({ "type": "message", "text": "x".repeat(20000) }),
    ] {
        let r = c.call("module.event", json!({ "event": bad }));
        assert!(r.get("error").is_some(), "{r}");
    }
}

#[test]
fn schedules_fire_under_budgets_and_after_a_restart() {
    let mut daemon = Daemon::start(
        "schedules",
        "[schedules]\nmin_interval_seconds = 1\nmax_pending_per_module = 2\nsubscriber_wait_ms = 3000\n\n[rate_limit]\ncalls_per_window = 10000\n",
    );
    let mut c = daemon.client();
    let source = r#"import pyward

pyward.manifest(schedules=True, storage_kb=16)

@pyward.every(1)
def tick():
    pyward.kv_set("ticks", pyward.kv_get("ticks", 0) + 1)

def remind(payload):
    pyward.send_message(payload["chat"], payload["text"])
    pyward.kv_set("reminded", payload["text"])

def later(ms, text):
    return pyward.schedule_at(ms, "remind", {"chat": "c1", "text": text})

def get(key):
    return pyward.kv_get(key)

def cancel():
    return pyward.cancel_schedule("remind")
"#;
    assert!(load_source(&mut c, "rem", source, true)["result"].is_object());
    // Periodic: runs with nobody subscribed (it makes no bot call).
    std::thread::sleep(Duration::from_millis(2600));
    let ticks = call_fn(&mut c, "rem", "get", json!(["ticks"]))["result"]["result"].clone();
    assert!(ticks.as_u64().unwrap_or(0) >= 1, "{ticks}");
    // One-offs: in the past is refused (ValueError in the module), more than the cap too.
    let r = call_fn(&mut c, "rem", "later", json!([now_ms() - 1000, "old"]));
    assert_eq!(reason(&r), "module_error", "{r}");
    assert!(
        r["error"]["data"]["detail"]
            .as_str()
            .unwrap()
            .contains("already passed"),
        "{r}"
    );
    let soon = now_ms() + 1500;
    assert!(call_fn(&mut c, "rem", "later", json!([soon, "tea"]))["result"]["result"].is_number());
    call_fn(&mut c, "rem", "later", json!([now_ms() + 600_000, "far"]));
    let r = call_fn(&mut c, "rem", "later", json!([now_ms() + 600_000, "over"]));
    assert_eq!(
        r["error"]["data"]["budget"], "schedules.max_pending_per_module",
        "{r}"
    );
    // Killed before it is due, started again after: the missed one-off fires once at start-up,
    // and its send_message goes to the bot that subscribes (it waits for one).
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1700));
    daemon.child = Daemon::spawn(&daemon.dir, &daemon.config, &daemon.socket);
    std::thread::sleep(Duration::from_millis(500));
    let mut bot = daemon.client();
    bot.call("host.subscribe", json!({ "modules": "*" }));
    let message = bot.read();
    assert_eq!(message["params"]["call"], "send_message", "{message}");
    assert_eq!(message["params"]["origin"], "schedule");
    assert_eq!(message["params"]["args"]["text"], "tea");
    bot.send_line(&json!({ "jsonrpc": "2.0", "id": message["id"], "result": null }).to_string());
    let mut c = daemon.client();
    let deadline = Instant::now() + Duration::from_secs(5);
    while call_fn(&mut c, "rem", "get", json!(["reminded"]))["result"]["result"] != "tea" {
        assert!(Instant::now() < deadline, "the reminder did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        call_fn(&mut c, "rem", "cancel", json!([]))["result"]["result"],
        1,
        "the far one"
    );
}

#[test]
fn periodic_handlers_faster_than_the_policy_allows_are_refused() {
    let daemon = Daemon::start("schedule-min", "");
    let mut c = daemon.client();
    let fast =
        "import pyward\npyward.manifest(schedules=True)\n@pyward.every(5)\ndef f():\n    pass\n";
    let r = load_source(&mut c, "fast", fast, true);
    assert_eq!(
        r["error"]["data"]["budget"], "schedules.min_interval_seconds",
        "{r}"
    );
    let undeclared = "import pyward\n@pyward.every(3600)\ndef f():\n    pass\n";
    let r = load_source(&mut c, "undeclared", undeclared, true);
    assert_eq!(reason(&r), "capability_denied", "{r}");
}

#[test]
fn files_are_relayed_base64_within_their_budget() {
    let daemon = Daemon::start("media", "[media]\nmax_file_bytes = 100000\n");
    let mut c = daemon.client();
    let source = "import pyward\npyward.manifest(host_calls=['send_file', 'reply'])\n\ndef send(n):\n    return pyward.send_file('a.png', b'\\x89PNG' + b'x' * n, 'image/png')\n";
    // send_file is beyond the baseline: it waits for approval, here given with the load.
    let r = load_source(&mut c, "pics", source, false);
    assert_eq!(r["result"]["pending_approval"], true, "{r}");
    let r = load_source(&mut c, "pics", source, true);
    assert_eq!(r["result"]["approval"], "approved_now", "{r}");
    let mut seen = Vec::new();
    let r = c.call_with(
        "module.call",
        json!({ "module": "pics", "function": "send", "args": [90000], "caller": { "user": "@owner" } }),
        &mut |p| {
            seen.push(p.clone());
            json!("sent")
        },
    );
    assert_eq!(r["result"]["result"], "sent", "{r}");
    assert_eq!(seen[0]["call"], "send_file");
    assert_eq!(seen[0]["args"]["mime"], "image/png");
    assert_eq!(seen[0]["args"]["size"], 90004);
    assert!(
        seen[0]["args"]["data"]
            .as_str()
            .unwrap()
            .starts_with("iVBOR")
    );
    let r = c.call_with(
        "module.call",
        json!({ "module": "pics", "function": "send", "args": [200000], "caller": { "user": "@owner" } }),
        &mut |p| panic!("an oversize file reached the bot: {}", p["call"]),
    );
    assert_eq!(r["error"]["data"]["budget"], "media.max_file_bytes", "{r}");
}
