//! The good corpus as a bot would use it: every `# call:` line of every module in
//! `tests/corpus/good` runs under the default policy, in order, against one loaded module in
//! the daemon (its key-value store kept by the test's host), and the first call of each module
//! also through `pyward run`. A call line reads
//! `# call: NAME ARGS_JSON => EXPECTED_JSON` (exact result) or
//! `# call: NAME ARGS_JSON ~ "text"` (a string result containing the text, for output that is
//! random or depends on the time).

mod common;

use std::collections::HashMap;

use common::daemon::*;
use common::*;
use serde_json::{Value, json};

const EVENT: &str =
    r#"{"sender": "@alice:example.org", "chat": "!room:example.org", "message_id": "1"}"#;

#[derive(Debug)]
enum Expect {
    Exact(Value),
    Contains(String),
}

#[derive(Debug)]
struct Call {
    name: String,
    args: Value,
    expect: Expect,
}

fn parse_call(line: &str) -> Call {
    let rest = line.trim();
    let (name, rest) = rest.split_once(' ').expect("`# call: NAME ARGS ...`");
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    let args = values
        .next()
        .expect("arguments")
        .unwrap_or_else(|e| panic!("arguments are not JSON ({e}): {line}"));
    let tail = rest[values.byte_offset()..].trim();
    let expect = if let Some(exact) = tail.strip_prefix("=>") {
        Expect::Exact(serde_json::from_str(exact.trim()).unwrap_or_else(|e| panic!("{e}: {line}")))
    } else if let Some(contains) = tail.strip_prefix('~') {
        Expect::Contains(
            serde_json::from_str(contains.trim()).unwrap_or_else(|e| panic!("{e}: {line}")),
        )
    } else {
        panic!("a call line ends in `=> JSON` or `~ \"text\"`: {line}");
    };
    Call {
        name: name.to_string(),
        args,
        expect,
    }
}

fn calls_of(path: &std::path::Path) -> Vec<Call> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# call: "))
        .map(parse_call)
        .collect()
}

fn check(expect: &Expect, got: &Value) -> Result<(), String> {
    match expect {
        Expect::Exact(want) if want == got => Ok(()),
        Expect::Exact(want) => Err(format!("expected {want}, got {got}")),
        Expect::Contains(text) if got.as_str().is_some_and(|s| s.contains(text.as_str())) => Ok(()),
        Expect::Contains(text) => Err(format!("expected a string containing {text:?}, got {got}")),
    }
}

fn modules_with_calls() -> Vec<(std::path::PathBuf, Vec<Call>)> {
    py_files(&corpus("good"))
        .into_iter()
        .map(|p| {
            let calls = calls_of(&p);
            (p, calls)
        })
        .filter(|(_, calls)| !calls.is_empty())
        .collect()
}

#[test]
fn at_least_forty_realistic_modules_say_what_they_answer() {
    let modules = modules_with_calls();
    assert!(
        modules.len() >= 40,
        "only {} good modules have `# call:` lines",
        modules.len()
    );
}

#[test]
fn every_call_answers_as_expected_through_the_daemon() {
    let daemon = Daemon::start("corpus", "");
    let mut c = daemon.client();
    let mut failures = Vec::new();
    for (path, calls) in modules_with_calls() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let loaded = load(&mut c, &name, &file);
        let Some(commands) = loaded["result"]["commands"].as_array() else {
            failures.push(format!("{file}: load failed: {loaded}"));
            continue;
        };
        let commands: Vec<String> = commands
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        let mut store: HashMap<String, Value> = HashMap::new();
        for call in &calls {
            let target = if commands.contains(&call.name) {
                "command"
            } else {
                "function"
            };
            let params = json!({
                "module": name,
                target: call.name,
                "args": call.args,
                "caller": { "user": "@owner" },
                "event": serde_json::from_str::<Value>(EVENT).unwrap(),
            });
            let reply = c.call_with("module.call", params, &mut |host| {
                let key = host["args"]["key"].as_str().unwrap_or_default().to_string();
                match host["call"].as_str().unwrap_or_default() {
                    "kv_get" => store.get(&key).cloned().unwrap_or(Value::Null),
                    "kv_set" => {
                        store.insert(key, host["args"]["value"].clone());
                        Value::Null
                    }
                    "kv_delete" => {
                        store.remove(&key);
                        Value::Null
                    }
                    _ => Value::Null,
                }
            });
            let got = &reply["result"]["result"];
            if reply.get("error").is_some() {
                failures.push(format!("{file} {}: error {}", call.name, reply["error"]));
            } else if let Err(why) = check(&call.expect, got) {
                failures.push(format!("{file} {} {}: {why}", call.name, call.args));
            }
        }
        c.call("module.unload", json!({ "name": name }));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_first_call_of_every_module_answers_through_pyward_run() {
    let mut failures = Vec::new();
    for (path, calls) in modules_with_calls() {
        let call = &calls[0];
        let out = run(pyward().arg("run").arg("--json").arg(&path).args([
            "--call",
            &call.name,
            "--args",
            &call.args.to_string(),
            "--event",
            EVENT,
        ]));
        let json: Value = match serde_json::from_slice(&out.stdout) {
            Ok(json) => json,
            Err(e) => {
                failures.push(format!("{}: no JSON ({e})", path.display()));
                continue;
            }
        };
        if json["status"] != "ok" {
            failures.push(format!(
                "{}: {} {}",
                path.display(),
                json["status"],
                json["detail"]
            ));
        } else if let Err(why) = check(&call.expect, &json["result"]) {
            failures.push(format!("{} {}: {why}", path.display(), call.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
