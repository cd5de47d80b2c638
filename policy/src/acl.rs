//! Access decisions, as in the Sekai seed: owners may do anything; sudos run `sudo` and
//! `everyone` commands; everyone runs `everyone` commands; a grant (of one command or of a whole
//! module) lets a user run what their level would not, until it expires. A command's level is the
//! strictest of what the module declares, the policy's override, and (when the module declares
//! nothing) the policy's default: the policy can tighten a module, never loosen it.

use serde::{Deserialize, Serialize};

use crate::config::{AclConfig, Security};

/// What a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GrantTarget {
    Command { module: String, command: String },
    Module { module: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub user: String,
    pub target: GrantTarget,
    /// Unix time in milliseconds; `None` never expires. Milliseconds, so that a grant made for
    /// one second lasts one second whenever within a second it was made.
    pub expires_at_ms: Option<u64>,
}

impl Grant {
    /// Does this grant cover `user` running `module.command`?
    pub fn covers(&self, user: &str, module: &str, command: &str) -> bool {
        self.user == user
            && match &self.target {
                GrantTarget::Command {
                    module: m,
                    command: c,
                } => m == module && c == command,
                GrantTarget::Module { module: m } => m == module,
            }
    }

    /// Has it expired at `now_ms` (unix milliseconds)?
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// Why a call is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allowed {
    Owner,
    Sudo,
    Everyone,
    Grant,
}

/// Why a call is refused, in words for the user and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Denied {
    /// The command needs this level and the user has no grant.
    Level { needs: Security },
    /// The user had a grant for this, but it expired at `expired_at_ms` (unix milliseconds).
    GrantExpired { needs: Security, expired_at_ms: u64 },
}

/// The level a command runs at: the strictest of the module's declaration (or the policy's
/// default when it declares none) and the policy's per-command override.
pub fn effective_security(
    acl: &AclConfig,
    module: &str,
    command: &str,
    declared: Option<Security>,
) -> Security {
    let base = declared.unwrap_or(acl.default_security);
    match acl.commands.get(&format!("{module}.{command}")) {
        // Security orders Owner < Sudo < Everyone: the minimum is the strictest.
        Some(&over) => base.min(over),
        None => base,
    }
}

/// May `user` run `module.command` at `now_ms` (unix milliseconds)?
pub fn decide(
    acl: &AclConfig,
    grants: &[Grant],
    user: &str,
    module: &str,
    command: &str,
    declared: Option<Security>,
    now_ms: u64,
) -> Result<Allowed, Denied> {
    if acl.owners.contains(user) {
        return Ok(Allowed::Owner);
    }
    let needs = effective_security(acl, module, command, declared);
    match needs {
        Security::Everyone => return Ok(Allowed::Everyone),
        Security::Sudo if acl.sudos.contains(user) => return Ok(Allowed::Sudo),
        _ => {}
    }
    let mut expired_at_ms = None;
    for grant in grants.iter().filter(|g| g.covers(user, module, command)) {
        if !grant.expired(now_ms) {
            return Ok(Allowed::Grant);
        }
        expired_at_ms = expired_at_ms.max(grant.expires_at_ms);
    }
    Err(match expired_at_ms {
        Some(expired_at_ms) => Denied::GrantExpired {
            needs,
            expired_at_ms,
        },
        None => Denied::Level { needs },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn acl() -> AclConfig {
        AclConfig {
            owners: BTreeSet::from(["@owner".to_string()]),
            sudos: BTreeSet::from(["@sudo".to_string()]),
            default_security: Security::Owner,
            commands: BTreeMap::from([("notes.clear".to_string(), Security::Owner)]),
        }
    }

    fn grant(user: &str, target: GrantTarget, expires_at_ms: Option<u64>) -> Grant {
        Grant {
            user: user.into(),
            target,
            expires_at_ms,
        }
    }

    #[test]
    fn the_matrix() {
        let acl = acl();
        let cases = [
            // (user, declared, expected)
            ("@owner", Some(Security::Owner), Ok(Allowed::Owner)),
            (
                "@sudo",
                Some(Security::Owner),
                Err(Denied::Level {
                    needs: Security::Owner,
                }),
            ),
            ("@sudo", Some(Security::Sudo), Ok(Allowed::Sudo)),
            (
                "@anyone",
                Some(Security::Sudo),
                Err(Denied::Level {
                    needs: Security::Sudo,
                }),
            ),
            ("@anyone", Some(Security::Everyone), Ok(Allowed::Everyone)),
            ("@sudo", Some(Security::Everyone), Ok(Allowed::Everyone)),
            (
                "@anyone",
                None,
                Err(Denied::Level {
                    needs: Security::Owner,
                }),
            ),
        ];
        for (user, declared, expected) in cases {
            assert_eq!(
                decide(&acl, &[], user, "notes", "add", declared, 0),
                expected,
                "{user} {declared:?}"
            );
        }
    }

    #[test]
    fn overrides_only_tighten() {
        let acl = acl();
        assert_eq!(
            effective_security(&acl, "notes", "clear", Some(Security::Everyone)),
            Security::Owner
        );
        let mut loose = acl.clone();
        loose
            .commands
            .insert("notes.add".into(), Security::Everyone);
        assert_eq!(
            effective_security(&loose, "notes", "add", Some(Security::Sudo)),
            Security::Sudo
        );
    }

    #[test]
    fn grants_allow_until_they_expire() {
        let acl = acl();
        let grants = [
            grant(
                "@ann",
                GrantTarget::Command {
                    module: "notes".into(),
                    command: "clear".into(),
                },
                Some(100),
            ),
            grant(
                "@bob",
                GrantTarget::Module {
                    module: "notes".into(),
                },
                None,
            ),
        ];
        let call = |user, command, now| {
            decide(
                &acl,
                &grants,
                user,
                "notes",
                command,
                Some(Security::Sudo),
                now,
            )
        };
        assert_eq!(call("@ann", "clear", 99), Ok(Allowed::Grant));
        assert_eq!(
            call("@ann", "clear", 100),
            Err(Denied::GrantExpired {
                needs: Security::Owner,
                expired_at_ms: 100
            })
        );
        assert_eq!(
            call("@ann", "add", 50),
            Err(Denied::Level {
                needs: Security::Sudo
            })
        );
        assert_eq!(call("@bob", "clear", 1_000_000), Ok(Allowed::Grant));
        assert_eq!(
            decide(&acl, &grants, "@bob", "other", "x", Some(Security::Sudo), 0),
            Err(Denied::Level {
                needs: Security::Sudo
            })
        );
    }
}
