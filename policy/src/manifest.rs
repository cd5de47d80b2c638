//! A module's manifest: what it declares it needs (`pyward.manifest(...)` at module level,
//! constants only), read statically from the source, and the capabilities that follow from it
//! under a trust tier. Declare, approve, enforce, audit: the supervisor grants a module exactly
//! its requested capabilities, only within its tier, and only once an admin approved whatever
//! goes beyond the baseline every module gets without asking.
//!
//! Parses with the scanner's parser, whose recursion depth follows the source's nesting: call
//! [`read_manifest`] only on a source the scanner has accepted (the scan bounds nesting first).

use std::collections::BTreeSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprCall, Number, Stmt};
use ruff_text_size::{Ranged, TextRange};
use serde::{Deserialize, Serialize};

use crate::config::{HostCall, KNOWN_EVENTS, Policy, Tier};
use crate::position::{first_line, line_col, shorten};

/// What a manifest may ask for, as the module declared it. Absent keys are `None`: they take
/// the baseline (what a module without a manifest gets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub http: Option<BTreeSet<String>>,
    pub host_calls: Option<BTreeSet<HostCall>>,
    pub storage_kb: Option<u64>,
    pub config: Option<BTreeSet<String>>,
    pub events: Option<BTreeSet<String>>,
    pub schedules: Option<bool>,
}

/// A problem with a manifest, in the scanner's finding shape (`rule`, `severity`, `line`,
/// `column`, `text`, `message`). Every one is an error: the load is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFinding {
    pub rule: &'static str,
    pub severity: &'static str,
    pub line: usize,
    pub column: usize,
    pub text: String,
    pub message: String,
}

/// Rule ids (stable; docs/scan-rules.md lists them).
pub const RULE_NOT_CONSTANT: &str = "manifest-not-constant";
pub const RULE_NOT_MODULE_LEVEL: &str = "manifest-not-module-level";
pub const RULE_DUPLICATE: &str = "manifest-duplicate";
pub const RULE_UNKNOWN_KEY: &str = "manifest-unknown-key";
pub const RULE_BAD_VALUE: &str = "manifest-bad-value";

/// The manifest a source declares (`None`: it declares none), and what is wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestReading {
    pub manifest: Option<Manifest>,
    pub findings: Vec<ManifestFinding>,
}

/// Host calls the baseline grants (within the tier) to a module that does not say otherwise:
/// what every module could do before manifests existed. Storage is granted by `storage_kb`.
pub const BASELINE_HOST_CALLS: [HostCall; 4] = [
    HostCall::Reply,
    HostCall::SendMessage,
    HostCall::EditMessage,
    HostCall::Log,
];

/// Longest config key and HTTP host name a manifest may name.
const MAX_NAME: usize = 64;
const MAX_HOST: usize = 253;

/// Read the manifest of a source the scanner accepted. A source that does not parse has no
/// manifest (the scan has already refused it).
pub fn read_manifest(source: &str) -> ManifestReading {
    let Ok(parsed) = ruff_python_parser::parse_module(source) else {
        return ManifestReading::default();
    };
    let body = &parsed.syntax().body;
    let mut reader = Reader {
        source,
        aliases: manifest_aliases(body),
        reading: ManifestReading::default(),
        top_level: BTreeSet::new(),
    };
    // The calls that are whole statements of the module body are where a manifest belongs.
    for stmt in body {
        if let Stmt::Expr(e) = stmt
            && let Expr::Call(call) = &*e.value
            && reader.is_manifest(&call.func)
        {
            reader.top_level.insert(call.range().start().to_u32());
        }
    }
    reader.visit_body(body);
    reader.reading
}

/// Names under which the module reaches `pyward.manifest`: `pyward` (or `import pyward as p`),
/// and `manifest` itself (`from pyward import manifest [as m]`).
#[derive(Default)]
struct Aliases {
    modules: BTreeSet<String>,
    functions: BTreeSet<String>,
}

fn manifest_aliases(body: &[Stmt]) -> Aliases {
    struct Find(Aliases);
    impl<'a> Visitor<'a> for Find {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::Import(import) => {
                    for alias in &import.names {
                        if alias.name.as_str() == "pyward" {
                            let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                            self.0.modules.insert(bound.to_string());
                        }
                    }
                }
                Stmt::ImportFrom(import)
                    if import.level == 0
                        && import.module.as_ref().map(|m| m.as_str()) == Some("pyward") =>
                {
                    for alias in &import.names {
                        if alias.name.as_str() == "manifest" {
                            let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                            self.0.functions.insert(bound.to_string());
                        }
                    }
                }
                _ => {}
            }
            visitor::walk_stmt(self, stmt);
        }
    }
    let mut find = Find(Aliases::default());
    find.visit_body(body);
    find.0
}

struct Reader<'s> {
    source: &'s str,
    aliases: Aliases,
    reading: ManifestReading,
    /// Start offsets of manifest calls that are module-level statements.
    top_level: BTreeSet<u32>,
}

impl Reader<'_> {
    fn is_manifest(&self, func: &Expr) -> bool {
        match func {
            Expr::Attribute(a) => {
                a.attr.as_str() == "manifest"
                    && matches!(&*a.value, Expr::Name(n) if self.aliases.modules.contains(n.id.as_str()))
            }
            Expr::Name(n) => self.aliases.functions.contains(n.id.as_str()),
            _ => false,
        }
    }

    fn finding(&mut self, rule: &'static str, range: TextRange, message: String) {
        let (line, column) = line_col(self.source, range.start().to_usize());
        let text = shorten(first_line(
            self.source,
            range.start().to_usize(),
            range.end().to_usize(),
        ));
        self.reading.findings.push(ManifestFinding {
            rule,
            severity: "error",
            line,
            column,
            text,
            message,
        });
    }

    fn read_call(&mut self, call: &ExprCall) {
        if self.reading.manifest.is_some() {
            self.finding(
                RULE_DUPLICATE,
                call.range(),
                "a module declares one manifest; merge this one into the first".into(),
            );
            return;
        }
        let mut manifest = Manifest::default();
        if !call.arguments.args.is_empty() {
            self.finding(
                RULE_NOT_CONSTANT,
                call.range(),
                "pyward.manifest takes keyword arguments only (http=, host_calls=, storage_kb=, \
                 config=, events=, schedules=)"
                    .into(),
            );
        }
        let mut seen = BTreeSet::new();
        for keyword in &call.arguments.keywords {
            let Some(arg) = &keyword.arg else {
                self.finding(
                    RULE_NOT_CONSTANT,
                    keyword.range(),
                    "pyward.manifest is read before the module runs: spell every key out, \
                     `**` cannot be read"
                        .into(),
                );
                continue;
            };
            let key = arg.as_str();
            if !seen.insert(key.to_string()) {
                self.finding(
                    RULE_DUPLICATE,
                    keyword.range(),
                    format!("`{key}` is given twice"),
                );
                continue;
            }
            let value = &keyword.value;
            match key {
                "http" => {
                    if let Some(hosts) = self.strings(key, value) {
                        let mut set = BTreeSet::new();
                        for host in hosts {
                            if valid_host(&host) {
                                set.insert(host.to_ascii_lowercase());
                            } else {
                                self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "`{host}` is not a host name (letters, digits, `-` and \
                                         dots; no scheme, port, path or wildcard)"
                                    ),
                                );
                            }
                        }
                        manifest.http = Some(set);
                    }
                }
                "host_calls" => {
                    if let Some(names) = self.strings(key, value) {
                        let mut set = BTreeSet::new();
                        for name in names {
                            match HostCall::from_name(&name) {
                                Some(c)
                                    if !c.is_storage() && HostCall::TIER_LISTABLE.contains(&c) =>
                                {
                                    set.insert(c);
                                }
                                Some(c) if c.is_storage() => self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "`{name}` is not listed: storage is declared with \
                                         storage_kb= (0 for none)"
                                    ),
                                ),
                                Some(_) => self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "`{name}` is not listed: it comes with config= or \
                                         schedules=True"
                                    ),
                                ),
                                None => self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "unknown host call `{name}`; known: {}",
                                        listable_host_calls()
                                    ),
                                ),
                            }
                        }
                        manifest.host_calls = Some(set);
                    }
                }
                "storage_kb" => match value {
                    Expr::NumberLiteral(n) => match &n.value {
                        Number::Int(i) if i.as_u64().is_some_and(|v| v <= 1 << 20) => {
                            manifest.storage_kb = i.as_u64();
                        }
                        _ => self.finding(
                            RULE_BAD_VALUE,
                            value.range(),
                            "storage_kb is a whole number of KiB, 0 to 1048576".into(),
                        ),
                    },
                    _ => self.not_constant(key, value.range(), "a whole number"),
                },
                "config" => {
                    if let Some(keys) = self.strings(key, value) {
                        let mut set = BTreeSet::new();
                        for name in keys {
                            if valid_key(&name) {
                                set.insert(name);
                            } else {
                                self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "config key `{name}` must be 1 to {MAX_NAME} letters, \
                                         digits, `_`, `-` and `.`"
                                    ),
                                );
                            }
                        }
                        manifest.config = Some(set);
                    }
                }
                "events" => {
                    if let Some(events) = self.strings(key, value) {
                        let mut set = BTreeSet::new();
                        for event in events {
                            if KNOWN_EVENTS.contains(&event.as_str()) {
                                set.insert(event);
                            } else {
                                self.finding(
                                    RULE_BAD_VALUE,
                                    value.range(),
                                    format!(
                                        "unknown event `{event}`; known: {}",
                                        KNOWN_EVENTS.join(", ")
                                    ),
                                );
                            }
                        }
                        manifest.events = Some(set);
                    }
                }
                "schedules" => match value {
                    Expr::BooleanLiteral(b) => manifest.schedules = Some(b.value),
                    _ => self.not_constant(key, value.range(), "True or False"),
                },
                other => self.finding(
                    RULE_UNKNOWN_KEY,
                    keyword.range(),
                    format!(
                        "pyward.manifest has no key `{other}`; known: http, host_calls, \
                         storage_kb, config, events, schedules"
                    ),
                ),
            }
        }
        self.reading.manifest = Some(manifest);
    }

    fn not_constant(&mut self, key: &str, range: TextRange, what: &str) {
        self.finding(
            RULE_NOT_CONSTANT,
            range,
            format!(
                "`{key}` must be {what} written out in the source: the manifest is read before \
                 the module runs, so variables, calls and expressions cannot be read"
            ),
        );
    }

    /// A list or tuple of string literals.
    fn strings(&mut self, key: &str, value: &Expr) -> Option<Vec<String>> {
        let elements = match value {
            Expr::List(l) => &l.elts,
            Expr::Tuple(t) => &t.elts,
            _ => {
                self.not_constant(key, value.range(), "a list of strings");
                return None;
            }
        };
        let mut out = Vec::new();
        for element in elements {
            match element {
                Expr::StringLiteral(s) => out.push(s.value.to_str().to_string()),
                _ => {
                    self.not_constant(key, element.range(), "a list of strings");
                    return None;
                }
            }
        }
        Some(out)
    }
}

impl<'a> Visitor<'a> for Reader<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr
            && self.is_manifest(&call.func)
        {
            if self.top_level.contains(&call.range().start().to_u32()) {
                self.read_call(call);
            } else {
                self.finding(
                    RULE_NOT_MODULE_LEVEL,
                    call.range(),
                    "pyward.manifest(...) must be a statement of its own at the module's top \
                     level (not in a function, a condition or an expression)"
                        .into(),
                );
            }
            // Not into `func`: that is the manifest being called, which is fine.
            for arg in &call.arguments.args {
                self.visit_expr(arg);
            }
            for keyword in &call.arguments.keywords {
                self.visit_expr(&keyword.value);
            }
            return;
        }
        if self.is_manifest(expr) {
            // `pyward.manifest` used other than by calling it: it could be called from
            // anywhere under another name, where it would not be read.
            self.finding(
                RULE_NOT_MODULE_LEVEL,
                expr.range(),
                "pyward.manifest may only be called, as a module-level statement".into(),
            );
        }
        visitor::walk_expr(self, expr);
    }
}

fn valid_key(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_host(host: &str) -> bool {
    // An IP address literal (v4 or v6) names exactly that address.
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= MAX_HOST
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// What a module may do: its manifest made concrete (absent keys filled from the baseline).
/// What is approved is one of these; what a module runs with is its own (a subset of the
/// approved one, within its tier).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Bot-relayed host calls (reply, send_message, edit_message, send_file, log).
    pub host_calls: BTreeSet<HostCall>,
    pub http: BTreeSet<String>,
    pub storage_kb: u64,
    pub config: BTreeSet<String>,
    pub events: BTreeSet<String>,
    pub schedules: bool,
}

impl Capabilities {
    /// What a module gets without asking, under `tier`: today's defaults.
    pub fn baseline(policy: &Policy, tier: &Tier) -> Capabilities {
        Capabilities {
            host_calls: BASELINE_HOST_CALLS
                .into_iter()
                .filter(|c| tier.host_calls.contains(c))
                .collect(),
            http: BTreeSet::new(),
            storage_kb: if tier.host_calls.iter().any(|c| c.is_storage()) {
                policy.storage.default_kb.min(tier.max_storage_kb)
            } else {
                0
            },
            config: BTreeSet::new(),
            events: BTreeSet::new(),
            schedules: false,
        }
    }

    /// What a manifest asks for (`None`: no manifest, the baseline).
    pub fn requested(manifest: Option<&Manifest>, policy: &Policy, tier: &Tier) -> Capabilities {
        let base = Capabilities::baseline(policy, tier);
        let Some(m) = manifest else {
            return base;
        };
        Capabilities {
            host_calls: m.host_calls.clone().unwrap_or(base.host_calls),
            http: m.http.clone().unwrap_or_default(),
            // Not named: what the baseline gives (none where the tier grants no storage).
            storage_kb: m.storage_kb.unwrap_or(base.storage_kb),
            config: m.config.clone().unwrap_or_default(),
            events: m.events.clone().unwrap_or_default(),
            schedules: m.schedules.unwrap_or(false),
        }
    }

    /// What of these the tier (and the policy's manifest budgets) cannot grant, each as a
    /// sentence; empty when all of it can be.
    pub fn beyond_tier(&self, policy: &Policy, tier_name: &str, tier: &Tier) -> Vec<String> {
        let mut over = Vec::new();
        for call in &self.host_calls {
            if !tier.host_calls.contains(call) {
                over.push(format!(
                    "host call `{}` (not in tiers.{tier_name}.host_calls)",
                    call.name()
                ));
            }
        }
        if self.storage_kb > 0 && !tier.host_calls.iter().any(|c| c.is_storage()) {
            over.push(format!(
                "storage (tiers.{tier_name}.host_calls grants no kv_* call)"
            ));
        } else if self.storage_kb > tier.max_storage_kb {
            over.push(format!(
                "storage_kb={} (tiers.{tier_name}.max_storage_kb is {})",
                self.storage_kb, tier.max_storage_kb
            ));
        }
        for event in &self.events {
            if !tier.events.contains(event) {
                over.push(format!("event `{event}` (not in tiers.{tier_name}.events)"));
            }
        }
        if self.schedules && !tier.schedules {
            over.push(format!("schedules (tiers.{tier_name}.schedules is false)"));
        }
        if !self.http.is_empty() && !tier.http {
            over.push(format!("http (tiers.{tier_name}.http is false)"));
        }
        if self.config.len() > policy.module_config.max_keys {
            over.push(format!(
                "{} config keys (module_config.max_keys is {})",
                self.config.len(),
                policy.module_config.max_keys
            ));
        }
        over
    }

    /// Is everything asked for here also in `other`?
    pub fn within(&self, other: &Capabilities) -> bool {
        self.widening_over(other).is_empty()
    }

    /// What these ask for beyond `other`, each as a short phrase (empty: nothing).
    pub fn widening_over(&self, other: &Capabilities) -> Vec<String> {
        let mut more = Vec::new();
        for call in self.host_calls.difference(&other.host_calls) {
            more.push(format!("host call `{}`", call.name()));
        }
        for host in self.http.difference(&other.http) {
            more.push(format!("http `{host}`"));
        }
        if self.storage_kb > other.storage_kb {
            more.push(format!("storage_kb={}", self.storage_kb));
        }
        for key in self.config.difference(&other.config) {
            more.push(format!("config `{key}`"));
        }
        for event in self.events.difference(&other.events) {
            more.push(format!("event `{event}`"));
        }
        if self.schedules && !other.schedules {
            more.push("schedules".to_string());
        }
        more
    }

    /// Every host call the worker may make with these capabilities under `tier`: the relayed
    /// ones, storage if it has any, config if it declares keys, schedules if it may.
    pub fn granted_calls(&self, tier: &Tier) -> BTreeSet<HostCall> {
        let mut calls: BTreeSet<HostCall> = self
            .host_calls
            .intersection(&tier.host_calls)
            .copied()
            .collect();
        if self.storage_kb > 0 {
            calls.extend(tier.host_calls.iter().filter(|c| c.is_storage()));
        }
        if !self.config.is_empty() {
            calls.insert(HostCall::Config);
        }
        if self.schedules && tier.schedules {
            calls.insert(HostCall::ScheduleAt);
            calls.insert(HostCall::CancelSchedule);
        }
        // Brokered HTTP: only to hosts the approved manifest names (and the tier allows).
        if !self.http.is_empty() && tier.http && tier.host_calls.contains(&HostCall::HttpRequest) {
            calls.insert(HostCall::HttpRequest);
        }
        calls
    }
}

/// The host calls a manifest may list by name (storage, config and schedules have keys of
/// their own), for the error that names an unknown one.
fn listable_host_calls() -> String {
    HostCall::TIER_LISTABLE
        .iter()
        .filter(|c| !c.is_storage())
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(source: &str) -> ManifestReading {
        read_manifest(source)
    }

    fn rules(source: &str) -> Vec<&'static str> {
        read(source).findings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn a_constant_manifest_is_read() {
        let r = read(
            "import pyward\n\npyward.manifest(http=[\"API.example.org\"], host_calls=[\"reply\", \"send_file\"], storage_kb=256, config=(\"api_key\",), events=[\"message\"], schedules=True)\n",
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        let m = r.manifest.unwrap();
        assert_eq!(
            m.http.unwrap(),
            BTreeSet::from(["api.example.org".to_string()])
        );
        assert_eq!(
            m.host_calls.unwrap(),
            BTreeSet::from([HostCall::Reply, HostCall::SendFile])
        );
        assert_eq!(m.storage_kb, Some(256));
        assert_eq!(m.config.unwrap().len(), 1);
        assert_eq!(m.schedules, Some(true));
        let r = read("from pyward import manifest as m\nm(events=[\"message\"])\n");
        assert!(r.manifest.is_some() && r.findings.is_empty(), "{r:?}");
        assert_eq!(read("import json\nx = 1\n"), ManifestReading::default());
    }

    #[test]
    fn an_unknown_host_call_is_told_every_call_a_manifest_may_list() {
        let r = read("import pyward\npyward.manifest(host_calls=[\"telepathy\"])\n");
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert_eq!(
            r.findings[0].message,
            "unknown host call `telepathy`; known: reply, send_message, edit_message, log, \
             send_file, http_request"
        );
    }

    #[test]
    fn anything_but_constants_at_module_level_is_a_finding() {
        let p = "import pyward\n";
        assert_eq!(
            rules(&format!(
                "{p}HOSTS = ['a.org']\npyward.manifest(http=HOSTS)\n"
            )),
            [RULE_NOT_CONSTANT]
        );
        assert_eq!(
            rules(&format!("{p}pyward.manifest(storage_kb=2 * 128)\n")),
            [RULE_NOT_CONSTANT]
        );
        assert_eq!(
            rules(&format!("{p}pyward.manifest(config=[str(1)])\n")),
            [RULE_NOT_CONSTANT]
        );
        assert_eq!(
            rules(&format!("{p}pyward.manifest(**{{'schedules': True}})\n")),
            [RULE_NOT_CONSTANT]
        );
        assert_eq!(
            rules(&format!(
                "{p}pyward.manifest()\npyward.manifest(schedules=True)\n"
            )),
            [RULE_DUPLICATE]
        );
        assert_eq!(
            rules(&format!(
                "{p}def f():\n    pyward.manifest(schedules=True)\n"
            )),
            [RULE_NOT_MODULE_LEVEL]
        );
        assert_eq!(
            rules(&format!(
                "{p}if True:\n    pyward.manifest(schedules=True)\n"
            )),
            [RULE_NOT_MODULE_LEVEL]
        );
        assert_eq!(
            rules(&format!("{p}m = pyward.manifest\nm(schedules=True)\n")),
            [RULE_NOT_MODULE_LEVEL]
        );
        assert_eq!(
            rules(&format!("{p}pyward.manifest(network=True)\n")),
            [RULE_UNKNOWN_KEY]
        );
        assert_eq!(
            rules(&format!(
                "{p}pyward.manifest(events=['telepathy'], host_calls=['kv_get', 'login'], http=['http://x.org/'], storage_kb=99999999)\n"
            )),
            [
                RULE_BAD_VALUE,
                RULE_BAD_VALUE,
                RULE_BAD_VALUE,
                RULE_BAD_VALUE,
                RULE_BAD_VALUE
            ]
        );
    }

    #[test]
    fn capabilities_are_capped_by_the_tier_and_compared() {
        let policy = Policy::default();
        let community = &policy.tiers["community"];
        let base = Capabilities::baseline(&policy, community);
        assert_eq!(Capabilities::requested(None, &policy, community), base);
        assert!(base.beyond_tier(&policy, "community", community).is_empty());
        assert!(!base.host_calls.contains(&HostCall::EditMessage));
        let m = Manifest {
            http: Some(BTreeSet::from(["a.org".to_string()])),
            events: Some(BTreeSet::from(["join".to_string()])),
            storage_kb: Some(4096),
            ..Manifest::default()
        };
        let asked = Capabilities::requested(Some(&m), &policy, community);
        assert_eq!(asked.beyond_tier(&policy, "community", community).len(), 3);
        assert_eq!(asked.widening_over(&base).len(), 3);
        assert!(base.within(&asked));
        let granted = base.granted_calls(community);
        assert!(granted.contains(&HostCall::KvKeys));
        assert!(!granted.contains(&HostCall::Config));
        assert!(!granted.contains(&HostCall::SendFile));
    }
}
