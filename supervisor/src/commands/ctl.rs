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
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pyward ctl: cannot connect to {}: {e}", socket.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let request =
        serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    // A supervisor that refuses this peer answers and closes at once; the write may then fail,
    // but its answer is still there to read.
    let _ = writeln!(stream, "{request}");
    let mut reader = BufReader::new(stream.try_clone().expect("a socket clones"));
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!("pyward ctl: the supervisor closed the connection");
                return ExitCode::from(EXIT_ERROR);
            }
            Ok(_) => {}
        }
        let message: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if message["method"] == "host.call" {
            // An operator's shell cannot act for the bot.
            let refusal = serde_json::json!({ "jsonrpc": "2.0", "id": message["id"], "error": { "code": -32000, "message": "pyward ctl cannot answer host calls" } });
            let _ = writeln!(stream, "{refusal}");
            continue;
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&message).unwrap_or(line.clone())
        );
        return if message.get("error").is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
    }
}
