//! Access control: who is calling ([`Principal`]) and what each role may do.
//!
//! Tokens are cc-backend's: Ed25519-signed JWTs with claims `sub` and `roles` (plus
//! `projects` for managers), so cc-slurm-adapter and existing cc-backend tokens keep
//! working. See [`jwt`] for keys and signatures.

pub mod jwt;

use crate::domain::query::Scope;

/// The roles jobledger knows, strongest first. A token with several gets the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Everything.
    Admin,
    /// Ingest over REST, edit tags and metadata, read everything.
    Api,
    /// Read the jobs of the projects in the token's `projects` claim.
    Manager,
    /// Read only one's own jobs (`sub` equals the job's user).
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Api => "api",
            Role::Manager => "manager",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::Api, Role::Manager, Role::User]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What a request wants to do, beyond reading jobs (which [`Principal::scope`] limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// start_job, stop_job, nodestate.
    Ingest,
    /// Tags and metadata.
    Edit,
    /// Rejected events hold raw payloads of every user.
    ReadRejected,
    /// Node metrics (`/api/nodes/…/metrics`, `/api/query`) show every user's jobs.
    ReadNodeMetrics,
}

/// The caller of a request, once its token has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub role: Role,
    pub projects: Vec<String>,
}

impl Principal {
    /// A deployment without `[auth]` serves loopback only and trusts its callers.
    pub fn local() -> Principal {
        Principal {
            sub: "local".into(),
            role: Role::Admin,
            projects: Vec::new(),
        }
    }

    pub fn may(&self, action: Action) -> bool {
        match action {
            Action::Ingest | Action::Edit | Action::ReadRejected | Action::ReadNodeMetrics => {
                matches!(self.role, Role::Admin | Role::Api)
            }
        }
    }

    /// The jobs this caller may read.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Api => Scope::All,
            Role::Manager => Scope::Projects(self.projects.clone()),
            Role::User => Scope::User(self.sub.clone()),
        }
    }

    /// May this caller read a job of `user` in `project`?
    pub fn may_read(&self, user: &str, project: &str) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Projects(ps) => ps.iter().any(|p| p == project),
            Scope::User(u) => u == user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> Principal {
        Principal {
            sub: "alice".into(),
            role,
            projects: vec!["p1".into()],
        }
    }

    #[test]
    fn each_role_reads_what_it_should() {
        assert!(who(Role::Admin).may_read("bob", "p2"));
        assert!(who(Role::Api).may_read("bob", "p2"));
        assert!(who(Role::Manager).may_read("bob", "p1"));
        assert!(!who(Role::Manager).may_read("alice", "p2"));
        assert!(who(Role::User).may_read("alice", "p2"));
        assert!(!who(Role::User).may_read("bob", "p1"));
    }

    #[test]
    fn only_admin_and_api_ingest_edit_and_see_rejections() {
        for a in [Action::Ingest, Action::Edit, Action::ReadRejected] {
            assert!(who(Role::Admin).may(a) && who(Role::Api).may(a));
            assert!(!who(Role::Manager).may(a) && !who(Role::User).may(a));
        }
    }
}
