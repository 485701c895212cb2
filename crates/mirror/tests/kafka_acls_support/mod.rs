//! Two Apache Kafka clusters with StandardAuthorizer and SCRAM users, for the ACL tests
//! (`kafka_acls`, `kafka_acl_grants`): strait connects over SASL_PLAINTEXT (SCRAM-SHA-512) as an
//! ordinary user; the tests set things up as a super user over the plaintext listener.
#![allow(dead_code, unreachable_pub)]

use strait_fixtures::*;
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, ClusterConfig, Producer, SaslConfig, SaslMechanism, Secret};
use strait_testkit::{KafkaCluster, KafkaOptions, ScramUser, SecureListener};

/// The user strait runs as.
pub const MIRROR_USER: &str = "mm2";
const MIRROR_PASSWORD: &str = "mm2-Pw-3e1a";
/// A user that reads topics.
pub const READER: &str = "alice";
/// A user that writes topics.
pub const WRITER: &str = "bob";
const USER_PASSWORD: &str = "user-Pw-77k2";

/// The principal of user `name`.
pub fn user(name: &str) -> String {
    format!("User:{name}")
}

/// Two authorizer-enabled clusters, `source_alias` and `target_alias`, each with a SCRAM
/// listener for strait and the users, and a super-user client over plaintext.
pub struct SecurePair {
    pub source_alias: &'static str,
    pub target_alias: &'static str,
    pub source_node: KafkaCluster,
    pub target_node: KafkaCluster,
    pub source: Cluster,
    pub target: Cluster,
}

impl SecurePair {
    pub async fn start(source_alias: &'static str, target_alias: &'static str) -> SecurePair {
        let users = vec![
            ScramUser::new(MIRROR_USER, MIRROR_PASSWORD),
            ScramUser::new(READER, USER_PASSWORD),
            ScramUser::new(WRITER, USER_PASSWORD),
        ];
        let options = KafkaOptions::default()
            .secure(SecureListener::SaslPlaintext(users))
            .with_authorizer();
        let (a, b) = (options.clone(), options);
        let a = tokio::task::spawn_blocking(move || KafkaCluster::start(a));
        let b = tokio::task::spawn_blocking(move || KafkaCluster::start(b));
        let source_node = a.await.unwrap().expect("source Kafka starts");
        let target_node = b.await.unwrap().expect("target Kafka starts");
        let source = admin(source_alias, &source_node).await;
        let target = admin(target_alias, &target_node).await;
        SecurePair {
            source_alias,
            target_alias,
            source_node,
            target_node,
            source,
            target,
        }
    }

    /// The super-user client of `alias`.
    pub fn admin_of(&self, alias: &str) -> &Cluster {
        if alias == self.source_alias {
            &self.source
        } else {
            &self.target
        }
    }

    /// A one-way mirror of topics `orders.*` and groups `app.*` as `User:mm2`, every interval
    /// 1 s, then `extra`.
    pub fn properties(&self, extra: &str) -> String {
        let (s, t) = (self.source_alias, self.target_alias);
        let mut props = format!(
            "clusters = {s}, {t}\n\
             {s}->{t}.enabled = true\n\
             {t}->{s}.enabled = false\n\
             topics = orders.*\n\
             groups = app.*\n\
             {MIRROR_ONE_REPLICA}\
             refresh.topics.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\n\
             emit.heartbeats.interval.seconds = 1\n\
             emit.checkpoints.interval.seconds = 1\n\
             sync.topic.configs.interval.seconds = 1\n\
             sync.topic.acls.interval.seconds = 1\n\
             sync.group.offsets.interval.seconds = 1\n"
        );
        for (alias, node) in [(s, &self.source_node), (t, &self.target_node)] {
            props.push_str(&format!(
                "{alias}.bootstrap.servers = {}\n\
                 {alias}.security.protocol = SASL_PLAINTEXT\n\
                 {alias}.sasl.mechanism = SCRAM-SHA-512\n\
                 {alias}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule \
                 required username=\"{MIRROR_USER}\" password=\"{MIRROR_PASSWORD}\";\n",
                node.secure_bootstrap().expect("SASL listener"),
            ));
        }
        props.push_str(extra);
        props
    }

    /// A client of `node`'s SASL listener as `user`.
    pub async fn client_as(&self, node: &KafkaCluster, user: &str) -> Cluster {
        let mut config = ClusterConfig::new(user, &node.secure_bootstrap().unwrap()).unwrap();
        config.sasl = Some(SaslConfig::new(
            SaslMechanism::ScramSha512,
            user,
            Secret::new(USER_PASSWORD),
        ));
        config.retry.max_attempts = 3;
        Cluster::connect(config).await.expect("user connects")
    }
}

/// A super-user client of `node` (its plaintext listener).
async fn admin(name: &str, node: &KafkaCluster) -> Cluster {
    connect(name, &node.bootstrap()).await
}

/// Creates `topic` on the source and writes `n` records to each of its partitions.
pub async fn topic_with_records(pair: &SecurePair, topic: &str, partitions: i32, n: usize) {
    create_topic(&pair.source, topic, partitions).await;
    let producer = Producer::idempotent(&pair.source).await.unwrap();
    for p in 0..partitions {
        produce(
            &producer,
            topic,
            p,
            Compression::Lz4,
            &fixture_records(topic, p, n),
        )
        .await;
    }
}
