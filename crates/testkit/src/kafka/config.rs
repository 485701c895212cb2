//! What a test cluster looks like (options) and the `server.properties` of each of its nodes.

use std::path::PathBuf;

use super::{JvmProfile, KafkaVersion};

/// How to start an Apache Kafka test cluster; `KafkaOptions::default()` is one plaintext
/// broker of the version `STRAIT_KAFKA_VERSION` names.
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Which Kafka release runs.
    pub version: KafkaVersion,
    /// Number of nodes, each a combined broker and controller (1 or 3 in practice).
    pub brokers: usize,
    /// A second, secured listener beside the plaintext one.
    pub secure: Option<SecureListener>,
    /// Run StandardAuthorizer, so ACLs are enforced (`allow.everyone.if.no.acl.found=false`);
    /// super users are `User:ANONYMOUS` (the plaintext listener, which the tests use to set
    /// things up) and `User:admin`.
    pub authorizer: bool,
    /// DNS names and IP addresses in the brokers' certificates.
    pub server_cert_names: Vec<String>,
    /// More `server.properties` lines (later keys override earlier ones).
    pub broker_configs: Vec<(String, String)>,
    /// How the broker JVMs are tuned.
    pub profile: JvmProfile,
    /// Heap of each broker JVM, in MiB.
    pub heap_mb: u32,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            version: KafkaVersion::from_env(),
            brokers: 1,
            secure: None,
            authorizer: false,
            server_cert_names: vec!["localhost".into(), "127.0.0.1".into()],
            broker_configs: Vec::new(),
            profile: JvmProfile::Test,
            heap_mb: 384,
        }
    }
}

impl KafkaOptions {
    /// `n` nodes; with 3 or more, topics default to RF 3 and `min.insync.replicas=2`.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// Runs Kafka `version`.
    pub fn version(mut self, version: KafkaVersion) -> Self {
        self.version = version;
        self
    }

    /// Adds a secured listener.
    pub fn secure(mut self, listener: SecureListener) -> Self {
        self.secure = Some(listener);
        self
    }

    /// Enforces ACLs (see [`KafkaOptions::authorizer`]).
    pub fn with_authorizer(mut self) -> Self {
        self.authorizer = true;
        self
    }

    /// The names in the brokers' certificates (default `localhost` and `127.0.0.1`).
    pub fn server_cert_names(mut self, names: &[&str]) -> Self {
        self.server_cert_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// One more `server.properties` line.
    pub fn broker_config(mut self, key: &str, value: &str) -> Self {
        self.broker_configs.push((key.into(), value.into()));
        self
    }

    /// Benchmark tuning: Kafka's own JVM defaults and a 1 GiB heap.
    pub fn for_bench(mut self) -> Self {
        self.profile = JvmProfile::Bench;
        self.heap_mb = 1024;
        self
    }
}

/// The secured listener (`SECURE`) of a test cluster.
#[derive(Clone, Debug)]
pub enum SecureListener {
    /// SASL_SSL with SCRAM-SHA-256 and SCRAM-SHA-512; every user gets credentials for both.
    SaslSsl(Vec<ScramUser>),
    /// SASL_PLAINTEXT with SCRAM-SHA-256 and SCRAM-SHA-512 (ACL tests without TLS).
    SaslPlaintext(Vec<ScramUser>),
    /// SSL; with `client_auth` the broker demands a client certificate signed by the cluster's CA (mTLS).
    Ssl {
        /// `ssl.client.auth=required`.
        client_auth: bool,
    },
    /// SASL_PLAINTEXT with OAUTHBEARER: tokens are validated against an identity provider's
    /// JWKS (Kafka's `OAuthBearerValidatorCallbackHandler`, issuer and audience checked).
    OAuthBearer {
        /// `sasl.oauthbearer.jwks.endpoint.url` (also the one URL the broker JVM may fetch).
        jwks_url: String,
        /// `sasl.oauthbearer.expected.issuer`.
        issuer: String,
        /// `sasl.oauthbearer.expected.audience`.
        audience: String,
    },
}

impl SecureListener {
    /// The Kafka security protocol of the listener.
    pub fn protocol(&self) -> &'static str {
        match self {
            SecureListener::SaslSsl(_) => "SASL_SSL",
            SecureListener::SaslPlaintext(_) | SecureListener::OAuthBearer { .. } => {
                "SASL_PLAINTEXT"
            }
            SecureListener::Ssl { .. } => "SSL",
        }
    }

    /// JVM system properties the listener needs (Kafka 4 fetches only allowed OAuth URLs).
    pub(crate) fn jvm_args(&self) -> Vec<String> {
        match self {
            SecureListener::OAuthBearer { jwks_url, .. } => {
                vec![format!(
                    "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={jwks_url}"
                )]
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn users(&self) -> &[ScramUser] {
        match self {
            SecureListener::SaslSsl(users) | SecureListener::SaslPlaintext(users) => users,
            SecureListener::Ssl { .. } | SecureListener::OAuthBearer { .. } => &[],
        }
    }

    pub(crate) fn uses_tls(&self) -> bool {
        matches!(
            self,
            SecureListener::SaslSsl(_) | SecureListener::Ssl { .. }
        )
    }
}

/// A SCRAM user, created when the cluster's storage is formatted (KIP-900).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramUser {
    /// The user name (principal `User:<name>`).
    pub name: String,
    /// The password; it must not contain `,`, `]` or `"` (the format tool's syntax).
    pub password: String,
}

impl ScramUser {
    /// A user called `name` with `password`.
    pub fn new(name: &str, password: &str) -> Self {
        ScramUser {
            name: name.into(),
            password: password.into(),
        }
    }

    /// The `--add-scram` arguments of `kafka-storage format` for both mechanisms.
    pub(crate) fn format_args(&self) -> Vec<String> {
        ["SCRAM-SHA-256", "SCRAM-SHA-512"]
            .iter()
            .flat_map(|mechanism| {
                [
                    "--add-scram".to_owned(),
                    format!(
                        "{mechanism}=[name={},password={}]",
                        self.name, self.password
                    ),
                ]
            })
            .collect()
    }
}

/// Ports and dirs of one node.
#[derive(Clone, Debug)]
pub(crate) struct NodeLayout {
    pub(crate) id: i32,
    pub(crate) port: u16,
    pub(crate) controller_port: u16,
    pub(crate) secure_port: Option<u16>,
    pub(crate) log_dir: PathBuf,
}

/// PEM files of a TLS listener.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    /// Private key (PKCS#8) followed by the certificate.
    pub(crate) keystore: PathBuf,
    /// The cluster CA's certificate.
    pub(crate) truststore: PathBuf,
}

/// The `server.properties` of `node` in a cluster of `voters`.
pub(crate) fn server_properties(
    node: &NodeLayout,
    voters: &[NodeLayout],
    options: &KafkaOptions,
    tls: Option<&TlsFiles>,
) -> String {
    let rf = voters.len().min(3);
    let min_isr = if rf >= 3 { 2 } else { 1 };
    let quorum = voters
        .iter()
        .map(|v| format!("{}@127.0.0.1:{}", v.id, v.controller_port))
        .collect::<Vec<_>>()
        .join(",");
    let mut listeners = format!(
        "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
        node.port, node.controller_port
    );
    let mut advertised = format!("PLAINTEXT://127.0.0.1:{}", node.port);
    let mut protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".to_owned();
    if let (Some(secure), Some(port)) = (&options.secure, node.secure_port) {
        listeners.push_str(&format!(",SECURE://127.0.0.1:{port}"));
        advertised.push_str(&format!(",SECURE://127.0.0.1:{port}"));
        protocols.push_str(&format!(",SECURE:{}", secure.protocol()));
    }
    let mut lines: Vec<(String, String)> = [
        ("process.roles", "broker,controller".to_owned()),
        ("node.id", node.id.to_string()),
        ("controller.quorum.voters", quorum),
        ("listeners", listeners),
        ("advertised.listeners", advertised),
        ("controller.listener.names", "CONTROLLER".into()),
        ("inter.broker.listener.name", "PLAINTEXT".into()),
        ("listener.security.protocol.map", protocols),
        ("log.dirs", node.log_dir.display().to_string()),
        // MM2's integration tests run brokers like this: the mirror must create topics itself.
        ("auto.create.topics.enable", "false".into()),
        ("num.partitions", "1".into()),
        ("default.replication.factor", rf.to_string()),
        ("min.insync.replicas", min_isr.to_string()),
        ("offsets.topic.replication.factor", rf.to_string()),
        ("offsets.topic.num.partitions", "5".into()),
        ("transaction.state.log.replication.factor", rf.to_string()),
        ("transaction.state.log.min.isr", min_isr.to_string()),
        ("transaction.state.log.num.partitions", "5".into()),
        // A transaction past its timeout is aborted within a second, not Kafka's 10 s.
        (
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "1000".into(),
        ),
        (
            "share.coordinator.state.topic.replication.factor",
            rf.to_string(),
        ),
        ("share.coordinator.state.topic.min.isr", min_isr.to_string()),
        ("group.initial.rebalance.delay.ms", "0".into()),
        ("num.network.threads", "2".into()),
        ("num.io.threads", "4".into()),
        ("num.recovery.threads.per.data.dir", "1".into()),
        ("log.cleaner.dedupe.buffer.size", "4194304".into()),
        ("log.cleaner.threads", "1".into()),
        ("log.cleaner.backoff.ms", "1000".into()),
        ("controlled.shutdown.enable", "true".into()),
        ("broker.heartbeat.interval.ms", "500".into()),
        ("broker.session.timeout.ms", "6000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(secure) = &options.secure {
        let prefix = "listener.name.secure";
        if let (true, Some(tls)) = (secure.uses_tls(), tls) {
            lines.extend([
                (format!("{prefix}.ssl.keystore.type"), "PEM".into()),
                (
                    format!("{prefix}.ssl.keystore.location"),
                    tls.keystore.display().to_string(),
                ),
                (format!("{prefix}.ssl.truststore.type"), "PEM".into()),
                (
                    format!("{prefix}.ssl.truststore.location"),
                    tls.truststore.display().to_string(),
                ),
            ]);
            let client_auth = matches!(secure, SecureListener::Ssl { client_auth: true });
            lines.push((
                format!("{prefix}.ssl.client.auth"),
                if client_auth { "required" } else { "none" }.into(),
            ));
        }
        if !secure.users().is_empty() {
            lines.push((
                format!("{prefix}.sasl.enabled.mechanisms"),
                "SCRAM-SHA-256,SCRAM-SHA-512".into(),
            ));
            for mechanism in ["scram-sha-256", "scram-sha-512"] {
                lines.push((
                    format!("{prefix}.{mechanism}.sasl.jaas.config"),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
                ));
            }
        }
    }
    if let Some(SecureListener::OAuthBearer {
        jwks_url,
        issuer,
        audience,
    }) = &options.secure
    {
        let prefix = "listener.name.secure";
        lines.extend([
            (
                format!("{prefix}.sasl.enabled.mechanisms"),
                "OAUTHBEARER".into(),
            ),
            (
                format!("{prefix}.oauthbearer.sasl.jaas.config"),
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
                    .into(),
            ),
            (
                format!("{prefix}.oauthbearer.sasl.server.callback.handler.class"),
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
                    .into(),
            ),
            (
                "sasl.oauthbearer.jwks.endpoint.url".into(),
                jwks_url.clone(),
            ),
            ("sasl.oauthbearer.expected.issuer".into(), issuer.clone()),
            (
                "sasl.oauthbearer.expected.audience".into(),
                audience.clone(),
            ),
        ]);
    }
    if options.authorizer {
        lines.extend([
            (
                "authorizer.class.name".to_owned(),
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_owned(),
            ),
            ("super.users".into(), "User:ANONYMOUS;User:admin".into()),
            ("allow.everyone.if.no.acl.found".into(), "false".into()),
        ]);
    }
    lines.extend(options.broker_configs.iter().cloned());
    // Later keys override earlier ones, as in a properties file.
    let mut out = String::from("# written by strait-testkit\n");
    for (i, (key, value)) in lines.iter().enumerate() {
        if lines[i + 1..].iter().any(|(k, _)| k == key) {
            continue;
        }
        out.push_str(&format!("{key}={}\n", escape(value)));
    }
    out
}

/// A properties-file value: backslashes doubled (Windows-free paths stay as they are).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i32) -> NodeLayout {
        NodeLayout {
            id,
            port: 9000 + id as u16,
            controller_port: 9100 + id as u16,
            secure_port: Some(9200 + id as u16),
            log_dir: PathBuf::from(format!("/tmp/n{id}")),
        }
    }

    fn value<'a>(props: &'a str, key: &str) -> Option<&'a str> {
        props
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }

    #[test]
    fn three_nodes_replicate_three_times_with_two_in_sync() {
        let voters = [node(1), node(2), node(3)];
        let props = server_properties(&voters[1], &voters, &KafkaOptions::default(), None);
        assert_eq!(value(&props, "node.id"), Some("2"));
        assert_eq!(
            value(&props, "controller.quorum.voters"),
            Some("1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103")
        );
        assert_eq!(value(&props, "default.replication.factor"), Some("3"));
        assert_eq!(value(&props, "min.insync.replicas"), Some("2"));
        assert_eq!(
            value(&props, "listeners"),
            Some("PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102")
        );
        assert_eq!(value(&props, "auto.create.topics.enable"), Some("false"));
    }

    #[test]
    fn secure_listener_and_authorizer() {
        let voters = [node(1)];
        let options = KafkaOptions::default()
            .secure(SecureListener::SaslSsl(vec![ScramUser::new("u", "p")]))
            .with_authorizer()
            .broker_config("min.insync.replicas", "1");
        let tls = TlsFiles {
            keystore: "/k.pem".into(),
            truststore: "/ca.pem".into(),
        };
        let props = server_properties(&voters[0], &voters, &options, Some(&tls));
        assert_eq!(
            value(&props, "advertised.listeners"),
            Some("PLAINTEXT://127.0.0.1:9001,SECURE://127.0.0.1:9201")
        );
        assert_eq!(
            value(&props, "listener.security.protocol.map"),
            Some("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL")
        );
        assert_eq!(
            value(&props, "listener.name.secure.ssl.keystore.location"),
            Some("/k.pem")
        );
        assert_eq!(
            value(&props, "listener.name.secure.sasl.enabled.mechanisms"),
            Some("SCRAM-SHA-256,SCRAM-SHA-512")
        );
        assert_eq!(
            value(&props, "super.users"),
            Some("User:ANONYMOUS;User:admin")
        );
        assert_eq!(props.matches("min.insync.replicas=").count(), 1);
        assert_eq!(value(&props, "min.insync.replicas"), Some("1"));
    }

    #[test]
    fn scram_users_get_both_mechanisms() {
        assert_eq!(
            ScramUser::new("alice", "pw").format_args(),
            [
                "--add-scram",
                "SCRAM-SHA-256=[name=alice,password=pw]",
                "--add-scram",
                "SCRAM-SHA-512=[name=alice,password=pw]"
            ]
        );
    }
}
