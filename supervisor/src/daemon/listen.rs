//! `pyward serve`: start-up (the zygote and the machine probe before any thread exists), the
//! listening socket (bound, or passed by systemd), the timers, signals, and admission: clients
//! are authenticated by their peer credentials and mapped to a role before anything is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pyward_policy::Policy;
use pyward_policy::config::Role;
use pyward_worker::cgroup::CgroupRoot;
use pyward_worker::zygote::ZygoteClient;
use serde_json::{Value, json};
use tokio::net::{UnixListener, UnixStream};

use super::connection::{PeerSlot, connection};
use super::error::DaemonError;
use super::events::fire;
use super::peers::Refusal;
use super::reload::{reload_modules, reload_policy};
use super::rpc::{self, RpcError};
use super::state::{State, lock, now_ms};
use super::store::Store;

/// How often due schedules are looked for: the precision a schedule fires with.
const SCHEDULE_TICK: Duration = Duration::from_millis(200);

/// How often health scores after successful calls are written (docs/protocol.md says every two
/// seconds): a write per call would cost a disk sync per call; failures are written at once.
const HEALTH_FLUSH_EVERY: Duration = Duration::from_secs(2);

/// How often ended refusal windows are written as audit records: a refused peer's records are
/// at most this late, and a flood of refusals costs one write per window.
const REFUSALS_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How long the accept loop waits before trying again when out of descriptors: long enough not
/// to spin while none is free, short enough that a freed one is used soon.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serve until SIGTERM or SIGINT; SIGHUP reloads the policy file. `config` is the policy file (the zygote reads the same one).
pub fn run(policy: Policy, config: Option<&Path>, socket: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    // INVARIANT: the zygote is started before the tokio runtime exists, while this process is
    // still single-threaded (the zygote itself is exec'd, so this is belt and braces).
    let zygote = ZygoteClient::start(&exe, config)
        .map_err(|e| anyhow::anyhow!("cannot start the zygote: {e}"))?;
    // Probing forks a child, so it too happens before any thread exists.
    let machine = serde_json::to_value(pyward_worker::kernel::probe())?;
    let cgroups = CgroupRoot::detect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let config = config.map(Path::to_path_buf);
    runtime.block_on(serve(
        policy,
        config,
        machine,
        cgroups,
        zygote,
        socket.to_path_buf(),
    ))
}

async fn serve(
    policy: Policy,
    config: Option<PathBuf>,
    machine: Value,
    cgroups: Option<CgroupRoot>,
    zygote: ZygoteClient,
    socket: PathBuf,
) -> anyhow::Result<()> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if socket.exists() && std::env::var_os("LISTEN_FDS").is_none() {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            anyhow::bail!("{} is in use by another supervisor", socket.display());
        }
        std::fs::remove_file(&socket)?;
    }
    // A socket systemd passed belongs to systemd (pyward.socket): its path must outlive this
    // process, or the restarted service would listen on a socket nobody can reach.
    let activated = activated_listener()?;
    let owns_socket_path = activated.is_none();
    let listener = match activated {
        Some(listener) => listener,
        None => {
            let listener = UnixListener::bind(&socket)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                &socket,
                std::fs::Permissions::from_mode(policy.server.socket_mode),
            )?;
            listener
        }
    };
    let store = Store::open(&policy.server.state_dir)?;
    let grants = store.grants()?;
    let stored = store.modules()?;
    let state = Arc::new(State::new(
        policy, config, machine, cgroups, zygote, store, grants,
    ));
    // Reload what was loaded before the restart: scanned again (the policy may have changed),
    // each in a fresh worker; health and quarantine as they were.
    let reload = state.clone();
    tokio::task::spawn_blocking(move || reload_modules(&reload, stored)).await?;
    // Periodic slots missed while the supervisor was down are skipped (one-offs stay due and
    // fire once); then due schedules are fired every 200 ms.
    if let Err(e) = lock(&state.store).skip_missed_periodic(now_ms()) {
        eprintln!(
            "{}",
            json!({ "event": "schedule_failed", "error": e.to_string() })
        );
    }
    let ticking = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SCHEDULE_TICK).await;
            let state = ticking.clone();
            let due =
                tokio::task::spawn_blocking(move || lock(&state.store).take_due(now_ms())).await;
            match due {
                Ok(Ok(due)) => {
                    for due in due {
                        tokio::spawn(fire(ticking.clone(), due));
                    }
                }
                Ok(Err(e)) => {
                    eprintln!(
                        "{}",
                        json!({ "event": "schedule_failed", "error": e.to_string() })
                    );
                }
                Err(_) => {}
            }
        }
    });
    eprintln!(
        "{}",
        json!({ "event": "listening", "socket": socket.display().to_string() })
    );
    // Keep the rate limiter's memory flat however many callers come and go.
    let pruning = state.clone();
    tokio::spawn(async move {
        let every = Duration::from_secs(pruning.policy().rate_limit.window_seconds.max(1));
        loop {
            tokio::time::sleep(every).await;
            lock(&pruning.limiter).prune(now_ms());
        }
    });
    let flushing = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEALTH_FLUSH_EVERY).await;
            let state = flushing.clone();
            let _ = tokio::task::spawn_blocking(move || state.flush_health()).await;
        }
    });
    // Refusal windows that ended are written as one record each, with their count.
    let counting = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFUSALS_FLUSH_EVERY).await;
            let ended = lock(&counting.refusals).expire(now_ms());
            if !ended.is_empty() {
                let state = counting.clone();
                let _ = tokio::task::spawn_blocking(move || state.audit_refusals(ended)).await;
            }
        }
    });
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) => {
                        if !admit(&state, stream) {
                            // A refused peer costs the loop a few syscalls and no disk write;
                            // let the known peers' tasks run before the next one.
                            tokio::task::yield_now().await;
                        }
                    }
                    // Out of file descriptors (or memory): the connection waits in the backlog
                    // and is taken once a descriptor is free. Serving everyone else goes on.
                    Err(e) => {
                        eprintln!("{}", json!({ "event": "accept_failed", "error": e.to_string(), "retry_ms": ACCEPT_RETRY.as_millis() }));
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                }
            }
            _ = hangup.recv() => {
                // SIGHUP: `policy.reload`, as an operator's `systemctl reload` sends it.
                let reloading = state.clone();
                let outcome = tokio::task::spawn_blocking(move || reload_policy(&reloading)).await;
                if let Ok(Err(e)) = outcome {
                    let e = RpcError::from(e);
                    eprintln!("{}", json!({ "event": "reload_failed", "signal": "SIGHUP", "error": e }));
                }
            }
            _ = async { tokio::select! { _ = terminate.recv() => {}, _ = interrupt.recv() => {} } } => {
                // Graceful stop: record health, stop every worker (which removes its cgroup),
                // remove the socket unless systemd passed it.
                let stopping = state.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    stopping.flush_health();
                    let counted = lock(&stopping.refusals).drain();
                    stopping.audit_refusals(counted);
                    let workers: Vec<_> = lock(&stopping.modules).values().map(|m| m.worker.clone()).collect();
                    for worker in workers {
                        drop(lock(&worker).take());
                    }
                })
                .await;
                if owns_socket_path {
                    let _ = std::fs::remove_file(&socket);
                }
                return Ok(());
            }
        }
    }
}

/// The listening socket systemd passed (socket activation: `LISTEN_PID` is us, `LISTEN_FDS`
/// ≥ 1, the socket at fd 3), if any.
fn activated_listener() -> anyhow::Result<Option<UnixListener>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 {
        return Ok(None);
    }
    let fd = pyward_worker::sys::inherited_fd(3)
        .map_err(|e| anyhow::anyhow!("LISTEN_FDS says fd 3 is our socket, but: {e}"))?;
    let listener = std::os::unix::net::UnixListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(Some(UnixListener::from_std(listener)?))
}

/// Map a peer to its role by the policy's client rules; `None` refuses it.
pub(super) fn role_of(policy: &Policy, uid: u32, gid: u32) -> Option<Role> {
    policy
        .clients
        .iter()
        .find(|c| c.uid.is_none_or(|u| u == uid) && c.gid.is_none_or(|g| g == gid))
        .map(|c| c.role)
}

/// Take a new connection: a known peer within its connection budget is served (its own task);
/// any other gets one error line and is closed, without waiting on anything. Refusals are
/// audited once per uid and window, with a count. `false` if it was refused.
fn admit(state: &Arc<State>, stream: UnixStream) -> bool {
    let policy = state.policy();
    let (uid, gid) = match stream.peer_cred() {
        Ok(cred) => (cred.uid(), cred.gid()),
        Err(e) => {
            let e = DaemonError::NoPeerCredentials(e);
            refuse(state, &stream, None, None, Refusal::NoCredentials, e);
            return false;
        }
    };
    let Some(role) = role_of(&policy, uid, gid) else {
        let e = DaemonError::NotAClient { uid, gid };
        refuse(
            state,
            &stream,
            Some(uid),
            Some(gid),
            Refusal::NoClientRule,
            e,
        );
        return false;
    };
    let max = policy.server.max_connections_per_uid;
    let Some(slot) = PeerSlot::take(state, uid, max) else {
        let e = DaemonError::TooManyConnections { uid, max };
        refuse(
            state,
            &stream,
            Some(uid),
            Some(gid),
            Refusal::TooManyConnections,
            e,
        );
        return false;
    };
    let state = state.clone();
    tokio::spawn(connection(state, stream, role, slot));
    true
}

/// One error line, written only if the socket takes it at once, then the connection is
/// dropped. The audit records (if this refusal opens a window) are written off the accept loop.
fn refuse(
    state: &Arc<State>,
    stream: &UnixStream,
    uid: Option<u32>,
    gid: Option<u32>,
    why: Refusal,
    error: DaemonError,
) {
    let mut line = rpc::response(&Value::Null, Err(error.into()));
    line.push('\n');
    let _ = stream.try_write(line.as_bytes());
    let records = lock(&state.refusals).note(uid, gid, why, now_ms());
    if !records.is_empty() {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.audit_refusals(records));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_the_policy() {
        let policy = Policy::from_toml_str(
            "[[clients]]\nuid = 0\nrole = \"admin\"\n[[clients]]\ngid = 1001\nrole = \"bot\"\n",
            "p",
        )
        .unwrap();
        assert_eq!(role_of(&policy, 0, 0), Some(Role::Admin));
        assert_eq!(role_of(&policy, 1000, 1001), Some(Role::Bot));
        assert_eq!(role_of(&policy, 1000, 1000), None);
    }
}
