//! Brokered HTTP: what a module may reach through `pyward.http.request`. The policy's `[http]`
//! table and each tier's `http_hosts`, validated into [`HttpPolicy`], and the decisions the
//! supervisor's broker makes with them: is this host on the tier's list ([`HostPattern`]), may
//! this scheme be used, and is this address one a module may reach ([`check_address`]).
//!
//! The address rules are the SSRF defence: whatever name or spelling a URL uses, the broker
//! resolves it, checks every address here, and connects only to the checked addresses. Special
//! ranges (loopback, private, link-local, CGNAT, multicast, documentation, IPv4 embedded in IPv6,
//! ...) are refused unless `http.allow_cidrs` lists a range that holds the address.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[http]` table as the file may say it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    pub allow_cidrs: Vec<String>,
    pub dangerously_allow_plain_http_hosts: Vec<String>,
    pub extra_root_certs: Vec<PathBuf>,
    pub max_response_bytes: usize,
    pub timeout_ms: u64,
    pub max_redirects: u32,
    pub max_requests_per_call: u32,
    pub max_requests_per_minute: u32,
    /// TEST ONLY: names answered from this map instead of the system resolver. The answers are
    /// still checked like any other (see docs/policy.md); the key exists so the test suite can
    /// point a name at a private address without touching /etc/hosts or a DNS server.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub test_only_resolve: BTreeMap<String, Vec<String>>,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            allow_cidrs: Vec::new(),
            dangerously_allow_plain_http_hosts: Vec::new(),
            extra_root_certs: Vec::new(),
            max_response_bytes: 1 << 20,
            timeout_ms: 5000,
            max_redirects: 5,
            max_requests_per_call: 10,
            max_requests_per_minute: 60,
            test_only_resolve: BTreeMap::new(),
        }
    }
}

/// The validated `[http]` table, plus each tier's `http_hosts`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPolicy {
    /// Hosts each tier may reach (`tiers.NAME.http_hosts`); a tier not here may reach none.
    pub tier_hosts: BTreeMap<String, Vec<HostPattern>>,
    pub allow_cidrs: Vec<Cidr>,
    pub plain_http_hosts: Vec<HostPattern>,
    pub extra_root_certs: Vec<PathBuf>,
    pub max_response_bytes: usize,
    pub timeout_ms: u64,
    pub max_redirects: u32,
    pub max_requests_per_call: u32,
    pub max_requests_per_minute: u32,
    pub test_only_resolve: BTreeMap<String, Vec<IpAddr>>,
}

impl HttpPolicy {
    /// Validate `[http]` and the tiers' host lists; problems go to `report(key, message)`.
    pub fn from_raw(
        raw: RawHttp,
        tier_hosts: BTreeMap<String, Vec<String>>,
        report: &mut dyn FnMut(String, String),
    ) -> HttpPolicy {
        let mut patterns = |key: &str, list: &[String]| -> Vec<HostPattern> {
            list.iter()
                .enumerate()
                .filter_map(|(i, h)| match HostPattern::parse(h) {
                    Ok(p) => Some(p),
                    Err(why) => {
                        report(format!("{key}[{i}]"), why);
                        None
                    }
                })
                .collect()
        };
        let tier_hosts: BTreeMap<String, Vec<HostPattern>> = tier_hosts
            .into_iter()
            .map(|(tier, hosts)| {
                let list = patterns(&format!("tiers.{tier}.http_hosts"), &hosts);
                (tier, list)
            })
            .collect();
        let plain_http_hosts = patterns(
            "http.dangerously_allow_plain_http_hosts",
            &raw.dangerously_allow_plain_http_hosts,
        );
        let mut allow_cidrs = Vec::new();
        for (i, text) in raw.allow_cidrs.iter().enumerate() {
            match text.parse::<Cidr>() {
                Ok(c) => allow_cidrs.push(c),
                Err(why) => report(format!("http.allow_cidrs[{i}]"), why),
            }
        }
        for (i, path) in raw.extra_root_certs.iter().enumerate() {
            if !path.is_absolute() {
                report(
                    format!("http.extra_root_certs[{i}]"),
                    "must be an absolute path".into(),
                );
            }
        }
        let ranges: [(&str, u64, u64, u64); 5] = [
            (
                "http.max_response_bytes",
                raw.max_response_bytes as u64,
                1,
                // A body travels to the worker as JSON (up to 6 bytes a byte): this keeps the
                // answer well inside the worker link's largest message.
                4 << 20,
            ),
            ("http.timeout_ms", raw.timeout_ms, 10, 600_000),
            ("http.max_redirects", raw.max_redirects.into(), 0, 20),
            (
                "http.max_requests_per_call",
                raw.max_requests_per_call.into(),
                1,
                100_000,
            ),
            (
                "http.max_requests_per_minute",
                raw.max_requests_per_minute.into(),
                1,
                1_000_000,
            ),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                report(key.into(), format!("must be between {min} and {max}"));
            }
        }
        let mut test_only_resolve = BTreeMap::new();
        for (name, addresses) in raw.test_only_resolve {
            let mut parsed = Vec::new();
            for (i, a) in addresses.iter().enumerate() {
                match a.parse::<IpAddr>() {
                    Ok(ip) => parsed.push(ip),
                    Err(_) => report(
                        format!("http.test_only_resolve.{name}[{i}]"),
                        format!("`{a}` is not an IP address"),
                    ),
                }
            }
            test_only_resolve.insert(name.to_ascii_lowercase(), parsed);
        }
        HttpPolicy {
            tier_hosts,
            allow_cidrs,
            plain_http_hosts,
            extra_root_certs: raw.extra_root_certs,
            max_response_bytes: raw.max_response_bytes,
            timeout_ms: raw.timeout_ms,
            max_redirects: raw.max_redirects,
            max_requests_per_call: raw.max_requests_per_call,
            max_requests_per_minute: raw.max_requests_per_minute,
            test_only_resolve,
        }
    }

    /// Is `host` (as a URL parser normalised it: lowercase name, or an IP address without
    /// brackets) on `tier`'s list?
    pub fn tier_allows(&self, tier: &str, host: &str) -> bool {
        self.tier_hosts
            .get(tier)
            .is_some_and(|list| list.iter().any(|p| p.matches(host)))
    }

    /// May plain `http://` be used for `host`?
    pub fn plain_http_allowed(&self, host: &str) -> bool {
        self.plain_http_hosts.iter().any(|p| p.matches(host))
    }
}

/// A host on an allowlist: an exact name or address (`api.example.org`, `203.0.113.7`, `::1`),
/// or `*.example.org` for every name under `example.org` (not `example.org` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Suffix(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .map(str::to_string)
            .unwrap_or(lower);
        if lower.parse::<IpAddr>().is_ok() {
            // Written as the URL parser writes it, so that `::FFFF:1.2.3.4` and its other
            // spellings compare equal.
            return Ok(HostPattern::Exact(
                lower.parse::<IpAddr>().expect("parsed").to_string(),
            ));
        }
        let (suffix, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, lower),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(format!(
                "`{text}` is not a host name (`api.example.org`), `*.` followed by one, or an IP address"
            ));
        }
        Ok(if suffix {
            HostPattern::Suffix(name)
        } else {
            HostPattern::Exact(name)
        })
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        match self {
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name),
            HostPattern::Suffix(name) => {
                host.len() > name.len() + 1
                    && host[host.len() - name.len()..].eq_ignore_ascii_case(name)
                    && host.as_bytes()[host.len() - name.len() - 1] == b'.'
            }
        }
    }
}

/// An address range such as `10.251.0.0/16` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not an address range such as \"10.251.0.0/16\"");
        let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
        let network: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| bad())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        let cidr = Cidr { network, prefix };
        // Host bits set (`10.0.0.5/8`) are almost always a typo for a narrower range.
        if !cidr.contains(network) || masked(network, prefix) != network {
            return Err(format!(
                "`{text}` has host bits set; write the network, e.g. \"{}/{prefix}\"",
                masked(network, prefix)
            ));
        }
        Ok(cidr)
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    fn mask(octets: &mut [u8], prefix: u8) {
        for (i, o) in octets.iter_mut().enumerate() {
            let start = i as u32 * 8;
            let keep = u32::from(prefix).saturating_sub(start).min(8);
            *o &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        }
    }
    match ip {
        IpAddr::V4(a) => {
            let mut o = a.octets();
            mask(&mut o, prefix);
            IpAddr::V4(Ipv4Addr::from(o))
        }
        IpAddr::V6(a) => {
            let mut o = a.octets();
            mask(&mut o, prefix);
            IpAddr::V6(Ipv6Addr::from(o))
        }
    }
}

/// What makes an address special, as a module author reads it: "`10.0.0.5` is {a private
/// address}".
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => special_v4(a),
        IpAddr::V6(a) => special_v6(a),
    }
}

fn special_v4(a: Ipv4Addr) -> Option<&'static str> {
    let [b0, b1, b2, _] = a.octets();
    Some(match (b0, b1, b2) {
        _ if a.is_unspecified() => "the unspecified address",
        _ if a.is_broadcast() => "the broadcast address",
        (0, _, _) => "a \"this network\" address (0.0.0.0/8)",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (192, 168, _) => "a private address",
        (169, 254, _) => "a link-local address (cloud metadata services live here)",
        (100, 64..=127, _) => "a shared (CGNAT) address",
        (192, 0, 0) => "an IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (192, 88, 99) => "a 6to4 relay anycast address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn special_v6(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    Some(match s {
        _ if a.is_unspecified() => "the unspecified address",
        _ if a.is_loopback() => "a loopback address",
        [0, 0, 0, 0, 0, 0xffff, _, _] => "an IPv4-mapped IPv6 address",
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible IPv6 address",
        [0, 0, 0, 0, 0xffff, 0, _, _] => "an IPv4-translated IPv6 address",
        [0x64, 0xff9b, ..] => "a NAT64 address (it embeds an IPv4 address)",
        [0x100, 0, 0, 0, ..] => "a discard-only address (100::/64)",
        [0x2001, 0, ..] => "a Teredo address (it embeds an IPv4 address)",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [0x2002, ..] => "a 6to4 address (it embeds an IPv4 address)",
        [0x3fff, b, ..] if b < 0x1000 => "a documentation address",
        [first, ..] if first & 0xfe00 == 0xfc00 => "a unique local (private) address",
        [first, ..] if first & 0xffc0 == 0xfe80 => "a link-local address",
        [first, ..] if first & 0xffc0 == 0xfec0 => "a site-local (private) address",
        [first, ..] if first & 0xff00 == 0xff00 => "a multicast address",
        [first, ..] if first & 0xe000 != 0x2000 => "an address outside global unicast (2000::/3)",
        _ => return None,
    })
}

/// May a module's request connect to `ip`? `Err` says why not, naming the rule:
/// "`10.0.0.5` is a private address (http.allow_cidrs does not list it)".
pub fn check_address(ip: IpAddr, allow_cidrs: &[Cidr]) -> Result<(), String> {
    if allow_cidrs.iter().any(|c| c.contains(ip)) {
        return Ok(());
    }
    match special_range(ip) {
        None => Ok(()),
        Some(what) => Err(format!(
            "`{ip}` is {what} (http.allow_cidrs does not list it)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        check_address(ip.parse().unwrap(), &[]).is_err()
    }

    #[test]
    fn special_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "169.253.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(!refused(ip), "{ip} should pass");
        }
    }

    #[test]
    fn the_refusal_names_the_rule() {
        let e = check_address("10.0.0.5".parse().unwrap(), &[]).unwrap_err();
        assert_eq!(
            e,
            "`10.0.0.5` is a private address (http.allow_cidrs does not list it)"
        );
    }

    #[test]
    fn allow_cidrs_open_exactly_their_range() {
        let allow = ["10.251.0.0/16".parse::<Cidr>().unwrap()];
        assert!(check_address("10.251.3.2".parse().unwrap(), &allow).is_ok());
        assert!(check_address("10.252.0.1".parse().unwrap(), &allow).is_err());
        // An IPv4 range never opens its IPv4-mapped IPv6 spelling.
        assert!(check_address("::ffff:10.251.3.2".parse().unwrap(), &allow).is_err());
        let v6 = ["fd00:1::/32".parse::<Cidr>().unwrap()];
        assert!(check_address("fd00:1:2::3".parse().unwrap(), &v6).is_ok());
        assert!(check_address("fd00:2::3".parse().unwrap(), &v6).is_err());
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(
            "10.0.0.5/8"
                .parse::<Cidr>()
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        for bad in ["10.0.0.0", "10.0.0.0/33", "::/129", "x/8", "10.0.0.0/-1"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(
            "10.250.0.0/15"
                .parse::<Cidr>()
                .unwrap()
                .contains("10.251.9.9".parse().unwrap())
        );
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("API.Example.org").unwrap();
        assert!(exact.matches("api.example.org"));
        assert!(exact.matches("api.example.org."));
        assert!(!exact.matches("evil.api.example.org"));
        let sub = HostPattern::parse("*.example.org").unwrap();
        assert!(sub.matches("a.b.example.org"));
        assert!(!sub.matches("example.org"));
        assert!(!sub.matches("badexample.org"));
        let mapped = HostPattern::parse("[::FFFF:127.0.0.1]").unwrap();
        assert!(mapped.matches("::ffff:127.0.0.1"));
        for bad in ["", "*.", "a..b", "http://x", "a b", "x/y", "*"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
