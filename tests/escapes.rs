//! The escape corpus (`tests/escapes/*.py`), each attempt run three times through the real
//! binary: with every layer on (`# scanned:`), with the static scan skipped so that the
//! interpreter and OS layers are proven without it (`# unscanned:`), and with the scan and the
//! interpreter layer both off (`# kernel:`, a test-only switch) so that Landlock, seccomp and
//! the rlimits are proven alone. An attempt counts as refused only if the expected layer stopped
//! it and the evidence checks hold: no file written, the victim file intact, no secret in the
//! output, no connection on any listener, the sentinel process alive, no forbidden host call
//! relayed. Its status must not be `ok`, except in kernel mode where the header says `ok`: a
//! kernel refusal the attack does not check (os.system returning -1 after seccomp refused to
//! fork) is judged by the evidence alone.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::Value;

const DIR: &str = "/tmp/pyward-escape";
const SECRET: &str = "pyward-escape-secret-7f3a9c";
const ENV_SECRET: &str = "pyward-escape-secret-env-51d2";

/// One expected outcome: `status[|status] [@ layer] [~ detail[|detail]]`.
#[derive(Debug)]
struct Expected {
    statuses: Vec<String>,
    layer: Option<String>,
    details: Vec<String>,
}

fn parse_expected(text: &str) -> Expected {
    let (head, detail) = match text.split_once('~') {
        Some((h, d)) => (h, Some(d.trim())),
        None => (text, None),
    };
    let (status, layer) = match head.split_once('@') {
        Some((s, l)) => (s, Some(l.trim().to_string())),
        None => (head, None),
    };
    Expected {
        statuses: status
            .trim()
            .split('|')
            .map(|s| s.trim().to_string())
            .collect(),
        layer,
        details: detail
            .map(|d| {
                d.split('|')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

struct Escape {
    path: PathBuf,
    scanned: Expected,
    unscanned: Expected,
    kernel: Expected,
    evidence: Vec<String>,
}

/// Which layers a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AllLayers,
    ScanSkipped,
    KernelAlone,
}

fn header(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(str::to_string)
        .collect()
}

fn load_corpus() -> Vec<Escape> {
    py_files(&repo_root().join("tests/escapes"))
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let one = |key: &str| {
                header(&text, key)
                    .pop()
                    .unwrap_or_else(|| panic!("{}: no `# {key}:` header", path.display()))
            };
            Escape {
                scanned: parse_expected(&one("scanned")),
                unscanned: parse_expected(&one("unscanned")),
                kernel: parse_expected(&one("kernel")),
                evidence: header(&text, "evidence"),
                path,
            }
        })
        .collect()
}

/// Listeners an escape might reach; each counts what arrives.
struct Listeners {
    hits: Arc<AtomicUsize>,
}

impl Listeners {
    fn start() -> Listeners {
        let hits = Arc::new(AtomicUsize::new(0));
        let tcp = TcpListener::bind("127.0.0.1:47811").expect("bind the TCP bait on 47811");
        let udp = UdpSocket::bind("127.0.0.1:47812").expect("bind the UDP bait on 47812");
        let unix_path = Path::new(DIR).join("listener.sock");
        let _ = std::fs::remove_file(&unix_path);
        let unix = UnixListener::bind(&unix_path).expect("bind the Unix bait");
        set_mode(&unix_path, 0o777);
        let abstract_addr = std::os::unix::net::SocketAddr::from_abstract_name(b"pyward-escape")
            .expect("abstract address");
        let abstract_sock =
            UnixListener::bind_addr(&abstract_addr).expect("bind the abstract bait");
        let tcp_hits = hits.clone();
        std::thread::spawn(move || {
            for _ in tcp.incoming() {
                tcp_hits.fetch_add(1, Ordering::SeqCst);
            }
        });
        for listener in [unix, abstract_sock] {
            let hits = hits.clone();
            std::thread::spawn(move || {
                for _ in listener.incoming() {
                    hits.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        let udp_hits = hits.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while udp.recv(&mut buf).is_ok() {
                udp_hits.fetch_add(1, Ordering::SeqCst);
            }
        });
        Listeners { hits }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The escape directory: writable and readable by the worker's uid, so that only the sandbox
/// (never file permissions) stops what the attacks try.
fn prepare_directory() {
    std::fs::create_dir_all(DIR).unwrap();
    set_mode(Path::new(DIR), 0o1777);
    let secret = Path::new(DIR).join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    set_mode(&secret, 0o644);
    reset_victim();
}

fn reset_victim() {
    let victim = Path::new(DIR).join("victim.txt");
    std::fs::write(&victim, "original").unwrap();
    set_mode(&victim, 0o666);
}

fn run_escape(escape: &Escape, mode: Mode) -> (Value, String) {
    let mut cmd = pyward();
    cmd.arg("run")
        .arg("--config")
        .arg(repo_root().join("tests/escapes/policy.toml"))
        .arg("--json")
        .arg(&escape.path)
        .args(["--call", "attack"])
        .env("PYWARD_ESCAPE_SECRET", ENV_SECRET);
    match mode {
        Mode::AllLayers => {}
        Mode::ScanSkipped => {
            cmd.arg("--dangerously-skip-scan");
        }
        Mode::KernelAlone => {
            cmd.arg("--dangerously-kernel-only-for-tests");
        }
    }
    let out = run(&mut cmd);
    let text = stdout(&out);
    let json: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{}: pyward run printed no JSON ({e}); exit {:?}, stderr {}",
            escape.path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, text)
}

/// Problems with one run, empty when it was refused as expected.
fn judge(
    escape: &Escape,
    expected: &Expected,
    json: &Value,
    raw: &str,
    listeners: &Listeners,
    sentinel: &mut Child,
) -> Vec<String> {
    let mut problems = Vec::new();
    let status = json["status"].as_str().unwrap_or("?");
    let layer = json["layer"].as_str().unwrap_or("");
    let detail = json["detail"].as_str().unwrap_or("");
    if status == "ok" && !expected.statuses.iter().any(|s| s == "ok") {
        problems.push("status ok: the attempt was not refused".to_string());
    }
    if !expected.statuses.iter().any(|s| s == status) {
        problems.push(format!("status {status}, expected {:?}", expected.statuses));
    }
    if let Some(want) = &expected.layer
        && want != layer
    {
        problems.push(format!("stopped by layer {layer:?}, expected {want}"));
    }
    if !expected.details.is_empty() && !expected.details.iter().any(|d| detail.contains(d.as_str()))
    {
        problems.push(format!(
            "detail {detail:?} mentions none of {:?}",
            expected.details
        ));
    }
    for evidence in &escape.evidence {
        let (kind, arg) = evidence.split_once(' ').unwrap_or((evidence, ""));
        match kind {
            "no_file" => {
                if Path::new(arg).exists() {
                    problems.push(format!("{arg} exists: the write got through"));
                    let _ = std::fs::remove_file(arg);
                }
            }
            "file_intact" => {
                let content = std::fs::read_to_string(arg).unwrap_or_default();
                if content != "original" {
                    problems.push(format!("{arg} was changed or removed"));
                }
            }
            "secret_absent" => {
                for secret in [SECRET, ENV_SECRET, "root:"] {
                    if raw.contains(secret) {
                        problems.push(format!("the output contains the secret {secret:?}"));
                    }
                }
            }
            "no_connection" => {
                std::thread::sleep(Duration::from_millis(20));
                if listeners.hits.load(Ordering::SeqCst) != 0 {
                    problems.push("a listener received a connection or datagram".to_string());
                }
            }
            "parent_alive" => {
                if let Ok(Some(status)) = sentinel.try_wait() {
                    problems.push(format!("the sentinel process died: {status}"));
                }
            }
            "no_host_call" => {
                let relayed = json["host_calls"]
                    .as_array()
                    .is_some_and(|calls| calls.iter().any(|c| c["call"] == arg));
                if relayed {
                    problems.push(format!("the host call {arg} was relayed to the host"));
                }
            }
            other => problems.push(format!("unknown evidence kind {other}")),
        }
    }
    problems
}

#[test]
fn every_escape_is_refused_with_all_layers_without_the_scan_and_by_the_kernel_alone() {
    let corpus = load_corpus();
    assert!(
        corpus.len() >= 50,
        "the escape corpus has at least 50 attempts"
    );
    prepare_directory();
    let listeners = Listeners::start();
    let mut sentinel = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let mut failures = Vec::new();
    for escape in &corpus {
        for (mode, expected) in [
            (Mode::AllLayers, &escape.scanned),
            (Mode::ScanSkipped, &escape.unscanned),
            (Mode::KernelAlone, &escape.kernel),
        ] {
            assert!(
                mode == Mode::KernelAlone || !expected.statuses.iter().any(|s| s == "ok"),
                "{}: only the kernel-alone run may expect `ok`",
                escape.path.display()
            );
            reset_victim();
            let (json, raw) = run_escape(escape, mode);
            let problems = judge(escape, expected, &json, &raw, &listeners, &mut sentinel);
            if !problems.is_empty() {
                failures.push(format!(
                    "{} ({mode:?}): {}",
                    escape.path.file_name().unwrap().to_string_lossy(),
                    problems.join("; ")
                ));
            }
        }
    }
    let _ = sentinel.kill();
    let mut leftovers: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["secret.txt", "victim.txt", "listener.sock"].contains(&n.as_str()))
        .collect();
    leftovers.sort();
    assert!(
        leftovers.is_empty(),
        "files appeared in {DIR}: {leftovers:?}"
    );
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
