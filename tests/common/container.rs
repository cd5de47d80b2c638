//! A booted systemd to test the units in: `systemd-nspawn --boot` on the cached rootfs that
//! `scripts/systemd-rootfs` prepares, as an ephemeral overlay (`--volatile=overlay`: writes go
//! to a tmpfs and vanish with the container, so the cache stays clean). There is no systemd on
//! the host to register with (`--register=no --keep-unit`), so `machinectl` cannot reach the
//! container: commands run inside with `nsenter` into every namespace of its PID 1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::daemon::processes;
use super::repo_root;

/// What `sh -c` runs with inside: nothing of the test's environment leaks in.
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Container {
    nspawn: Child,
    /// The container's PID 1 (systemd), as the host sees it.
    pub init: u32,
    /// Its pid namespace, to tell it from a later process that reuses the pid.
    pid_ns: Option<PathBuf>,
    log: PathBuf,
}

/// `scripts/systemd-rootfs`: the cached rootfs (debootstrap on the first run). `Err` says why
/// it could not be had, with the script's output.
pub fn rootfs() -> Result<PathBuf, String> {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/systemd-rootfs"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run scripts/systemd-rootfs: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        return Err(format!(
            "scripts/systemd-rootfs failed ({}): {stderr}",
            out.status
        ));
    }
    Ok(PathBuf::from(path))
}

impl Container {
    /// Boot `rootfs` with `binds` (host path, path inside) mounted read-only, and wait until
    /// systemd reports `running`. `Err` carries systemd-nspawn's output.
    pub fn boot(name: &str, rootfs: &Path, binds: &[(&Path, &str)]) -> Result<Container, String> {
        let log =
            std::env::temp_dir().join(format!("pyward-nspawn-{name}-{}.log", std::process::id()));
        let mut cmd = Command::new("systemd-nspawn");
        cmd.args([
            "--quiet",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--volatile=overlay",
            "--link-journal=no",
            "--console=read-only",
            // systemd-nspawn (252) confines the container with its own seccomp allowlist, which
            // lacks Landlock's system calls: inside, they fail with EPERM and every worker
            // would refuse to start. Allowing them is what a real nspawn deployment needs too.
            "--system-call-filter=landlock_create_ruleset landlock_add_rule landlock_restrict_self",
        ])
        .arg(format!("--machine=pyward-{name}-{}", std::process::id()))
        .arg("--directory")
        .arg(rootfs);
        for (host, inside) in binds {
            cmd.arg(format!("--bind-ro={}:{inside}", host.display()));
        }
        let nspawn = cmd
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .map_err(|e| format!("cannot run systemd-nspawn: {e}"))?;
        let mut container = Container {
            init: 0,
            pid_ns: None,
            nspawn,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        // PID 1 of the container is the child of systemd-nspawn that is pid 1 in its own
        // namespace (NSpid: <host pid> 1).
        while container.init == 0 {
            let me = container.nspawn.id();
            container.init = processes()
                .into_iter()
                .filter(|p| p.1 == me)
                .map(|p| p.0)
                .find(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                        s.lines().any(|l| {
                            l.starts_with("NSpid:") && l.split_whitespace().last() == Some("1")
                        })
                    })
                })
                .unwrap_or(0);
            if container.init != 0 {
                container.pid_ns =
                    std::fs::read_link(format!("/proc/{}/ns/pid", container.init)).ok();
            } else if container.nspawn.try_wait().unwrap().is_some() || Instant::now() > deadline {
                return Err(format!(
                    "systemd-nspawn did not start a container: {}",
                    container.log()
                ));
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Then wait for it to be systemd, for systemd to answer (before its bus is up,
        // `is-system-running` fails or says `offline` at once), and to finish booting.
        let state = loop {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", container.init));
            let state = if comm.is_ok_and(|c| c.trim() == "systemd") {
                container.sh_status("timeout 60 systemctl is-system-running --wait")
            } else {
                String::new()
            };
            let state = state.trim().to_string();
            if ["running", "degraded", "maintenance", "stopping"].contains(&state.as_str()) {
                break state;
            }
            if container.nspawn.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break state;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if state != "running" {
            let failed = container.sh_status("systemctl --failed --no-pager");
            return Err(format!(
                "systemd in the container is `{state}`, not running:\n{failed}\n{}",
                container.log()
            ));
        }
        Ok(container)
    }

    /// Run `script` with `sh -c` inside the container, as root in every one of its namespaces
    /// (root directory and working directory included), with an empty environment but PATH.
    pub fn exec(&self, script: &str) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-a", "--", "env", "-i", PATH])
            .args([
                "SYSTEMD_COLORS=0",
                "SYSTEMD_PAGER=",
                "LANG=C.UTF-8",
                "sh",
                "-c",
                script,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("nsenter runs")
    }

    /// `script`'s stdout; panics with its output if it fails.
    pub fn sh(&self, script: &str) -> String {
        let out = self.exec(script);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "in the container, `{script}` failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `script`'s stdout and stderr, whatever its exit status.
    pub fn sh_status(&self, script: &str) -> String {
        let out = self.exec(script);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// A path inside the container, as the host reaches it (through PID 1's root).
    pub fn path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{inside}", self.init))
    }

    /// The host pid of each process in the container's pid namespace, with its pid there.
    pub fn processes(&self) -> Vec<(u32, u32)> {
        let ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let ours = ns(self.init);
        processes()
            .into_iter()
            .filter(|p| ours.is_some() && ns(p.0) == ours)
            .filter_map(|p| {
                let status = std::fs::read_to_string(format!("/proc/{}/status", p.0)).ok()?;
                let inner = status
                    .lines()
                    .find(|l| l.starts_with("NSpid:"))?
                    .split_whitespace()
                    .last()?
                    .parse()
                    .ok()?;
                Some((p.0, inner))
            })
            .collect()
    }

    /// The host pid of the process that is `inner` in the container.
    pub fn host_pid(&self, inner: u32) -> Option<u32> {
        self.processes()
            .into_iter()
            .find(|p| p.1 == inner)
            .map(|p| p.0)
    }

    pub fn log(&self) -> String {
        format!(
            "systemd-nspawn's output:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Shut the container down: SIGTERM makes systemd-nspawn ask PID 1 to power off. If that
    /// has not ended it within 10 s (a container told to stop while still booting may not
    /// listen), SIGKILL its PID 1, which ends every process in the container: killing
    /// systemd-nspawn alone would leave the container running. Returns how long it took.
    pub fn stop(&mut self) -> Duration {
        let started = Instant::now();
        let exited = |nspawn: &mut Child, limit: Duration| {
            let deadline = Instant::now() + limit;
            loop {
                if nspawn.try_wait().unwrap().is_some() {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        if self.nspawn.try_wait().unwrap().is_none() {
            let _ = pyward_worker::sys::kill(self.nspawn.id() as i32, libc::SIGTERM);
        }
        if !exited(&mut self.nspawn, Duration::from_secs(10)) {
            self.kill_init();
            if !exited(&mut self.nspawn, Duration::from_secs(5)) {
                let _ = self.nspawn.kill();
            }
        }
        let _ = self.nspawn.wait();
        // systemd-nspawn may have gone without taking the container with it.
        self.kill_init();
        started.elapsed()
    }

    /// SIGKILL the container's PID 1 (and so everything in its pid namespace), if it is
    /// still the process we booted.
    fn kill_init(&self) {
        let ns = std::fs::read_link(format!("/proc/{}/ns/pid", self.init)).ok();
        if self.init != 0 && ns.is_some() && ns == self.pid_ns {
            let _ = pyward_worker::sys::kill(self.init as i32, libc::SIGKILL);
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
