//! A merchant member's role, and what each may do: the one place the
//! dashboard and the API ask.

/// A member of a merchant's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, members included.
    Admin,
    /// API keys, callback settings and orders; not members.
    Developer,
    /// Reports and statements only.
    Finance,
    /// Reads only.
    Viewer,
}

/// What an action asks of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Orders, listings, statements.
    Read,
    /// Places orders, opens disputes.
    Order,
    /// Creates and revokes API keys; changes callback and alert settings;
    /// reads signing secrets.
    Settings,
    /// Invites and removes members; asks for live access.
    Members,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Developer, Role::Finance, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Finance => "finance",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role may do what `capability` names.
    pub fn may(self, capability: Capability) -> bool {
        match capability {
            Capability::Read => true,
            Capability::Order | Capability::Settings => matches!(self, Role::Admin | Role::Developer),
            Capability::Members => self == Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_developers_touch_keys_and_only_admins_members() {
        for role in Role::ALL {
            assert!(role.may(Capability::Read));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Developer.may(Capability::Settings));
        assert!(!Role::Developer.may(Capability::Members));
        assert!(!Role::Viewer.may(Capability::Settings));
        assert!(!Role::Finance.may(Capability::Order));
        assert!(!Role::Viewer.may(Capability::Order));
        assert!(Role::parse("root").is_none());
    }
}
