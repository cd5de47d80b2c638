//! What the server shares between connections ([`State`]), the loaded modules it holds, and the
//! small helpers every part of the daemon uses (the clock, poison-tolerant locks).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use pyward_policy::Policy;
use pyward_policy::acl::Grant;
use pyward_policy::manifest::Capabilities;
use pyward_worker::cgroup::{CgroupRoot, WorkerCgroup};
use pyward_worker::process::WorkerProcess;
use pyward_worker::runtime::{CommandInfo, PeriodicInfo};
use pyward_worker::zygote::{SharedZygote, ZygoteClient};
use serde_json::{Value, json};

use super::connection::Conn;
use super::http::Broker;
use super::peers::{Peers, Refusals};
use super::quarantine::Health;
use super::rate_limit::RateLimiter;
use super::store::Store;

/// One loaded module.
pub(super) struct Module {
    pub(super) name: String,
    pub(super) tier: String,
    /// Shared, not copied: every call takes it along in case its worker must be restarted.
    pub(super) source: Arc<str>,
    pub(super) commands: Vec<CommandInfo>,
    /// What the module runs with: its manifest made concrete, approved, within its tier.
    pub(super) caps: Capabilities,
    /// Chat events it has handlers for (`@pyward.on`), within `caps.events`.
    pub(super) events: Vec<String>,
    /// Its periodic handlers (`@pyward.every`).
    pub(super) periodic: Vec<PeriodicInfo>,
    pub(super) health: Health,
    pub(super) calls: u64,
    /// The persistent worker; `None` until first needed, or after it died (it is restarted).
    pub(super) worker: Arc<Mutex<Option<Worker>>>,
}

/// A worker process and its cgroup, if per-worker groups are available. Fields drop in order:
/// the process is killed and reaped first, then the group is killed and removed.
pub(super) struct Worker {
    pub(super) process: WorkerProcess,
    pub(super) cgroup: Option<WorkerCgroup>,
}

/// Everything the server shares between connections.
pub(super) struct State {
    /// Swapped whole by `policy.reload`; each operation works on one snapshot.
    pub(super) policy: std::sync::RwLock<Arc<Policy>>,
    /// The policy file, for `policy.reload` (None: built-in defaults, nothing to re-read).
    pub(super) config: Option<PathBuf>,
    /// What this machine enforces, probed once at start (reported by `health`).
    pub(super) machine: Value,
    /// Where per-worker cgroups are made, if this process's cgroup can take them.
    pub(super) cgroups: Option<CgroupRoot>,
    pub(super) zygote: SharedZygote,
    pub(super) modules: Mutex<HashMap<String, Module>>,
    pub(super) grants: Mutex<Vec<Grant>>,
    pub(super) limiter: Mutex<RateLimiter>,
    pub(super) store: Mutex<Store>,
    /// Modules whose health changed by successes only, not yet written (see `store`).
    pub(super) dirty_health: Mutex<BTreeSet<String>>,
    /// Connections and unfinished-line bytes per peer uid.
    pub(super) peers: Mutex<Peers>,
    /// Refused connections, audited once per uid and window with a count.
    pub(super) refusals: Mutex<Refusals>,
    /// One-shot workers running now, for every connection (`budgets.max_one_shot_workers`).
    pub(super) one_shots: AtomicUsize,
    /// Brokered HTTP (`http_request`): its per-module windows.
    pub(super) http: Broker,
    /// The bot connection that gets each module's event and schedule host calls
    /// (`host.subscribe`), by module name; `subscribe_all` for every module.
    pub(super) subscribers: Mutex<HashMap<String, Weak<Conn>>>,
    pub(super) subscribe_all: Mutex<Option<Weak<Conn>>>,
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// What a server starts with: no module loaded yet, nobody connected.
    pub(super) fn new(
        policy: Policy,
        config: Option<PathBuf>,
        machine: Value,
        cgroups: Option<CgroupRoot>,
        zygote: ZygoteClient,
        store: Store,
        grants: Vec<Grant>,
    ) -> State {
        let limiter = RateLimiter::new(
            policy.rate_limit.calls_per_window,
            policy.rate_limit.window_seconds,
        );
        let refusals = Refusals::new(policy.server.refused_audit_window_seconds);
        State {
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
        }
    }

    pub(super) fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Write the health of modules that only had successes since the last flush.
    /// The modules lock is held only to copy: no call waits on the disk.
    pub(super) fn flush_health(&self) {
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
