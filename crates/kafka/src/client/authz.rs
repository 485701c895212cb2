//! What Kafka's authorizer checked when it refused a request: the ACL (operation and resource)
//! strait's principal lacks, so an authorization error says what to grant.

use std::fmt;

use kafka_protocol::error::ResponseError;

use super::cluster::Cluster;
use crate::error::Error;

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
    fn refused_with(&self) -> ResponseError {
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

impl Cluster {
    /// `error` with the ACL among `needed` that its authorization code names (a request may
    /// need ACLs on several resources: the code says which one was missing); other errors are
    /// returned unchanged.
    pub(crate) fn explain_denial(&self, error: Error, needed: &[RequiredAcl]) -> Error {
        match error {
            Error::Broker {
                cluster,
                op,
                code,
                message,
                denied: None,
            } => {
                let denied = needed
                    .iter()
                    .find(|acl| acl.refused_with() == code)
                    .map(|acl| {
                        Box::new(Denied {
                            acl: acl.clone(),
                            principal: self.principal(),
                        })
                    });
                Error::Broker {
                    cluster,
                    op,
                    code,
                    message,
                    denied,
                }
            }
            other => other,
        }
    }

    /// The principal this client authenticates as, when the config says (SASL PLAIN or SCRAM).
    pub(crate) fn principal(&self) -> Option<String> {
        let sasl = self.config().sasl.as_ref()?;
        (!sasl.username.is_empty()).then(|| format!("User:{}", sasl.username))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_names_the_acl_and_how_to_grant_it() {
        let denied = Denied {
            acl: RequiredAcl::topic("Create", "primary.orders"),
            principal: Some("User:mirror".into()),
        };
        assert_eq!(
            denied.to_string(),
            "User:mirror lacks the ACL ALLOW Create on topic primary.orders; grant it with: \
             kafka-acls.sh --add --allow-principal 'User:mirror' --operation Create --topic 'primary.orders'"
        );
        let cluster = RequiredAcl::cluster("Alter");
        assert_eq!(cluster.to_string(), "ALLOW Alter on the cluster");
        assert!(cluster
            .grant_command("User:m")
            .ends_with("--operation Alter --cluster"));
    }

    #[test]
    fn the_code_picks_the_resource() {
        let acls = [
            RequiredAcl::group("Read", "g"),
            RequiredAcl::topic("Read", "t"),
        ];
        let pick = |code| acls.iter().find(|a| a.refused_with() == code).cloned();
        assert_eq!(
            pick(ResponseError::TopicAuthorizationFailed),
            Some(acls[1].clone())
        );
        assert_eq!(
            pick(ResponseError::GroupAuthorizationFailed),
            Some(acls[0].clone())
        );
        assert_eq!(pick(ResponseError::ClusterAuthorizationFailed), None);
    }
}
