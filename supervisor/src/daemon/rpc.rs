//! JSON-RPC 2.0, one object per line, and the one mapping from pyward's outcomes to stable
//! error codes and `data.reason` strings (docs/protocol.md lists them).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use pyward_worker::verdict::{Status, Verdict};

/// A request or notification from either side.
#[derive(Debug, Clone, Deserialize)]
pub struct Incoming {
    pub jsonrpc: Option<String>,
    pub id: Option<Value>,
    pub method: Option<String>,
    #[serde(default)]
    pub params: Value,
    pub result: Option<Value>,
    pub error: Option<Value>,
}

/// Why a request failed: a stable code, the reason string clients switch on, and details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Value,
}

/// The reasons a client can see, each with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    ParseError,
    BadRequest,
    MethodNotFound,
    InvalidParams,
    NotFound,
    ScanRejected,
    AclDenied,
    RateLimited,
    Quarantined,
    SandboxViolation,
    Timeout,
    MemoryLimit,
    OutputLimit,
    ModuleError,
    WorkerCrashed,
    Internal,
}

impl Reason {
    pub fn code(self) -> i64 {
        match self {
            Reason::ParseError => -32700,
            Reason::BadRequest => -32600,
            Reason::MethodNotFound => -32601,
            Reason::InvalidParams => -32602,
            Reason::Internal => -32603,
            Reason::NotFound => 1001,
            Reason::ScanRejected => 1002,
            Reason::AclDenied => 1003,
            Reason::RateLimited => 1004,
            Reason::Quarantined => 1005,
            Reason::SandboxViolation => 1006,
            Reason::Timeout => 1007,
            Reason::MemoryLimit => 1008,
            Reason::OutputLimit => 1009,
            Reason::ModuleError => 1010,
            Reason::WorkerCrashed => 1011,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Reason::ParseError | Reason::BadRequest | Reason::InvalidParams => "bad_request",
            Reason::MethodNotFound => "method_not_found",
            Reason::NotFound => "not_found",
            Reason::ScanRejected => "scan_rejected",
            Reason::AclDenied => "acl_denied",
            Reason::RateLimited => "rate_limited",
            Reason::Quarantined => "quarantined",
            Reason::SandboxViolation => "sandbox_violation",
            Reason::Timeout => "timeout",
            Reason::MemoryLimit => "memory_limit",
            Reason::OutputLimit => "output_limit",
            Reason::ModuleError => "module_error",
            Reason::WorkerCrashed => "worker_crashed",
            Reason::Internal => "internal",
        }
    }
}

pub fn error(reason: Reason, message: impl Into<String>, details: Value) -> RpcError {
    let mut data = json!({ "reason": reason.name() });
    if let (Value::Object(d), Value::Object(extra)) = (&mut data, details) {
        d.extend(extra);
    }
    RpcError {
        code: reason.code(),
        message: message.into(),
        data,
    }
}

/// A worker verdict that is not `ok`, as the error a client sees.
pub fn from_verdict(verdict: &Verdict) -> RpcError {
    let reason = match verdict.status {
        Status::ScanRejected => Reason::ScanRejected,
        Status::SandboxViolation => Reason::SandboxViolation,
        Status::Timeout => Reason::Timeout,
        Status::MemoryLimit => Reason::MemoryLimit,
        Status::OutputLimit => Reason::OutputLimit,
        Status::Error if verdict.layer.as_deref() == Some("module") => Reason::ModuleError,
        Status::Error | Status::Ok => Reason::WorkerCrashed,
    };
    error(
        reason,
        verdict.detail.lines().next().unwrap_or("").to_string(),
        json!({ "layer": verdict.layer, "detail": verdict.detail }),
    )
}

pub fn response(id: &Value, result: Result<Value, RpcError>) -> String {
    let body = match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e }),
    };
    body.to_string()
}

pub fn request(id: &str, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_code_reason_and_details() {
        let e = error(Reason::AclDenied, "no", json!({ "needs": "owner" }));
        assert_eq!(e.code, 1003);
        assert_eq!(e.data["reason"], "acl_denied");
        assert_eq!(e.data["needs"], "owner");
        let line = response(&json!(7), Err(e));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["error"]["code"], 1003);
    }

    #[test]
    fn verdicts_map_to_reasons() {
        let v = Verdict {
            status: Status::SandboxViolation,
            layer: Some("seccomp".into()),
            detail: "execve".into(),
        };
        let e = from_verdict(&v);
        assert_eq!(e.data["reason"], "sandbox_violation");
        assert_eq!(e.data["layer"], "seccomp");
    }
}
