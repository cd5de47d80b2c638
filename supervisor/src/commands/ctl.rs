//! `pyward ctl`: one JSON-RPC request to a running supervisor, for operators.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use super::EXIT_ERROR;

pub fn run(socket: &Path, method: &str, params: &str) -> ExitCode {
    let params: serde_json::Value = match serde_json::from_str(params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pyward ctl: PARAMS is not valid JSON: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match request(socket, method, params) {
        Ok(message) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&message).unwrap_or_default()
            );
            if message.get("error").is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("pyward ctl: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `pyward status`: the supervisor's health at a glance.
pub fn status(socket: &Path, json: bool) -> ExitCode {
    let health = match request(socket, "health", serde_json::json!({})) {
        Ok(message) if message.get("result").is_some() => message["result"].clone(),
        Ok(message) => {
            eprintln!(
                "pyward status: the supervisor refused: {}",
                message["error"]["message"]
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("pyward status: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&health).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let modules = health["modules"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<20} {:<10} {:>6} {:>7} {:>8}  {:<11}  LAST VIOLATION",
        "MODULE", "TIER", "SCORE", "CALLS", "FAILURES", "STATE"
    );
    for m in &modules {
        let h = &m["health"];
        let state = if h["quarantined"] == true {
            "QUARANTINED"
        } else if m["worker"].is_null() {
            "idle"
        } else {
            "running"
        };
        println!(
            "{:<20} {:<10} {:>6.1} {:>7} {:>8}  {:<11}  {}",
            m["name"].as_str().unwrap_or("?"),
            m["tier"].as_str().unwrap_or("?"),
            h["score"].as_f64().unwrap_or(0.0),
            m["calls"].as_u64().unwrap_or(0),
            h["consecutive_failures"].as_u64().unwrap_or(0),
            state,
            h["last_violation"].as_str().unwrap_or("-"),
        );
    }
    if modules.is_empty() {
        println!("(no modules loaded)");
    }
    let machine = &health["machine"];
    let yes = |v: &serde_json::Value| {
        if v == &serde_json::Value::Bool(true) {
            "yes"
        } else {
            "no"
        }
    };
    println!();
    println!(
        "layers: landlock {}, seccomp {}, user namespaces {}, per-worker cgroups {}, running as root {}",
        machine["landlock_abi"]
            .as_u64()
            .map_or("no".to_string(), |a| format!("ABI {a}")),
        yes(&machine["seccomp_filter"]),
        yes(&machine["user_namespaces"]),
        match &health["cgroups"] {
            serde_json::Value::Null => "no".to_string(),
            c => format!(
                "yes (kill {}, memory.max {}, pids.max {})",
                yes(&c["kill"]),
                yes(&c["memory_max"]),
                yes(&c["pids_max"])
            ),
        },
        yes(&machine["running_as_root"]),
    );
    ExitCode::SUCCESS
}

/// One request; host calls that arrive meanwhile are refused (an operator's shell cannot act
/// for the bot).
fn request(
    socket: &Path,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let request =
        serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    // A supervisor that refuses this peer answers and closes at once; the write may then fail,
    // but its answer is still there to read.
    let _ = writeln!(stream, "{request}");
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Err("the supervisor closed the connection".into()),
            Ok(_) => {}
        }
        let message: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if message["method"] == "host.call" {
            let refusal = serde_json::json!({ "jsonrpc": "2.0", "id": message["id"], "error": { "code": -32000, "message": "pyward ctl cannot answer host calls" } });
            let _ = writeln!(stream, "{refusal}");
            continue;
        }
        return Ok(message);
    }
}
