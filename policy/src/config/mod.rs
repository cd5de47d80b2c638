//! The policy file: one module per section, each with its raw serde type (`Raw*`,
//! `deny_unknown_fields`), that type's defaults (its `Default`, the one place they are defined)
//! and its `validate()` into the type the rest of pyward uses. [`RawPolicy::validate`] runs
//! them one after the other into [`Policy`], which cannot be built any other way.
//!
//! The `[scan]` section is the scanner's own ([`crate::scan`]) and `[http]` the broker's
//! ([`crate::http`]): the policy embeds them and neither knows of the policy.
//!
//! Errors always name where the problem is: the line and column in the file, and the dotted key.

mod acl;
mod budgets;
mod clients;
mod events;
mod media;
mod module_config;
mod quarantine;
mod rate_limit;
mod sandbox;
mod schedules;
mod server;
mod storage;
mod tiers;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use acl::{AclConfig, RawAcl, Security};
pub use budgets::{Budgets, RawBudgets};
pub use clients::{ClientRule, RawClient, Role};
pub use events::EventLimits;
pub use media::MediaLimits;
pub use module_config::ConfigLimits;
pub use quarantine::{QuarantineConfig, RawQuarantine};
pub use rate_limit::{RateLimit, RawRateLimit};
pub use sandbox::{Layer, Namespace, RawSandbox, SandboxLimits};
pub use schedules::ScheduleLimits;
pub use server::{RawServer, ServerConfig};
pub use storage::StorageLimits;
pub use tiers::{HostCall, KNOWN_EVENTS, NEVER_RELAYED, RawTier, Tier};

use crate::http::{HttpPolicy, RawHttp};
use crate::position::line_col;
use crate::scan::ScanRules;
// The `[scan]` section belongs to the scanner (`scan::rules`), defaults included.
pub use crate::scan::RawScan;

/// The commented default policy written by `pyward policy init`. A test proves that it parses to
/// exactly [`Policy::default()`], so the two cannot drift apart.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../default_policy.toml");

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

/// The whole file as it may be written. Its defaults are each section's.
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

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            server: RawServer::default(),
            clients: clients::default_clients(),
            acl: RawAcl::default(),
            tiers: tiers::default_tiers(),
            default_tier: tiers::default_tier(),
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

    /// Each section in turn. Problems are reported in this order (`pyward policy validate` and
    /// the tests show it), so a new section goes where its problems should be listed.
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
        let server = server.validate(errors);
        let clients = clients::validate(clients, errors);
        let acl = acl.validate(errors);
        // A tier's `http_hosts` are checked with `[http]`, and kept in the HTTP policy.
        let tier_http_hosts = tiers
            .iter()
            .map(|(name, tier)| (name.clone(), tier.http_hosts.clone()))
            .collect();
        let tiers = tiers::validate(tiers, &default_tier, errors);
        let scan = ScanRules::from_raw(&scan, errors_sink(errors));
        let http = HttpPolicy::from_raw(http, tier_http_hosts, &mut errors_sink(errors));
        let sandbox = sandbox.validate(errors);
        let rate_limit = rate_limit.validate(errors);
        let budgets = budgets.validate(errors);
        let storage = storage.validate(errors);
        let module_config = module_config.validate(errors);
        let events = events.validate(errors);
        let schedules = schedules.validate(errors);
        let media = media.validate(errors);
        let quarantine = quarantine.validate(errors);
        Policy {
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
        }
    }
}

/// `(key, value, min, max)`: each value outside its inclusive range is reported under its key.
fn check_ranges<T: Copy + PartialOrd + std::fmt::Display>(
    errors: &mut Vec<Invalid>,
    ranges: &[(&str, T, T, T)],
) {
    for &(key, value, min, max) in ranges {
        if value < min || value > max {
            errors.push(invalid(key, format!("must be between {min} and {max}")));
        }
    }
}

/// Lets the sections validated outside this module (`scan`, `http`) report into the same list
/// without seeing `Invalid`.
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

/// Runs one section's validation: what it built, and each problem as `key: message`.
#[cfg(test)]
fn problems<T>(validate: impl FnOnce(&mut Vec<Invalid>) -> T) -> (T, Vec<String>) {
    let mut errors = Vec::new();
    let value = validate(&mut errors);
    let found = errors
        .into_iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect();
    (value, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner's defaults on their own are the default policy's scan rules.
    #[test]
    fn default_scan_rules_are_the_default_policys() {
        assert_eq!(ScanRules::default(), Policy::default().scan);
    }

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
