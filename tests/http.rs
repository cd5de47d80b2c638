//! Brokered HTTP end to end: a real `pyward serve`, a real module calling `pyward.http.request`,
//! and real HTTP and HTTPS servers (tests/http_server.py) in a network namespace this test makes
//! (`ip netns`, a veth pair, a private 10.251.x.y address the test's policy lists in
//! `http.allow_cidrs`, a certificate from a CA the test makes with `openssl`). The supervisor
//! stays in the root namespace and reaches the server over the veth. Nothing else is contacted:
//! every other address in here must be refused before a connection is made.
//!
//! Needs root (network namespaces): skipped loudly otherwise, a failure when
//! `PYWARD_TEST_EXPECT` lists `netns`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Client, Daemon, audit_records};
use serde_json::{Value, json};

/// The module under test: every outcome comes back as data.
const MODULE: &str = r#"import pyward

pyward.manifest(http=["api.pyward.test", "evil.test", "SERVER", "127.0.0.1", "0.0.0.0",
                      "169.254.169.254", "::ffff:127.0.0.1", "10.0.0.5"])

def fetch(method, url, body=None, headers=None, timeout=None):
    try:
        r = pyward.http.request(method, url, headers=headers, body=body, timeout=timeout)
    except pyward.SandboxViolation as e:
        return {"refused": str(e)}
    except pyward.http.Error as e:
        return {"error": str(e)}
    return {"status": r.status, "headers": r.headers, "text": r.text, "url": r.url,
            "n": len(r.body), "last": r.body[-1] if r.body else None}

def many(url, n):
    out = []
    for i in range(n):
        try:
            out.append(pyward.http.get(url).status)
        except pyward.SandboxViolation as e:
            out.append(str(e))
    return out
"#;

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) {
    let out = sh(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with the test server in it; removed on drop.
struct TestNet {
    ns: String,
    veth: String,
    /// The server's address (inside the namespace) and the root side's.
    server: String,
    subnet: String,
    dir: PathBuf,
    child: Child,
    _stdin: ChildStdin,
}

impl TestNet {
    fn start() -> Option<TestNet> {
        if pyward_worker::sys::uid() != 0 {
            common::skip_unless_expected("netns", "network namespaces need root");
            return None;
        }
        let pid = std::process::id();
        let ns = format!("pyward-http-{pid}");
        if !sh(&["ip", "netns", "add", &ns]).status.success() {
            common::skip_unless_expected("netns", "`ip netns add` failed");
            return None;
        }
        // A /30 of 10.251.0.0/16 per test process.
        let (third, fourth) = ((pid / 64) % 256, (pid % 64) * 4);
        let subnet = format!("10.251.{third}.{fourth}/30");
        let host = format!("10.251.{third}.{}", fourth + 1);
        let server = format!("10.251.{third}.{}", fourth + 2);
        let veth = format!("pwh{pid}a");
        let peer = format!("pwh{pid}b");
        must(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", &peer,
        ]);
        must(&["ip", "link", "set", &peer, "netns", &ns]);
        must(&["ip", "addr", "add", &format!("{host}/30"), "dev", &veth]);
        must(&["ip", "link", "set", &veth, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", &ns];
            all.extend_from_slice(args);
            must(&all);
        };
        inside(&["ip", "addr", "add", &format!("{server}/30"), "dev", &peer]);
        inside(&["ip", "link", "set", &peer, "up"]);
        inside(&["ip", "link", "set", "lo", "up"]);

        let dir = std::env::temp_dir().join(format!("pyward-http-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make_certificates(&dir, &server);
        let script = common::repo_root().join("tests/http_server.py");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, "/usr/bin/python3", "-I"])
            .arg(&script)
            .args(["--addr", &server, "--cert"])
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready", "the test server did not start");
        let stdin = child.stdin.take().unwrap();
        Some(TestNet {
            ns,
            veth,
            server,
            subnet,
            dir,
            child,
            _stdin: stdin,
        })
    }

    /// The `[tiers.community]` and `[http]` tables of the test policy.
    fn policy(&self, http_extra: &str) -> String {
        let s = &self.server;
        format!(
            r#"[tiers.community]
host_calls = ["reply", "log", "http_request"]
http = true
http_hosts = ["api.pyward.test", "evil.test", "{s}", "127.0.0.1", "0.0.0.0", "169.254.169.254", "::ffff:127.0.0.1", "10.0.0.5"]

[http]
allow_cidrs = ["{subnet}"]
dangerously_allow_plain_http_hosts = ["api.pyward.test", "127.0.0.1", "0.0.0.0", "169.254.169.254", "::ffff:127.0.0.1"]
extra_root_certs = ["{ca}"]
test_only_resolve = {{ "api.pyward.test" = ["{s}"], "evil.test" = ["127.0.0.1"] }}
{http_extra}
"#,
            subnet = self.subnet,
            ca = self.dir.join("ca.pem").display(),
        )
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = sh(&["ip", "link", "del", &self.veth]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a server certificate for `api.pyward.test` and the server's address.
fn make_certificates(dir: &Path, server: &str) {
    let p = |name: &str| dir.join(name).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["openssl", "req", "-x509"];
    ca.extend_from_slice(&ec);
    let (ca_key, ca_pem) = (p("ca.key"), p("ca.pem"));
    ca.extend_from_slice(&[
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        "2",
        "-subj",
        "/CN=pyward test CA",
    ]);
    must(&ca);
    let (key, csr, pem, ext) = (
        p("server.key"),
        p("server.csr"),
        p("server.pem"),
        p("ext.cnf"),
    );
    let mut req = vec!["openssl", "req"];
    req.extend_from_slice(&ec);
    req.extend_from_slice(&[
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=api.pyward.test",
    ]);
    must(&req);
    std::fs::write(
        &ext,
        format!(
            "subjectAltName=DNS:api.pyward.test,IP:{server}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    must(&[
        "openssl",
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &pem,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
}

fn start(name: &str, http_extra: &str) -> Option<(TestNet, Daemon, Client)> {
    let net = TestNet::start()?;
    let daemon = Daemon::start(name, &net.policy(http_extra));
    let mut client = daemon.client();
    // The module's manifest names the hosts it may reach; the admin approves it at load.
    let source = MODULE.replace("SERVER", &net.server.to_string());
    let loaded = client.call(
        "module.load",
        json!({ "name": "web", "source": source, "approve": true }),
    );
    assert!(loaded["error"].is_null(), "{loaded}");
    Some((net, daemon, client))
}

fn call(client: &mut Client, function: &str, args: Value) -> Value {
    let reply = client.call(
        "module.call",
        json!({ "module": "web", "function": function, "args": args, "caller": { "user": "@owner" } }),
    );
    assert!(reply["error"].is_null(), "{reply}");
    reply["result"]["result"].clone()
}

fn fetch(client: &mut Client, method: &str, url: &str) -> Value {
    call(client, "fetch", json!([method, url]))
}

#[test]
fn https_get_and_post_through_a_module() {
    let Some((net, _daemon, mut c)) = start("http-ok", "") else {
        return;
    };
    let got = fetch(&mut c, "GET", "https://api.pyward.test/hello");
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(got["text"], "hello from the test server");
    assert_eq!(got["headers"]["x-test"], "yes");
    assert_eq!(got["headers"]["set-cookie"], "a=1, b=2");

    let posted = call(
        &mut c,
        "fetch",
        json!(["POST", "https://api.pyward.test/echo", "ping é", { "Content-Type": "text/plain", "Authorization": "Bearer t" }]),
    );
    assert_eq!(posted["status"], 200, "{posted}");
    assert_eq!(posted["text"], "ping é");
    assert_eq!(posted["headers"]["x-method"], "POST");
    assert_eq!(posted["headers"]["x-content-type"], "text/plain");

    // Bytes survive the trip; the server's own address (listed in allow_cidrs) works too, as
    // does plain http to a host the policy lists for it.
    let bytes = fetch(&mut c, "GET", &format!("https://{}/bytes", net.server));
    assert_eq!(
        (bytes["n"].clone(), bytes["last"].clone()),
        (json!(256), json!(255)),
        "{bytes}"
    );
    let plain = fetch(&mut c, "GET", "http://api.pyward.test/hello");
    assert_eq!(plain["status"], 200, "{plain}");

    // A redirect that stays within the rules is followed; a 303 after a POST becomes a GET.
    let to = format!("https://{}/echo", net.server);
    let followed = call(
        &mut c,
        "fetch",
        json!(["POST", format!("https://api.pyward.test/redirect?code=303&to={to}"), "x", { "Authorization": "Bearer t" }]),
    );
    assert_eq!(followed["status"], 200, "{followed}");
    assert_eq!(followed["headers"]["x-method"], "GET");
    assert_eq!(
        followed["headers"]["x-auth"], "",
        "credentials do not follow a redirect to another host"
    );
    assert_eq!(followed["url"], to);

    let records = audit_records(&mut c);
    let done: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "http_request")
        .collect();
    assert_eq!(done.len(), 5, "{records:?}");
    assert_eq!(done[0]["module"], "web");
    assert_eq!(done[0]["host"], "api.pyward.test");
    assert_eq!(done[0]["status"], 200);
    assert_eq!(done[0]["bytes"], 26);
}

#[test]
fn every_ssrf_form_is_refused() {
    let Some((net, _daemon, mut c)) = start("http-ssrf", "") else {
        return;
    };
    let s = &net.server;
    let cases: Vec<(String, &str)> = vec![
        (
            "https://api.pyward.test/redirect?to=http://127.0.0.1/".into(),
            "http: `127.0.0.1` is a loopback address (http.allow_cidrs does not list it) (after redirect 1 to `http://127.0.0.1/`)",
        ),
        (
            "https://api.pyward.test/redirect?to=http://[::ffff:127.0.0.1]:8080/".into(),
            "IPv4-mapped IPv6 address",
        ),
        (
            "https://evil.test/".into(),
            "http: `evil.test` resolves to `127.0.0.1`, a loopback address (http.allow_cidrs does not list it)",
        ),
        (
            "http://2130706433/".into(),
            "http: `127.0.0.1` is a loopback address",
        ),
        (
            "http://0177.0.0.1/".into(),
            "http: `127.0.0.1` is a loopback address",
        ),
        (
            "http://0x7f.0.0.1/".into(),
            "http: `127.0.0.1` is a loopback address",
        ),
        (
            "http://[::ffff:127.0.0.1]/".into(),
            "http: `::ffff:127.0.0.1` is an IPv4-mapped IPv6 address",
        ),
        (
            "http://0.0.0.0/".into(),
            "http: `0.0.0.0` is the unspecified address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "http: `169.254.169.254` is a link-local address",
        ),
        (
            "https://10.0.0.5/".into(),
            "http: `10.0.0.5` is a private address (http.allow_cidrs does not list it)",
        ),
        (
            "https://elsewhere.example/".into(),
            "http: `elsewhere.example` is not on the http_hosts list of tier `community`",
        ),
        (
            "https://api.pyward.test/redirect?to=https://elsewhere.example/".into(),
            "is not on the http_hosts list",
        ),
        (format!("http://{s}/hello"), "plain http to"),
        ("file:///etc/passwd".into(), "scheme `file` is not allowed"),
    ];
    for (url, expected) in &cases {
        let got = fetch(&mut c, "GET", url);
        let refused = got["refused"]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: not refused: {got}"));
        assert!(refused.contains(expected), "{url}: {refused}");
    }
    let records = audit_records(&mut c);
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "http_refused")
        .collect();
    assert_eq!(refused.len(), cases.len(), "{records:?}");
    assert_eq!(refused[0]["rule"], "http.allow_cidrs");
    assert!(
        records.iter().all(|r| r["event"] != "http_request"),
        "nothing was fetched"
    );
}

#[test]
fn caps_on_size_time_redirects_and_rate() {
    let extra = "max_response_bytes = 65536\ntimeout_ms = 1500\nmax_redirects = 3\nmax_requests_per_call = 10\nmax_requests_per_minute = 20\n";
    let Some((_net, _daemon, mut c)) = start("http-caps", extra) else {
        return;
    };
    let big = fetch(&mut c, "GET", "https://api.pyward.test/big?n=100000");
    assert!(
        big["refused"]
            .as_str()
            .unwrap_or("")
            .contains("larger than http.max_response_bytes (65536 bytes)"),
        "{big}"
    );
    let stream = fetch(&mut c, "GET", "https://api.pyward.test/stream?n=10000000");
    assert!(
        stream["refused"]
            .as_str()
            .unwrap_or("")
            .contains("http.max_response_bytes"),
        "a body without a length is cut off too: {stream}"
    );
    let fits = fetch(&mut c, "GET", "https://api.pyward.test/big?n=65536");
    assert_eq!(fits["n"], 65536, "{fits}");

    let started = Instant::now();
    let hang = fetch(&mut c, "GET", "https://api.pyward.test/hang");
    assert!(
        hang["error"]
            .as_str()
            .unwrap_or("")
            .contains("within 1500 ms"),
        "{hang}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let short = call(
        &mut c,
        "fetch",
        json!(["GET", "https://api.pyward.test/hang", null, null, 0.3]),
    );
    assert!(
        short["error"]
            .as_str()
            .unwrap_or("")
            .contains("within 300 ms"),
        "{short}"
    );

    let looped = fetch(&mut c, "GET", "https://api.pyward.test/loop");
    assert!(
        looped["refused"]
            .as_str()
            .unwrap_or("")
            .contains("more than 3 redirects (http.max_redirects)"),
        "{looped}"
    );

    // 6 requests so far in this minute. Per call: 10, then refused (before the minute counts).
    let many = call(&mut c, "many", json!(["https://api.pyward.test/hello", 12]));
    let many = many.as_array().unwrap();
    assert!(many[..10].iter().all(|s| s == 200), "{many:?}");
    assert!(
        many[10]
            .as_str()
            .unwrap()
            .contains("http.max_requests_per_call"),
        "{many:?}"
    );
    // 16 this minute: 4 more pass, then the minute is full.
    let more = call(&mut c, "many", json!(["https://api.pyward.test/hello", 8]));
    let more = more.as_array().unwrap();
    assert!(more[..4].iter().all(|s| s == 200), "{more:?}");
    assert!(
        more[4]
            .as_str()
            .unwrap()
            .contains("http.max_requests_per_minute"),
        "{more:?}"
    );
}

/// The test server's own range is reachable only because the policy lists it: without
/// `allow_cidrs`, a name that resolves to it is refused like any private address.
#[test]
fn without_allow_cidrs_the_test_server_itself_is_refused() {
    let Some(net) = TestNet::start() else {
        return;
    };
    let policy = net.policy("").replace(
        &format!("allow_cidrs = [\"{}\"]", net.subnet),
        "allow_cidrs = []",
    );
    let daemon = Daemon::start("http-nocidr", &policy);
    let mut c = daemon.client();
    let source = MODULE.replace("SERVER", &net.server.to_string());
    let loaded = c.call(
        "module.load",
        json!({ "name": "web", "source": source, "approve": true }),
    );
    assert!(loaded["error"].is_null(), "{loaded}");
    let got = fetch(&mut c, "GET", "https://api.pyward.test/hello");
    let expected = format!(
        "`api.pyward.test` resolves to `{}`, a private address",
        net.server
    );
    assert!(
        got["refused"].as_str().unwrap_or("").contains(&expected),
        "{got}"
    );
}
