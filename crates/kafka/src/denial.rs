//! The ACL an authorization error names: what strait's principal lacks and how to grant it.

use std::fmt;

use kafka_protocol::error::ResponseError;

/// An ACL a request needs, in `kafka-acls.sh` terms (`--operation Create --topic orders`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredAcl {
    /// The ACL operation as Kafka names it: `Read`, `Write`, `Create`, `Describe`, `Alter`,
    /// `DescribeConfigs`, `AlterConfigs`, `IdempotentWrite`.
    pub operation: &'static str,
    /// The resource the operation is needed on.
    pub resource: AclResource,
}

/// A resource of Kafka's authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclResource {
    /// The cluster itself (`--cluster`).
    Cluster,
    /// A topic (`--topic NAME`).
    Topic(String),
    /// A consumer group (`--group NAME`).
    Group(String),
    /// A transactional id (`--transactional-id NAME`).
    TransactionalId(String),
}

impl RequiredAcl {
    /// `operation` on topic `name`.
    pub fn topic(operation: &'static str, name: &str) -> Self {
        RequiredAcl {
            operation,
            resource: AclResource::Topic(name.to_owned()),
        }
    }

    /// `operation` on group `name`.
    pub fn group(operation: &'static str, name: &str) -> Self {
        RequiredAcl {
            operation,
            resource: AclResource::Group(name.to_owned()),
        }
    }

    /// `operation` on the cluster.
    pub fn cluster(operation: &'static str) -> Self {
        RequiredAcl {
            operation,
            resource: AclResource::Cluster,
        }
    }

    /// `operation` on transactional id `name`.
    pub fn transactional_id(operation: &'static str, name: &str) -> Self {
        RequiredAcl {
            operation,
            resource: AclResource::TransactionalId(name.to_owned()),
        }
    }

    /// The `kafka-acls.sh` options that grant it to `principal`.
    pub fn grant_command(&self, principal: &str) -> String {
        let resource = match &self.resource {
            AclResource::Cluster => "--cluster".to_owned(),
            AclResource::Topic(t) => format!("--topic '{t}'"),
            AclResource::Group(g) => format!("--group '{g}'"),
            AclResource::TransactionalId(t) => format!("--transactional-id '{t}'"),
        };
        format!(
            "kafka-acls.sh --add --allow-principal '{principal}' --operation {} {resource}",
            self.operation
        )
    }

    /// The authorization error code that means this ACL is missing.
    pub(crate) fn refused_with(&self) -> ResponseError {
        match self.resource {
            AclResource::Cluster => ResponseError::ClusterAuthorizationFailed,
            AclResource::Topic(_) => ResponseError::TopicAuthorizationFailed,
            AclResource::Group(_) => ResponseError::GroupAuthorizationFailed,
            AclResource::TransactionalId(_) => ResponseError::TransactionalIdAuthorizationFailed,
        }
    }
}

impl fmt::Display for RequiredAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            AclResource::Cluster => write!(f, "ALLOW {} on the cluster", self.operation),
            AclResource::Topic(t) => write!(f, "ALLOW {} on topic {t}", self.operation),
            AclResource::Group(g) => write!(f, "ALLOW {} on group {g}", self.operation),
            AclResource::TransactionalId(t) => {
                write!(f, "ALLOW {} on transactional id {t}", self.operation)
            }
        }
    }
}

/// An authorization refusal explained: the ACL missing and, where the client knows it, whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The ACL the request needed.
    pub acl: RequiredAcl,
    /// The principal the broker authenticated (`User:<SASL user>`), when the client knows it.
    pub principal: Option<String>,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let principal = self.principal.as_deref().unwrap_or("<strait's principal>");
        write!(
            f,
            "{principal} lacks the ACL {}; grant it with: {}",
            self.acl,
            self.acl.grant_command(principal)
        )
    }
}
