//! A worker's verdict as the JSON-RPC error a client sees.

use pyward_worker::verdict::{Layer, Status, Verdict};
use serde_json::json;

use super::rpc::{Reason, RpcError, error};

/// A worker verdict that is not `ok`, as the error a client sees.
pub fn from_verdict(verdict: &Verdict) -> RpcError {
    let reason = match verdict.status {
        Status::ScanRejected => Reason::ScanRejected,
        Status::SandboxViolation => Reason::SandboxViolation,
        Status::Timeout => Reason::Timeout,
        Status::MemoryLimit => Reason::MemoryLimit,
        Status::OutputLimit => Reason::OutputLimit,
        Status::Error if verdict.layer == Some(Layer::Module) => Reason::ModuleError,
        Status::Error | Status::Ok => Reason::WorkerCrashed,
    };
    error(
        reason,
        verdict.detail.lines().next().unwrap_or("").to_string(),
        json!({ "layer": verdict.layer, "detail": verdict.detail }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_reasons() {
        let v = Verdict {
            status: Status::SandboxViolation,
            layer: Some(Layer::Seccomp),
            detail: "execve".into(),
        };
        let e = from_verdict(&v);
        assert_eq!(e.data["reason"], "sandbox_violation");
        assert_eq!(e.data["layer"], "seccomp");
    }
}
