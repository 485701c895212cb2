//! ACLs: Kafka's numeric ACL codes, bindings and filters, and describing and creating them.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{CreateAclsRequest, DescribeAclsRequest};

use super::protocol_error;
use crate::client::cluster::Cluster;
use crate::client::str_bytes;
use crate::client::RequiredAcl;
use crate::error::Result;

/// An ACL: who may (or may not) do what on which resources. Fields hold Kafka's numeric codes,
/// see [`acl`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBinding {
    /// Resource type ([`acl::resource`]).
    pub resource_type: i8,
    /// Resource name (or prefix, for PREFIXED patterns).
    pub resource_name: String,
    /// Pattern type ([`acl::pattern`]).
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, `*` for any.
    pub host: String,
    /// Operation ([`acl::operation`]).
    pub operation: i8,
    /// Permission type ([`acl::permission`]).
    pub permission_type: i8,
}

/// A filter of ACLs; `None` strings and the ANY codes match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclFilter {
    /// Resource type ([`acl::resource`]).
    pub resource_type: i8,
    /// Resource name, `None` for any.
    pub resource_name: Option<String>,
    /// Pattern type ([`acl::pattern`]).
    pub pattern_type: i8,
    /// Principal, `None` for any.
    pub principal: Option<String>,
    /// Host, `None` for any.
    pub host: Option<String>,
    /// Operation ([`acl::operation`]).
    pub operation: i8,
    /// Permission type ([`acl::permission`]).
    pub permission_type: i8,
}

impl AclFilter {
    /// Matches every ACL on every resource.
    pub fn any() -> Self {
        AclFilter {
            resource_type: acl::resource::ANY,
            ..AclFilter::any_topic()
        }
    }

    /// Matches every ACL on any topic.
    pub fn any_topic() -> Self {
        AclFilter {
            resource_type: acl::resource::TOPIC,
            resource_name: None,
            pattern_type: acl::pattern::ANY,
            principal: None,
            host: None,
            operation: acl::operation::ANY,
            permission_type: acl::permission::ANY,
        }
    }
}

/// Kafka's numeric ACL codes.
pub mod acl {
    /// Resource types.
    pub mod resource {
        /// Matches any resource type (filters only).
        pub const ANY: i8 = 1;
        /// A topic.
        pub const TOPIC: i8 = 2;
        /// A consumer group.
        pub const GROUP: i8 = 3;
        /// The cluster.
        pub const CLUSTER: i8 = 4;
        /// A transactional id.
        pub const TRANSACTIONAL_ID: i8 = 5;
        /// A delegation token.
        pub const DELEGATION_TOKEN: i8 = 6;
        /// A user.
        pub const USER: i8 = 7;
    }

    /// Resource pattern types.
    pub mod pattern {
        /// Matches any pattern type (filters only).
        pub const ANY: i8 = 1;
        /// Matches literal, wildcard and prefixed patterns that apply to a name (filters only).
        pub const MATCH: i8 = 2;
        /// The name is matched exactly (or `*` for all).
        pub const LITERAL: i8 = 3;
        /// The name is a prefix.
        pub const PREFIXED: i8 = 4;
    }

    /// Operations.
    pub mod operation {
        /// Matches any operation (filters only).
        pub const ANY: i8 = 1;
        /// All operations.
        pub const ALL: i8 = 2;
        /// Read.
        pub const READ: i8 = 3;
        /// Write.
        pub const WRITE: i8 = 4;
        /// Create.
        pub const CREATE: i8 = 5;
        /// Delete.
        pub const DELETE: i8 = 6;
        /// Alter.
        pub const ALTER: i8 = 7;
        /// Describe.
        pub const DESCRIBE: i8 = 8;
        /// Cluster action.
        pub const CLUSTER_ACTION: i8 = 9;
        /// Describe configs.
        pub const DESCRIBE_CONFIGS: i8 = 10;
        /// Alter configs.
        pub const ALTER_CONFIGS: i8 = 11;
        /// Idempotent write.
        pub const IDEMPOTENT_WRITE: i8 = 12;
    }

    /// Permission types.
    pub mod permission {
        /// Matches any permission (filters only).
        pub const ANY: i8 = 1;
        /// Deny.
        pub const DENY: i8 = 2;
        /// Allow.
        pub const ALLOW: i8 = 3;
    }
}

impl Cluster {
    /// The ACLs matching `filter`. A broker without an authorizer answers with an error whose
    /// code is `SecurityDisabled`.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type)
            .with_resource_name_filter(filter.resource_name.as_deref().map(str_bytes))
            .with_pattern_type_filter(filter.pattern_type)
            .with_principal_filter(filter.principal.as_deref().map(str_bytes))
            .with_host_filter(filter.host.as_deref().map(str_bytes))
            .with_operation(filter.operation)
            .with_permission_type(filter.permission_type);
        self.with_retries("describe acls", || async {
            let response = self.send_any(&request).await?;
            if let Some(e) = self.broker_error(
                "describe acls",
                response.error_code,
                response.error_message.as_deref(),
            ) {
                return Err(self.explain_denial(e, &[RequiredAcl::cluster("Describe")]));
            }
            Ok(response
                .resources
                .iter()
                .flat_map(|r| {
                    r.acls.iter().map(move |a| AclBinding {
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.to_string(),
                        pattern_type: r.pattern_type,
                        principal: a.principal.to_string(),
                        host: a.host.to_string(),
                        operation: a.operation,
                        permission_type: a.permission_type,
                    })
                })
                .collect())
        })
        .await
    }

    /// Creates ACLs; returns each binding's result in input order. A broker without an
    /// authorizer answers each with an error whose code is `SecurityDisabled`.
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<Vec<Result<()>>> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let request = CreateAclsRequest::default().with_creations(
            bindings
                .iter()
                .map(|b| {
                    AclCreation::default()
                        .with_resource_type(b.resource_type)
                        .with_resource_name(str_bytes(&b.resource_name))
                        .with_resource_pattern_type(b.pattern_type)
                        .with_principal(str_bytes(&b.principal))
                        .with_host(str_bytes(&b.host))
                        .with_operation(b.operation)
                        .with_permission_type(b.permission_type)
                })
                .collect(),
        );
        let response = self
            .with_retries("create acls", || async {
                let conn = self.any_broker().await?;
                let version = conn.version_for::<CreateAclsRequest>()?;
                let response = conn.submit_version(&request, version).await?.wait().await?;
                if response.results.len() != bindings.len() {
                    let reason = format!(
                        "{} results for {} ACLs",
                        response.results.len(),
                        bindings.len()
                    );
                    return Err(protocol_error::<CreateAclsRequest>(
                        self, &conn, version, reason,
                    ));
                }
                Ok(response)
            })
            .await?;
        Ok(response
            .results
            .iter()
            .zip(bindings)
            .map(|(r, b)| {
                let op = format!("create acl {b}");
                match self.broker_error(op, r.error_code, r.error_message.as_deref()) {
                    Some(e) => Err(self.explain_denial(e, &[RequiredAcl::cluster("Alter")])),
                    None => Ok(()),
                }
            })
            .collect())
    }
}

/// A code's name in one of Kafka's ACL enums (`names[code]`), or the number.
fn code_name(names: &[&str], code: i8) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| format!("code {code}"), |n| (*n).to_owned())
}

/// In words: `User:alice ALLOW READ on topic orders (LITERAL) from host *`.
impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const OPERATIONS: &[&str] = &[
            "UNKNOWN",
            "ANY",
            "ALL",
            "READ",
            "WRITE",
            "CREATE",
            "DELETE",
            "ALTER",
            "DESCRIBE",
            "CLUSTER_ACTION",
            "DESCRIBE_CONFIGS",
            "ALTER_CONFIGS",
            "IDEMPOTENT_WRITE",
            "CREATE_TOKENS",
            "DESCRIBE_TOKENS",
        ];
        const RESOURCES: &[&str] = &[
            "UNKNOWN",
            "ANY",
            "topic",
            "group",
            "cluster",
            "transactional id",
            "delegation token",
            "user",
        ];
        const PATTERNS: &[&str] = &["UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"];
        write!(
            f,
            "{} {} {} on {} {} ({}) from host {}",
            self.principal,
            code_name(&["UNKNOWN", "ANY", "DENY", "ALLOW"], self.permission_type),
            code_name(OPERATIONS, self.operation),
            code_name(RESOURCES, self.resource_type),
            self.resource_name,
            code_name(PATTERNS, self.pattern_type),
            self.host
        )
    }
}

impl AclBinding {
    /// An ACL: `permission_type` ([`acl::permission`]) of `principal` (`User:alice`) from `host`
    /// (`*` for any) for `operation` ([`acl::operation`]) on the resources of `resource_type`
    /// ([`acl::resource`]) that `resource_name` names by `pattern_type` ([`acl::pattern`]).
    pub fn new(
        resource_type: i8,
        resource_name: impl Into<String>,
        pattern_type: i8,
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: i8,
        permission_type: i8,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission_type,
        }
    }

    /// An ALLOW of `operation` for `principal` from any host.
    pub fn allow(
        resource_type: i8,
        resource_name: impl Into<String>,
        pattern_type: i8,
        principal: impl Into<String>,
        operation: i8,
    ) -> AclBinding {
        let host = "*";
        let allow = acl::permission::ALLOW;
        AclBinding::new(
            resource_type,
            resource_name,
            pattern_type,
            principal,
            host,
            operation,
            allow,
        )
    }

    /// A DENY of `operation` for `principal` from any host.
    pub fn deny(
        resource_type: i8,
        resource_name: impl Into<String>,
        pattern_type: i8,
        principal: impl Into<String>,
        operation: i8,
    ) -> AclBinding {
        AclBinding {
            permission_type: acl::permission::DENY,
            ..AclBinding::allow(
                resource_type,
                resource_name,
                pattern_type,
                principal,
                operation,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acl::{operation, pattern, permission, resource};

    #[test]
    fn acls_are_described_in_words() {
        let binding = AclBinding {
            resource_type: acl::resource::TOPIC,
            resource_name: "orders".into(),
            pattern_type: acl::pattern::PREFIXED,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: acl::operation::IDEMPOTENT_WRITE,
            permission_type: acl::permission::DENY,
        };
        assert_eq!(
            binding.to_string(),
            "User:alice DENY IDEMPOTENT_WRITE on topic orders (PREFIXED) from host *"
        );
        let odd = AclBinding {
            operation: 42,
            ..binding
        };
        assert!(odd.to_string().contains("code 42 on topic"));
    }

    #[test]
    fn allow_and_deny_are_for_any_host() {
        let read = AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:alice",
            operation::READ,
        );
        assert_eq!(
            read,
            AclBinding {
                resource_type: resource::TOPIC,
                resource_name: "orders".to_owned(),
                pattern_type: pattern::LITERAL,
                principal: "User:alice".to_owned(),
                host: "*".to_owned(),
                operation: operation::READ,
                permission_type: permission::ALLOW,
            }
        );
        let deny = AclBinding::deny(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:alice",
            operation::READ,
        );
        assert_eq!(
            deny,
            AclBinding {
                permission_type: permission::DENY,
                ..read.clone()
            }
        );
        let from = AclBinding::new(
            resource::GROUP,
            "app-",
            pattern::PREFIXED,
            "User:bob",
            "10.0.0.1",
            operation::DESCRIBE,
            permission::ALLOW,
        );
        assert_eq!(
            (from.resource_type, from.host.as_str(), from.pattern_type),
            (resource::GROUP, "10.0.0.1", pattern::PREFIXED)
        );
    }
}
