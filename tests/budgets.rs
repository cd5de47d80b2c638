//! Budgets (docs/policy.md, `[server]` and `[budgets]`): one module or one peer cannot make the
//! supervisor hold or do without bound, and a budget that bites says which one it is.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;
use serde_json::{Value, json};

fn call_function(c: &mut Client, module: &str, function: &str) -> Value {
    c.call(
        "module.call",
        json!({ "module": module, "function": function, "caller": { "user": "@owner" } }),
    )
}

fn budget(reply: &Value) -> &str {
    reply["error"]["data"]["budget"].as_str().unwrap_or("")
}

fn load_source(c: &mut Client, name: &str, source: &str) -> Value {
    c.call("module.load", json!({ "name": name, "source": source }))
}

/// The supervisor's resident memory, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kb * 1024
}

/// One line from a raw connection (with its newline stripped), or `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => None,
        Ok(_) => Some(line.trim_end_matches('\n').to_string()),
        Err(e) => panic!("reading a line: {e}"),
    }
}

#[test]
fn a_call_stops_at_its_host_call_budget() {
    let daemon = Daemon::start("host-calls", "[budgets]\nmax_host_calls_per_call = 5\n");
    let mut c = daemon.client();
    // Today's abuse: one call relaying tens of thousands of messages to fifty chats.
    let flood = "import pyward\n\ndef flood():\n    sent = 0\n    for i in range(1000):\n        try:\n            pyward.send_message('chat%d' % (i % 50), 'spam')\n            sent += 1\n        except Exception:\n            pass\n    return sent\n";
    assert!(load_source(&mut c, "flood", flood)["result"].is_object());
    let mut relayed = 0;
    let r = c.call_with(
        "module.call",
        json!({ "module": "flood", "function": "flood", "caller": { "user": "@owner" } }),
        &mut |_| {
            relayed += 1;
            json!(null)
        },
    );
    assert_eq!(reason(&r), "budget_exceeded", "{r}");
    assert_eq!(budget(&r), "budgets.max_host_calls_per_call", "{r}");
    assert_eq!(r["error"]["data"]["limit"], 5, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("raise the budget"),
        "{r}"
    );
    assert_eq!(relayed, 5, "the host saw the budget's worth, no more");
    let audit = audit_records(&mut c);
    assert!(
        audit.iter().any(|a| a["event"] == "budget_exceeded"
            && a["module"] == "flood"
            && a["budget"] == "budgets.max_host_calls_per_call"),
        "{audit:?}"
    );
}

#[test]
fn results_and_host_call_arguments_are_bounded() {
    let daemon = Daemon::start(
        "sizes",
        "[budgets]\nmax_result_bytes = 1000\nmax_host_call_args_bytes = 500\n",
    );
    let mut c = daemon.client();
    let source = "import pyward\n\ndef big():\n    return 'x' * 5000\n\ndef chatty():\n    pyward.log('y' * 2000)\n    return 'done'\n\ndef fine():\n    pyward.log('ok')\n    return 'z' * 100\n";
    assert!(load_source(&mut c, "sizes", source)["result"].is_object());
    let r = call_function(&mut c, "sizes", "big");
    assert_eq!(reason(&r), "budget_exceeded", "{r}");
    assert_eq!(budget(&r), "budgets.max_result_bytes", "{r}");
    let mut relayed = Vec::new();
    let r = c.call_with(
        "module.call",
        json!({ "module": "sizes", "function": "chatty", "caller": { "user": "@owner" } }),
        &mut |p| {
            relayed.push(p.clone());
            json!(null)
        },
    );
    assert_eq!(budget(&r), "budgets.max_host_call_args_bytes", "{r}");
    assert!(
        relayed.is_empty(),
        "nothing too large was relayed: {relayed:?}"
    );
    let r = c.call_with(
        "module.call",
        json!({ "module": "sizes", "function": "fine", "caller": { "user": "@owner" } }),
        &mut |_| json!(null),
    );
    assert_eq!(r["result"]["result"], "z".repeat(100), "{r}");
}

#[test]
fn what_a_module_declares_is_bounded_at_load() {
    let daemon = Daemon::start("declares", "[budgets]\nmax_command_name_bytes = 10\n");
    let mut c = daemon.client();
    // Today's abuse: a 2 MB help text in every module.list and health answer.
    let huge_help = "import pyward\n\n@pyward.command('ping', security='everyone', help='h' * 2000000)\ndef ping(event, args):\n    return 'pong'\n";
    let r = load_source(&mut c, "helpful", huge_help);
    assert_eq!(budget(&r), "budgets.max_help_bytes", "{r}");
    let many = "import pyward\n\ndef make(i):\n    @pyward.command('c%d' % i, security='everyone')\n    def handler(event, args):\n        return i\n    return handler\n\nfor i in range(40):\n    make(i)\n";
    let r = load_source(&mut c, "many", many);
    assert_eq!(budget(&r), "budgets.max_commands", "{r}");
    let long_name = "import pyward\n\n@pyward.command('averyverylongname', security='everyone')\ndef ping(event, args):\n    return 'pong'\n";
    let r = load_source(&mut c, "named", long_name);
    assert_eq!(budget(&r), "budgets.max_command_name_bytes", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budgets.max_command_name_bytes"),
        "{r}"
    );
    assert!(
        c.call("module.list", json!({}))["result"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing over a budget was loaded"
    );
    c.send_line(r#"{"jsonrpc": "2.0", "id": "h", "method": "health", "params": {}}"#);
    let mut line = String::new();
    c.reader.read_line(&mut line).unwrap();
    assert!(line.len() < 64 * 1024, "health is {} bytes", line.len());
}

#[test]
fn results_pyward_cannot_pass_on_are_errors_not_null() {
    let daemon = Daemon::start("deep", "");
    let mut c = daemon.client();
    let source = "def deep():\n    value = []\n    for _ in range(150):\n        value = [value]\n    return value\n\ndef nan():\n    return float('nan')\n\ndef fine():\n    value = []\n    for _ in range(100):\n        value = [value]\n    return value\n";
    assert!(load_source(&mut c, "deep", source)["result"].is_object());
    let r = call_function(&mut c, "deep", "deep");
    assert_eq!(reason(&r), "module_error", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nested more than 128 levels"),
        "{r}"
    );
    let r = call_function(&mut c, "deep", "nan");
    assert_eq!(reason(&r), "module_error", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("NaN"),
        "{r}"
    );
    let r = call_function(&mut c, "deep", "fine");
    assert!(r["result"]["result"].is_array(), "{r}");
    // One-shot runs too.
    let r = c.call("run", json!({ "source": source, "function": "deep" }));
    assert_eq!(reason(&r), "module_error", "{r}");
}

#[test]
fn no_answer_is_longer_than_the_line_limit() {
    let daemon = Daemon::start_with("lines", "max_line_bytes = 4096", "");
    let mut c = daemon.client();
    for i in 0..20 {
        let user = format!("@user{i}-{}", "x".repeat(300));
        assert!(
            c.call("acl.grant", json!({ "user": user, "module": "calc" }))["result"].is_object()
        );
    }
    c.send_line(r#"{"jsonrpc": "2.0", "id": 7, "method": "acl.list", "params": {}}"#);
    let mut line = String::new();
    c.reader.read_line(&mut line).unwrap();
    assert!(line.len() <= 4096, "a line of {} bytes", line.len());
    let r: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(r["id"], 7, "{r}");
    assert_eq!(budget(&r), "server.max_line_bytes", "{r}");
    assert_eq!(r["error"]["data"]["limit"], 4096, "{r}");

    // A host call whose line would be too long is refused before it is sent.
    let source = "import pyward\n\ndef chatty():\n    pyward.log('y' * 4000)\n    return 'done'\n\ndef big():\n    return 'x' * 5000\n";
    assert!(load_source(&mut c, "chatty", source)["result"].is_object());
    let r = c.call(
        "module.call",
        json!({ "module": "chatty", "function": "chatty", "caller": { "user": "@owner" } }),
    );
    assert_eq!(budget(&r), "server.max_line_bytes", "{r}");
    let r = c.call(
        "module.call",
        json!({ "module": "chatty", "function": "big", "caller": { "user": "@owner" } }),
    );
    assert_eq!(budget(&r), "server.max_line_bytes", "{r}");
    assert!(c.call("module.list", json!({}))["result"].is_array());
}

/// Write `health` requests without reading any answer, for `for_how_long`.
fn unread_health_requests(socket: &std::path::Path, for_how_long: Duration) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let batch = r#"{"jsonrpc":"2.0","id":1,"method":"health","params":{}}
"#
    .repeat(100);
    let until = Instant::now() + for_how_long;
    while Instant::now() < until {
        // Blocks (then times out) once the supervisor stops reading: that is the backpressure.
        let _ = s.write(batch.as_bytes());
    }
    s
}

#[test]
fn clients_that_do_not_read_cannot_grow_the_supervisor() {
    let daemon = Daemon::start(
        "unread",
        "[rate_limit]\ncalls_per_window = 100000\nwindow_seconds = 60\n",
    );
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    // Every health answer carries what modules declare: here 32 commands with help texts of
    // 1000 bytes, within the default budgets, about 34 KB an answer.
    let helpful = "import pyward\n\ndef make(i):\n    @pyward.command('c%d' % i, security='everyone', help='h' * 1000)\n    def handler(event, args):\n        return i\n    return handler\n\nfor i in range(32):\n    make(i)\n";
    assert!(load_source(&mut c, "helpful", helpful)["result"].is_object());
    let pid = daemon.child.id();
    let before = rss(pid);
    let abusers: Vec<_> = (0..4)
        .map(|_| {
            let socket = daemon.socket.clone();
            std::thread::spawn(move || unread_health_requests(&socket, Duration::from_secs(3)))
        })
        .collect();
    // Another bot's calls go on meanwhile.
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let started = Instant::now();
        let r = c.call("module.call", json!({ "module": "calc", "command": "calc", "args": "1+1", "caller": { "user": "@other" } }));
        assert_eq!(r["result"]["result"], "2", "{r}");
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let grown = rss(pid).saturating_sub(before);
    let streams: Vec<UnixStream> = abusers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        grown < 64 << 20,
        "the supervisor grew by {} MiB",
        grown >> 20
    );
    assert!(
        slowest < Duration::from_secs(1),
        "another bot waited {slowest:?}"
    );
    // What was answered is whole lines, each an answer or a budget refusal.
    let mut reader = BufReader::new(streams.into_iter().next().unwrap());
    reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..200 {
        let line = read_line(&mut reader).expect("answers");
        let r: Value = serde_json::from_str(&line).unwrap();
        assert!(
            r["result"].is_object() || budget(&r) == "server.max_requests_in_flight",
            "{r}"
        );
    }
}

#[test]
fn requests_in_flight_are_bounded_per_connection() {
    let daemon = Daemon::start_with("in-flight", "max_requests_in_flight = 2", "");
    let mut c = daemon.client();
    let slow = "import time\n\ndef slow():\n    time.sleep(0.5)\n    return 1\n";
    assert!(load_source(&mut c, "slow", slow)["result"].is_object());
    for id in 1..=3 {
        c.send_line(&json!({ "jsonrpc": "2.0", "id": id, "method": "module.call", "params": { "module": "slow", "function": "slow", "caller": { "user": "@owner" } } }).to_string());
    }
    let mut answers: Vec<Value> = (0..3).map(|_| c.read()).collect();
    answers.sort_by_key(|a| a["id"].as_i64());
    assert_eq!(answers[0]["result"]["result"], 1, "{answers:?}");
    assert_eq!(answers[1]["result"]["result"], 1, "{answers:?}");
    assert_eq!(
        budget(&answers[2]),
        "server.max_requests_in_flight",
        "{answers:?}"
    );
}

#[test]
fn a_client_that_reads_nothing_is_closed_after_the_write_timeout() {
    let daemon = Daemon::start_with(
        "stalled",
        "max_queued_bytes_per_connection = 4096\nwrite_timeout_seconds = 1",
        "",
    );
    let stream = unread_health_requests(&daemon.socket, Duration::from_secs(1));
    let log = daemon.dir.join("serve.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("server.write_timeout_seconds")
    {
        assert!(
            Instant::now() < deadline,
            "the stalled client was not closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stream);
    assert!(daemon.client().call("module.list", json!({}))["result"].is_array());
}

/// Start a process as uid/gid 65534 (root only), with the socket's group let in.
fn as_nobody(daemon: &Daemon, program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    std::os::unix::fs::chown(&daemon.socket, Some(0), Some(65534)).unwrap();
    let mut cmd = Command::new(program);
    cmd.uid(65534).gid(65534);
    cmd
}

fn root_only(what: &str) -> bool {
    if pyward_worker::sys::euid() != 0 {
        skip_unless_expected("root", what);
        return false;
    }
    true
}

#[test]
fn connections_and_unfinished_lines_are_bounded_per_uid() {
    if !root_only("a second uid to show that another peer is not affected") {
        return;
    }
    let daemon = Daemon::start_with(
        "per-uid",
        "max_connections_per_uid = 4\nmax_buffered_bytes_per_uid = 3145728",
        "[[clients]]\nuid = 65534\nrole = \"bot\"\n",
    );
    // The probe connection that saw the daemon start counts until the supervisor reads its end.
    std::thread::sleep(Duration::from_millis(300));
    let mut held: Vec<Client> = (0..4).map(|_| daemon.client()).collect();
    for c in &mut held {
        assert!(c.call("module.list", json!({}))["result"].is_array());
    }
    let mut fifth = BufReader::new(UnixStream::connect(&daemon.socket).unwrap());
    fifth
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let refused: Value = serde_json::from_str(&read_line(&mut fifth).unwrap()).unwrap();
    assert_eq!(
        budget(&refused),
        "server.max_connections_per_uid",
        "{refused}"
    );
    assert_eq!(read_line(&mut fifth), None, "and closed");
    // Another peer is not affected.
    let out = run(as_nobody(&daemon, env!("CARGO_BIN_EXE_pyward"))
        .args(["ctl", "--socket"])
        .arg(&daemon.socket)
        .arg("module.list"));
    assert!(out.status.success(), "{}", stdout(&out));

    // Unfinished lines: 900 KB each, without a newline; the uid's fourth goes over 3 MiB.
    let chunk = vec![b'x'; 900 * 1024];
    for c in &mut held[..3] {
        c.writer.write_all(&chunk).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let last = &mut held[3];
    // The supervisor closes this connection part way through: the write may fail.
    let _ = last.writer.write_all(&chunk);
    let closed = last.read();
    assert_eq!(
        budget(&closed),
        "server.max_buffered_bytes_per_uid",
        "{closed}"
    );
    let mut rest = Vec::new();
    let _ = last.reader.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed after the error line");
    // The others finish their lines and are answered.
    let first = &mut held[0];
    first.writer.write_all(b"\n").unwrap();
    let answered = first.read();
    assert_eq!(
        answered["error"]["code"], -32700,
        "not JSON, answered: {answered}"
    );
    let listed = first.call("module.list", json!({}));
    assert!(
        listed["result"].is_array(),
        "{listed}: {}",
        std::fs::read_to_string(daemon.dir.join("serve.log")).unwrap()
    );
}

#[test]
fn refused_peers_are_counted_not_audited_one_by_one() {
    if !root_only("a uid with no client rule to connect as") {
        return;
    }
    let daemon = Daemon::start_with("refused", "refused_audit_window_seconds = 2", "");
    let mut c = daemon.client();
    load(&mut c, "calc", "calc.py");
    let script = "import socket, sys, time\nmade = 0\nuntil = time.time() + 2\nwhile made < 3000 and time.time() < until:\n    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(sys.argv[1])\n        made += 1\n    except OSError:\n        pass\n    s.close()\nprint(made)\n";
    let looping = as_nobody(&daemon, "python3")
        .args(["-c", script])
        .arg(&daemon.socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The real bot's calls go through meanwhile, each well within a second.
    for i in 0..10 {
        let started = Instant::now();
        let mut bot = daemon.client();
        let r = bot.call("module.call", json!({ "module": "calc", "command": "calc", "args": "2+2", "caller": { "user": "@bot" } }));
        assert_eq!(r["result"]["result"], "4", "call {i}: {r}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "call {i} took {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = looping.wait_with_output().unwrap();
    let made: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(made > 100, "the loop connected {made} times");
    // Each window's count is written when it ends.
    std::thread::sleep(Duration::from_millis(3500));
    let refusals: Vec<Value> = audit_records(&mut c)
        .into_iter()
        .filter(|r| r["event"] == "connection_refused")
        .collect();
    assert!(
        refusals.len() <= 6,
        "{} records for {made} refusals",
        refusals.len()
    );
    let counted: u64 = refusals.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, made, "every refusal is counted: {refusals:?}");
    assert!(refusals.iter().all(|r| r["uid"] == 65534), "{refusals:?}");
}

#[test]
fn one_shot_runs_are_rate_limited_and_bounded() {
    let daemon = Daemon::start(
        "one-shots",
        "[rate_limit]\ncalls_per_window = 5\nwindow_seconds = 60\n\n[budgets]\nmax_one_shot_per_connection = 1\nmax_one_shot_workers = 2\n",
    );
    let slow = "import time\n\ndef slow():\n    time.sleep(0.7)\n    return 1\n";
    let run = |id: u64| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "run", "params": { "source": slow, "function": "slow" } }).to_string()
    };
    // Two at once on one connection: the second is refused.
    let mut c = daemon.client();
    c.send_line(&run(1));
    c.send_line(&run(2));
    let answers = [c.read(), c.read()];
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{answers:?}");
    assert_eq!(
        budget(refused[0]),
        "budgets.max_one_shot_per_connection",
        "{answers:?}"
    );
    // Three at once on three connections: two run, the third is refused.
    let mut clients: Vec<Client> = (0..3).map(|_| daemon.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_line(&run(10 + i as u64));
    }
    let answers: Vec<Value> = clients.iter_mut().map(Client::read).collect();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{answers:?}");
    assert_eq!(
        budget(refused[0]),
        "budgets.max_one_shot_workers",
        "{answers:?}"
    );
    // Three runs used the rate limit so far; two more pass, the sixth is over it.
    let quick = json!({ "source": "def f():\n    return 2\n", "function": "f" });
    for _ in 0..2 {
        assert_eq!(c.call("run", quick.clone())["result"]["result"], 2);
    }
    let r = c.call("run", quick);
    assert_eq!(reason(&r), "rate_limited", "{r}");
}

#[test]
fn one_shot_names_are_checked_and_never_act_as_a_loaded_module() {
    let daemon = Daemon::start("one-shot-names", "");
    let mut c = daemon.client();
    let step = "def step():\n    return 1\n";
    for name in ["a/b", "a\u{0}b", "a\nb", "", &"n".repeat(65)] {
        let r = c.call(
            "run",
            json!({ "source": step, "function": "step", "name": name }),
        );
        assert_eq!(reason(&r), "bad_request", "{name:?}: {r}");
        assert_eq!(r["error"]["data"]["param"], "name", "{r}");
    }
    // A loaded module with data in the store pyward keeps for it, scoped by module name.
    let victim = "import pyward\n\ndef write():\n    pyward.kv_set('secret', 'kept')\n\ndef read():\n    pyward.log('read')\n    return pyward.kv_get('secret')\n";
    assert!(load_source(&mut c, "kvvictim", victim)["result"].is_object());
    let w = c.call(
        "module.call",
        json!({ "module": "kvvictim", "function": "write", "caller": { "user": "@owner" } }),
    );
    assert!(w["result"].is_object(), "{w}");
    // A one-shot under the same name tries to read and overwrite it.
    let thief = "import pyward\n\ndef steal():\n    before = pyward.kv_get('secret')\n    pyward.kv_set('secret', 'pwned')\n    pyward.log('tried')\n    return [before, pyward.kv_get('secret')]\n";
    let mut seen = Vec::new();
    let r = c.call_with(
        "run",
        json!({ "source": thief, "function": "steal", "name": "kvvictim" }),
        &mut |p| {
            seen.push(p.clone());
            json!(null)
        },
    );
    assert_eq!(
        r["result"]["result"],
        json!([null, "pwned"]),
        "its own store, for this run only: {r}"
    );
    assert_eq!(seen.len(), 1, "only the log reached the host: {seen:?}");
    assert_eq!(seen[0]["call"], "log");
    assert_eq!(seen[0]["module"], "run:kvvictim", "{seen:?}");
    assert_eq!(seen[0]["origin"], "run", "{seen:?}");
    // The loaded module's host calls say where they come from too, and its data is untouched.
    let r = c.call_with(
        "module.call",
        json!({ "module": "kvvictim", "function": "read", "caller": { "user": "@owner" } }),
        &mut |p| {
            assert_eq!(p["module"], "kvvictim", "{p}");
            assert_eq!(p["origin"], "module", "{p}");
            assert_eq!(p["call"], "log", "storage never reaches the bot: {p}");
            json!(null)
        },
    );
    assert_eq!(r["result"]["result"], "kept", "{r}");
}
