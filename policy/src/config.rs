//! The policy file: raw serde types (`Raw*`, `deny_unknown_fields`), their defaults (defined once,
//! here), and `validate()` into [`Policy`], which cannot be built any other way.
//!
//! Errors always name where the problem is: the line and column in the file, and the dotted key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::http::{HttpPolicy, RawHttp};
pub use crate::position::line_col;
use crate::scan::ScanRules;
// The `[scan]` section belongs to the scanner (`scan::rules`), defaults included; these keep
// their `config::` paths.
pub use crate::scan::{
    DEFAULT_ALLOWED_IMPORTS, DEFAULT_CLIENT_ATTRIBUTES, DEFAULT_FORBIDDEN_ATTRIBUTES,
    DEFAULT_FORBIDDEN_HOOK_METHODS, DEFAULT_FORBIDDEN_NAMES, DEFAULT_FORBIDDEN_PATTERNS, RawScan,
};

/// The commented default policy written by `pyward policy init`. A test proves that it parses to
/// exactly [`Policy::default()`], so the two cannot drift apart.
pub const DEFAULT_POLICY_TOML: &str = include_str!("default_policy.toml");

/// Where a policy problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file the policy came from, or `<string>`.
    pub source_name: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted key of the offending value (`sandbox.memory_mb`, `clients[1].role`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The role a socket peer is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May load and unload modules, grant, release quarantine and reload the policy.
    Admin,
    /// May call modules on behalf of its chat users and answer host calls.
    Bot,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    Owner,
    Sudo,
    Everyone,
}

/// A capability a module can be granted: one function of the `pyward` module that leaves the
/// worker. Most are relayed to the bot (`reply`, `send_message`, `edit_message`, `send_file`,
/// `log`); the storage, config and schedule calls are answered by the supervisor itself.
/// Session control, crypto keys and device identity are deliberately not in this list: they are
/// never relayed, whatever the policy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostCall {
    Reply,
    SendMessage,
    EditMessage,
    KvGet,
    KvSet,
    KvDelete,
    Log,
    KvKeys,
    SendFile,
    /// `pyward.config(key)`: granted by a manifest's `config` list, never by a tier.
    Config,
    /// `pyward.schedule_at(...)`: granted by a manifest's `schedules=True`, never by a tier.
    ScheduleAt,
    /// `pyward.cancel_schedule(name)`: as `ScheduleAt`.
    CancelSchedule,
    /// `pyward.http.request`: performed by the supervisor's broker, never relayed to the host.
    HttpRequest,
}

impl HostCall {
    pub const ALL: [HostCall; 13] = [
        HostCall::Reply,
        HostCall::SendMessage,
        HostCall::EditMessage,
        HostCall::KvGet,
        HostCall::KvSet,
        HostCall::KvDelete,
        HostCall::Log,
        HostCall::KvKeys,
        HostCall::SendFile,
        HostCall::Config,
        HostCall::ScheduleAt,
        HostCall::CancelSchedule,
        HostCall::HttpRequest,
    ];

    /// The calls a tier's `host_calls` may name (config and schedules are granted through a
    /// manifest, within the tier's other keys).
    pub const TIER_LISTABLE: [HostCall; 10] = [
        HostCall::Reply,
        HostCall::SendMessage,
        HostCall::EditMessage,
        HostCall::KvGet,
        HostCall::KvSet,
        HostCall::KvDelete,
        HostCall::KvKeys,
        HostCall::Log,
        HostCall::SendFile,
        HostCall::HttpRequest,
    ];

    /// The module's storage, kept by the supervisor (never relayed to the bot).
    pub const STORAGE: [HostCall; 4] = [
        HostCall::KvGet,
        HostCall::KvSet,
        HostCall::KvDelete,
        HostCall::KvKeys,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HostCall::Reply => "reply",
            HostCall::SendMessage => "send_message",
            HostCall::EditMessage => "edit_message",
            HostCall::KvGet => "kv_get",
            HostCall::KvSet => "kv_set",
            HostCall::KvDelete => "kv_delete",
            HostCall::Log => "log",
            HostCall::KvKeys => "kv_keys",
            HostCall::SendFile => "send_file",
            HostCall::Config => "config",
            HostCall::ScheduleAt => "schedule_at",
            HostCall::CancelSchedule => "cancel_schedule",
            HostCall::HttpRequest => "http_request",
        }
    }

    pub fn from_name(name: &str) -> Option<HostCall> {
        HostCall::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn is_storage(self) -> bool {
        HostCall::STORAGE.contains(&self)
    }
}

/// Chat events a module can ask to receive (`@pyward.on(...)`, manifest `events`).
pub const KNOWN_EVENTS: &[&str] = &["message", "join", "leave", "reaction"];

/// Host operations that exist on chat clients but are never relayed to them (seed: session
/// control, the raw client, crypto keys, device ids). Naming one in a tier is a policy error.
pub const NEVER_RELAYED: &[&str] = &[
    "login",
    "logout",
    "start",
    "stop",
    "api",
    "crypto",
    "device_id",
    "export_keys",
    "access_token",
];

/// Linux namespaces a worker can be put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    User,
    Net,
    Pid,
    Ipc,
    Uts,
    Mount,
}

/// A sandbox layer a policy can insist on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Landlock,
    Seccomp,
    NoNewPrivs,
    Rlimits,
    /// Dropping to an unprivileged uid and emptying every capability set (only meaningful as root).
    PrivilegeDrop,
    Namespaces,
    Cgroup,
}

// ---------------------------------------------------------------------------------------------
// Raw types: exactly what the file may say. Defaults live in the `Default` impls below, only.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    pub server: RawServer,
    pub clients: Vec<RawClient>,
    pub acl: RawAcl,
    pub tiers: BTreeMap<String, RawTier>,
    pub default_tier: String,
    pub scan: RawScan,
    pub sandbox: RawSandbox,
    pub rate_limit: RawRateLimit,
    pub quarantine: RawQuarantine,
    pub budgets: RawBudgets,
    pub http: RawHttp,
    pub storage: StorageLimits,
    pub module_config: ConfigLimits,
    pub events: EventLimits,
    pub schedules: ScheduleLimits,
    pub media: MediaLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub max_line_bytes: usize,
    pub socket_mode: String,
    pub max_connections_per_uid: usize,
    pub max_buffered_bytes_per_uid: usize,
    pub max_queued_bytes_per_connection: usize,
    pub max_requests_in_flight: usize,
    pub write_timeout_seconds: u64,
    pub refused_audit_window_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAcl {
    pub owners: Vec<String>,
    pub sudos: Vec<String>,
    pub default_security: Security,
    /// `"module.command" = "owner"`: overrides what a module declares, never loosening it.
    pub commands: BTreeMap<String, Security>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub host_calls: Vec<String>,
    /// Hosts this tier's modules may reach with `http_request` (docs/policy.md, `[http]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_hosts: Vec<String>,
    /// The most storage a module of this tier may be granted (manifest `storage_kb`).
    #[serde(default = "default_tier_storage_kb")]
    pub max_storage_kb: u64,
    /// Chat events a module of this tier may receive.
    #[serde(default)]
    pub events: Vec<String>,
    /// Whether a module of this tier may run on a timer.
    #[serde(default)]
    pub schedules: bool,
    /// Whether a module of this tier may be granted brokered HTTP (manifest `http`).
    #[serde(default)]
    pub http: bool,
}

fn default_tier_storage_kb() -> u64 {
    1024
}

/// `[storage]`: the key-value store the supervisor keeps for each loaded module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageLimits {
    /// A module's quota when its manifest names no `storage_kb` (and the most it gets without
    /// an admin's approval).
    pub default_kb: u64,
    /// Keys one module may hold.
    pub max_keys: usize,
    /// Length of one key.
    pub max_key_bytes: usize,
    /// Size of one value (its JSON text).
    pub max_value_bytes: usize,
}

/// `[module_config]`: admin-set values a module reads with `pyward.config(key)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigLimits {
    /// Config keys one manifest may declare.
    pub max_keys: usize,
    /// Size of one value (its JSON text).
    pub max_value_bytes: usize,
}

/// `[events]`: chat events the bot forwards (`module.event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventLimits {
    /// Size of one forwarded event (its JSON text).
    pub max_event_bytes: usize,
}

/// `[schedules]`: `@pyward.every(seconds)` and `pyward.schedule_at(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleLimits {
    /// Shortest period of `@pyward.every`.
    pub min_interval_seconds: u64,
    /// Periodic handlers one module may declare.
    pub max_periodic_per_module: usize,
    /// One-off runs one module may have pending.
    pub max_pending_per_module: usize,
    /// Size of a one-off's payload (its JSON text).
    pub max_payload_bytes: usize,
    /// How far ahead a one-off may be set.
    pub max_delay_days: u64,
    /// How long a host call of an event or a schedule waits for a subscribed bot.
    pub subscriber_wait_ms: u64,
}

/// `[media]`: files a module sends (`pyward.send_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaLimits {
    /// Size of one file, before base64.
    pub max_file_bytes: usize,
}

impl Default for StorageLimits {
    fn default() -> Self {
        StorageLimits {
            default_kb: 64,
            max_keys: 1000,
            max_key_bytes: 256,
            max_value_bytes: 16 * 1024,
        }
    }
}

impl Default for ConfigLimits {
    fn default() -> Self {
        ConfigLimits {
            max_keys: 16,
            max_value_bytes: 4096,
        }
    }
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_event_bytes: 16 * 1024,
        }
    }
}

impl Default for ScheduleLimits {
    fn default() -> Self {
        ScheduleLimits {
            min_interval_seconds: 60,
            max_periodic_per_module: 8,
            max_pending_per_module: 100,
            max_payload_bytes: 4096,
            max_delay_days: 366,
            subscriber_wait_ms: 5000,
        }
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            max_file_bytes: 512 * 1024,
        }
    }
}

/// A trust tier: the host calls it grants and the most a manifest of it may be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub host_calls: BTreeSet<HostCall>,
    pub max_storage_kb: u64,
    pub events: BTreeSet<String>,
    pub schedules: bool,
    pub http: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSandbox {
    pub memory_mb: u64,
    pub cpu_seconds: u64,
    pub wall_ms: u64,
    pub max_output_bytes: usize,
    pub max_open_files: u64,
    pub max_processes: u64,
    pub read_paths: Vec<PathBuf>,
    pub packages_dir: Option<PathBuf>,
    pub worker_uid: u32,
    pub worker_gid: u32,
    pub namespaces: Vec<Namespace>,
    pub require: Vec<Layer>,
    pub dangerously_allow_network: bool,
    pub dangerously_allow_degraded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRateLimit {
    pub calls_per_window: u32,
    pub window_seconds: u64,
}

/// What one module call (or one peer's one-shot runs) may make the supervisor hold or do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBudgets {
    pub max_host_calls_per_call: u32,
    pub max_host_call_args_bytes: usize,
    pub max_result_bytes: usize,
    pub max_commands: usize,
    pub max_command_name_bytes: usize,
    pub max_help_bytes: usize,
    pub max_one_shot_per_connection: usize,
    pub max_one_shot_workers: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawQuarantine {
    pub consecutive_failures: u32,
    pub success_factor: f64,
    pub failure_factor: f64,
    pub initial_score: f64,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for RawPolicy {
    fn default() -> Self {
        let community = RawTier {
            host_calls: strings(&[
                "reply",
                "send_message",
                "kv_get",
                "kv_set",
                "kv_delete",
                "kv_keys",
                "log",
                "send_file",
            ]),
            max_storage_kb: 1024,
            events: strings(&["message"]),
            schedules: true,
            http: false,
            http_hosts: Vec::new(),
        };
        let trusted = RawTier {
            host_calls: HostCall::TIER_LISTABLE
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            max_storage_kb: 10 * 1024,
            events: strings(KNOWN_EVENTS),
            schedules: true,
            http: true,
            http_hosts: Vec::new(),
        };
        RawPolicy {
            server: RawServer::default(),
            clients: vec![RawClient {
                uid: Some(0),
                gid: None,
                role: Role::Admin,
            }],
            acl: RawAcl::default(),
            tiers: BTreeMap::from([
                ("community".to_string(), community),
                ("trusted".to_string(), trusted),
            ]),
            default_tier: "community".to_string(),
            scan: RawScan::default(),
            sandbox: RawSandbox::default(),
            rate_limit: RawRateLimit::default(),
            quarantine: RawQuarantine::default(),
            budgets: RawBudgets::default(),
            http: RawHttp::default(),
            storage: StorageLimits::default(),
            module_config: ConfigLimits::default(),
            events: EventLimits::default(),
            schedules: ScheduleLimits::default(),
            media: MediaLimits::default(),
        }
    }
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            socket: PathBuf::from("/run/pyward/pyward.sock"),
            state_dir: PathBuf::from("/var/lib/pyward"),
            max_line_bytes: 1 << 20,
            socket_mode: "0660".to_string(),
            max_connections_per_uid: 256,
            max_buffered_bytes_per_uid: 16 << 20,
            max_queued_bytes_per_connection: 1 << 20,
            max_requests_in_flight: 64,
            write_timeout_seconds: 30,
            refused_audit_window_seconds: 60,
        }
    }
}

impl Default for RawAcl {
    fn default() -> Self {
        RawAcl {
            owners: Vec::new(),
            sudos: Vec::new(),
            default_security: Security::Owner,
            commands: BTreeMap::new(),
        }
    }
}

impl Default for RawSandbox {
    fn default() -> Self {
        RawSandbox {
            memory_mb: 256,
            cpu_seconds: 5,
            wall_ms: 10_000,
            max_output_bytes: 64 * 1024,
            max_open_files: 32,
            max_processes: 1,
            read_paths: Vec::new(),
            packages_dir: None,
            worker_uid: 65534,
            worker_gid: 65534,
            namespaces: Vec::new(),
            require: vec![
                Layer::Landlock,
                Layer::Seccomp,
                Layer::NoNewPrivs,
                Layer::Rlimits,
            ],
            dangerously_allow_network: false,
            dangerously_allow_degraded: false,
        }
    }
}

impl Default for RawRateLimit {
    fn default() -> Self {
        RawRateLimit {
            calls_per_window: 60,
            window_seconds: 60,
        }
    }
}

impl Default for RawBudgets {
    fn default() -> Self {
        RawBudgets {
            max_host_calls_per_call: 100,
            max_host_call_args_bytes: 64 * 1024,
            max_result_bytes: 256 * 1024,
            max_commands: 32,
            max_command_name_bytes: 64,
            max_help_bytes: 1024,
            max_one_shot_per_connection: 2,
            max_one_shot_workers: 8,
        }
    }
}

impl Default for RawQuarantine {
    fn default() -> Self {
        RawQuarantine {
            consecutive_failures: 3,
            success_factor: 1.02,
            failure_factor: 0.85,
            initial_score: 100.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validated types: what the rest of pyward uses.
// ---------------------------------------------------------------------------------------------

/// A socket peer rule: matches a peer by uid or gid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRule {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// Longest line either side sends (the supervisor answers with an error instead).
    pub max_line_bytes: usize,
    pub socket_mode: u32,
    /// Connections one peer uid may hold open at once.
    pub max_connections_per_uid: usize,
    /// Bytes of unfinished lines (no newline yet) one peer uid's connections may hold in all.
    pub max_buffered_bytes_per_uid: usize,
    /// Bytes of answers queued for one connection that its client has not read yet.
    pub max_queued_bytes_per_connection: usize,
    /// Requests of one connection being worked on at once.
    pub max_requests_in_flight: usize,
    /// A client that takes longer than this to take one line is closed.
    pub write_timeout_seconds: u64,
    /// Refused connections are audited once per peer uid and window, with a count.
    pub refused_audit_window_seconds: u64,
}

/// Budgets of one module call, one module's declarations and one-shot runs (`[budgets]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub max_host_calls_per_call: u32,
    pub max_host_call_args_bytes: usize,
    pub max_result_bytes: usize,
    pub max_commands: usize,
    pub max_command_name_bytes: usize,
    pub max_help_bytes: usize,
    pub max_one_shot_per_connection: usize,
    pub max_one_shot_workers: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AclConfig {
    pub owners: BTreeSet<String>,
    pub sudos: BTreeSet<String>,
    pub default_security: Security,
    pub commands: BTreeMap<String, Security>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxLimits {
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub wall_ms: u64,
    pub max_output_bytes: usize,
    pub max_open_files: u64,
    pub max_processes: u64,
    pub read_paths: Vec<PathBuf>,
    /// The operator's vetted Python packages (`pip install --target`): on the workers'
    /// `sys.path` and readable by them; a package is importable only when allowlisted.
    pub packages_dir: Option<PathBuf>,
    pub worker_uid: u32,
    pub worker_gid: u32,
    pub namespaces: BTreeSet<Namespace>,
    pub require: BTreeSet<Layer>,
    pub dangerously_allow_network: bool,
    pub dangerously_allow_degraded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub calls_per_window: u32,
    pub window_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarantineConfig {
    pub consecutive_failures: u32,
    pub success_factor: f64,
    pub failure_factor: f64,
    pub initial_score: f64,
}

/// A validated policy. Only [`RawPolicy::validate`] (and the loaders built on it) make one:
/// `non_exhaustive` stops other crates from building it field by field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    pub server: ServerConfig,
    pub clients: Vec<ClientRule>,
    pub acl: AclConfig,
    pub tiers: BTreeMap<String, Tier>,
    pub default_tier: String,
    pub scan: ScanRules,
    pub sandbox: SandboxLimits,
    pub rate_limit: RateLimit,
    pub quarantine: QuarantineConfig,
    pub budgets: Budgets,
    pub http: HttpPolicy,
    pub storage: StorageLimits,
    pub module_config: ConfigLimits,
    pub events: EventLimits,
    pub schedules: ScheduleLimits,
    pub media: MediaLimits,
}

impl Default for Policy {
    fn default() -> Self {
        RawPolicy::default()
            .validate()
            .expect("the built-in default policy is valid")
    }
}

/// One semantic problem, before it is given a place in the file.
#[derive(Debug)]
struct Invalid {
    key: String,
    message: String,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl RawPolicy {
    /// Check every value and build the policy the rest of pyward uses. All problems are
    /// collected, not just the first.
    pub fn validate(self) -> Result<Policy, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let policy = self.validate_into(&mut errors);
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors.into_iter().map(|e| (e.key, e.message)).collect())
        }
    }

    fn validate_into(self, errors: &mut Vec<Invalid>) -> Policy {
        let RawPolicy {
            server,
            clients,
            acl,
            tiers,
            default_tier,
            scan,
            sandbox,
            rate_limit,
            quarantine,
            budgets,
            http,
            storage,
            module_config,
            events,
            schedules,
            media,
        } = self;

        let socket_mode = match u32::from_str_radix(server.socket_mode.trim_start_matches("0o"), 8)
        {
            Ok(mode) if mode & 0o007 == 0 && mode <= 0o777 => mode,
            Ok(_) => {
                errors.push(invalid(
                    "server.socket_mode",
                    "must not give any access to other users (last octal digit 0), e.g. \"0660\"",
                ));
                0o660
            }
            Err(_) => {
                errors.push(invalid(
                    "server.socket_mode",
                    format!(
                        "`{}` is not an octal file mode such as \"0660\"",
                        server.socket_mode
                    ),
                ));
                0o660
            }
        };
        if server.max_line_bytes < 1024 || server.max_line_bytes > 64 << 20 {
            errors.push(invalid(
                "server.max_line_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        let ranges: [(&str, usize, usize, usize); 4] = [
            (
                "server.max_connections_per_uid",
                server.max_connections_per_uid,
                1,
                65_536,
            ),
            (
                "server.max_buffered_bytes_per_uid",
                server.max_buffered_bytes_per_uid,
                1024,
                1 << 32,
            ),
            (
                "server.max_queued_bytes_per_connection",
                server.max_queued_bytes_per_connection,
                4096,
                1 << 30,
            ),
            (
                "server.max_requests_in_flight",
                server.max_requests_in_flight,
                1,
                65_536,
            ),
        ];
        check_ranges(errors, &ranges);
        if server.max_buffered_bytes_per_uid < server.max_line_bytes {
            errors.push(invalid(
                "server.max_buffered_bytes_per_uid",
                "must be at least server.max_line_bytes, or no peer could send a line of the longest length",
            ));
        }
        if server.write_timeout_seconds == 0 || server.write_timeout_seconds > 3600 {
            errors.push(invalid(
                "server.write_timeout_seconds",
                "must be between 1 and 3600",
            ));
        }
        if server.refused_audit_window_seconds == 0 || server.refused_audit_window_seconds > 86_400
        {
            errors.push(invalid(
                "server.refused_audit_window_seconds",
                "must be between 1 and 86400",
            ));
        }
        if !server.socket.is_absolute() {
            errors.push(invalid("server.socket", "must be an absolute path"));
        }
        if !server.state_dir.is_absolute() {
            errors.push(invalid("server.state_dir", "must be an absolute path"));
        }

        let mut client_rules = Vec::new();
        for (i, c) in clients.into_iter().enumerate() {
            if c.uid.is_none() && c.gid.is_none() {
                errors.push(invalid(
                    format!("clients[{i}]"),
                    "a client rule needs `uid` or `gid`",
                ));
            }
            client_rules.push(ClientRule {
                uid: c.uid,
                gid: c.gid,
                role: c.role,
            });
        }

        for (field, list) in [("acl.owners", &acl.owners), ("acl.sudos", &acl.sudos)] {
            if let Some(empty) = list.iter().position(|s| s.trim().is_empty()) {
                errors.push(invalid(format!("{field}[{empty}]"), "must not be empty"));
            }
        }
        for name in acl.commands.keys() {
            if !name.contains('.') {
                errors.push(invalid(
                    format!("acl.commands.{name}"),
                    "command keys are \"module.command\"",
                ));
            }
        }

        let mut tier_map = BTreeMap::new();
        let mut tier_http_hosts = BTreeMap::new();
        for (tier, raw) in tiers {
            tier_http_hosts.insert(tier.clone(), raw.http_hosts.clone());
            let mut calls = BTreeSet::new();
            for (i, call) in raw.host_calls.iter().enumerate() {
                let key = format!("tiers.{tier}.host_calls[{i}]");
                if NEVER_RELAYED.contains(&call.as_str()) {
                    errors.push(invalid(
                        key,
                        format!("`{call}` is never relayed to the host, whatever the policy says"),
                    ));
                } else if let Some(c) =
                    HostCall::from_name(call).filter(|c| HostCall::TIER_LISTABLE.contains(c))
                {
                    calls.insert(c);
                } else if HostCall::from_name(call).is_some() {
                    errors.push(invalid(
                        key,
                        format!(
                            "`{call}` is granted through a module's manifest (config, schedules) \
                             within the tier's other keys, not listed here"
                        ),
                    ));
                } else {
                    let known: Vec<_> = HostCall::TIER_LISTABLE.iter().map(|c| c.name()).collect();
                    errors.push(invalid(
                        key,
                        format!(
                            "unknown host call `{call}`, expected one of {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
            let mut tier_events = BTreeSet::new();
            for (i, event) in raw.events.iter().enumerate() {
                if KNOWN_EVENTS.contains(&event.as_str()) {
                    tier_events.insert(event.clone());
                } else {
                    errors.push(invalid(
                        format!("tiers.{tier}.events[{i}]"),
                        format!(
                            "unknown event `{event}`, expected one of {}",
                            KNOWN_EVENTS.join(", ")
                        ),
                    ));
                }
            }
            if raw.max_storage_kb > 1 << 20 {
                errors.push(invalid(
                    format!("tiers.{tier}.max_storage_kb"),
                    "must be between 0 and 1048576",
                ));
            }
            tier_map.insert(
                tier,
                Tier {
                    host_calls: calls,
                    max_storage_kb: raw.max_storage_kb,
                    events: tier_events,
                    schedules: raw.schedules,
                    http: raw.http,
                },
            );
        }
        if !tier_map.contains_key(&default_tier) {
            errors.push(invalid(
                "default_tier",
                format!("no tier named `{default_tier}` in [tiers]"),
            ));
        }

        let scan_rules = ScanRules::from_raw(&scan, errors_sink(errors));
        let http = HttpPolicy::from_raw(http, tier_http_hosts, &mut errors_sink(errors));

        if sandbox.memory_mb < 32 || sandbox.memory_mb > 64 * 1024 {
            errors.push(invalid("sandbox.memory_mb", "must be between 32 and 65536"));
        }
        if sandbox.cpu_seconds == 0 || sandbox.cpu_seconds > 3600 {
            errors.push(invalid("sandbox.cpu_seconds", "must be between 1 and 3600"));
        }
        if sandbox.wall_ms < 10 || sandbox.wall_ms > 3_600_000 {
            errors.push(invalid("sandbox.wall_ms", "must be between 10 and 3600000"));
        }
        if sandbox.max_output_bytes == 0 || sandbox.max_output_bytes > 64 << 20 {
            errors.push(invalid(
                "sandbox.max_output_bytes",
                "must be between 1 and 67108864",
            ));
        }
        if !(4..=4096).contains(&sandbox.max_open_files) {
            errors.push(invalid(
                "sandbox.max_open_files",
                "must be between 4 and 4096",
            ));
        }
        if sandbox.max_processes == 0 || sandbox.max_processes > 4096 {
            errors.push(invalid(
                "sandbox.max_processes",
                "must be between 1 and 4096",
            ));
        }
        if sandbox.worker_uid == 0 || sandbox.worker_gid == 0 {
            errors.push(invalid(
                "sandbox.worker_uid",
                "workers never run as uid or gid 0; pick an unprivileged id such as 65534",
            ));
        }
        for (i, p) in sandbox.read_paths.iter().enumerate() {
            if !p.is_absolute() {
                errors.push(invalid(
                    format!("sandbox.read_paths[{i}]"),
                    "must be an absolute path",
                ));
            }
        }
        if let Some(dir) = &sandbox.packages_dir
            && !dir.is_absolute()
        {
            errors.push(invalid("sandbox.packages_dir", "must be an absolute path"));
        }

        if rate_limit.calls_per_window == 0 {
            errors.push(invalid("rate_limit.calls_per_window", "must be at least 1"));
        }
        if rate_limit.window_seconds == 0 || rate_limit.window_seconds > 86_400 {
            errors.push(invalid(
                "rate_limit.window_seconds",
                "must be between 1 and 86400",
            ));
        }

        let ranges: [(&str, usize, usize, usize); 8] = [
            (
                "budgets.max_host_calls_per_call",
                budgets.max_host_calls_per_call as usize,
                1,
                1_000_000,
            ),
            (
                "budgets.max_host_call_args_bytes",
                budgets.max_host_call_args_bytes,
                64,
                64 << 20,
            ),
            (
                "budgets.max_result_bytes",
                budgets.max_result_bytes,
                16,
                32 << 20,
            ),
            ("budgets.max_commands", budgets.max_commands, 1, 10_000),
            (
                "budgets.max_command_name_bytes",
                budgets.max_command_name_bytes,
                1,
                1024,
            ),
            ("budgets.max_help_bytes", budgets.max_help_bytes, 0, 1 << 20),
            (
                "budgets.max_one_shot_per_connection",
                budgets.max_one_shot_per_connection,
                1,
                4096,
            ),
            (
                "budgets.max_one_shot_workers",
                budgets.max_one_shot_workers,
                1,
                4096,
            ),
        ];
        check_ranges(errors, &ranges);
        let platform: [(&str, usize, usize, usize); 14] = [
            (
                "storage.default_kb",
                storage.default_kb as usize,
                0,
                1 << 20,
            ),
            ("storage.max_keys", storage.max_keys, 1, 1_000_000),
            ("storage.max_key_bytes", storage.max_key_bytes, 1, 4096),
            (
                "storage.max_value_bytes",
                storage.max_value_bytes,
                1,
                16 << 20,
            ),
            ("module_config.max_keys", module_config.max_keys, 0, 1024),
            (
                "module_config.max_value_bytes",
                module_config.max_value_bytes,
                1,
                1 << 20,
            ),
            (
                "events.max_event_bytes",
                events.max_event_bytes,
                64,
                16 << 20,
            ),
            (
                "schedules.min_interval_seconds",
                schedules.min_interval_seconds as usize,
                1,
                86_400,
            ),
            (
                "schedules.max_periodic_per_module",
                schedules.max_periodic_per_module,
                0,
                1024,
            ),
            (
                "schedules.max_pending_per_module",
                schedules.max_pending_per_module,
                0,
                100_000,
            ),
            (
                "schedules.max_payload_bytes",
                schedules.max_payload_bytes,
                2,
                1 << 20,
            ),
            (
                "schedules.max_delay_days",
                schedules.max_delay_days as usize,
                1,
                3660,
            ),
            (
                "schedules.subscriber_wait_ms",
                schedules.subscriber_wait_ms as usize,
                0,
                3_600_000,
            ),
            ("media.max_file_bytes", media.max_file_bytes, 1, 64 << 20),
        ];
        check_ranges(errors, &platform);

        if quarantine.consecutive_failures == 0 {
            errors.push(invalid(
                "quarantine.consecutive_failures",
                "must be at least 1",
            ));
        }
        if !(quarantine.success_factor >= 1.0 && quarantine.success_factor <= 2.0) {
            errors.push(invalid(
                "quarantine.success_factor",
                "must be between 1.0 and 2.0",
            ));
        }
        if !(quarantine.failure_factor > 0.0 && quarantine.failure_factor < 1.0) {
            errors.push(invalid(
                "quarantine.failure_factor",
                "must be above 0.0 and below 1.0",
            ));
        }
        if !(quarantine.initial_score > 0.0 && quarantine.initial_score <= 100.0) {
            errors.push(invalid(
                "quarantine.initial_score",
                "must be above 0 and at most 100",
            ));
        }

        Policy {
            server: ServerConfig {
                socket: server.socket,
                state_dir: server.state_dir,
                max_line_bytes: server.max_line_bytes,
                socket_mode,
                max_connections_per_uid: server.max_connections_per_uid,
                max_buffered_bytes_per_uid: server.max_buffered_bytes_per_uid,
                max_queued_bytes_per_connection: server.max_queued_bytes_per_connection,
                max_requests_in_flight: server.max_requests_in_flight,
                write_timeout_seconds: server.write_timeout_seconds,
                refused_audit_window_seconds: server.refused_audit_window_seconds,
            },
            clients: client_rules,
            acl: AclConfig {
                owners: acl.owners.into_iter().collect(),
                sudos: acl.sudos.into_iter().collect(),
                default_security: acl.default_security,
                commands: acl.commands,
            },
            tiers: tier_map,
            default_tier,
            scan: scan_rules,
            sandbox: SandboxLimits {
                memory_bytes: sandbox.memory_mb * 1024 * 1024,
                cpu_seconds: sandbox.cpu_seconds,
                wall_ms: sandbox.wall_ms,
                max_output_bytes: sandbox.max_output_bytes,
                max_open_files: sandbox.max_open_files,
                max_processes: sandbox.max_processes,
                read_paths: sandbox.read_paths,
                packages_dir: sandbox.packages_dir,
                worker_uid: sandbox.worker_uid,
                worker_gid: sandbox.worker_gid,
                namespaces: sandbox.namespaces.into_iter().collect(),
                require: sandbox.require.into_iter().collect(),
                dangerously_allow_network: sandbox.dangerously_allow_network,
                dangerously_allow_degraded: sandbox.dangerously_allow_degraded,
            },
            rate_limit: RateLimit {
                calls_per_window: rate_limit.calls_per_window,
                window_seconds: rate_limit.window_seconds,
            },
            quarantine: QuarantineConfig {
                consecutive_failures: quarantine.consecutive_failures,
                success_factor: quarantine.success_factor,
                failure_factor: quarantine.failure_factor,
                initial_score: quarantine.initial_score,
            },
            budgets: Budgets {
                max_host_calls_per_call: budgets.max_host_calls_per_call,
                max_host_call_args_bytes: budgets.max_host_call_args_bytes,
                max_result_bytes: budgets.max_result_bytes,
                max_commands: budgets.max_commands,
                max_command_name_bytes: budgets.max_command_name_bytes,
                max_help_bytes: budgets.max_help_bytes,
                max_one_shot_per_connection: budgets.max_one_shot_per_connection,
                max_one_shot_workers: budgets.max_one_shot_workers,
            },
            http,
            storage,
            module_config,
            events,
            schedules,
            media,
        }
    }
}

/// `(key, value, min, max)`: each value outside its inclusive range is reported under its key.
fn check_ranges(errors: &mut Vec<Invalid>, ranges: &[(&str, usize, usize, usize)]) {
    for &(key, value, min, max) in ranges {
        if value < min || value > max {
            errors.push(invalid(key, format!("must be between {min} and {max}")));
        }
    }
}

/// Lets the scan-rule validation (in `scan`) report into the same list without seeing `Invalid`.
fn errors_sink(errors: &mut Vec<Invalid>) -> impl FnMut(String, String) + '_ {
    |key, message| errors.push(Invalid { key, message })
}

impl Policy {
    /// Parse and validate policy text. `source_name` names the file in errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Policy, Vec<PolicyError>> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_col(text, span.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            vec![PolicyError {
                source_name: source_name.to_string(),
                line,
                column,
                key: None,
                message: syntax_message(text, &e),
            }]
        })?;
        raw.validate().map_err(|problems| {
            problems
                .into_iter()
                .map(|(key, message)| {
                    let place = key_span(text, &key).map(|span| line_col(text, span.start));
                    PolicyError {
                        source_name: source_name.to_string(),
                        line: place.map(|p| p.0),
                        column: place.map(|p| p.1),
                        key: Some(key),
                        message,
                    }
                })
                .collect()
        })
    }

    /// Read, parse and validate a policy file.
    pub fn load(path: &Path) -> Result<Policy, Vec<PolicyError>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![PolicyError {
                source_name: name.clone(),
                line: None,
                column: None,
                key: None,
                message: format!("cannot read policy file: {e}"),
            }]
        })?;
        Policy::from_toml_str(&text, &name)
    }

    /// The host calls a trust tier grants (empty for an unknown tier: fail closed).
    pub fn host_calls(&self, tier: &str) -> BTreeSet<HostCall> {
        self.tiers
            .get(tier)
            .map(|t| t.host_calls.clone())
            .unwrap_or_default()
    }
}

/// What the TOML parser found wrong. Its message is empty for some errors (a control
/// character in a comment), and an error must always say what is wrong.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    if !message.is_empty() {
        return message;
    }
    match e
        .span()
        .and_then(|span| text.get(span.start..)?.chars().next())
    {
        Some(c) if c.is_control() => format!(
            "invalid character U+{:04X}: TOML allows control characters only as escapes in strings",
            u32::from(c)
        ),
        Some(c) => format!("invalid TOML at {c:?}"),
        None => "invalid TOML (the file ends too early)".to_string(),
    }
}

/// The byte span of a dotted key (`a.b[2].c`) in a TOML document, for error positions.
fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut span = None;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some(next) = item.get(name) else {
            break;
        };
        item = next;
        span = item.span().or(span);
        if let Some(i) = index {
            let element = match item {
                toml_edit::Item::ArrayOfTables(a) => a.get(i).map(|t| t.span()),
                toml_edit::Item::Value(toml_edit::Value::Array(a)) => a.get(i).map(|v| v.span()),
                _ => None,
            };
            match element {
                Some(s) => span = s.or(span),
                None => break,
            }
            if let toml_edit::Item::ArrayOfTables(a) = item {
                match a.get(i) {
                    Some(_) => {
                        item = &item[i];
                    }
                    None => break,
                }
            }
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_is_the_default_policy() {
        let parsed = Policy::from_toml_str(DEFAULT_POLICY_TOML, "default").unwrap();
        assert_eq!(parsed, Policy::default());
    }

    /// Found by fuzz/fuzz_targets/policy_toml.rs: a control character in a comment made the
    /// TOML parser report an error with an empty message.
    #[test]
    fn every_syntax_error_says_what_is_wrong() {
        for text in ["# The polic\0y\n", "a = \"x\u{7}\"\n", "[sandbox\n"] {
            let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
            assert_eq!(errors.len(), 1);
            assert!(!errors[0].message.is_empty(), "{text:?}: {:?}", errors[0]);
            assert_eq!(errors[0].line, Some(1), "{}", errors[0]);
        }
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let text = "[sandbox]\nmemory_mb = 128\nmemroy_mb = 64\n";
        let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3), "{}", errors[0]);
        assert!(errors[0].message.contains("memroy_mb"), "{}", errors[0]);
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let text = "default_tier = \"community\"\n\n[sandbox]\ncpu_seconds = 1\nmemory_mb = 4\n";
        let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!(e.key.as_deref(), Some("sandbox.memory_mb"));
        assert_eq!(e.line, Some(5), "{e}");
        assert_eq!(
            e.to_string(),
            "p.toml:5:13: key `sandbox.memory_mb`: must be between 32 and 65536"
        );
    }

    #[test]
    fn never_relayed_host_calls_are_refused() {
        let text = "[tiers.evil]\nhost_calls = [\"reply\", \"crypto\"]\n";
        let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
        assert_eq!(errors[0].key.as_deref(), Some("tiers.evil.host_calls[1]"));
        assert_eq!(errors[0].line, Some(2));
        assert!(errors[0].message.contains("never relayed"));
    }

    #[test]
    fn array_of_tables_errors_point_at_the_entry() {
        let text = "[[clients]]\nuid = 0\nrole = \"admin\"\n\n[[clients]]\nrole = \"bot\"\n";
        let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
        assert_eq!(errors[0].key.as_deref(), Some("clients[1]"));
        assert_eq!(errors[0].line, Some(5), "{}", errors[0]);
    }

    #[test]
    fn world_accessible_socket_is_refused() {
        let errors =
            Policy::from_toml_str("[server]\nsocket_mode = \"0666\"\n", "p.toml").unwrap_err();
        assert_eq!(errors[0].key.as_deref(), Some("server.socket_mode"));
    }

    #[test]
    fn workers_never_run_as_root() {
        let errors = Policy::from_toml_str("[sandbox]\nworker_uid = 0\n", "p").unwrap_err();
        assert_eq!(errors[0].key.as_deref(), Some("sandbox.worker_uid"));
    }

    #[test]
    fn budgets_are_checked_by_key() {
        let text = "[server]\nmax_line_bytes = 4194304\nmax_buffered_bytes_per_uid = 1048576\nmax_requests_in_flight = 0\n\n[budgets]\nmax_host_calls_per_call = 0\n";
        let errors = Policy::from_toml_str(text, "p.toml").unwrap_err();
        let keys: Vec<_> = errors.iter().filter_map(|e| e.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "server.max_requests_in_flight",
                "server.max_buffered_bytes_per_uid",
                "budgets.max_host_calls_per_call"
            ],
            "{errors:?}"
        );
        assert_eq!(errors[2].line, Some(7), "{}", errors[2]);
        let errors = Policy::from_toml_str("[budgets]\nmax_helptext = 5\n", "p").unwrap_err();
        assert!(errors[0].message.contains("max_helptext"), "{}", errors[0]);
    }
}
