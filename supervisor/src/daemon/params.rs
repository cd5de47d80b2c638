//! Request parameters.

use serde_json::Value;

use super::error::DaemonError;

pub(super) fn param<'a>(params: &'a Value, key: &'static str) -> Result<&'a str, DaemonError> {
    params[key]
        .as_str()
        .ok_or(DaemonError::MissingString { param: key })
}

pub(super) fn bad_param(param: &'static str, why: &'static str) -> DaemonError {
    DaemonError::BadParam { param, why }
}
