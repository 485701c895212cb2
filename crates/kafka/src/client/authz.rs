//! What Kafka's authorizer checked when it refused a request: the ACL (operation and resource)
//! strait's principal lacks, so an authorization error says what to grant.

use super::cluster::Cluster;
pub use crate::denial::{AclResource, Denied, RequiredAcl};
use crate::error::Error;

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
    use kafka_protocol::error::ResponseError;

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
