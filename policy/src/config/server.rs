//! `[server]`: the supervisor's socket, its state directory, and the budgets that keep one peer
//! from degrading the others.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges, invalid};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub max_line_bytes: usize,
    pub socket_mode: String,
    pub max_connections_per_uid: usize,
    pub max_buffered_bytes_per_uid: usize,
    pub max_queued_bytes_per_connection: usize,
    pub max_requests_in_flight: usize,
    pub write_timeout_seconds: u64,
    pub refused_audit_window_seconds: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            socket: PathBuf::from("/run/pyward/pyward.sock"),
            state_dir: PathBuf::from("/var/lib/pyward"),
            max_line_bytes: 1 << 20,
            socket_mode: "0660".to_string(),
            max_connections_per_uid: 256,
            max_buffered_bytes_per_uid: 16 << 20,
            max_queued_bytes_per_connection: 1 << 20,
            max_requests_in_flight: 64,
            write_timeout_seconds: 30,
            refused_audit_window_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// Longest line either side sends (the supervisor answers with an error instead).
    pub max_line_bytes: usize,
    pub socket_mode: u32,
    /// Connections one peer uid may hold open at once.
    pub max_connections_per_uid: usize,
    /// Bytes of unfinished lines (no newline yet) one peer uid's connections may hold in all.
    pub max_buffered_bytes_per_uid: usize,
    /// Bytes of answers queued for one connection that its client has not read yet.
    pub max_queued_bytes_per_connection: usize,
    /// Requests of one connection being worked on at once.
    pub max_requests_in_flight: usize,
    /// A client that takes longer than this to take one line is closed.
    pub write_timeout_seconds: u64,
    /// Refused connections are audited once per peer uid and window, with a count.
    pub refused_audit_window_seconds: u64,
}

impl RawServer {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> ServerConfig {
        let socket_mode = match u32::from_str_radix(self.socket_mode.trim_start_matches("0o"), 8) {
            Ok(mode) if mode & 0o007 == 0 && mode <= 0o777 => mode,
            Ok(_) => {
                errors.push(invalid(
                    "server.socket_mode",
                    "must not give any access to other users (last octal digit 0), e.g. \"0660\"",
                ));
                0o660
            }
            Err(_) => {
                errors.push(invalid(
                    "server.socket_mode",
                    format!(
                        "`{}` is not an octal file mode such as \"0660\"",
                        self.socket_mode
                    ),
                ));
                0o660
            }
        };
        let ranges: [(&str, usize, usize, usize); 5] = [
            ("server.max_line_bytes", self.max_line_bytes, 1024, 64 << 20),
            (
                "server.max_connections_per_uid",
                self.max_connections_per_uid,
                1,
                65_536,
            ),
            (
                "server.max_buffered_bytes_per_uid",
                self.max_buffered_bytes_per_uid,
                1024,
                1 << 32,
            ),
            (
                "server.max_queued_bytes_per_connection",
                self.max_queued_bytes_per_connection,
                4096,
                1 << 30,
            ),
            (
                "server.max_requests_in_flight",
                self.max_requests_in_flight,
                1,
                65_536,
            ),
        ];
        check_ranges(errors, &ranges);
        if self.max_buffered_bytes_per_uid < self.max_line_bytes {
            errors.push(invalid(
                "server.max_buffered_bytes_per_uid",
                "must be at least server.max_line_bytes, or no peer could send a line of the longest length",
            ));
        }
        check_ranges(
            errors,
            &[
                (
                    "server.write_timeout_seconds",
                    self.write_timeout_seconds,
                    1,
                    3600,
                ),
                (
                    "server.refused_audit_window_seconds",
                    self.refused_audit_window_seconds,
                    1,
                    86_400,
                ),
            ],
        );
        if !self.socket.is_absolute() {
            errors.push(invalid("server.socket", "must be an absolute path"));
        }
        if !self.state_dir.is_absolute() {
            errors.push(invalid("server.state_dir", "must be an absolute path"));
        }
        ServerConfig {
            socket: self.socket,
            state_dir: self.state_dir,
            max_line_bytes: self.max_line_bytes,
            socket_mode,
            max_connections_per_uid: self.max_connections_per_uid,
            max_buffered_bytes_per_uid: self.max_buffered_bytes_per_uid,
            max_queued_bytes_per_connection: self.max_queued_bytes_per_connection,
            max_requests_in_flight: self.max_requests_in_flight,
            write_timeout_seconds: self.write_timeout_seconds,
            refused_audit_window_seconds: self.refused_audit_window_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn server_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawServer {
            socket_mode: "0o640".into(),
            max_line_bytes: 2048,
            max_buffered_bytes_per_uid: 2048,
            ..RawServer::default()
        };
        let (server, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(server.socket_mode, 0o640);

        let bad = RawServer {
            socket: "pyward.sock".into(),
            socket_mode: "rw-rw----".into(),
            write_timeout_seconds: 0,
            ..RawServer::default()
        };
        let (server, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "server.socket_mode: `rw-rw----` is not an octal file mode such as \"0660\"",
                "server.write_timeout_seconds: must be between 1 and 3600",
                "server.socket: must be an absolute path",
            ]
        );
        assert_eq!(server.socket_mode, 0o660);
    }
}
