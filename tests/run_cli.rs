//! `pyward run` end to end: real modules work under the full sandbox (imports happen lazily,
//! inside it), and the JSON report has the documented shape.

mod common;

use common::*;
use serde_json::Value;

fn run_json(args: &[&str]) -> (i32, Value) {
    let out = run(pyward().arg("run").arg("--json").args(args));
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json)
}

#[test]
fn every_good_module_loads_under_the_sandbox() {
    let mut failures = Vec::new();
    for file in py_files(&corpus("good")) {
        let (code, json) = run_json(&[file.to_str().unwrap()]);
        if code != 0 || json["status"] != "ok" {
            failures.push(format!("{}: {}", file.display(), json["detail"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn commands_and_pipeline_functions_return_results() {
    let good = corpus("good");
    let cases: &[(&str, &str, &str, Value)] = &[
        ("calc.py", "calc", "\"(1 + 2) * 3 ** 2\"", Value::from("27")),
        (
            "durations.py",
            "duration",
            "\"1h 30m\"",
            Value::from("1 hour, 30 minutes"),
        ),
        (
            "unit_convert.py",
            "convert",
            "\"10 km to mi\"",
            Value::from("10 km = 6.214 mi"),
        ),
        (
            "hashing.py",
            "hash",
            "\"md5 abc\"",
            Value::from("md5: 900150983cd24fb0d6963f7d28e17f72"),
        ),
        (
            "pipeline_aggregate.py",
            "aggregate",
            "[[{\"region\": \"eu\", \"date\": \"2024-01-05\", \"amount\": \"2.5\"}]]",
            serde_json::json!({"grand_total": 2.5, "groups": [{"region": "eu", "month": "2024-01", "total": 2.5, "count": 1}]}),
        ),
    ];
    for (file, call, args, expected) in cases {
        let path = good.join(file);
        let (code, json) = run_json(&[path.to_str().unwrap(), "--call", call, "--args", args]);
        assert_eq!(code, 0, "{file}: {json}");
        assert_eq!(&json["result"], expected, "{file}");
    }
    // The quieter paths a confined worker still needs: sleep, CPU clock, clock details, a large
    // allocation, recursion that is stopped, an error message.
    let path = good.join("stopwatch.py");
    let (code, json) = run_json(&[
        path.to_str().unwrap(),
        "--call",
        "stopwatch",
        "--args",
        "\"20\"",
    ]);
    assert_eq!(code, 0, "{json}");
    let result = json["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with("slept 2")
            && result.contains("summed 300000 squares")
            && result.contains("recursion bounded")
            && result.ends_with("; True"),
        "{json}"
    );
}

#[test]
fn host_calls_and_output_are_reported() {
    let path = corpus("good").join("async_greeter.py");
    let (_, json) = run_json(&[
        path.to_str().unwrap(),
        "--call",
        "welcome",
        "--args",
        "\"Ann\"",
    ]);
    assert_eq!(json["status"], "ok", "{json}");
    assert_eq!(json["host_calls"][0]["call"], "reply");
    assert_eq!(
        json["host_calls"][0]["args"]["text"],
        "Welcome, Ann! You are guest number 1."
    );
    for key in [
        "status",
        "layer",
        "detail",
        "stdout",
        "result",
        "duration_ms",
        "sandbox",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn a_rejected_module_never_runs() {
    let path = corpus("bad").join("import_os.py");
    let (code, json) = run_json(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(json["status"], "scan_rejected");
    assert_eq!(json["layer"], "scan");
    assert!(json["sandbox"].is_null(), "no worker was started");
    assert_eq!(json["findings"][0]["rule"], "forbidden-import");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let path = corpus("good").join("calc.py");
    let out = run(pyward().args(["run", path.to_str().unwrap(), "--args", "{not json"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--args is not valid JSON"));
    let out = run(pyward().args(["run", "/nonexistent.py"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_policy_requiring_cgroups_is_refused_by_pyward_run() {
    let dir = std::env::temp_dir().join(format!("pyward-run-cgroup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "[sandbox]\nrequire = [\"seccomp\", \"cgroup\"]\n").unwrap();
    let good = corpus("good").join("calc.py");
    let (code, json) = run_json(&["--config", policy.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(json["layer"], "cgroup", "{json}");
    assert!(json["sandbox"].is_null(), "no worker was started");
}

#[test]
fn a_crash_is_reported_as_a_crash_not_as_a_violation() {
    // abort() inside the interpreter (reached without the scan, through the real builtins):
    // SIGABRT is raised by the worker on itself, which seccomp allows; the report must say it
    // crashed, with the signal, and name no seccomp violation.
    let dir = std::env::temp_dir().join(format!("pyward-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("crash.py");
    std::fs::write(
        &module,
        "import json\ndef crash():\n    json.__builtins__['__import__']('os').abort()\n",
    )
    .unwrap();
    let (code, json) = run_json(&[
        module.to_str().unwrap(),
        "--dangerously-skip-scan",
        "--call",
        "crash",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["status"], "error", "{json}");
    assert_eq!(json["layer"], "worker", "{json}");
    let detail = json["detail"].as_str().unwrap();
    assert!(
        detail.contains("signal 6") && detail.contains("not a sandbox violation"),
        "{detail}"
    );
}

/// A result the JSON boundary cannot carry (nested deeper than serde_json's 128 levels, or
/// NaN) is an error that says why, never `ok` with a silent `null`.
#[test]
fn results_that_cannot_be_passed_on_are_errors() {
    let dir = std::env::temp_dir().join(format!("pyward-run-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("deep.py");
    std::fs::write(
        &module,
        "def deep():\n    value = []\n    for _ in range(150):\n        value = [value]\n    return value\n\ndef nan():\n    return float('nan')\n",
    )
    .unwrap();
    let (code, json) = run_json(&[module.to_str().unwrap(), "--call", "deep"]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["status"], "error", "{json}");
    assert_eq!(json["layer"], "module", "{json}");
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("nested more than 128 levels"),
        "{json}"
    );
    let (code, json) = run_json(&[module.to_str().unwrap(), "--call", "nan"]);
    assert_eq!(code, 1, "{json}");
    assert!(json["detail"].as_str().unwrap().contains("NaN"), "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}
