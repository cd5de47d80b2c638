//! JSON-RPC 2.0, one object per line, and the one mapping from pyward's outcomes to stable
//! error codes and `data.reason` strings (docs/protocol.md lists them).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    /// A budget of the policy bit (`data.budget` names its key, `data.limit` its value).
    BudgetExceeded,
    /// A module asks for a capability its trust tier cannot grant, or uses one its manifest
    /// does not declare.
    CapabilityDenied,
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
            Reason::BudgetExceeded => 1012,
            Reason::CapabilityDenied => 1013,
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
            Reason::BudgetExceeded => "budget_exceeded",
            Reason::CapabilityDenied => "capability_denied",
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

/// What one line from a client asks for.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A blank line: ignored.
    Blank,
    /// Not a request: the error reply to send back.
    Invalid(String),
    /// The client's answer to one of our `host.call` requests, keyed by that request's id.
    Answer {
        key: String,
        answer: Result<Value, String>,
    },
    /// A request to dispatch; without an id it is a notification and gets no reply.
    Call {
        id: Option<Value>,
        method: String,
        params: Value,
    },
}

/// Read one line of the protocol. Pure, so that every line a client can send is fuzzed
/// (fuzz/fuzz_targets/rpc_lines.rs) through exactly the code the server runs.
pub fn parse(line: &str) -> Parsed {
    if line.trim().is_empty() {
        return Parsed::Blank;
    }
    let message: Incoming = match serde_json::from_str(line) {
        Ok(m) => m,
        Err(e) => {
            let err = error(
                Reason::ParseError,
                format!("not a JSON object: {e}"),
                json!({}),
            );
            return Parsed::Invalid(response(&Value::Null, Err(err)));
        }
    };
    let Some(method) = message.method else {
        let id = message.id.unwrap_or(Value::Null);
        let key = id.as_str().map_or_else(|| id.to_string(), str::to_string);
        let answer = match (message.result, message.error) {
            (_, Some(error)) => Err(error["message"]
                .as_str()
                .unwrap_or("the host refused")
                .to_string()),
            (Some(result), None) => Ok(result),
            (None, None) => Ok(Value::Null),
        };
        return Parsed::Answer { key, answer };
    };
    if message.jsonrpc.as_deref() != Some("2.0") {
        let err = error(Reason::BadRequest, "`jsonrpc` must be \"2.0\"", json!({}));
        let id = message.id.unwrap_or(Value::Null);
        return Parsed::Invalid(response(&id, Err(err)));
    }
    Parsed::Call {
        id: message.id,
        method,
        params: message.params,
    }
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
    fn lines_are_classified() {
        assert_eq!(parse("  "), Parsed::Blank);
        let Parsed::Invalid(reply) = parse("{not json") else {
            panic!("accepted bad JSON")
        };
        assert!(reply.contains("\"code\":-32700"), "{reply}");
        let Parsed::Invalid(reply) = parse(r#"{"id": 4, "method": "health"}"#) else {
            panic!("accepted a request without jsonrpc")
        };
        assert!(reply.contains("\"id\":4"), "{reply}");
        assert_eq!(
            parse(r#"{"jsonrpc": "2.0", "id": "h1", "error": {"message": "no"}}"#),
            Parsed::Answer {
                key: "h1".into(),
                answer: Err("no".into())
            }
        );
        assert_eq!(
            parse(r#"{"jsonrpc": "2.0", "method": "health"}"#),
            Parsed::Call {
                id: None,
                method: "health".into(),
                params: Value::Null
            }
        );
    }
}
