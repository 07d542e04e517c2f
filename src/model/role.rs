//! Token roles: who may do what.

use serde::{Deserialize, Serialize};

crate::model::named_enum! {
    /// Token roles, from least to most powerful for clients.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub enum Role {
        Node = "node",
        Viewer = "viewer",
        Operator = "operator",
        Admin = "admin",
    }
}

impl Role {
    /// Whether a client with this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self != Role::Node && needed != Role::Node && self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "node" => Ok(Role::Node),
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: use node, viewer, operator or admin"
            )),
        }
    }
}
