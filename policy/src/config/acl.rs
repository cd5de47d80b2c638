//! `[acl]`: chat-side access control (owners, sudos, per-command levels). The decisions made
//! with it are in [`crate::acl`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    Owner,
    Sudo,
    Everyone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAcl {
    pub owners: Vec<String>,
    pub sudos: Vec<String>,
    pub default_security: Security,
    /// `"module.command" = "owner"`: overrides what a module declares, never loosening it.
    pub commands: BTreeMap<String, Security>,
}

impl Default for RawAcl {
    fn default() -> Self {
        RawAcl {
            owners: Vec::new(),
            sudos: Vec::new(),
            default_security: Security::Owner,
            commands: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AclConfig {
    pub owners: BTreeSet<String>,
    pub sudos: BTreeSet<String>,
    pub default_security: Security,
    pub commands: BTreeMap<String, Security>,
}

impl RawAcl {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> AclConfig {
        for (field, list) in [("acl.owners", &self.owners), ("acl.sudos", &self.sudos)] {
            if let Some(empty) = list.iter().position(|s| s.trim().is_empty()) {
                errors.push(invalid(format!("{field}[{empty}]"), "must not be empty"));
            }
        }
        for name in self.commands.keys() {
            if !name.contains('.') {
                errors.push(invalid(
                    format!("acl.commands.{name}"),
                    "command keys are \"module.command\"",
                ));
            }
        }
        AclConfig {
            owners: self.owners.into_iter().collect(),
            sudos: self.sudos.into_iter().collect(),
            default_security: self.default_security,
            commands: self.commands,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn acl_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = RawAcl {
            owners: vec!["@b".into(), "@a".into(), "@a".into()],
            commands: BTreeMap::from([("notes.add".to_string(), Security::Everyone)]),
            ..RawAcl::default()
        };
        let (acl, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(acl.owners, BTreeSet::from(["@a".into(), "@b".into()]));

        let bad = RawAcl {
            sudos: vec!["@a".into(), " ".into()],
            commands: BTreeMap::from([("add".to_string(), Security::Owner)]),
            ..RawAcl::default()
        };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            [
                "acl.sudos[1]: must not be empty",
                "acl.commands.add: command keys are \"module.command\"",
            ]
        );
    }
}
