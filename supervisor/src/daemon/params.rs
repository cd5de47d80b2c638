//! Request parameters.

use serde_json::{Value, json};

use super::rpc::{self, Reason, RpcError};

pub(super) fn param<'a>(params: &'a Value, key: &str) -> Result<&'a str, RpcError> {
    params[key].as_str().ok_or_else(|| {
        rpc::error(
            Reason::InvalidParams,
            format!("missing string parameter `{key}`"),
            json!({ "param": key }),
        )
    })
}

pub(super) fn bad_param(param: &str, message: impl Into<String>) -> RpcError {
    rpc::error(Reason::InvalidParams, message, json!({ "param": param }))
}
