//! `[[clients]]`: who may connect to the socket, matched by the peer's credentials.

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// The role a socket peer is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May load and unload modules, grant, release quarantine and reload the policy.
    Admin,
    /// May call modules on behalf of its chat users and answer host calls.
    Bot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub role: Role,
}

/// The default `[[clients]]`: root is the admin, and nobody else may connect.
pub(super) fn default_clients() -> Vec<RawClient> {
    vec![RawClient {
        uid: Some(0),
        gid: None,
        role: Role::Admin,
    }]
}

/// A socket peer rule: matches a peer by uid or gid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRule {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub role: Role,
}

pub(super) fn validate(clients: Vec<RawClient>, errors: &mut Vec<Invalid>) -> Vec<ClientRule> {
    let mut client_rules = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        if c.uid.is_none() && c.gid.is_none() {
            errors.push(invalid(
                format!("clients[{i}]"),
                "a client rule needs `uid` or `gid`",
            ));
        }
        client_rules.push(ClientRule {
            uid: c.uid,
            gid: c.gid,
            role: c.role,
        });
    }
    client_rules
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn clients_accept_a_uid_or_a_gid_and_refuse_neither() {
        let good = vec![
            RawClient {
                uid: Some(1000),
                gid: None,
                role: Role::Admin,
            },
            RawClient {
                uid: None,
                gid: Some(1001),
                role: Role::Bot,
            },
        ];
        let (rules, found) = problems(|errors| validate(good, errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(rules[1].gid, Some(1001));

        let bad = vec![RawClient {
            uid: None,
            gid: None,
            role: Role::Bot,
        }];
        let (_, found) = problems(|errors| validate(bad, errors));
        assert_eq!(found, ["clients[0]: a client rule needs `uid` or `gid`"]);
    }
}
