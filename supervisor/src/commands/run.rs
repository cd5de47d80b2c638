//! `pyward run`: scan a module, run it once in a sandboxed worker, say how it went.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_policy::config::HostCall;
use pyward_policy::scan::{self, Finding};
use pyward_worker::link::{HostCallError, Json};
use pyward_worker::process::WorkerProcess;
use pyward_worker::runtime::{InterpreterLayer, Preload, RuntimeConfig, Target};
use pyward_worker::sandbox::SandboxReport;
use pyward_worker::verdict::{self, Layer, Status, Verdict};
use serde::Serialize;

use super::{EXIT_ERROR, load_policy};
use crate::cli::RunArgs;
use crate::daemon::budget::parse_result;
use crate::daemon::module_state;

/// What `pyward run --json` prints.
#[derive(Debug, Serialize)]
struct RunReport {
    status: Status,
    layer: Option<Layer>,
    detail: String,
    stdout: String,
    result: Option<serde_json::Value>,
    duration_ms: u64,
    /// What the module asked the host to do (replies, messages, log lines).
    host_calls: Vec<serde_json::Value>,
    commands: Vec<String>,
    sandbox: Option<SandboxReport>,
    findings: Vec<Finding>,
}

impl RunReport {
    fn new(verdict: Verdict) -> RunReport {
        RunReport {
            status: verdict.status,
            layer: verdict.layer,
            detail: verdict.detail,
            stdout: String::new(),
            result: None,
            duration_ms: 0,
            host_calls: Vec::new(),
            commands: Vec::new(),
            sandbox: None,
            findings: Vec::new(),
        }
    }
}

pub fn run(args: RunArgs) -> ExitCode {
    let policy = match load_policy(args.config.as_deref()) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let source = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("pyward: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let json = |flag: &str, value: &Option<String>| {
        let Some(text) = value else {
            return Ok(None);
        };
        // Read as a value too: serde_json refuses more than the text's syntax (nesting deeper
        // than 128 levels, lone surrogates), as it always has here.
        serde_json::from_str::<serde_json::Value>(text)
            .and_then(|_| text.parse::<Json>())
            .map(Some)
            .map_err(|e| format!("pyward: {flag} is not valid JSON: {e}"))
    };
    let payload = match (json("--args", &args.args), json("--event", &args.event)) {
        (Ok(args), Ok(event)) => Payload { args, event },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let tier = args
        .tier
        .clone()
        .unwrap_or_else(|| policy.default_tier.clone());
    if !policy.tiers.contains_key(&tier) {
        eprintln!("pyward: no trust tier named `{tier}` in the policy");
        return ExitCode::from(EXIT_ERROR);
    }
    let started = Instant::now();
    let mut report = execute(&policy, &args, payload, &tier, &source);
    report.duration_ms = started.elapsed().as_millis() as u64;
    print_report(&report, args.json);
    if report.status == Status::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `--args` and `--event`, read.
struct Payload {
    args: Option<Json>,
    event: Option<Json>,
}

fn execute(
    policy: &Policy,
    args: &RunArgs,
    payload: Payload,
    tier: &str,
    source: &[u8],
) -> RunReport {
    let name = args
        .file
        .file_stem()
        .map_or("module".into(), |s| s.to_string_lossy().into_owned());
    let kernel_only = args.dangerously_kernel_only_for_tests;
    let skip_scan = args.dangerously_skip_scan || kernel_only || policy.scan.dangerously_skip_scan;
    // What the scanner saw: the parser cross-check compares it with what CPython compiles.
    let mut seen_by_scan = None;
    if !skip_scan {
        let file = scan::scan_source(&args.file.to_string_lossy(), source, &policy.scan);
        seen_by_scan = Some(file.seen_forbidden.clone());
        if !file.is_clean() {
            let first = file
                .findings
                .iter()
                .find(|f| f.severity == scan::Severity::Error)
                .map(|f| format!("line {}: {} ({})", f.line, f.message, f.rule.id()))
                .unwrap_or_default();
            let mut report = RunReport::new(Verdict {
                status: Status::ScanRejected,
                layer: Some(Layer::Scan),
                detail: first,
            });
            report.findings = file.findings;
            return report;
        }
    }
    let Ok(source) = std::str::from_utf8(source) else {
        return RunReport::new(Verdict {
            status: Status::Error,
            layer: Some(Layer::Interpreter),
            detail: "the source is not UTF-8".into(),
        });
    };

    let limits = &policy.sandbox;
    if limits
        .require
        .contains(&pyward_policy::config::Layer::Cgroup)
        && !limits.dangerously_allow_degraded
    {
        return RunReport::new(Verdict {
            status: Status::Error,
            layer: Some(Layer::Cgroup),
            detail: "the policy requires per-worker cgroups (sandbox.require), which only `pyward serve` makes; run the module through the supervisor, or drop cgroup from sandbox.require".into(),
        });
    }
    // A one-shot run warms only what this module imports (before the sandbox: C extensions
    // cannot be loaded after it), not the whole allowlist as the zygote does.
    let preload = match skip_scan {
        // The scan bounded the source's nesting: parsing it again here is safe.
        false => pyward_policy::imports::imports_of(source)
            .map(Preload::Modules)
            .unwrap_or_else(|| Preload::ImportsOf(source.to_string())),
        true => Preload::ImportsOf(source.to_string()),
    };
    let config = RuntimeConfig {
        preload,
        layer: if kernel_only {
            InterpreterLayer::DangerouslyOffForTests
        } else {
            InterpreterLayer::On
        },
        ..RuntimeConfig::from_policy(policy)
    };
    let mut worker = match WorkerProcess::spawn_direct(&config, limits) {
        Ok(worker) => worker,
        Err(failure) => return RunReport::new(verdict::from_failure(&failure, limits)),
    };
    let sandbox = match worker.wait_ready() {
        Ok(sandbox) => sandbox,
        Err(failure) => return RunReport::new(verdict::from_failure(&failure, limits)),
    };
    let deadline = Instant::now() + Duration::from_millis(limits.wall_ms);
    let granted = policy.host_calls(tier);
    let mut host = LocalHost::default();
    let (commands, load_stdout) = match worker.load(&name, source, &granted, deadline) {
        Ok(Ok(loaded)) => {
            let compiled = loaded.identifiers.iter().map(String::as_str);
            if let Some(seen) = &seen_by_scan
                && let Some(finding) = scan::parser_differential(&policy.scan, seen, compiled)
            {
                let mut report = RunReport::new(Verdict {
                    status: Status::ScanRejected,
                    layer: Some(Layer::Scan),
                    detail: format!("{} ({})", finding.message, finding.rule.id()),
                });
                report.findings = vec![finding];
                report.sandbox = Some(sandbox);
                return report;
            }
            (loaded.commands, loaded.stdout)
        }
        Ok(Err(error)) => {
            let mut report = RunReport::new(verdict::from_error(&error));
            if !error.traceback.is_empty() {
                report.detail = format!("{}\n{}", report.detail, error.traceback.trim_end());
            }
            report.sandbox = Some(sandbox);
            return report;
        }
        Err(failure) => {
            let mut report = RunReport::new(verdict::from_failure(&failure, limits));
            report.sandbox = Some(sandbox);
            return report;
        }
    };
    let mut report = RunReport::new(verdict::ok());
    report.sandbox = Some(sandbox);
    report.stdout = load_stdout;
    report.commands = commands.iter().map(|c| c.name.clone()).collect();
    let Some(call) = &args.call else {
        return report;
    };
    let target = if commands.iter().any(|c| &c.name == call) {
        Target::Command(call.clone())
    } else {
        Target::Function(call.clone())
    };
    let call_args = payload.args.unwrap_or_else(|| {
        Json::from_value(&match target {
            Target::Command(_) => serde_json::json!(""),
            Target::Function(_) | Target::Event(_) | Target::Every(_) => serde_json::json!([]),
        })
    });
    let event = payload.event.unwrap_or_else(|| {
        Json::from_value(&serde_json::json!({ "sender": "cli", "chat": "cli", "message_id": "1" }))
    });
    let outcome = worker.call(&target, call_args, event, deadline, &mut |call, args| {
        host.call(call, &args)
    });
    report.host_calls = host.calls;
    match outcome {
        Ok(outcome) => {
            let v = verdict::from_outcome(&outcome);
            report.status = v.status;
            report.layer = v.layer;
            report.detail = v.detail;
            if let Some(error) = &outcome.error
                && report.status == Status::Error
                && !error.traceback.is_empty()
            {
                report.detail = format!("{}\n{}", report.detail, error.traceback.trim_end());
            }
            report.stdout.push_str(&outcome.stdout);
            // A result that cannot be passed on as JSON is an error that says why, never a
            // silent `null`.
            match outcome.result.as_ref().map(parse_result) {
                Some(Ok(value)) => report.result = Some(value),
                Some(Err(detail)) if report.status == Status::Ok => {
                    report.status = Status::Error;
                    report.layer = Some(Layer::Module);
                    report.detail = detail;
                }
                Some(Err(_)) | None => {}
            }
        }
        Err(failure) => {
            let v = verdict::from_failure(&failure, limits);
            report.status = v.status;
            report.layer = v.layer;
            report.detail = v.detail;
        }
    }
    report
}

/// Host calls for a run from the command line: replies and messages are recorded and printed,
/// the key-value store lives for this run only.
#[derive(Default)]
struct LocalHost {
    store: BTreeMap<String, serde_json::Value>,
    calls: Vec<serde_json::Value>,
}

impl LocalHost {
    fn call(&mut self, call: HostCall, args: &Json) -> Result<Json, HostCallError> {
        let name = call.name();
        let args: serde_json::Value = serde_json::from_str(args.get())
            .map_err(|e| HostCallError::failed(format!("bad host call arguments: {e}")))?;
        let answer = match call {
            c if c.is_storage() => module_state::kv_in_memory(&mut self.store, c, &args),
            HostCall::HttpRequest => {
                // Recorded, not made: the broker and its checks live in `pyward serve`.
                self.calls
                    .push(serde_json::json!({ "call": name, "args": args }));
                return Err(HostCallError::denied(
                    "http: `pyward run` makes no HTTP requests; brokered HTTP needs `pyward serve`",
                ));
            }
            _ => {
                self.calls
                    .push(serde_json::json!({ "call": name, "args": args }));
                serde_json::Value::Null
            }
        };
        Ok(Json::from_value(&answer))
    }
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(report).expect("the run report always serialises")
        );
        return;
    }
    print!("{}", report.stdout);
    for call in &report.host_calls {
        println!(
            "[{}] {}",
            call["call"].as_str().unwrap_or("?"),
            call["args"]
        );
    }
    if let Some(result) = &report.result {
        println!("{result}");
    }
    for f in &report.findings {
        eprintln!(
            "{}:{}: {}[{}] {}",
            f.line,
            f.column,
            severity(f),
            f.rule.id(),
            f.message
        );
    }
    let status = serde_json::to_value(report.status).unwrap_or_default();
    let status = status.as_str().unwrap_or("?");
    match &report.layer {
        Some(layer) => eprintln!("pyward: {status} (layer: {layer}): {}", report.detail),
        None => eprintln!("pyward: {status} in {} ms", report.duration_ms),
    }
}

fn severity(f: &Finding) -> &'static str {
    match f.severity {
        scan::Severity::Error => "error",
        scan::Severity::Warning => "warning",
    }
}
