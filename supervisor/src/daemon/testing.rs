//! What the daemon's unit tests share: a [`State`] whose store is in a fresh temporary
//! directory and whose zygote is a stand-in that forks nothing (`supervisor/testdata/
//! fake-zygote`: it only says it is warm), a connection nobody reads, and modules put straight
//! into the registry. A test here must never start a worker: the stand-in forks nothing, and a
//! worker it failed to fork would have the supervisor replace its zygote with the test binary
//! itself. What needs a worker is tested end to end (tests/daemon.rs and the others).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pyward_policy::Policy;
use pyward_policy::manifest::Capabilities;
use pyward_worker::zygote::ZygoteClient;
use serde_json::{Value, json};

use super::connection::Conn;
use super::outbox;
use super::quarantine::Health;
use super::state::{Module, State, lock, now_secs};
use super::store::Store;
use super::vetting::scan_with_manifest;

const FAKE_ZYGOTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/fake-zygote");

/// A directory removed with everything in it when dropped.
#[derive(Debug)]
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "pyward-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot make {}: {e}", path.display()));
        TempDir(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server's state under a policy, before anything is loaded, and one bot connection.
pub(super) struct Daemon {
    pub(super) state: Arc<State>,
    pub(super) conn: Arc<Conn>,
    /// Its state directory, removed with it.
    _dir: TempDir,
}

impl Daemon {
    /// `policy` is TOML on top of the built-in defaults (`""`: the defaults).
    pub(super) fn new(policy: &str) -> Daemon {
        Daemon::with_config(policy, None)
    }

    /// As [`Daemon::new`], started with `--config config` (for `policy.reload`).
    pub(super) fn with_config(policy: &str, config: Option<PathBuf>) -> Daemon {
        let policy = Policy::from_toml_str(policy, "test.toml")
            .unwrap_or_else(|e| panic!("a test policy that does not validate: {e:?}"));
        let dir = TempDir::new();
        let store = Store::open(&dir.path().join("state")).expect("the store opens");
        let zygote =
            ZygoteClient::start(Path::new(FAKE_ZYGOTE), None).expect("the stand-in zygote starts");
        let state = State::new(policy, config, json!({}), None, zygote, store, Vec::new());
        Daemon {
            state: Arc::new(state),
            conn: conn(1000),
            _dir: dir,
        }
    }

    /// Put a module into the registry and the store as a load would, without a worker (the
    /// next call would start one).
    pub(super) fn load(&self, name: &str, source: &str, tier: &str) {
        let policy = self.state.policy();
        let (_, manifest, rejected) = scan_with_manifest(&policy, name, source);
        assert_eq!(rejected, None, "the test module `{name}` must scan clean");
        let caps = Capabilities::requested(manifest.as_ref(), &policy, &policy.tiers[tier]);
        let health = Health::new(&policy.quarantine);
        let scan = json!({ "verdict": "clean" });
        lock(&self.state.store)
            .save_module(name, tier, source, &scan, &health, now_secs())
            .expect("the store takes the module");
        let module = Module {
            name: name.to_string(),
            tier: tier.to_string(),
            source: source.into(),
            commands: Vec::new(),
            caps,
            events: Vec::new(),
            periodic: Vec::new(),
            health,
            calls: 0,
            worker: Arc::new(Mutex::new(None)),
        };
        lock(&self.state.modules).insert(name.to_string(), module);
    }

    /// How many audit records of `event` are in the database.
    pub(super) fn audited(&self, event: &str) -> u64 {
        lock(&self.state.store)
            .audit_count(event)
            .expect("the audit log can be read")
    }

    /// The newest audit record of `event`.
    pub(super) fn last_record(&self, event: &str) -> Value {
        let log = lock(&self.state.store)
            .audit_log(10_000)
            .expect("the audit log can be read");
        log.into_iter()
            .rev()
            .find(|r| r["event"] == event)
            .unwrap_or_else(|| panic!("no `{event}` record"))
    }
}

/// A connection of peer `uid` whose answers nobody reads.
pub(super) fn conn(uid: u32) -> Arc<Conn> {
    let (out, _writer) = outbox::new(1 << 20);
    Arc::new(Conn {
        uid,
        out,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        closed: AtomicBool::new(false),
        max_line: 1 << 20,
        in_flight: AtomicUsize::new(0),
        one_shots: AtomicUsize::new(0),
    })
}
