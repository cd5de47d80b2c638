//! `pyward serve`: the socket server. Clients are authenticated by their peer credentials and
//! mapped to a role; every line is one JSON-RPC 2.0 object; each request runs in its own task,
//! so a slow call never blocks the connection (or others). While a module call runs, the
//! supervisor may send the calling connection `host.call` requests, which it answers.
//! State that must survive a restart is in `store`; workers run in per-worker cgroups when the
//! machine delegates them (`cgroup`).
//!
//! Budgets (docs/policy.md): what one peer can make the server hold is bounded per uid
//! (connections, unfinished lines: `peers`) and per connection (answers it has not read:
//! `outbox`; requests in flight); what one call can make it do is bounded per call (`budget`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyward_policy::Policy;
use pyward_policy::acl::{self, Grant, GrantTarget};
use pyward_policy::config::{HostCall, KNOWN_EVENTS, Role};
use pyward_policy::manifest::{self, Capabilities, Manifest};
use pyward_policy::scan;
use pyward_worker::cgroup::{CgroupRoot, WorkerCgroup};
use pyward_worker::link::{HostCallError, Json};
use pyward_worker::process::{WorkerFailure, WorkerProcess};
use pyward_worker::runtime::{CallOutcome, CommandInfo, Loaded, PeriodicInfo, Target};
use pyward_worker::verdict::{self, Layer};
use pyward_worker::zygote::{self, SharedZygote, ZygoteClient};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::budget::{self, Bitten, Exceeded, HostCalls};
use super::http::Broker;
use super::lines::{Line, LineCodec};
use super::module_state;
use super::outbox::{self, Outbox};
use super::peers::{Peers, Refusal, Refusals};
use super::quarantine::Health;
use super::rate_limit::RateLimiter;
use super::rpc::{self, Reason, RpcError};
use super::store::{Pending, Store};
use super::verdicts;

/// How long the supervisor waits for the host to answer one host call (docs/protocol.md tells
/// bots so): a bot answers in milliseconds, and one that has not answered by then is taken to
/// have lost the call; the module's `sandbox.wall_ms` deadline still bounds the whole call.
const HOST_CALL_TIMEOUT: Duration = Duration::from_secs(10);

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

/// How often a host call of an event or schedule looks again for a subscribed bot, within
/// `schedules.subscriber_wait_ms`.
const SUBSCRIBER_POLL: Duration = Duration::from_millis(20);

/// Bytes read from a client at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Longest module (and one-shot) name, in characters.
const MAX_NAME: usize = 64;

/// One loaded module.
struct Module {
    name: String,
    tier: String,
    source: String,
    commands: Vec<CommandInfo>,
    /// What the module runs with: its manifest made concrete, approved, within its tier.
    caps: Capabilities,
    /// Chat events it has handlers for (`@pyward.on`), within `caps.events`.
    events: Vec<String>,
    /// Its periodic handlers (`@pyward.every`).
    periodic: Vec<PeriodicInfo>,
    health: Health,
    calls: u64,
    /// The persistent worker; `None` until first needed, or after it died (it is restarted).
    worker: Arc<Mutex<Option<Worker>>>,
}

/// A worker process and its cgroup, if per-worker groups are available. Fields drop in order:
/// the process is killed and reaped first, then the group is killed and removed.
struct Worker {
    process: WorkerProcess,
    cgroup: Option<WorkerCgroup>,
}

/// Everything the server shares between connections.
struct State {
    /// Swapped whole by `policy.reload`; each operation works on one snapshot.
    policy: std::sync::RwLock<Arc<Policy>>,
    /// The policy file, for `policy.reload` (None: built-in defaults, nothing to re-read).
    config: Option<PathBuf>,
    /// What this machine enforces, probed once at start (reported by `health`).
    machine: Value,
    /// Where per-worker cgroups are made, if this process's cgroup can take them.
    cgroups: Option<CgroupRoot>,
    zygote: SharedZygote,
    modules: Mutex<HashMap<String, Module>>,
    grants: Mutex<Vec<Grant>>,
    limiter: Mutex<RateLimiter>,
    store: Mutex<Store>,
    /// Modules whose health changed by successes only, not yet written (see `store`).
    dirty_health: Mutex<BTreeSet<String>>,
    /// Connections and unfinished-line bytes per peer uid.
    peers: Mutex<Peers>,
    /// Refused connections, audited once per uid and window with a count.
    refusals: Mutex<Refusals>,
    /// One-shot workers running now, for every connection (`budgets.max_one_shot_workers`).
    one_shots: AtomicUsize,
    /// Brokered HTTP (`http_request`): its per-module windows.
    http: Broker,
    /// The bot connection that gets each module's event and schedule host calls
    /// (`host.subscribe`), by module name; `subscribe_all` for every module.
    subscribers: Mutex<HashMap<String, Weak<Conn>>>,
    subscribe_all: Mutex<Option<Weak<Conn>>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `{time, event, ...details}`, stamped now.
fn audit_record(event: &str, details: Value) -> (u64, Value) {
    let time = now_secs();
    let mut record = json!({ "time": time, "event": event });
    if let (Value::Object(r), Value::Object(d)) = (&mut record, details) {
        r.extend(d);
    }
    (time, record)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An audit record of something that happened (a worker replaced, a refusal): written to
    /// stderr as one JSON line and committed to the database. If the database refuses it (a full
    /// disk), stderr says so too, and the failure is returned.
    fn try_audit(&self, event: &str, details: Value) -> Result<(), String> {
        let (time, record) = audit_record(event, details);
        eprintln!("{record}");
        lock(&self.store).audit(time, event, &record).map_err(|e| {
            let error = e.to_string();
            eprintln!(
                "{}",
                json!({ "event": "audit_write_failed", "error": error, "record": record })
            );
            error
        })
    }

    /// [`State::try_audit`] where nobody waits for the answer (stderr keeps the record).
    fn audit(&self, event: &str, details: Value) {
        let _ = self.try_audit(event, details);
    }

    /// Audit a refusal and return the error the client sees; if the record could not be
    /// committed, the error says so in `data.audit_failed`.
    fn refuse(&self, mut error: RpcError, event: &str, details: Value) -> RpcError {
        if let (Err(failed), Value::Object(data)) =
            (self.try_audit(event, details), &mut error.data)
        {
            data.insert("audit_failed".into(), json!(failed));
        }
        error
    }

    /// A change to the stored state and its audit record, committed in one transaction: the
    /// client is told of the change only if both are on disk.
    fn audited<T>(
        &self,
        event: &str,
        details: Value,
        change: impl FnOnce(&Store) -> rusqlite::Result<T>,
    ) -> Result<T, RpcError> {
        let (time, record) = audit_record(event, details);
        let out = lock(&self.store)
            .audited(time, event, &record, change)
            .map_err(|e| {
                rpc::internal(format!(
                    "cannot record `{event}`, so it was not done: {e} (is the state directory's disk full?)"
                ))
            })?;
        eprintln!("{record}");
        Ok(out)
    }

    /// `connection_refused` records (see [`Refusals`]).
    fn audit_refusals(&self, records: Vec<Value>) {
        for record in records {
            self.audit("connection_refused", record);
        }
    }

    /// Write the health of modules that only had successes since the last flush.
    /// The modules lock is held only to copy: no call waits on the disk.
    fn flush_health(&self) {
        let names: Vec<String> = std::mem::take(&mut *lock(&self.dirty_health))
            .into_iter()
            .collect();
        let modules = lock(&self.modules);
        let healths: Vec<(String, Health)> = names
            .into_iter()
            .filter_map(|name| {
                let health = modules.get(&name)?.health.clone();
                Some((name, health))
            })
            .collect();
        // The store is locked before the modules lock is let go, so that a failure recorded
        // meanwhile is written after this older copy, not before it.
        let store = lock(&self.store);
        drop(modules);
        if let Err(e) = store.save_healths(&healths) {
            eprintln!(
                "{}",
                json!({ "event": "health_write_failed", "error": e.to_string() })
            );
        }
    }
}

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
    let limiter = RateLimiter::new(
        policy.rate_limit.calls_per_window,
        policy.rate_limit.window_seconds,
    );
    let store = Store::open(&policy.server.state_dir)?;
    let grants = store.grants()?;
    let stored = store.modules()?;
    let refusals = Refusals::new(policy.server.refused_audit_window_seconds);
    let state = Arc::new(State {
        policy: std::sync::RwLock::new(Arc::new(policy)),
        config,
        machine,
        cgroups,
        zygote: Arc::new(Mutex::new(zygote)),
        modules: Mutex::new(HashMap::new()),
        grants: Mutex::new(grants),
        limiter: Mutex::new(limiter),
        store: Mutex::new(store),
        dirty_health: Mutex::new(BTreeSet::new()),
        peers: Mutex::new(Peers::default()),
        refusals: Mutex::new(refusals),
        one_shots: AtomicUsize::new(0),
        http: Broker::default(),
        subscribers: Mutex::new(HashMap::new()),
        subscribe_all: Mutex::new(None),
    });
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
fn role_of(policy: &Policy, uid: u32, gid: u32) -> Option<Role> {
    policy
        .clients
        .iter()
        .find(|c| c.uid.is_none_or(|u| u == uid) && c.gid.is_none_or(|g| g == gid))
        .map(|c| c.role)
}

/// Per-connection: the writer's queue, the host calls waiting for an answer, and what the
/// connection has in flight.
struct Conn {
    uid: u32,
    out: Outbox,
    pending: Mutex<HashMap<String, std::sync::mpsc::Sender<Result<Value, String>>>>,
    next_id: AtomicU64,
    /// The client has gone (or was closed): host calls fail at once.
    closed: AtomicBool,
    max_line: usize,
    /// Requests being worked on (`server.max_requests_in_flight`).
    in_flight: AtomicUsize,
    /// One-shot workers running for this connection (`budgets.max_one_shot_per_connection`).
    one_shots: AtomicUsize,
}

impl Conn {
    /// The answer line for a request; one that would be longer than `server.max_line_bytes`
    /// becomes an error that says so (the supervisor never sends a longer line).
    fn answer_line(&self, id: &Value, result: Result<Value, RpcError>) -> String {
        let line = rpc::response(id, result);
        if line.len() <= self.max_line {
            return line;
        }
        let error = budget::line_too_long(line.len(), self.max_line);
        let line = rpc::response(id, Err(error.clone()));
        if line.len() <= self.max_line {
            line
        } else {
            // Only an id of nearly a line's length gets here.
            rpc::response(&Value::Null, Err(error))
        }
    }

    /// The client is gone: nobody will answer its host calls.
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        // Dropping the senders wakes every waiting host call.
        lock(&self.pending).clear();
    }
}

/// A connection's claim on its peer uid's budgets; given back when the connection ends.
struct PeerSlot {
    state: Arc<State>,
    uid: u32,
    /// Bytes of an unfinished line this connection holds.
    held: usize,
}

impl PeerSlot {
    fn take(state: &Arc<State>, uid: u32, max_connections: usize) -> Option<PeerSlot> {
        lock(&state.peers)
            .connect(uid, max_connections)
            .then(|| PeerSlot {
                state: state.clone(),
                uid,
                held: 0,
            })
    }

    /// This connection now holds `now` bytes of an unfinished line; `Err(total)` if that
    /// takes its uid over `server.max_buffered_bytes_per_uid`.
    fn hold(&mut self, now: usize, max: usize) -> Result<(), usize> {
        if now == self.held {
            return Ok(());
        }
        lock(&self.state.peers).hold(self.uid, self.held, now, max)?;
        self.held = now;
        Ok(())
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        lock(&self.state.peers).disconnect(self.uid, self.held);
    }
}

/// A request counted against `server.max_requests_in_flight` until it is answered.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn take(conn: &Arc<Conn>, max: usize) -> Option<InFlight> {
        conn.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(conn.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Take a new connection: a known peer within its connection budget is served (its own task);
/// any other gets one error line and is closed, without waiting on anything. Refusals are
/// audited once per uid and window, with a count. `false` if it was refused.
fn admit(state: &Arc<State>, stream: UnixStream) -> bool {
    let policy = state.policy();
    let (uid, gid) = match stream.peer_cred() {
        Ok(cred) => (cred.uid(), cred.gid()),
        Err(e) => {
            let e = rpc::error(
                Reason::AclDenied,
                format!("no peer credentials: {e}"),
                json!({}),
            );
            refuse(state, &stream, None, None, Refusal::NoCredentials, e);
            return false;
        }
    };
    let Some(role) = role_of(&policy, uid, gid) else {
        let e = rpc::error(
            Reason::AclDenied,
            format!("uid {uid} gid {gid} may not use this socket"),
            json!({}),
        );
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
        let e = rpc::error(
            Reason::BudgetExceeded,
            format!(
                "uid {uid} already holds {max} connections (server.max_connections_per_uid); \
                 close some, or raise the budget in the policy"
            ),
            json!({ "budget": "server.max_connections_per_uid", "limit": max }),
        );
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
    error: RpcError,
) {
    let mut line = rpc::response(&Value::Null, Err(error));
    line.push('\n');
    let _ = stream.try_write(line.as_bytes());
    let records = lock(&state.refusals).note(uid, gid, why, now_ms());
    if !records.is_empty() {
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.audit_refusals(records));
    }
}

async fn connection(state: Arc<State>, stream: UnixStream, role: Role, mut slot: PeerSlot) {
    let policy = state.policy();
    let server = &policy.server;
    let (reader, writer) = stream.into_split();
    let (out, writing) = outbox::new(server.max_queued_bytes_per_connection);
    let timeout = Duration::from_secs(server.write_timeout_seconds);
    let mut writing = tokio::spawn(writing.run(writer, timeout));
    let conn = Arc::new(Conn {
        uid: slot.uid,
        out,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        closed: AtomicBool::new(false),
        max_line: server.max_line_bytes,
        in_flight: AtomicUsize::new(0),
        one_shots: AtomicUsize::new(0),
    });
    let reading = read_requests(&state, &conn, role, reader, &mut slot, server);
    let ended = tokio::select! {
        read = reading => match read {
            Ok(()) => None,
            Err(closing) => {
                // Over a budget that only closing frees: say why, to the client and the log.
                closed_log(conn.uid, &closing.message, &closing.data["budget"]);
                let _ = conn.out.try_send(rpc::response(&Value::Null, Err(closing)));
                conn.out.close();
                None
            }
        },
        // The writer gave up (the client stopped reading, or went away): stop reading too.
        ended = &mut writing => ended.ok(),
    };
    if ended == Some(outbox::Ended::Stalled) {
        let why = format!(
            "the client took more than {} s to read one line (server.write_timeout_seconds)",
            server.write_timeout_seconds
        );
        closed_log(conn.uid, &why, &json!("server.write_timeout_seconds"));
    }
    // The client stopped sending (or was closed): answers still in flight are written if it
    // reads them; host calls it can no longer answer fail now.
    conn.close();
}

/// A connection the supervisor closed, as one log line.
fn closed_log(uid: u32, why: &str, budget: &Value) {
    eprintln!(
        "{}",
        json!({ "event": "connection_closed", "uid": uid, "why": why, "budget": budget })
    );
}

/// Read lines and act on them until the client closes. `Err`: the connection must be closed
/// for going over a budget (the error says which).
async fn read_requests(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    mut reader: OwnedReadHalf,
    slot: &mut PeerSlot,
    server: &pyward_policy::config::ServerConfig,
) -> Result<(), RpcError> {
    let max = server.max_line_bytes;
    let mut codec = LineCodec::new(max);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        while let Some(line) = codec.decode(&mut buf).unwrap_or(None) {
            let line = match line {
                Line::Text(line) => line,
                Line::TooLong => {
                    let e = rpc::error(
                        Reason::BadRequest,
                        format!("line longer than {max} bytes (server.max_line_bytes)"),
                        json!({ "budget": "server.max_line_bytes", "limit": max }),
                    );
                    conn.out.send(rpc::response(&Value::Null, Err(e))).await;
                    continue;
                }
                Line::NotUtf8 => {
                    let e = rpc::error(Reason::ParseError, "the line is not UTF-8", json!({}));
                    conn.out.send(rpc::response(&Value::Null, Err(e))).await;
                    continue;
                }
            };
            handle_line(state, conn, role, line, server.max_requests_in_flight).await;
        }
        // What is left is an unfinished line: it counts against the peer's budget.
        let budget = server.max_buffered_bytes_per_uid;
        if let Err(total) = slot.hold(buf.len(), budget) {
            return Err(rpc::error(
                Reason::BudgetExceeded,
                format!(
                    "closing this connection: uid {} would hold {total} bytes of unfinished lines \
                     (no newline yet) over its connections, over \
                     server.max_buffered_bytes_per_uid ({budget}); end each request with a \
                     newline",
                    conn.uid
                ),
                json!({ "budget": "server.max_buffered_bytes_per_uid", "limit": budget }),
            ));
        }
        if buf.is_empty() && buf.capacity() > 4 * READ_CHUNK {
            // After a long line: give the memory back.
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
        buf.reserve(READ_CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

async fn handle_line(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    line: String,
    max_in_flight: usize,
) {
    match rpc::parse(&line) {
        rpc::Parsed::Blank => {}
        rpc::Parsed::Invalid(reply) => {
            conn.out.send(reply).await;
        }
        rpc::Parsed::Answer { key, answer } => {
            if let Some(waiter) = lock(&conn.pending).remove(&key) {
                let _ = waiter.send(answer);
            }
        }
        rpc::Parsed::Call { id, method, params } => {
            // A client that does not read its answers gets no new work done: with its queue
            // full, this waits, and so does the reading of its next requests (backpressure).
            if !conn.out.wait_for_room().await {
                return;
            }
            let Some(in_flight) = InFlight::take(conn, max_in_flight) else {
                // Refused rather than queued: this reader must go on reading the answers to
                // the host calls of the requests in flight.
                if let Some(id) = id {
                    let e = rpc::error(
                        Reason::BudgetExceeded,
                        format!(
                            "this connection already has {max_in_flight} requests in flight \
                             (server.max_requests_in_flight); wait for their answers, or raise \
                             the budget in the policy"
                        ),
                        json!({ "budget": "server.max_requests_in_flight", "limit": max_in_flight }),
                    );
                    conn.out.send(conn.answer_line(&id, Err(e))).await;
                }
                return;
            };
            drop(line);
            let state = state.clone();
            let conn = conn.clone();
            tokio::spawn(async move {
                let result = dispatch(&state, &conn, role, &method, params).await;
                if let Some(id) = id {
                    let line = conn.answer_line(&id, result);
                    conn.out.send(line).await;
                }
                drop(in_flight);
            });
        }
    }
}

fn param<'a>(params: &'a Value, key: &str) -> Result<&'a str, RpcError> {
    params[key].as_str().ok_or_else(|| {
        rpc::error(
            Reason::InvalidParams,
            format!("missing string parameter `{key}`"),
            json!({ "param": key }),
        )
    })
}

fn require_admin(role: Role, method: &str) -> Result<(), RpcError> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(rpc::error(
            Reason::AclDenied,
            format!("{method} needs the admin role"),
            json!({ "method": method }),
        ))
    }
}

async fn dispatch(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    role: Role,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    match method {
        "module.load" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, load).await
        }
        "module.unload" => {
            require_admin(role, method)?;
            let name = param(&params, "name")?;
            let purge = match &params["purge"] {
                Value::Null => false,
                Value::Bool(b) => *b,
                _ => return Err(bad_param("purge", "`purge` must be true or false")),
            };
            let mut modules = lock(&state.modules);
            let pending = lock(&state.store).pending(name).ok().flatten().is_some();
            if !modules.contains_key(name) && !pending && !purge {
                return Err(not_found(name));
            }
            // Not recorded, so not done: the module stays loaded if the disk refuses. Its
            // schedules and any version waiting for approval go with it; its storage, config
            // and approval stay for the next load unless `purge` says otherwise.
            state.audited("unloaded", json!({ "module": name, "purge": purge }), |s| {
                s.remove_module(name)?;
                s.remove_schedules(name)?;
                s.remove_pending(name)?;
                if purge {
                    s.purge(name)?;
                }
                Ok(())
            })?;
            modules.remove(name);
            drop(modules);
            forget_subscription(state, name);
            Ok(json!({ "unloaded": name, "purged": purge }))
        }
        "module.list" => Ok(Value::Array(list_modules(state))),
        "module.pending" => {
            require_admin(role, method)?;
            let pending = lock(&state.store).all_pending().map_err(rpc::internal)?;
            Ok(Value::Array(
                pending
                    .into_iter()
                    .map(|(name, p)| describe_pending(state, &name, &p))
                    .collect(),
            ))
        }
        "module.approve" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, approve).await
        }
        "module.configure" => {
            require_admin(role, method)?;
            on_blocking_thread(state, params, configure).await
        }
        "module.event" => deliver_event(state, conn, &params).await,
        "host.subscribe" => subscribe(state, conn, &params),
        "health" => {
            let modules: Vec<Value> = lock(&state.modules).values().map(describe).collect();
            let cgroups = state.cgroups.as_ref().map(|c| c.support);
            Ok(json!({ "modules": modules, "machine": state.machine, "cgroups": cgroups }))
        }
        "policy.reload" => {
            require_admin(role, method)?;
            let state = state.clone();
            tokio::task::spawn_blocking(move || reload_policy(&state))
                .await
                .map_err(rpc::internal)?
        }
        "module.call" => call(state, conn, &params).await,
        "run" => run_one_shot(state, conn, params).await,
        "acl.grant" => {
            require_admin(role, method)?;
            let grant = grant_from(&params)?;
            state.audited("grant", json!({ "grant": grant }), |s| s.add_grant(&grant))?;
            lock(&state.grants).push(grant.clone());
            Ok(json!({ "granted": grant }))
        }
        "acl.revoke" => {
            require_admin(role, method)?;
            let grant = grant_from(&params)?;
            state.audited("revoke", json!({ "grant": grant }), |s| s.revoke(&grant))?;
            let mut grants = lock(&state.grants);
            let before = grants.len();
            grants.retain(|g| g.user != grant.user || g.target != grant.target);
            Ok(json!({ "revoked": before - grants.len() }))
        }
        "acl.list" => Ok(json!(*lock(&state.grants))),
        "audit.list" => {
            require_admin(role, method)?;
            let limit = params["limit"].as_u64().unwrap_or(100).min(10_000) as u32;
            lock(&state.store)
                .audit_log(limit)
                .map(Value::Array)
                .map_err(rpc::internal)
        }
        "quarantine.release" => {
            require_admin(role, method)?;
            let name = param(&params, "module")?;
            let mut modules = lock(&state.modules);
            let module = modules.get_mut(name).ok_or_else(|| not_found(name))?;
            let mut released = module.health.clone();
            released.release();
            state.audited("quarantine_released", json!({ "module": name }), |s| {
                s.save_health(name, &released)
            })?;
            module.health = released;
            Ok(describe(module))
        }
        other => Err(rpc::error(
            Reason::MethodNotFound,
            format!("no method `{other}`"),
            json!({ "method": other }),
        )),
    }
}

fn bad_param(param: &str, message: impl Into<String>) -> RpcError {
    rpc::error(Reason::InvalidParams, message, json!({ "param": param }))
}

fn not_found(name: &str) -> RpcError {
    rpc::error(
        Reason::NotFound,
        format!("no module named `{name}` is loaded"),
        json!({ "module": name }),
    )
}

fn describe(m: &Module) -> Value {
    // A worker busy with a call is not waited for.
    let worker = match m.worker.try_lock() {
        Ok(slot) => slot.as_ref().map_or(json!(null), |w| {
            json!({ "pid": w.process.pid(), "cgroup": w.cgroup.as_ref().map(|c| c.path().display().to_string()) })
        }),
        Err(_) => json!("busy"),
    };
    json!({
        "name": m.name,
        "worker": worker,
        "tier": m.tier,
        "commands": m.commands,
        "capabilities": m.caps,
        "events": m.events,
        "periodic": m.periodic,
        "calls": m.calls,
        "health": m.health,
    })
}

/// `module.list`: each loaded module, with what is kept for it (its config, secret values
/// shown only as `{"secret": true}`; its storage use; a version waiting for approval).
fn list_modules(state: &State) -> Vec<Value> {
    let mut entries: Vec<Value> = lock(&state.modules).values().map(describe).collect();
    let store = lock(&state.store);
    for entry in &mut entries {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        entry["config"] = config_view(&store, &name);
        if let Ok((keys, bytes)) = store.kv_usage(&name) {
            entry["storage"] = json!({ "keys": keys, "bytes": bytes });
        }
        if let Ok(one_offs) = store.pending_one_offs(&name) {
            entry["scheduled"] = one_offs
                .into_iter()
                .map(|(name, at_ms)| json!({ "name": name, "at_ms": at_ms }))
                .collect();
        }
        if let Ok(Some(a)) = store.approval(&name) {
            entry["approved"] = json!({
                "source_sha256": a.source_sha256,
                "capabilities": a.capabilities,
            });
        }
        if let Ok(Some(p)) = store.pending(&name) {
            entry["pending"] = json!({
                "source_sha256": p.source_sha256,
                "requested": p.requested,
            });
        }
    }
    entries
}

/// A module's config as `module.list` shows it: values, except secret ones.
fn config_view(store: &Store, module: &str) -> Value {
    let mut view = serde_json::Map::new();
    for (key, value, secret) in store.config_list(module).unwrap_or_default() {
        let shown = if secret {
            json!({ "secret": true })
        } else {
            json!({ "value": serde_json::from_str::<Value>(&value).unwrap_or(Value::Null) })
        };
        view.insert(key, shown);
    }
    Value::Object(view)
}

fn describe_pending(state: &State, name: &str, p: &Pending) -> Value {
    let running = lock(&state.modules).get(name).map(|m| m.caps.clone());
    let widening = match &running {
        Some(caps) => p.requested.widening_over(caps),
        None => Vec::new(),
    };
    json!({
        "name": name,
        "tier": p.tier,
        "source_sha256": p.source_sha256,
        "requested": p.requested,
        "running": running,
        "widening": widening,
    })
}

/// The longest lifetime a grant may be given (ten years); longer is a typo, or means "forever",
/// which is said by leaving the lifetime out.
const MAX_GRANT_SECONDS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;

fn grant_from(params: &Value) -> Result<Grant, RpcError> {
    let user = param(params, "user")?.to_string();
    let module = param(params, "module")?.to_string();
    let target = match params["command"].as_str() {
        Some(command) => GrantTarget::Command {
            module,
            command: command.to_string(),
        },
        None => GrantTarget::Module { module },
    };
    // A lifetime that is present but not a positive number is refused: read as "no lifetime",
    // it would make a grant meant to expire last forever.
    let expires_at_ms = match &params["expires_in_seconds"] {
        Value::Null => None,
        value => match value.as_f64() {
            Some(seconds) if seconds > 0.0 && seconds <= MAX_GRANT_SECONDS => {
                Some(now_ms() + (seconds * 1000.0).ceil() as u64)
            }
            _ => {
                return Err(rpc::error(
                    Reason::InvalidParams,
                    format!(
                        "`expires_in_seconds` must be a number of seconds above 0 and at most \
                         {MAX_GRANT_SECONDS}, not {value}; leave it out for a grant that never expires"
                    ),
                    json!({ "param": "expires_in_seconds" }),
                ));
            }
        },
    };
    Ok(Grant {
        user,
        target,
        expires_at_ms,
    })
}

/// The trust tier a request names (or the policy's default), which must exist.
fn tier_of(policy: &Policy, params: &Value) -> Result<String, RpcError> {
    let tier = params["tier"]
        .as_str()
        .unwrap_or(&policy.default_tier)
        .to_string();
    if policy.tiers.contains_key(&tier) {
        Ok(tier)
    } else {
        Err(rpc::error(
            Reason::InvalidParams,
            format!("no trust tier `{tier}`"),
            json!({ "tier": tier }),
        ))
    }
}

/// Scan a module's source and read its manifest; a rejection (by the scanner, or a manifest
/// that cannot be read statically) is audited and becomes the error the client sees.
fn scan_or_reject(
    state: &State,
    policy: &Policy,
    name: &str,
    source: &str,
) -> Result<(scan::FileReport, Option<Manifest>), RpcError> {
    let (report, manifest, findings) = scan_with_manifest(policy, name, source);
    if let Some(findings) = findings {
        let error = rpc::error(
            Reason::ScanRejected,
            format!("module `{name}` was rejected by the scanner"),
            json!({ "findings": findings }),
        );
        return Err(state.refuse(
            error,
            "scan_rejected",
            json!({ "module": name, "findings": findings }),
        ));
    }
    Ok((report, manifest))
}

/// The scan and the manifest of a source; `Some(findings)` if it is rejected. The manifest is
/// read only from a source the scanner accepted (the scan bounds its nesting first).
fn scan_with_manifest(
    policy: &Policy,
    name: &str,
    source: &str,
) -> (scan::FileReport, Option<Manifest>, Option<Value>) {
    let report = scan::scan_source(name, source.as_bytes(), &policy.scan);
    if !report.is_clean() && !policy.scan.dangerously_skip_scan {
        let findings = json!(report.findings);
        return (report, None, Some(findings));
    }
    let reading = if report.is_clean() {
        manifest::read_manifest(source)
    } else {
        manifest::ManifestReading::default()
    };
    if !reading.findings.is_empty() {
        let mut findings = json!(report.findings);
        if let Value::Array(list) = &mut findings {
            list.extend(reading.findings.iter().map(|f| json!(f)));
        }
        return (report, None, Some(findings));
    }
    (report, reading.manifest, None)
}

/// What a manifest asks for under `tier`, refused (audited) if the tier cannot grant it.
fn capabilities_within_tier(
    state: &State,
    policy: &Policy,
    name: &str,
    tier: &str,
    manifest: Option<&Manifest>,
) -> Result<Capabilities, RpcError> {
    let tier_def = &policy.tiers[tier];
    let requested = Capabilities::requested(manifest, policy, tier_def);
    let over = requested.beyond_tier(policy, tier, tier_def);
    if over.is_empty() {
        return Ok(requested);
    }
    let error = rpc::error(
        Reason::CapabilityDenied,
        format!(
            "module `{name}` asks for more than its tier `{tier}` can grant: {}",
            over.join("; ")
        ),
        json!({ "module": name, "tier": tier, "over": over, "requested": requested }),
    );
    Err(state.refuse(
        error,
        "capability_denied",
        json!({ "module": name, "tier": tier, "over": over }),
    ))
}

/// Module names (and one-shot names, which share the rule): what host calls, audit records and
/// the host's key-value scopes carry, so nothing that could be read as a path, a line or a
/// separator.
fn check_name(name: &str) -> Result<(), RpcError> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(rpc::error(
            Reason::InvalidParams,
            format!("a module name is 1 to {MAX_NAME} letters, digits, _ and -"),
            json!({ "param": "name", "name": name }),
        ))
    }
}

/// How a module version came to be allowed to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// It asks for nothing beyond the baseline (what every module gets).
    Baseline,
    /// It asks for nothing beyond what an admin approved for this module before.
    PreviouslyApproved,
    /// An admin approves it now (`approve: true`, or `module.approve`).
    ApprovedNow,
}

impl Allowed {
    fn name(self) -> &'static str {
        match self {
            Allowed::Baseline => "baseline",
            Allowed::PreviouslyApproved => "previously_approved",
            Allowed::ApprovedNow => "approved_now",
        }
    }
}

/// `module.load`: scan, read the manifest, check it against the tier and what was approved.
/// A version that asks for more than the baseline and any earlier approval waits for an admin
/// (`module.approve`) unless `approve: true`, while an older version keeps running. Blocking.
fn load(state: &Arc<State>, params: &Value) -> Result<Value, RpcError> {
    let policy = state.policy();
    let name = param(params, "name")?.to_string();
    let source = param(params, "source")?.to_string();
    let approve = match &params["approve"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(bad_param("approve", "`approve` must be true or false")),
    };
    check_name(&name)?;
    let tier = tier_of(&policy, params)?;
    let (report, manifest) = scan_or_reject(state, &policy, &name, &source)?;
    let requested = capabilities_within_tier(state, &policy, &name, &tier, manifest.as_ref())?;
    let baseline = Capabilities::baseline(&policy, &policy.tiers[&tier]);
    let approved = lock(&state.store)
        .approval(&name)
        .map_err(rpc::internal)?
        .map(|a| a.capabilities);
    let allowed = if approve {
        Allowed::ApprovedNow
    } else if requested.within(&baseline) {
        Allowed::Baseline
    } else if approved.as_ref().is_some_and(|a| requested.within(a)) {
        Allowed::PreviouslyApproved
    } else {
        // Wait for an admin; what runs now (if anything) keeps running.
        let sha = scan::sha256_hex(source.as_bytes());
        let widening = requested.widening_over(approved.as_ref().unwrap_or(&baseline));
        let pending = Pending {
            tier: tier.clone(),
            source,
            source_sha256: sha.clone(),
            requested: requested.clone(),
        };
        state.audited(
            "approval_requested",
            json!({ "module": name, "tier": tier, "source_sha256": sha, "requested": requested, "widening": widening }),
            |s| s.save_pending(&name, &pending, now_secs()),
        )?;
        let running = lock(&state.modules).contains_key(&name);
        return Ok(json!({
            "name": name,
            "pending_approval": true,
            "running": running,
            "source_sha256": sha,
            "requested": requested,
            "widening": widening,
            "scan": { "verdict": report.verdict, "findings": report.findings },
        }));
    };
    let mut answer = install(state, &name, &source, &tier, requested, allowed)?;
    answer["scan"] = json!({ "verdict": report.verdict, "findings": report.findings });
    Ok(answer)
}

/// `module.approve`: run the version waiting for approval (its hash may be given, so that an
/// admin approves exactly what they reviewed), and remember what it was granted.
fn approve(state: &Arc<State>, params: &Value) -> Result<Value, RpcError> {
    let policy = state.policy();
    let name = param(params, "name")?.to_string();
    let Some(pending) = lock(&state.store).pending(&name).map_err(rpc::internal)? else {
        return Err(rpc::error(
            Reason::NotFound,
            format!("no version of `{name}` waits for approval"),
            json!({ "module": name }),
        ));
    };
    if let Some(sha) = params["source_sha256"].as_str()
        && sha != pending.source_sha256
    {
        return Err(rpc::error(
            Reason::InvalidParams,
            format!(
                "the version of `{name}` waiting for approval has source_sha256 {}, not {sha}:                  it changed since you reviewed it",
                pending.source_sha256
            ),
            json!({ "param": "source_sha256", "pending": pending.source_sha256 }),
        ));
    }
    if !policy.tiers.contains_key(&pending.tier) {
        return Err(rpc::error(
            Reason::InvalidParams,
            format!("no trust tier `{}`", pending.tier),
            json!({ "tier": pending.tier }),
        ));
    }
    // Checked again: the policy may have changed since it was asked for.
    let (_, manifest) = scan_or_reject(state, &policy, &name, &pending.source)?;
    let requested =
        capabilities_within_tier(state, &policy, &name, &pending.tier, manifest.as_ref())?;
    install(
        state,
        &name,
        &pending.source,
        &pending.tier,
        requested,
        Allowed::ApprovedNow,
    )
}

/// Start a worker for an allowed version, check what it declares against its capabilities,
/// then record it (module, approval, periodic schedules, and the audit records: one
/// transaction) and make it the running version. Blocking.
fn install(
    state: &Arc<State>,
    name: &str,
    source: &str,
    tier: &str,
    caps: Capabilities,
    allowed: Allowed,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let granted = caps.granted_calls(&policy.tiers[tier]);
    let (worker, loaded) = start_worker(state, name, source, &granted)?;
    let periodic = check_declarations(name, &loaded, &caps, &policy)?;
    let health = Health::new(&policy.quarantine);
    let scan_json = json!({ "verdict": "clean" });
    let sha = scan::sha256_hex(source.as_bytes());
    let record = json!({ "module": name, "tier": tier, "source_sha256": sha, "capabilities": caps, "allowed": allowed.name() });
    let (time, approval_record) = audit_record(
        "approved",
        json!({ "module": name, "tier": tier, "source_sha256": sha, "capabilities": caps }),
    );
    state.audited("loaded", record, |s| {
        s.save_module(name, tier, source, &scan_json, &health, now_secs())?;
        s.sync_periodic(name, &periodic, now_ms())?;
        if allowed == Allowed::ApprovedNow {
            s.save_approval(name, &caps, &sha, now_secs())?;
            s.remove_pending(name)?;
            s.audit(time, "approved", &approval_record)?;
        } else if allowed == Allowed::Baseline || allowed == Allowed::PreviouslyApproved {
            // A narrower version replaces one that waited to widen: nothing waits any more.
            s.remove_pending(name)?;
        }
        Ok(())
    })?;
    if allowed == Allowed::ApprovedNow {
        eprintln!("{approval_record}");
    }
    let module = Module {
        name: name.to_string(),
        tier: tier.to_string(),
        source: source.to_string(),
        commands: loaded.commands.clone(),
        caps: caps.clone(),
        events: loaded.events.clone(),
        periodic: loaded.periodic.clone(),
        health,
        calls: 0,
        worker: Arc::new(Mutex::new(Some(worker))),
    };
    lock(&state.modules).insert(name.to_string(), module);
    Ok(json!({
        "name": name,
        "commands": loaded.commands,
        "capabilities": caps,
        "events": loaded.events,
        "periodic": loaded.periodic,
        "approval": allowed.name(),
        "source_sha256": sha,
    }))
}

/// What a loaded module declares at run time (`@pyward.on`, `@pyward.every`) must be within
/// its capabilities and the policy's schedule budgets. Returns its periodic schedules.
fn check_declarations(
    name: &str,
    loaded: &Loaded,
    caps: &Capabilities,
    policy: &Policy,
) -> Result<Vec<(String, u64)>, RpcError> {
    for event in &loaded.events {
        if !caps.events.contains(event) {
            return Err(rpc::error(
                Reason::CapabilityDenied,
                format!(
                    "module `{name}` handles the event `{event}` (@pyward.on) but its manifest                      does not ask for it (events=[...])"
                ),
                json!({ "module": name, "event": event }),
            ));
        }
    }
    module_state::periodic_schedules(name, &loaded.periodic, caps, policy).map_err(|e| {
        if e.budget == "manifest.schedules" {
            rpc::error(
                Reason::CapabilityDenied,
                e.message,
                json!({ "module": name }),
            )
        } else {
            e.error()
        }
    })
}

/// `module.configure`: set (or, with `null`, remove) config values of a module, each key one
/// its manifest (running or waiting for approval) declares. Keys listed in `secret` are never
/// shown again: not by `module.list`, not in audit records or logs.
fn configure(state: &Arc<State>, params: &Value) -> Result<Value, RpcError> {
    let policy = state.policy();
    let name = param(params, "name")?.to_string();
    let Some(values) = params["values"].as_object() else {
        return Err(bad_param(
            "values",
            "`values` must be an object of config keys and values",
        ));
    };
    let secret: BTreeSet<String> = match &params["secret"] {
        Value::Null => BTreeSet::new(),
        Value::Array(keys) => keys
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad_param("secret", "`secret` must be a list of keys"))?,
        _ => return Err(bad_param("secret", "`secret` must be a list of keys")),
    };
    let mut declared: BTreeSet<String> = lock(&state.modules)
        .get(&name)
        .map(|m| m.caps.config.clone())
        .unwrap_or_default();
    let pending = lock(&state.store).pending(&name).map_err(rpc::internal)?;
    let known = lock(&state.modules).contains_key(&name) || pending.is_some();
    if let Some(p) = pending {
        declared.extend(p.requested.config);
    }
    if !known {
        return Err(not_found(&name));
    }
    let mut changes = Vec::new();
    for (key, value) in values {
        if !declared.contains(key) {
            return Err(rpc::error(
                Reason::InvalidParams,
                format!(
                    "module `{name}`'s manifest declares no config key `{key}` (declared: {})",
                    declared.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                json!({ "param": "values", "key": key }),
            ));
        }
        let text = (!value.is_null()).then(|| value.to_string());
        if let Some(text) = &text
            && text.len() > policy.module_config.max_value_bytes
        {
            return Err(rpc::error(
                Reason::BudgetExceeded,
                format!(
                    "the value of `{key}` is {} bytes, over module_config.max_value_bytes ({})",
                    text.len(),
                    policy.module_config.max_value_bytes
                ),
                json!({ "budget": "module_config.max_value_bytes", "limit": policy.module_config.max_value_bytes, "key": key }),
            ));
        }
        changes.push((key.clone(), text, secret.contains(key)));
    }
    if let Some(stray) = secret.iter().find(|k| !values.contains_key(*k)) {
        return Err(bad_param(
            "secret",
            format!("`{stray}` is marked secret but has no value in `values`"),
        ));
    }
    // The record names keys, never values.
    let set: Vec<&str> = changes
        .iter()
        .filter(|c| c.1.is_some())
        .map(|c| c.0.as_str())
        .collect();
    let removed: Vec<&str> = changes
        .iter()
        .filter(|c| c.1.is_none())
        .map(|c| c.0.as_str())
        .collect();
    state.audited(
        "configured",
        json!({ "module": name, "set": set, "removed": removed, "secret": secret }),
        |s| {
            for (key, value, secret) in &changes {
                s.config_set(&name, key, value.as_deref(), *secret)?;
            }
            Ok(())
        },
    )?;
    Ok(json!({ "name": name, "config": config_view(&lock(&state.store), &name) }))
}

/// Replace the zygote with a fresh one (it died, or the policy changed).
fn restart_zygote(state: &State) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let zygote = ZygoteClient::start(&exe, state.config.as_deref())?;
    *lock(&state.zygote) = zygote;
    Ok(())
}

/// `policy.reload`: read and validate the file again. If it is valid, every worker is stopped
/// (through the old zygote), a new zygote starts with the new settings, the rate limiter takes
/// the new limits, and loaded modules are scanned again: any the new rules reject is unloaded.
/// If it is not valid, nothing changes and the errors are returned.
fn reload_policy(state: &Arc<State>) -> Result<Value, RpcError> {
    let Some(path) = state.config.clone() else {
        return Err(rpc::error(
            Reason::InvalidParams,
            "the supervisor runs on the built-in defaults; start it with --config to reload a file",
            json!({}),
        ));
    };
    let new = Policy::load(&path).map_err(|errors| {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        rpc::error(
            Reason::InvalidParams,
            "the policy file is invalid; nothing changed",
            json!({ "errors": errors }),
        )
    })?;
    let workers: Vec<_> = lock(&state.modules)
        .values()
        .map(|m| m.worker.clone())
        .collect();
    for worker in workers {
        // Dropping the process kills it and reaps it through the zygote that forked it.
        drop(lock(&worker).take());
    }
    restart_zygote(state).map_err(|e| rpc::internal(format!("cannot start a new zygote: {e}")))?;
    *lock(&state.limiter) = RateLimiter::new(
        new.rate_limit.calls_per_window,
        new.rate_limit.window_seconds,
    );
    *state.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
    let policy = state.policy();
    // A new refusal window: what the old windows counted is written first.
    let window = policy.server.refused_audit_window_seconds;
    let counted = {
        let mut refusals = lock(&state.refusals);
        if refusals.window_seconds() == window {
            Vec::new()
        } else {
            std::mem::replace(&mut *refusals, Refusals::new(window)).drain()
        }
    };
    state.audit_refusals(counted);
    let mut unloaded = Vec::new();
    let mut modules = lock(&state.modules);
    let names: Vec<String> = modules.keys().cloned().collect();
    for name in names {
        let module = &modules[&name];
        let (_, manifest, rejected) = scan_with_manifest(&policy, &name, &module.source);
        // What it runs with must still be within its tier: a narrower tier unloads it.
        let over = policy.tiers.get(&module.tier).map(|tier| {
            Capabilities::requested(manifest.as_ref(), &policy, tier).beyond_tier(
                &policy,
                &module.tier,
                tier,
            )
        });
        let fits = over.as_ref().is_some_and(Vec::is_empty);
        if rejected.is_some() || !fits {
            // If the disk refuses the record, the module is still gone from memory; the
            // stored copy is scanned again, and refused again, at the next start.
            let _ = state.audited(
                "unloaded_by_policy",
                json!({ "module": name, "findings": rejected, "over": over }),
                |s| {
                    s.remove_module(&name)?;
                    s.remove_schedules(&name)
                },
            );
            modules.remove(&name);
            unloaded.push(name);
        } else if let Some(m) = modules.get_mut(&name)
            && let Some(tier) = policy.tiers.get(&m.tier)
        {
            // Absent keys follow the new policy's baseline (storage.default_kb, say).
            m.caps = Capabilities::requested(manifest.as_ref(), &policy, tier);
        }
    }
    drop(modules);
    state.audit(
        "policy_reloaded",
        json!({ "file": path.display().to_string(), "unloaded": unloaded }),
    );
    Ok(json!({ "reloaded": path.display().to_string(), "unloaded": unloaded }))
}

fn reload_modules(state: &Arc<State>, stored: Vec<super::store::StoredModule>) {
    let policy = state.policy();
    for module in stored {
        let (_, manifest, rejected) = scan_with_manifest(&policy, &module.name, &module.source);
        if let Some(findings) = rejected {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "findings": findings }),
            );
            continue;
        }
        let Some(tier) = policy.tiers.get(&module.tier) else {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "why": format!("no trust tier `{}`", module.tier) }),
            );
            continue;
        };
        // Within the tier, and within what was approved (or the baseline), as at its load.
        let caps = Capabilities::requested(manifest.as_ref(), &policy, tier);
        let over = caps.beyond_tier(&policy, &module.tier, tier);
        let approved = lock(&state.store)
            .approval(&module.name)
            .ok()
            .flatten()
            .map(|a| a.capabilities);
        let allowed = caps.within(&Capabilities::baseline(&policy, tier))
            || approved.as_ref().is_some_and(|a| caps.within(a));
        if !over.is_empty() || !allowed {
            state.audit(
                "reload_rejected",
                json!({ "module": module.name, "over": over, "approved": allowed }),
            );
            continue;
        }
        let started = start_worker(
            state,
            &module.name,
            &module.source,
            &caps.granted_calls(tier),
        )
        .and_then(|(worker, loaded)| {
            check_declarations(&module.name, &loaded, &caps, &policy)
                .map(|periodic| (worker, loaded, periodic))
        });
        match started {
            Ok((worker, loaded, periodic)) => {
                if let Err(e) = lock(&state.store).sync_periodic(&module.name, &periodic, now_ms())
                {
                    eprintln!(
                        "{}",
                        json!({ "event": "schedule_failed", "module": module.name, "error": e.to_string() })
                    );
                }
                let entry = Module {
                    name: module.name.clone(),
                    tier: module.tier,
                    source: module.source,
                    commands: loaded.commands,
                    caps,
                    events: loaded.events,
                    periodic: loaded.periodic,
                    health: module.health,
                    calls: 0,
                    worker: Arc::new(Mutex::new(Some(worker))),
                };
                lock(&state.modules).insert(module.name, entry);
            }
            Err(e) => state.audit(
                "reload_failed",
                json!({ "module": module.name, "error": e }),
            ),
        }
    }
}

fn start_worker(
    state: &State,
    name: &str,
    source: &str,
    granted: &BTreeSet<HostCall>,
) -> Result<(Worker, Loaded), RpcError> {
    let policy = state.policy();
    let limits = &policy.sandbox;
    let full_cgroups = state
        .cgroups
        .as_ref()
        .is_some_and(|c| c.support.kill && c.support.memory_max && c.support.pids_max);
    if limits
        .require
        .contains(&pyward_policy::config::Layer::Cgroup)
        && !full_cgroups
        && !limits.dangerously_allow_degraded
    {
        return Err(rpc::error(
            Reason::SandboxViolation,
            "the policy requires per-worker cgroups with the memory and pids controllers, which this supervisor's cgroup does not offer (see health.cgroups); delegate them (systemd Delegate=yes) or drop cgroup from sandbox.require",
            json!({ "layer": "cgroup" }),
        ));
    }
    // If the zygote died (or stopped answering), start a new one and try once more. Not when
    // the supervisor itself is out of resources: a new zygote would not help, and replacing it
    // would end every other module's worker.
    let process = match zygote::spawn_worker(&state.zygote, limits) {
        Err(e) if !out_of_resources(&e) => restart_zygote(state).and_then(|()| {
            state.audit("zygote_restarted", json!({ "after": e.to_string() }));
            zygote::spawn_worker(&state.zygote, limits)
        }),
        spawned => spawned,
    }
    .map_err(|e| {
        if out_of_resources(&e) {
            // Nothing crashed, and the operator is the one who can act.
            rpc::internal(format!(
                "cannot start a worker: the supervisor is out of resources ({e}); raise its LimitNOFILE or memory, or lower the load"
            ))
        } else {
            rpc::error(
                Reason::WorkerCrashed,
                format!("cannot start a worker: {e}"),
                json!({}),
            )
        }
    })?;
    // The group is made and joined before the worker is told to load anything.
    let cgroup = match &state.cgroups {
        Some(root) => {
            let group = root
                .for_worker(&format!("pyward-worker-{}", process.pid()), limits)
                .and_then(|g| g.add(process.pid()).map(|()| g))
                .map_err(|e| rpc::internal(format!("cannot make the worker's cgroup: {e}")))?;
            Some(group)
        }
        None => None,
    };
    let mut worker = Worker { process, cgroup };
    worker
        .process
        .wait_ready()
        .map_err(|f| verdicts::from_verdict(&verdict::from_failure(&f, limits)))?;
    let deadline = Instant::now() + Duration::from_millis(limits.wall_ms);
    match worker.process.load(name, source, granted, deadline) {
        Ok(Ok(loaded)) => {
            // What it declares is part of every `module.list` and `health` answer.
            budget::check_commands(name, &loaded.commands, &policy.budgets)
                .map_err(|e| e.error())?;
            // The parser cross-check: what CPython compiled against what the scanner saw. Only
            // forbidden identifiers can differ, so the source is scanned again (for what the
            // scanner saw) only when CPython compiled some; most modules compile none.
            let compiled = scan::forbidden_identifiers(
                &policy.scan,
                loaded.identifiers.iter().map(String::as_str),
            );
            if !policy.scan.dangerously_skip_scan && !compiled.is_empty() {
                let seen = scan::scan_source(name, source.as_bytes(), &policy.scan).seen_forbidden;
                let compiled = compiled.iter().map(String::as_str);
                if let Some(finding) = scan::parser_differential(&policy.scan, &seen, compiled) {
                    let error = rpc::error(
                        Reason::ScanRejected,
                        format!("module `{name}` was rejected by the parser cross-check"),
                        json!({ "findings": [finding] }),
                    );
                    return Err(state.refuse(
                        error,
                        "scan_rejected",
                        json!({ "module": name, "findings": [finding] }),
                    ));
                }
            }
            Ok((worker, loaded))
        }
        Ok(Err(error)) => Err(verdicts::from_verdict(&verdict::from_error(&error))),
        Err(failure) => Err(verdicts::from_verdict(&verdict::from_failure(
            &failure, limits,
        ))),
    }
}

/// Work that blocks (a worker to start, the database to write) on a blocking thread, so that
/// the connection's task and the others stay free meanwhile.
async fn on_blocking_thread(
    state: &Arc<State>,
    params: Value,
    work: fn(&Arc<State>, &Value) -> Result<Value, RpcError>,
) -> Result<Value, RpcError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state, &params))
        .await
        .map_err(rpc::internal)?
}

/// The supervisor's own process is out of file descriptors or memory.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
    )
}

/// `module.call`: ACL, rate limit, quarantine, then the call in the module's worker with host
/// calls relayed to this connection.
async fn call(state: &Arc<State>, conn: &Arc<Conn>, params: &Value) -> Result<Value, RpcError> {
    let policy = state.policy();
    let module_name = param(params, "module")?.to_string();
    let user = params["caller"]["user"]
        .as_str()
        .ok_or_else(|| {
            rpc::error(
                Reason::InvalidParams,
                "missing `caller.user` (the chat identity calling)",
                json!({}),
            )
        })?
        .to_string();
    let (target, name) = match (params["command"].as_str(), params["function"].as_str()) {
        (Some(c), None) => (Target::Command(c.to_string()), c.to_string()),
        (None, Some(f)) => (Target::Function(f.to_string()), f.to_string()),
        _ => {
            return Err(rpc::error(
                Reason::InvalidParams,
                "give exactly one of `command` or `function`",
                json!({}),
            ));
        }
    };
    let declared = {
        let modules = lock(&state.modules);
        let module = modules
            .get(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        check_quarantine(module)?;
        module
            .commands
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.security)
    };
    let grants = lock(&state.grants).clone();
    if let Err(denied) = acl::decide(
        &policy.acl,
        &grants,
        &user,
        &module_name,
        &name,
        declared,
        now_ms(),
    ) {
        let error = rpc::error(
            Reason::AclDenied,
            format!("{user} may not run {module_name}.{name}"),
            json!({ "denied": denied }),
        );
        // The records go to disk off the async threads.
        let state = state.clone();
        let refused = tokio::task::spawn_blocking(move || {
            if matches!(denied, acl::Denied::GrantExpired { .. }) {
                forget_expired_grants(&state, &user, &module_name, &name);
            }
            state.refuse(
                error,
                "acl_denied",
                json!({ "user": user, "module": module_name, "command": name, "denied": denied }),
            )
        })
        .await
        .map_err(rpc::internal)?;
        return Err(refused);
    }
    rate_limit(state, &policy, &user, &module_name)?;
    let args = params.get("args").cloned().unwrap_or(match target {
        Target::Command(_) => json!(""),
        _ => json!([]),
    });
    let event = params
        .get("event")
        .cloned()
        .unwrap_or(json!({ "sender": user }));
    execute(
        state,
        &module_name,
        &user,
        Invocation {
            target,
            args,
            event,
            route: Route::Caller(conn.clone()),
            kind: "module",
        },
    )
    .await
}

fn check_quarantine(module: &Module) -> Result<(), RpcError> {
    if module.health.quarantined {
        return Err(rpc::error(
            Reason::Quarantined,
            format!(
                "module `{}` is quarantined until an owner releases it",
                module.name
            ),
            json!({ "module": module.name, "last_violation": module.health.last_violation }),
        ));
    }
    Ok(())
}

fn rate_limit(state: &State, policy: &Policy, user: &str, module: &str) -> Result<(), RpcError> {
    if lock(&state.limiter).try_acquire(user, module, now_ms()) {
        return Ok(());
    }
    Err(rpc::error(
        Reason::RateLimited,
        format!("{user} is over the limit for {module}"),
        json!({ "calls_per_window": policy.rate_limit.calls_per_window, "window_seconds": policy.rate_limit.window_seconds }),
    ))
}

/// Where a call's host calls go.
#[derive(Clone)]
enum Route {
    /// The connection that made the call (`module.call`).
    Caller(Arc<Conn>),
    /// The bot that subscribed for the module (`host.subscribe`); while none has, the
    /// connection that forwarded the event (if any), else wait up to
    /// `schedules.subscriber_wait_ms` for one.
    Subscriber { fallback: Option<Arc<Conn>> },
}

/// One call into a loaded module, once it has been allowed.
struct Invocation {
    target: Target,
    args: Value,
    event: Value,
    route: Route,
    /// The `origin` its host calls carry: `module`, `event` or `schedule`.
    kind: &'static str,
}

/// Run a call in the module's persistent worker, its host calls checked and routed; record the
/// outcome in the module's health (a failure at once, audited).
async fn execute(
    state: &Arc<State>,
    module_name: &str,
    user: &str,
    invocation: Invocation,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let module_name = module_name.to_string();
    let user = user.to_string();
    let (worker, tier, source, caps) = {
        let modules = lock(&state.modules);
        let module = modules
            .get(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        check_quarantine(module)?;
        (
            module.worker.clone(),
            module.tier.clone(),
            module.source.clone(),
            module.caps.clone(),
        )
    };
    let Some(tier_def) = policy.tiers.get(&tier).cloned() else {
        return Err(rpc::error(
            Reason::CapabilityDenied,
            format!("module `{module_name}`'s tier `{tier}` no longer exists"),
            json!({ "module": module_name }),
        ));
    };
    let granted: BTreeSet<HostCall> = caps.granted_calls(&tier_def);
    let state2 = state.clone();
    let module2 = module_name.clone();
    let wall_ms = policy.sandbox.wall_ms;
    let cpu_seconds = policy.sandbox.cpu_seconds;
    let budgets = policy.budgets;
    let max_line = policy.server.max_line_bytes;
    let Invocation {
        target,
        args,
        event,
        route,
        kind,
    } = invocation;
    let outcome = tokio::task::spawn_blocking(move || {
        let mut slot = lock(&worker);
        // A worker that ended while idle (killed from outside, or its zygote died) did nothing
        // wrong: it is replaced without counting against the module's health.
        if let Some(ending) = slot.as_mut().and_then(|w| w.process.ended_while_idle()) {
            state2.audit(
                "worker_replaced",
                json!({ "module": module2, "why": "it ended while idle", "ending": ending }),
            );
            *slot = None;
        }
        if slot.is_none() {
            let (w, _) = start_worker(&state2, &module2, &source, &granted)?;
            *slot = Some(w);
        }
        let w = slot.as_mut().expect("a worker was just started");
        let deadline = Instant::now() + Duration::from_millis(wall_ms);
        let mut calls = HostCalls::new(&module2, &budgets, max_line);
        let mut origin = Origin::Module {
            name: &module2,
            caps: &caps,
            kind,
        };
        let pid = w.process.pid();
        let result = w.process.call(
            &target,
            Json::from_value(&args),
            Json::from_value(&event),
            deadline,
            &mut |name: HostCall, args_json: Json| {
                let answer = relay(
                    &state2,
                    &route,
                    &mut origin,
                    &tier,
                    &granted,
                    &event,
                    &mut calls,
                    name,
                    &args_json,
                );
                stop_if_over_budget(&mut calls, pid);
                answer
            },
        );
        let oom = w.cgroup.as_ref().is_some_and(WorkerCgroup::oom_killed);
        // RLIMIT_CPU counts a worker's whole life: a persistent worker that has used half its
        // budget is replaced (a fresh one costs a zygote fork), so that many short calls never
        // add up to a CPU-limit kill. One call still has the whole budget and the deadline.
        let worn = pyward_worker::sys::cpu_seconds_used(w.process.pid())
            .is_some_and(|used| used * 2.0 >= cpu_seconds as f64);
        if matches!(
            result,
            Err(WorkerFailure::Died { .. }
                | WorkerFailure::Deadline { .. }
                | WorkerFailure::Protocol { .. })
        ) {
            // The worker is gone (or was killed): the next call starts a fresh one.
            *slot = None;
        } else if worn {
            *slot = None;
        }
        Ok::<_, RpcError>((result, oom, calls.bitten()))
    })
    .await
    .map_err(rpc::internal)??;
    let (outcome, oom, bitten) = outcome;
    let limits = &policy.sandbox;
    let verdict = match &outcome {
        Ok(out) => verdict::from_outcome(out),
        // The kernel's OOM killer in the worker's cgroup (memory.max) ends it with SIGKILL.
        Err(_) if oom => verdict::Verdict {
            status: verdict::Status::MemoryLimit,
            layer: Some(Layer::Cgroup),
            detail: format!(
                "the worker reached the policy's memory limit of {} MiB (memory.max) and the kernel killed it",
                limits.memory_bytes >> 20
            ),
        },
        Err(failure) => verdict::from_failure(failure, limits),
    };
    let answer = settle(&module_name, &policy, outcome, verdict, bitten);
    {
        let mut modules = lock(&state.modules);
        let module = modules
            .get_mut(&module_name)
            .ok_or_else(|| not_found(&module_name))?;
        module.calls += 1;
        if answer.is_ok() {
            module.health.record_success(&policy.quarantine);
            lock(&state.dirty_health).insert(module_name.clone());
        }
    }
    let failure = match answer {
        Ok(value) => return Ok(value),
        Err(failure) => failure,
    };
    // A failure is written to disk at once (health, audit), off the async threads: the calls of
    // other modules never wait on it.
    let state = state.clone();
    tokio::task::spawn_blocking(move || record_failure(&state, &module_name, &user, &failure))
        .await
        .map_err(rpc::internal)?
}

/// `host.subscribe`: this connection gets the host calls of the named modules' events and
/// schedules (`"modules": ["a", "b"]`, or `"*"` for every module), replacing any earlier
/// subscriber. It lasts as long as the connection.
fn subscribe(state: &State, conn: &Arc<Conn>, params: &Value) -> Result<Value, RpcError> {
    match &params["modules"] {
        Value::String(all) if all == "*" => {
            *lock(&state.subscribe_all) = Some(Arc::downgrade(conn));
            Ok(json!({ "subscribed": "*" }))
        }
        Value::Array(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    bad_param("modules", "`modules` must be a list of names, or \"*\"")
                })?;
            for name in &names {
                check_name(name)?;
            }
            let mut subscribers = lock(&state.subscribers);
            for name in &names {
                subscribers.insert(name.clone(), Arc::downgrade(conn));
            }
            Ok(json!({ "subscribed": names }))
        }
        _ => Err(bad_param(
            "modules",
            "`modules` must be a list of module names, or \"*\"",
        )),
    }
}

fn forget_subscription(state: &State, module: &str) {
    lock(&state.subscribers).remove(module);
}

/// The connected bot that gets a module's event and schedule host calls, if any.
fn subscriber(state: &State, module: &str) -> Option<Arc<Conn>> {
    let live = |weak: &Weak<Conn>| weak.upgrade().filter(|c| !c.closed.load(Ordering::Relaxed));
    if let Some(conn) = lock(&state.subscribers).get(module).and_then(live) {
        return Some(conn);
    }
    lock(&state.subscribe_all).as_ref().and_then(live)
}

/// `module.event`: a chat event the bot forwards once; delivered to every loaded module whose
/// approved manifest asks for its type and that handles it, each under its own quarantine,
/// rate limit (per sender and module) and budgets, all at once. The answer says per module
/// what happened.
async fn deliver_event(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    params: &Value,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let event = params
        .get("event")
        .filter(|e| e.is_object())
        .cloned()
        .ok_or_else(|| bad_param("event", "`event` must be an object with a `type`"))?;
    let kind = event["type"]
        .as_str()
        .filter(|t| KNOWN_EVENTS.contains(t))
        .ok_or_else(|| {
            bad_param(
                "event",
                format!("`event.type` must be one of {}", KNOWN_EVENTS.join(", ")),
            )
        })?
        .to_string();
    let size = event.to_string().len();
    let max = policy.events.max_event_bytes;
    if size > max {
        return Err(rpc::error(
            Reason::BudgetExceeded,
            format!("the event is {size} bytes, over events.max_event_bytes ({max})"),
            json!({ "budget": "events.max_event_bytes", "limit": max }),
        ));
    }
    let user = event["sender"].as_str().unwrap_or("event").to_string();
    let targets: Vec<String> = {
        let modules = lock(&state.modules);
        let mut names: Vec<String> = modules
            .values()
            .filter(|m| m.caps.events.contains(&kind) && m.events.contains(&kind))
            .map(|m| m.name.clone())
            .collect();
        names.sort();
        names
    };
    let deliveries = targets.into_iter().map(|name| {
        let state = state.clone();
        let conn = conn.clone();
        let event = event.clone();
        let kind = kind.clone();
        let user = user.clone();
        let policy = policy.clone();
        async move {
            let outcome = match rate_limit(&state, &policy, &user, &name) {
                Err(e) => Err(e),
                Ok(()) => {
                    execute(
                        &state,
                        &name,
                        &user,
                        Invocation {
                            target: Target::Event(kind),
                            args: Value::Null,
                            event,
                            route: Route::Subscriber {
                                fallback: Some(conn),
                            },
                            kind: "event",
                        },
                    )
                    .await
                }
            };
            match outcome {
                Ok(answer) => json!({ "module": name, "ok": true, "result": answer["result"], "stdout": answer["stdout"] }),
                Err(error) => json!({ "module": name, "ok": false, "error": error }),
            }
        }
    });
    let delivered: Vec<Value> = futures_join_all(deliveries).await;
    Ok(json!({ "type": kind, "delivered": delivered }))
}

/// Run futures at once, their outputs in order (each in its own task).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<Value>
where
    F: std::future::Future<Output = Value> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(
            handle
                .await
                .unwrap_or_else(|e| json!({ "ok": false, "error": e.to_string() })),
        );
    }
    out
}

/// A schedule came due: run it in its module (if that is still loaded and not quarantined),
/// its host calls going to the module's subscribed bot. A failure counts against the module
/// like any failed call (health, audit); nothing waits for the answer.
async fn fire(state: Arc<State>, due: super::store::Due) {
    let (target, args) = if due.periodic {
        (Target::Every(due.name.clone()), Value::Null)
    } else {
        let payload: Value = serde_json::from_str(&due.payload).unwrap_or(Value::Null);
        (Target::Function(due.name.clone()), json!([payload]))
    };
    let loaded = lock(&state.modules)
        .get(&due.module)
        .is_some_and(|m| m.caps.schedules);
    if !loaded {
        return;
    }
    let event = json!({
        "type": "schedule",
        "name": due.name,
        "periodic": due.periodic,
        "due_ms": due.due_ms,
    });
    let user = format!("schedule:{}", due.name);
    let outcome = execute(
        &state,
        &due.module,
        &user,
        Invocation {
            target,
            args,
            event,
            route: Route::Subscriber { fallback: None },
            kind: "schedule",
        },
    )
    .await;
    if let Err(error) = outcome {
        eprintln!(
            "{}",
            json!({ "event": "schedule_failed", "module": due.module, "name": due.name, "error": error })
        );
    }
}

/// Why a call failed: what its worker said, or a budget that bit.
#[derive(Debug)]
enum Failure {
    Verdict(verdict::Verdict),
    Budget(Exceeded),
}

impl Failure {
    /// What the module's health records as its last violation.
    fn what(&self) -> String {
        match self {
            Failure::Verdict(verdict) => format!(
                "{:?} ({}): {}",
                verdict.status,
                verdict.layer.as_ref().map_or("?", Layer::name),
                verdict.detail.lines().next().unwrap_or("")
            ),
            Failure::Budget(exceeded) => {
                format!("BudgetExceeded ({}): {}", exceeded.budget, exceeded.message)
            }
        }
    }
}

/// The answer to a call from how its worker ended: a budget that bit during the call comes
/// first (the module may have caught the refusal and gone on); then the verdict; then the
/// result itself, which must fit `budgets.max_result_bytes` and be JSON pyward can pass on.
fn settle(
    module: &str,
    policy: &Policy,
    outcome: Result<CallOutcome, WorkerFailure>,
    verdict: verdict::Verdict,
    bitten: Bitten,
) -> Result<Value, Failure> {
    if let Some(exceeded) = bitten.hard {
        return Err(Failure::Budget(exceeded));
    }
    match outcome {
        Ok(out) if verdict.status == verdict::Status::Ok => {
            match budget::result_value(module, out.result.as_ref(), &policy.budgets) {
                Ok(result) => Ok(json!({ "result": result, "stdout": out.stdout })),
                Err(Ok(exceeded)) => Err(Failure::Budget(exceeded)),
                Err(Err(detail)) => Err(Failure::Verdict(verdict::Verdict {
                    status: verdict::Status::Error,
                    layer: Some(Layer::Module),
                    detail,
                })),
            }
        }
        // The module raised after a budget refused one of its host calls (uncaught
        // `BudgetExceeded`, or something that followed from it): that budget is why it failed.
        Ok(_) if verdict.layer == Some(Layer::Module) && bitten.soft.is_some() => {
            Err(Failure::Budget(bitten.soft.expect("checked")))
        }
        _ => Err(Failure::Verdict(verdict)),
    }
}

/// A failed call: the module's health (consecutive failures, maybe quarantine) and its audit
/// records, then the error the caller sees. Blocking.
fn record_failure(
    state: &State,
    module_name: &str,
    user: &str,
    failure: &Failure,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let what = failure.what();
    let mut modules = lock(&state.modules);
    let module = modules
        .get_mut(module_name)
        .ok_or_else(|| not_found(module_name))?;
    let quarantined = module.health.record_failure(&policy.quarantine, &what);
    let health = module.health.clone();
    // Locked before the modules lock is let go: health writes land in the order of the changes.
    let store = lock(&state.store);
    drop(modules);
    let saved = store.save_health(module_name, &health);
    drop(store);
    let mut error = match failure {
        Failure::Verdict(verdict) => verdicts::from_verdict(verdict),
        Failure::Budget(exceeded) => exceeded.error(),
    };
    // The caller is told why the call failed even if the disk refuses the new health; the error
    // then says that too.
    if let (Err(failed), Value::Object(data)) = (saved, &mut error.data) {
        data.insert(
            "health_not_recorded".into(),
            json!(format!("cannot record health: {failed}")),
        );
    }
    match failure {
        Failure::Verdict(verdict)
            if verdict.status != verdict::Status::Error || verdict.layer != Some(Layer::Module) =>
        {
            error = state.refuse(
                error,
                "sandbox_event",
                json!({ "module": module_name, "user": user, "verdict": verdict }),
            );
        }
        Failure::Verdict(_) => {}
        Failure::Budget(exceeded) => {
            let mut details = exceeded.details();
            details["module"] = json!(module_name);
            details["user"] = json!(user);
            error = state.refuse(error, "budget_exceeded", details);
        }
    }
    if quarantined {
        error = state.refuse(
            error,
            "quarantined",
            json!({ "module": module_name, "after": what }),
        );
    }
    Err(error)
}

/// An expired grant is reported once: the refusal that finds it removes it (memory and store)
/// and records `grant_expired`; later attempts are plain level refusals.
fn forget_expired_grants(state: &State, user: &str, module: &str, command: &str) {
    let now = now_ms();
    let mut grants = lock(&state.grants);
    let expired: Vec<Grant> = grants
        .iter()
        .filter(|g| g.covers(user, module, command) && g.expired(now))
        .cloned()
        .collect();
    grants.retain(|g| !expired.contains(g));
    drop(grants);
    for grant in expired {
        // Expired either way; if the disk refuses, the stored copy is found expired again.
        let _ = state.audited("grant_expired", json!({ "grant": grant }), |s| {
            s.revoke(&grant)
        });
    }
}

/// The rate limiter's key for one-shot runs: one window per peer uid, under a name no module
/// can have (module names have no `:`).
const ONE_SHOT_RATE_KEY: &str = "run:";

/// A one-shot worker counted against `budgets.max_one_shot_per_connection` and
/// `budgets.max_one_shot_workers` while it runs.
struct OneShotSlot {
    state: Arc<State>,
    conn: Arc<Conn>,
}

impl OneShotSlot {
    fn take(
        state: &Arc<State>,
        conn: &Arc<Conn>,
        budgets: &pyward_policy::config::Budgets,
    ) -> Result<OneShotSlot, RpcError> {
        let take = |count: &AtomicUsize, max: usize| {
            count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok()
        };
        let refused = |budget: &str, limit: usize, whose: &str| {
            rpc::error(
                Reason::BudgetExceeded,
                format!(
                    "{limit} one-shot runs are already running {whose} ({budget}); wait for \
                     one to finish, or raise the budget in the policy"
                ),
                json!({ "budget": budget, "limit": limit }),
            )
        };
        let per_connection = budgets.max_one_shot_per_connection;
        if !take(&conn.one_shots, per_connection) {
            return Err(refused(
                "budgets.max_one_shot_per_connection",
                per_connection,
                "for this connection",
            ));
        }
        if !take(&state.one_shots, budgets.max_one_shot_workers) {
            conn.one_shots.fetch_sub(1, Ordering::AcqRel);
            return Err(refused(
                "budgets.max_one_shot_workers",
                budgets.max_one_shot_workers,
                "in all",
            ));
        }
        Ok(OneShotSlot {
            state: state.clone(),
            conn: conn.clone(),
        })
    }
}

impl Drop for OneShotSlot {
    fn drop(&mut self) {
        self.conn.one_shots.fetch_sub(1, Ordering::AcqRel);
        self.state.one_shots.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `run`, before any work: the name, the concurrency budgets, then the rate limit (one window
/// per peer uid for all its one-shot runs).
async fn run_one_shot(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    params: Value,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let name = match &params["name"] {
        Value::Null => "pipeline".to_string(),
        Value::String(name) => name.clone(),
        _ => {
            return Err(rpc::error(
                Reason::InvalidParams,
                "`name` must be a string",
                json!({ "param": "name" }),
            ));
        }
    };
    check_name(&name)?;
    let slot = OneShotSlot::take(state, conn, &policy.budgets)?;
    let peer = format!("peer uid {}", conn.uid);
    if !lock(&state.limiter).try_acquire(&peer, ONE_SHOT_RATE_KEY, now_ms()) {
        return Err(rpc::error(
            Reason::RateLimited,
            format!(
                "uid {} is over the rate limit for one-shot runs \
                 (rate_limit.calls_per_window per rate_limit.window_seconds)",
                conn.uid
            ),
            json!({ "calls_per_window": policy.rate_limit.calls_per_window, "window_seconds": policy.rate_limit.window_seconds }),
        ));
    }
    let state = state.clone();
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        let answer = one_shot(&state, &conn, &name, &params);
        drop(slot);
        answer
    })
    .await
    .map_err(rpc::internal)?
}

/// `run`: a pipeline step in a fresh worker that is thrown away afterwards; nothing survives
/// between calls. Admins and bots may run; the source is scanned every time. Its host calls
/// carry `run:NAME` as their module and `origin: "run"`, so it can never act under a loaded
/// module's name, and its key-value calls are answered from a store that lives for this run
/// only: a one-shot has no persistent state.
fn one_shot(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    name: &str,
    params: &Value,
) -> Result<Value, RpcError> {
    let policy = state.policy();
    let source = param(params, "source")?;
    let function = param(params, "function")?;
    let tier = tier_of(&policy, params)?;
    let label = format!("run:{name}");
    scan_or_reject(state, &policy, &label, source)?;
    // A one-shot gets its tier's host calls, as before manifests, but never storage kept by
    // pyward, config or schedules: those belong to loaded modules.
    let granted: BTreeSet<HostCall> = policy
        .host_calls(&tier)
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                HostCall::Config | HostCall::ScheduleAt | HostCall::CancelSchedule
            )
        })
        .collect();
    let (mut worker, _) = start_worker(state, name, source, &granted)?;
    let limits = &policy.sandbox;
    let deadline = Instant::now() + Duration::from_millis(limits.wall_ms);
    let args = params.get("args").cloned().unwrap_or(json!([]));
    let route = Route::Caller(conn.clone());
    let event = params.get("event").cloned().unwrap_or(Value::Null);
    let mut calls = HostCalls::new(&label, &policy.budgets, policy.server.max_line_bytes);
    let mut origin = Origin::OneShot {
        label: &label,
        kv: BTreeMap::new(),
    };
    let pid = worker.process.pid();
    let outcome = worker.process.call(
        &Target::Function(function.to_string()),
        Json::from_value(&args),
        Json::null(),
        deadline,
        &mut |call: HostCall, args_json: Json| {
            let answer = relay(
                state,
                &route,
                &mut origin,
                &tier,
                &granted,
                &event,
                &mut calls,
                call,
                &args_json,
            );
            stop_if_over_budget(&mut calls, pid);
            answer
        },
    );
    let verdict = match &outcome {
        Ok(out) => verdict::from_outcome(out),
        Err(failure) => verdict::from_failure(failure, limits),
    };
    match settle(&label, &policy, outcome, verdict, calls.bitten()) {
        Ok(answer) => Ok(answer),
        Err(Failure::Budget(exceeded)) => {
            let mut details = exceeded.details();
            details["module"] = json!(label);
            Err(state.refuse(exceeded.error(), "budget_exceeded", details))
        }
        Err(Failure::Verdict(verdict)) => {
            let error = verdicts::from_verdict(&verdict);
            if verdict.layer == Some(Layer::Module) {
                return Err(error);
            }
            Err(state.refuse(
                error,
                "sandbox_event",
                json!({ "module": label, "verdict": verdict }),
            ))
        }
    }
}

/// A call whose budget just bit is stopped where it is: its worker is killed (the next call
/// gets a fresh one), so a module that catches the refusal cannot go on looping. The call then
/// fails with the budget's error.
fn stop_if_over_budget(calls: &mut HostCalls, pid: libc::pid_t) {
    if calls.must_stop() {
        let _ = pyward_worker::sys::kill(pid, libc::SIGKILL);
    }
}

/// Who makes a host call.
enum Origin<'a> {
    /// A loaded module, with what it runs with; `kind` is the `origin` its host calls carry
    /// (`module`, `event`, `schedule`).
    Module {
        name: &'a str,
        caps: &'a Capabilities,
        kind: &'static str,
    },
    /// A one-shot run (`run:NAME`): its key-value calls never reach the host.
    OneShot {
        label: &'a str,
        kv: BTreeMap<String, Value>,
    },
}

impl Origin<'_> {
    /// The `module` a `host.call` carries.
    fn label(&self) -> &str {
        match self {
            Origin::Module { name, .. } => name,
            Origin::OneShot { label, .. } => label,
        }
    }

    /// The `origin` a `host.call` carries.
    fn kind(&self) -> &'static str {
        match self {
            Origin::Module { kind, .. } => kind,
            Origin::OneShot { .. } => "run",
        }
    }
}

/// A one-shot run's key-value call, answered from its own store.
fn one_shot_kv(kv: &mut BTreeMap<String, Value>, call: HostCall, args: &Value) -> Json {
    let key = args["key"].as_str().unwrap_or_default().to_string();
    let answer = match call {
        HostCall::KvGet => kv.get(&key).cloned().unwrap_or(Value::Null),
        HostCall::KvSet => {
            kv.insert(key, args["value"].clone());
            Value::Null
        }
        HostCall::KvKeys => {
            let prefix = args["prefix"].as_str().unwrap_or_default();
            json!(
                kv.keys()
                    .filter(|k| k.starts_with(prefix))
                    .collect::<Vec<_>>()
            )
        }
        _ => json!(kv.remove(&key).is_some()),
    };
    Json::from_value(&answer)
}

/// A host call from the worker: counted against the call's budgets, checked against the
/// approved manifest and the tier again, then answered by pyward itself (storage, config,
/// schedules) or sent to the bot as a `host.call` request (the calling connection, or the
/// module's subscribed bot for events and schedules); the worker waits for the answer.
#[allow(clippy::too_many_arguments)]
fn relay(
    state: &State,
    route: &Route,
    origin: &mut Origin<'_>,
    tier: &str,
    granted: &BTreeSet<HostCall>,
    event: &Value,
    calls: &mut HostCalls,
    call: HostCall,
    args_json: &Json,
) -> Result<Json, HostCallError> {
    let name = call.name();
    calls.admit(call, args_json.get())?;
    if !granted.contains(&call) {
        // Audited once per call: a module refused in a loop writes one record, not thousands.
        if calls.first_denial() {
            state.audit(
                "host_call_denied",
                json!({ "module": origin.label(), "call": name }),
            );
        }
        return Err(HostCallError::denied(format!(
            "host call `{name}` is not granted to this module (its approved manifest and its \
             tier)"
        )));
    }
    let args: Value = serde_json::from_str(args_json.get())
        .map_err(|e| HostCallError::failed(format!("bad arguments: {e}")))?;
    if call == HostCall::HttpRequest {
        // Only a loaded module has an approved manifest naming the hosts it may reach.
        let approved = match origin {
            Origin::Module { caps, .. } => Some(&caps.http),
            _ => None,
        };
        return http_request(state, tier, origin.label(), approved, calls, &args);
    }
    match origin {
        Origin::OneShot { kv, .. } if call.is_storage() => {
            return Ok(one_shot_kv(kv, call, &args));
        }
        Origin::Module { name, caps, .. }
            if call.is_storage()
                || matches!(
                    call,
                    HostCall::Config | HostCall::ScheduleAt | HostCall::CancelSchedule
                ) =>
        {
            let policy = state.policy();
            return match module_state::answer(
                &state.store,
                &policy,
                name,
                caps,
                call,
                &args,
                now_ms(),
            ) {
                Ok(value) => Ok(Json::from_value(&value)),
                Err(module_state::Refusal::Budget(exceeded)) => Err(calls.refuse_soft(exceeded)),
                Err(module_state::Refusal::Invalid(why)) => {
                    Err(HostCallError::Invalid { message: why })
                }
                Err(module_state::Refusal::Denied(why)) => {
                    if calls.first_denial() {
                        state.audit(
                            "host_call_denied",
                            json!({ "module": *name, "call": call.name(), "why": why }),
                        );
                    }
                    Err(HostCallError::denied(why))
                }
                Err(module_state::Refusal::Internal(why)) => Err(HostCallError::failed(why)),
            };
        }
        _ => {}
    }
    if call == HostCall::SendFile {
        let policy = state.policy();
        let max = policy.media.max_file_bytes;
        let encoded = args["data"].as_str().unwrap_or_default().len();
        let size = encoded / 4 * 3;
        if size > max + 2 {
            return Err(calls.refuse_soft(Exceeded {
                budget: "media.max_file_bytes",
                limit: max as u64,
                message: format!(
                    "module `{}` tried to send a file of about {size} bytes, over \
                     media.max_file_bytes ({max}); nothing was sent",
                    origin.label()
                ),
            }));
        }
    }
    let conn = match route {
        Route::Caller(conn) => conn.clone(),
        Route::Subscriber { fallback } => {
            let policy = state.policy();
            let module = origin.label().to_string();
            let wait = Duration::from_millis(policy.schedules.subscriber_wait_ms);
            let until = Instant::now() + wait;
            loop {
                if let Some(conn) = subscriber(state, &module).or_else(|| {
                    fallback
                        .clone()
                        .filter(|c| !c.closed.load(Ordering::Relaxed))
                }) {
                    break conn;
                }
                if Instant::now() >= until {
                    return Err(HostCallError::failed(format!(
                        "no bot is subscribed to module `{module}` (host.subscribe); waited {} ms \
                         (schedules.subscriber_wait_ms)",
                        wait.as_millis()
                    )));
                }
                std::thread::sleep(SUBSCRIBER_POLL);
            }
        }
    };
    let id = format!("h{}", conn.next_id.fetch_add(1, Ordering::Relaxed));
    let request = rpc::request(
        &id,
        "host.call",
        json!({ "module": origin.label(), "origin": origin.kind(), "call": call.name(), "args": args, "event": event }),
    );
    if request.len() > conn.max_line {
        return Err(calls.line_too_long(name, request.len()));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    lock(&conn.pending).insert(id.clone(), tx);
    let gone = || {
        lock(&conn.pending).remove(&id);
        HostCallError::failed("the host disconnected")
    };
    if conn.closed.load(Ordering::Relaxed) {
        return Err(gone());
    }
    match conn.out.try_send(request) {
        Ok(()) => {}
        Err(false) => return Err(gone()),
        Err(true) => {
            lock(&conn.pending).remove(&id);
            return Err(HostCallError::failed(format!(
                "the host is not reading its connection: {} bytes of answers wait for it \
                 (server.max_queued_bytes_per_connection)",
                conn.out.queued()
            )));
        }
    }
    match rx.recv_timeout(HOST_CALL_TIMEOUT) {
        // The bot's `error` is its failure, whatever its message says (docs/protocol.md).
        Ok(answer) => answer
            .map(|value| Json::from_value(&value))
            .map_err(HostCallError::failed),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(gone()),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            lock(&conn.pending).remove(&id);
            Err(HostCallError::failed(format!(
                "the host did not answer host call `{name}` within {} s",
                HOST_CALL_TIMEOUT.as_secs()
            )))
        }
    }
}

/// `http_request` is performed by the supervisor's broker (`http.rs`), never relayed to the
/// host; each request, refused or not, is audited.
fn http_request(
    state: &State,
    tier: &str,
    module: &str,
    approved: Option<&BTreeSet<String>>,
    calls: &mut HostCalls,
    args: &Value,
) -> Result<Json, HostCallError> {
    let policy = state.policy();
    let made = calls.count_http_request();
    let (answer, audit) = state
        .http
        .request_blocking(&policy, tier, module, approved, made, args);
    state.audit(audit.event, audit.details);
    answer
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
