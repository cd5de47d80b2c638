//! `[tiers.NAME]` and the top-level `default_tier`: trust tiers, the host calls each grants and
//! the most a module's manifest may be granted in it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

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

/// The default `[tiers]`: `community`, where a module gets the chat, its storage, files and
/// timers, and `trusted`, which grants everything a tier can.
pub(super) fn default_tiers() -> BTreeMap<String, RawTier> {
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
    BTreeMap::from([
        ("community".to_string(), community),
        ("trusted".to_string(), trusted),
    ])
}

/// The default `default_tier`.
pub(super) fn default_tier() -> String {
    "community".to_string()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
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

/// Validate every tier, then `default_tier`, which must name one of them. A tier's
/// `http_hosts` are not checked here: they are part of the HTTP policy ([`crate::http`]).
pub(super) fn validate(
    tiers: BTreeMap<String, RawTier>,
    default_tier: &str,
    errors: &mut Vec<Invalid>,
) -> BTreeMap<String, Tier> {
    let tier_map: BTreeMap<String, Tier> = tiers
        .into_iter()
        .map(|(name, raw)| {
            let tier = raw.validate(&name, errors);
            (name, tier)
        })
        .collect();
    if !tier_map.contains_key(default_tier) {
        errors.push(invalid(
            "default_tier",
            format!("no tier named `{default_tier}` in [tiers]"),
        ));
    }
    tier_map
}

impl RawTier {
    fn validate(self, tier: &str, errors: &mut Vec<Invalid>) -> Tier {
        let mut calls = BTreeSet::new();
        for (i, call) in self.host_calls.iter().enumerate() {
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
        let mut events = BTreeSet::new();
        for (i, event) in self.events.iter().enumerate() {
            if KNOWN_EVENTS.contains(&event.as_str()) {
                events.insert(event.clone());
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
        if self.max_storage_kb > 1 << 20 {
            errors.push(invalid(
                format!("tiers.{tier}.max_storage_kb"),
                "must be between 0 and 1048576",
            ));
        }
        Tier {
            host_calls: calls,
            max_storage_kb: self.max_storage_kb,
            events,
            schedules: self.schedules,
            http: self.http,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    fn tier(host_calls: &[&str], events: &[&str]) -> RawTier {
        RawTier {
            host_calls: strings(host_calls),
            http_hosts: Vec::new(),
            max_storage_kb: default_tier_storage_kb(),
            events: strings(events),
            schedules: false,
            http: false,
        }
    }

    #[test]
    fn tiers_accept_known_calls_and_events_and_refuse_the_rest() {
        let good = BTreeMap::from([("bots".to_string(), tier(&["reply", "kv_get"], &["join"]))]);
        let (tiers, found) = problems(|errors| validate(good, "bots", errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            tiers["bots"].host_calls,
            BTreeSet::from([HostCall::Reply, HostCall::KvGet])
        );

        let bad = BTreeMap::from([(
            "bots".to_string(),
            RawTier {
                max_storage_kb: (1 << 20) + 1,
                ..tier(&["reply", "config", "telepathy"], &["typing"])
            },
        )]);
        let (tiers, found) = problems(|errors| validate(bad, "community", errors));
        assert_eq!(
            found,
            [
                "tiers.bots.host_calls[1]: `config` is granted through a module's manifest \
                 (config, schedules) within the tier's other keys, not listed here",
                "tiers.bots.host_calls[2]: unknown host call `telepathy`, expected one of reply, \
                 send_message, edit_message, kv_get, kv_set, kv_delete, kv_keys, log, send_file, \
                 http_request",
                "tiers.bots.events[0]: unknown event `typing`, expected one of message, join, \
                 leave, reaction",
                "tiers.bots.max_storage_kb: must be between 0 and 1048576",
                "default_tier: no tier named `community` in [tiers]",
            ]
        );
        assert_eq!(tiers["bots"].host_calls, BTreeSet::from([HostCall::Reply]));
    }
}
