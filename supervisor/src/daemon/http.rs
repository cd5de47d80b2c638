//! The HTTP broker: `pyward.http.request` from a module, performed by the supervisor (the worker
//! keeps no network at all). Every request, and every redirect hop, goes through the same steps:
//!
//! 1. the per-call and per-minute budgets (`http.max_requests_per_call`, `_per_minute`);
//! 2. the URL is parsed (WHATWG rules: `http://2130706433/` and `http://0177.0.0.1/` are
//!    127.0.0.1 from here on) and its scheme checked (https, or plain http for the hosts of
//!    `http.dangerously_allow_plain_http_hosts`);
//! 3. [`http_allowed`]: the host is on the module's tier's `http_hosts`;
//! 4. the supervisor resolves the name itself and checks every address
//!    ([`pyward_policy::http::check_address`]: loopback, private, link-local, CGNAT, multicast,
//!    documentation, IPv4-in-IPv6, ... refused unless `http.allow_cidrs` lists them);
//! 5. the connection is pinned to the checked addresses (`resolve_to_addrs`; any other lookup
//!    the client might try is refused by [`NoLookups`]), no proxy, no automatic redirects;
//! 6. the body is read in chunks and cut off at `http.max_response_bytes`; the whole request,
//!    redirects included, ends at `http.timeout_ms` (or the module's shorter timeout).
//!
//! A refusal is a [`Refusal`] naming its rule (the module gets `SandboxViolation`); a failure on
//! the way (timeout, connection refused, TLS) is an ordinary error (`pyward.http.Error`). Both,
//! and every completed request (module, host, status, bytes), are audited by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyward_policy::Policy;
use pyward_policy::http::{check_address, special_range};
use pyward_worker::link::{HostCallError, Json};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::rate_limit::RateLimiter;
use super::state::{lock, now_ms};

/// Request headers a module may not set: the broker and the client own the framing and the
/// connection (a forged `Host` would also let a module aim one allowed name at another site).
const OWNED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// Headers dropped when a redirect leaves the host they were meant for.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A request the policy refused, and the rule that did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The policy key (or rule) that refused: `tiers.NAME.http_hosts`, `http.allow_cidrs`, ...
    pub rule: String,
    /// What the module is told, beginning with `http: `.
    pub message: String,
}

fn refusal(rule: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal {
        rule: rule.into(),
        message: format!("http: {}", message.into()),
    }
}

/// How a request ended, other than with an answer.
#[derive(Debug)]
enum Failure {
    Refused(Refusal),
    /// The network or the server failed (timeout, refused connection, TLS, a broken body).
    Failed(String),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

/// Who is asking: the module's name and, for a loaded module, the hosts its approved manifest
/// names (`None`: a one-shot run or a test, which has no manifest).
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub module: &'a str,
    pub approved: Option<&'a BTreeSet<String>>,
}

/// May `requester` of `tier` reach `host` at all? The tier's `http_hosts` must list it, and a
/// loaded module's approved manifest must name it (a pattern `*.example.org` names its
/// subdomains); a requester with no manifest (a one-shot run) reaches nothing.
pub fn http_allowed(
    policy: &Policy,
    tier: &str,
    requester: Requester<'_>,
    host: &str,
) -> Result<(), Refusal> {
    if !policy.http.tier_allows(tier, host) {
        return Err(refusal(
            format!("tiers.{tier}.http_hosts"),
            format!("`{host}` is not on the http_hosts list of tier `{tier}`"),
        ));
    }
    let named = |pattern: &String| {
        pattern == host
            || matches!(
                (pattern.parse::<IpAddr>(), host.parse::<IpAddr>()),
                (Ok(a), Ok(b)) if a == b
            )
            || pattern
                .strip_prefix("*.")
                .is_some_and(|domain| host.ends_with(&format!(".{domain}")))
    };
    match requester.approved {
        Some(hosts) if hosts.iter().any(named) => Ok(()),
        Some(_) => Err(refusal(
            "manifest.http",
            format!(
                "`{host}` is not among the hosts module `{}`'s approved manifest names (pyward.manifest(http=[...]))",
                requester.module
            ),
        )),
        None => Err(refusal(
            "manifest.http",
            format!(
                "`{}` has no approved manifest, so no host (one-shot runs cannot use brokered HTTP)",
                requester.module
            ),
        )),
    }
}

/// What a module asked for (the `http_request` host call's arguments).
#[derive(Debug, Clone)]
pub struct Request {
    method: reqwest::Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    timeout_ms: Option<u64>,
}

impl Request {
    /// `{"method", "url", "headers": [[name, value]], "body": "code points 0-255", "timeout_ms"}`.
    pub fn from_args(args: &Value) -> Result<Request, Refusal> {
        let method = args["method"].as_str().unwrap_or("").to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(refusal(
                "http.methods",
                format!("method `{method}` is not one of {}", METHODS.join(", ")),
            ));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a known method");
        let url = args["url"]
            .as_str()
            .ok_or_else(|| refusal("http.url", "`url` must be a string"))?
            .to_string();
        let mut headers = Vec::new();
        for pair in args["headers"].as_array().into_iter().flatten() {
            let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
                return Err(refusal("http.headers", "headers are (name, value) strings"));
            };
            let lower = name.to_ascii_lowercase();
            if OWNED_HEADERS.contains(&lower.as_str()) {
                return Err(refusal(
                    "http.headers",
                    format!("header `{name}` is set by the broker, not by modules"),
                ));
            }
            let name = HeaderName::from_bytes(lower.as_bytes())
                .map_err(|_| refusal("http.headers", format!("`{name}` is not a header name")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                refusal(
                    "http.headers",
                    format!("the value of header `{name}` is not a valid header value"),
                )
            })?;
            headers.push((name, value));
        }
        let body = match &args["body"] {
            Value::Null => None,
            Value::String(text) => Some(
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| refusal("http.body", "the body is not bytes"))?,
            ),
            _ => return Err(refusal("http.body", "the body is not bytes")),
        };
        Ok(Request {
            method,
            url,
            headers,
            body,
            timeout_ms: args["timeout_ms"].as_u64(),
        })
    }
}

/// A completed exchange.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: String,
    redirects: u32,
}

/// Where names are looked up. The system's resolver in production; the policy's
/// `http.test_only_resolve` map first when it is set (test suites point names at private test
/// addresses with it). Either way the answers are checked before anything connects.
trait Resolver {
    async fn lookup(&self, name: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

struct SystemResolver;

impl Resolver for SystemResolver {
    async fn lookup(&self, name: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((name, port))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// TEST ONLY (`http.test_only_resolve`): names from the policy's map, the rest from the system.
struct StaticNames<'a>(&'a BTreeMap<String, Vec<IpAddr>>);

impl Resolver for StaticNames<'_> {
    async fn lookup(&self, name: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        match self.0.get(&key) {
            Some(addresses) => Ok(addresses.clone()),
            None => SystemResolver.lookup(name, port).await,
        }
    }
}

/// The client's own resolver: it is never asked, because every request is pinned to the
/// addresses the broker checked. If it is asked anyway, nothing is resolved.
struct NoLookups;

impl reqwest::dns::Resolve for NoLookups {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            Err(format!("`{name}` was not resolved and checked by the broker").into())
        })
    }
}

/// The broker's own state: the per-module, per-minute windows.
#[derive(Debug)]
pub struct Broker {
    per_minute: Mutex<(u32, RateLimiter, u32)>,
}

impl Default for Broker {
    fn default() -> Self {
        Broker {
            per_minute: Mutex::new((0, RateLimiter::new(1, 60), 0)),
        }
    }
}

/// What the caller audits about one request.
#[derive(Debug)]
pub struct Audit {
    pub event: &'static str,
    pub details: Value,
}

impl Broker {
    /// One `http_request` host call, blocking (the caller is a worker's blocking thread).
    /// Returns what the worker is told: the answer, a denial (a refusal: `SandboxViolation`),
    /// or a failure (`pyward.http.Error`); and the audit record to write.
    pub fn request_blocking(
        &self,
        policy: &Policy,
        tier: &str,
        module: &str,
        approved: Option<&BTreeSet<String>>,
        made_in_call: u32,
        args: &Value,
    ) -> (Result<Json, HostCallError>, Audit) {
        let requester = Requester { module, approved };
        let started = Instant::now();
        let host_of = |url: &str| {
            Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        };
        let outcome = self.admit(policy, module, made_in_call).and_then(|()| {
            let request = Request::from_args(args)?;
            Ok(request)
        });
        let result = match outcome {
            Err(r) => Err(Failure::Refused(r)),
            Ok(request) => {
                let handle = tokio::runtime::Handle::current();
                handle.block_on(fetch(policy, tier, requester, request))
            }
        };
        let url = args["url"].as_str().unwrap_or("");
        let host = host_of(url);
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(answer) => {
                let audit = Audit {
                    event: "http_request",
                    details: json!({
                        "module": module, "host": host_of(&answer.url), "first_host": host,
                        "method": args["method"], "status": answer.status,
                        "bytes": answer.body.len(), "redirects": answer.redirects, "ms": ms,
                    }),
                };
                let body: String = answer.body.iter().map(|&b| char::from(b)).collect();
                let headers: Vec<[&str; 2]> = answer
                    .headers
                    .iter()
                    .map(|(n, v)| [n.as_str(), v.as_str()])
                    .collect();
                let reply = json!({
                    "status": answer.status, "headers": headers, "body": body, "url": answer.url,
                });
                (Ok(Json::from_value(&reply)), audit)
            }
            Err(Failure::Refused(r)) => {
                let audit = Audit {
                    event: "http_refused",
                    details: json!({ "module": module, "host": host, "rule": r.rule, "why": r.message, "ms": ms }),
                };
                (Err(HostCallError::denied(r.message)), audit)
            }
            Err(Failure::Failed(why)) => {
                let audit = Audit {
                    event: "http_failed",
                    details: json!({ "module": module, "host": host, "why": why, "ms": ms }),
                };
                (Err(HostCallError::failed(why)), audit)
            }
        }
    }

    /// The request budgets: per call (counted by the caller) and per module and minute.
    fn admit(&self, policy: &Policy, module: &str, made_in_call: u32) -> Result<(), Refusal> {
        let http = &policy.http;
        if made_in_call > http.max_requests_per_call {
            return Err(refusal(
                "http.max_requests_per_call",
                format!(
                    "this call already made {} requests (http.max_requests_per_call)",
                    http.max_requests_per_call
                ),
            ));
        }
        let now = now_ms();
        let mut guard = lock(&self.per_minute);
        let (limit, limiter, since_prune) = &mut *guard;
        if *limit != http.max_requests_per_minute {
            // A reloaded policy with a new limit starts new windows.
            *limit = http.max_requests_per_minute;
            *limiter = RateLimiter::new(*limit, 60);
        }
        *since_prune += 1;
        if *since_prune >= 1024 {
            *since_prune = 0;
            limiter.prune(now);
        }
        if !limiter.try_acquire("http", module, now) {
            return Err(refusal(
                "http.max_requests_per_minute",
                format!(
                    "module `{module}` made {} requests in the last minute (http.max_requests_per_minute)",
                    http.max_requests_per_minute
                ),
            ));
        }
        Ok(())
    }
}

/// The whole exchange, redirects included, within the request's deadline.
async fn fetch(
    policy: &Policy,
    tier: &str,
    requester: Requester<'_>,
    mut request: Request,
) -> Result<Answer, Failure> {
    let http = &policy.http;
    let limit_ms = request
        .timeout_ms
        .map_or(http.timeout_ms, |t| t.min(http.timeout_ms));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(limit_ms);
    let roots = root_certificates(policy)?;
    let mut url = Url::parse(&request.url)
        .map_err(|e| refusal("http.url", format!("`{}` is not a URL: {e}", request.url)))?;
    let mut redirects = 0u32;
    loop {
        let hop = async {
            let (host, addresses) = check_url(policy, tier, requester, &url).await?;
            send(
                &request,
                &url,
                &host,
                &addresses,
                &roots,
                http.max_response_bytes,
            )
            .await
        };
        let hop = match tokio::time::timeout_at(deadline, hop).await {
            Ok(hop) => hop,
            Err(_) => {
                return Err(Failure::Failed(format!(
                    "http: no complete answer from `{}` within {limit_ms} ms (http.timeout_ms, or the module's timeout)",
                    url.host_str().unwrap_or("")
                )));
            }
        };
        let hop = hop.map_err(|f| match f {
            Failure::Refused(r) if redirects > 0 => Failure::Refused(Refusal {
                rule: r.rule,
                message: format!("{} (after redirect {redirects} to `{url}`)", r.message),
            }),
            other => other,
        })?;
        let location = (300..400)
            .contains(&hop.status)
            .then(|| {
                hop.headers
                    .iter()
                    .find(|(n, _)| n == "location")
                    .map(|(_, v)| v.clone())
            })
            .flatten();
        let Some(location) = location else {
            return Ok(Answer {
                redirects,
                url: url.to_string(),
                ..hop
            });
        };
        if redirects >= http.max_redirects {
            return Err(refusal(
                "http.max_redirects",
                format!(
                    "more than {} redirects (http.max_redirects), the last to `{location}`",
                    http.max_redirects
                ),
            )
            .into());
        }
        redirects += 1;
        let next = url.join(&location).map_err(|e| {
            Failure::Failed(format!(
                "http: the redirect to `{location}` is not a URL: {e}"
            ))
        })?;
        let same_host = next.host_str() == url.host_str() && next.scheme() == url.scheme();
        if !same_host {
            request
                .headers
                .retain(|(n, _)| !CREDENTIAL_HEADERS.contains(&n.as_str()));
        }
        // 303, and 301/302 after a POST, become a GET without a body, as browsers do.
        let to_get = hop.status == 303
            || (matches!(hop.status, 301 | 302) && request.method == reqwest::Method::POST);
        if to_get {
            if request.method != reqwest::Method::HEAD {
                request.method = reqwest::Method::GET;
            }
            request.body = None;
            request.headers.retain(|(n, _)| n != "content-type");
        }
        url = next;
    }
}

/// Steps 2 to 4 for one URL: scheme, tier, resolve, check every address. Returns the host as
/// the URL has it and the addresses to connect to.
async fn check_url(
    policy: &Policy,
    tier: &str,
    requester: Requester<'_>,
    url: &Url,
) -> Result<(String, Vec<IpAddr>), Failure> {
    let http = &policy.http;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refusal(
            "http.scheme",
            format!("scheme `{}` is not allowed; use https", url.scheme()),
        )
        .into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(refusal("http.url", format!("`{url}` names no host")).into()),
    };
    match url.scheme() {
        "https" => {}
        "http" if http.plain_http_allowed(&host) => {}
        _ => {
            return Err(refusal(
                "http.dangerously_allow_plain_http_hosts",
                format!("plain http to `{host}` is not allowed; use https"),
            )
            .into());
        }
    }
    http_allowed(policy, tier, requester, &host)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses = match url.host() {
        Some(url::Host::Ipv4(a)) => vec![IpAddr::V4(a)],
        Some(url::Host::Ipv6(a)) => vec![IpAddr::V6(a)],
        _ => {
            let found = if http.test_only_resolve.is_empty() {
                SystemResolver.lookup(&host, port).await
            } else {
                StaticNames(&http.test_only_resolve)
                    .lookup(&host, port)
                    .await
            };
            found.map_err(|e| Failure::Failed(format!("http: cannot resolve `{host}`: {e}")))?
        }
    };
    if addresses.is_empty() {
        return Err(Failure::Failed(format!("http: `{host}` has no address")));
    }
    let literal = !matches!(url.host(), Some(url::Host::Domain(_)));
    for &ip in &addresses {
        if let Err(why) = check_address(ip, &http.allow_cidrs) {
            let why = match special_range(ip) {
                Some(what) if !literal => format!(
                    "`{host}` resolves to `{ip}`, {what} (http.allow_cidrs does not list it)"
                ),
                _ => why,
            };
            return Err(refusal("http.allow_cidrs", why).into());
        }
    }
    Ok((host, addresses))
}

fn root_certificates(policy: &Policy) -> Result<Vec<reqwest::Certificate>, Failure> {
    let mut roots = Vec::new();
    for (i, path) in policy.http.extra_root_certs.iter().enumerate() {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Failed(format!(
                "http: cannot read http.extra_root_certs[{i}] {}: {e}",
                path.display()
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Failure::Failed(format!(
                "http: http.extra_root_certs[{i}] {} is not PEM certificates: {e}",
                path.display()
            ))
        })?;
        roots.extend(certs);
    }
    Ok(roots)
}

/// One hop: a client pinned to `addresses`, one request, the body read up to the cap.
async fn send(
    request: &Request,
    url: &Url,
    host: &str,
    addresses: &[IpAddr],
    roots: &[reqwest::Certificate],
    max_bytes: usize,
) -> Result<Answer, Failure> {
    let pinned: Vec<SocketAddr> = addresses.iter().map(|&ip| SocketAddr::new(ip, 0)).collect();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(NoLookups))
        .resolve_to_addrs(host, &pinned)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("pyward/", env!("CARGO_PKG_VERSION")));
    for root in roots {
        builder = builder.add_root_certificate(root.clone());
    }
    let client = builder
        .build()
        .map_err(|e| Failure::Failed(format!("http: cannot build the client: {e}")))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        headers.append(name.clone(), value.clone());
    }
    let mut builder = client
        .request(request.method.clone(), url.clone())
        .headers(headers);
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| Failure::Failed(format!("http: {host}: {}", chain(&e))))?;
    let too_big = || {
        refusal(
            "http.max_response_bytes",
            format!(
                "the answer from `{host}` is larger than http.max_response_bytes ({max_bytes} bytes); it was cut off"
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(too_big().into());
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Failed(format!("http: {host}: {}", chain(&e))))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_big().into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
        url: url.to_string(),
        redirects: 0,
    })
}

/// An error and its causes, on one line ("error sending request: ...: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> Policy {
        Policy::from_toml_str(
            &format!(
                "[tiers.t]\nhost_calls = [\"http_request\"]\nhttp_hosts = [\"api.example.org\", \"127.0.0.1\", \"*.ok.test\", \"evil.test\"]\n[tiers.community]\nhost_calls = []\n{extra}"
            ),
            "p",
        )
        .unwrap()
    }

    fn refused(policy: &Policy, url: &str) -> Refusal {
        let url = Url::parse(url).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let approved = BTreeSet::from([
            "api.example.org".to_string(),
            "127.0.0.1".to_string(),
            "*.ok.test".to_string(),
            "evil.test".to_string(),
        ]);
        let requester = Requester {
            module: "m",
            approved: Some(&approved),
        };
        match rt.block_on(check_url(policy, "t", requester, &url)) {
            Err(Failure::Refused(r)) => r,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn hosts_come_from_the_tier_and_the_approved_manifest() {
        let p = policy("");
        let approved = BTreeSet::from(["api.example.org".to_string(), "*.ok.test".to_string()]);
        let module = Requester {
            module: "m",
            approved: Some(&approved),
        };
        assert!(http_allowed(&p, "t", module, "api.example.org").is_ok());
        assert!(http_allowed(&p, "t", module, "x.ok.test").is_ok());
        // On the tier's list, not in the manifest.
        let r = http_allowed(&p, "t", module, "evil.test").unwrap_err();
        assert!(r.rule.contains("manifest.http"), "{r:?}");
        // No manifest (a one-shot run): nothing.
        let one_shot = Requester {
            module: "run:x",
            approved: None,
        };
        assert!(http_allowed(&p, "t", one_shot, "api.example.org").is_err());
        let r = http_allowed(&p, "community", module, "api.example.org").unwrap_err();
        assert_eq!(r.rule, "tiers.community.http_hosts");
        assert_eq!(
            refused(&p, "https://other.example.org/").rule,
            "tiers.t.http_hosts"
        );
    }

    #[test]
    fn ip_spellings_are_normalised_then_checked() {
        let p = policy("");
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0x7f.1/",
        ] {
            let r = refused(&p, url);
            assert_eq!(r.rule, "http.allow_cidrs", "{url}: {r:?}");
            assert!(r.message.contains("loopback"), "{url}: {r:?}");
        }
    }

    #[test]
    fn plain_http_needs_its_own_list() {
        let p = policy("");
        let r = refused(&p, "http://api.example.org/");
        assert_eq!(r.rule, "http.dangerously_allow_plain_http_hosts");
        assert_eq!(refused(&p, "ftp://api.example.org/").rule, "http.scheme");
    }

    #[test]
    fn names_resolving_to_special_addresses_are_refused() {
        let p = policy("[http]\ntest_only_resolve = { \"evil.test\" = [\"10.0.0.5\"] }\n");
        let r = refused(&p, "https://evil.test/");
        assert_eq!(r.rule, "http.allow_cidrs");
        assert_eq!(
            r.message,
            "http: `evil.test` resolves to `10.0.0.5`, a private address (http.allow_cidrs does not list it)"
        );
    }

    #[test]
    fn module_headers_cannot_take_the_framing() {
        let args = json!({ "method": "GET", "url": "https://x/", "headers": [["Host", "evil"]] });
        assert_eq!(Request::from_args(&args).unwrap_err().rule, "http.headers");
        let args = json!({ "method": "CONNECT", "url": "https://x/" });
        assert_eq!(Request::from_args(&args).unwrap_err().rule, "http.methods");
        let args = json!({ "method": "post", "url": "https://x/", "body": "\u{0}\u{ff}" });
        assert_eq!(Request::from_args(&args).unwrap().body, Some(vec![0, 255]));
        let args = json!({ "method": "POST", "url": "https://x/", "body": "\u{100}" });
        assert_eq!(Request::from_args(&args).unwrap_err().rule, "http.body");
    }
}
