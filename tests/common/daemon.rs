//! A `pyward serve` under test: the real binary on a private socket and state directory, a
//! line-protocol client, and the process table (to check what outlives what).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{corpus, pyward};

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Daemon {
    pub fn start(name: &str, extra_policy: &str) -> Daemon {
        Daemon::start_with(name, "", extra_policy)
    }

    /// `server_extra` goes into the `[server]` table; `extra_policy` after everything else.
    pub fn start_with(name: &str, server_extra: &str, extra_policy: &str) -> Daemon {
        Daemon::start_prepared(name, server_extra, extra_policy, |_| {})
    }

    /// As `start_with`, with `prepare` given the state directory (made, empty) before the
    /// supervisor starts: to mount something there, say.
    pub fn start_prepared(
        name: &str,
        server_extra: &str,
        extra_policy: &str,
        prepare: impl FnOnce(&Path),
    ) -> Daemon {
        let dir = std::env::temp_dir().join(format!("pyward-daemon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("pyward.sock");
        let uid = pyward_worker::sys::uid();
        let policy = format!(
            "[server]\nsocket = \"{}\"\nstate_dir = \"{}\"\n{server_extra}\n\n[[clients]]\nuid = {uid}\nrole = \"admin\"\n\n[acl]\nowners = [\"@owner\"]\nsudos = [\"@sudo\"]\n\n{extra_policy}",
            socket.display(),
            dir.join("state").display()
        );
        let config = dir.join("policy.toml");
        std::fs::write(&config, policy).unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        prepare(&dir.join("state"));
        let child = Daemon::spawn(&dir, &config, &socket);
        Daemon {
            child,
            socket,
            dir,
            config,
        }
    }

    pub fn spawn(dir: &Path, config: &Path, socket: &Path) -> Child {
        let log = dir.join("serve.log");
        let mut child = pyward()
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(socket).is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "the daemon did not start ({exited:?}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// SIGKILL the supervisor (no chance to flush anything) and start it again on the same
    /// state directory.
    pub fn kill9_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = Daemon::spawn(&self.dir, &self.config, &self.socket);
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A graceful stop first (it stops the workers and removes their cgroups), then SIGKILL.
        let _ = pyward_worker::sys::kill(self.child.id() as i32, libc::SIGTERM);
        let stopped = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Client {
    pub writer: UnixStream,
    pub reader: BufReader<UnixStream>,
    next: u64,
}

impl Client {
    pub fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next: 1,
        }
    }

    pub fn send_line(&mut self, line: &str) {
        writeln!(self.writer, "{line}").unwrap();
    }

    pub fn read(&mut self) -> Value {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("the daemon answers");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// Call `method`, answering host calls with `host` until our answer arrives.
    pub fn call_with(
        &mut self,
        method: &str,
        params: Value,
        host: &mut dyn FnMut(&Value) -> Value,
    ) -> Value {
        let id = self.next;
        self.next += 1;
        self.send_line(
            &json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string(),
        );
        loop {
            let message = self.read();
            if message["method"] == "host.call" {
                let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": host(&message["params"]) });
                self.send_line(&answer.to_string());
                continue;
            }
            assert_eq!(message["id"], id, "{message}");
            return message;
        }
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_with(method, params, &mut |p| panic!("unexpected host call {p}"))
    }
}

pub fn load(client: &mut Client, name: &str, file: &str) -> Value {
    let source = std::fs::read_to_string(corpus("good").join(file)).unwrap();
    client.call("module.load", json!({ "name": name, "source": source }))
}

/// Every audit record the supervisor holds (up to 10,000), oldest first.
pub fn audit_records(c: &mut Client) -> Vec<Value> {
    c.call("audit.list", json!({ "limit": 10000 }))["result"]
        .as_array()
        .expect("audit.list answers")
        .clone()
}

pub fn reason(reply: &Value) -> &str {
    reply["error"]["data"]["reason"].as_str().unwrap_or("")
}

/// `(pid, parent pid, state)` of every process, from /proc.
pub fn processes() -> Vec<(u32, u32, char)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name, which may hold spaces: "state ppid ...".
            let mut rest = stat.rsplit_once(") ")?.1.split(' ');
            let state = rest.next()?.chars().next()?;
            Some((pid, rest.next()?.parse().ok()?, state))
        })
        .collect()
}

pub fn descendants_of(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    found.remove(0);
    found
}
