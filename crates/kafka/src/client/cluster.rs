//! A client of one cluster: bootstrap, metadata refresh, one pipelined connection per broker,
//! and retries of retriable errors.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::Request;

use super::config::ClusterConfig;
use super::metadata::Metadata;
use super::retry::RetryPolicy;
use super::single_flight::SingleFlight;
use super::str_bytes;
use crate::error::{Error, Result};
use crate::net::{Connection, ConnectionOptions};

/// A connection, opened by one caller at a time.
type Slot = SingleFlight<Option<Arc<Connection>>>;

/// A cheap-to-clone handle to one Kafka cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClusterConfig,
    options: ConnectionOptions,
    metadata: RwLock<Arc<Metadata>>,
    brokers: std::sync::Mutex<HashMap<i32, Slot>>,
    bootstrap: Slot,
    /// How many metadata refreshes have completed.
    refresh: SingleFlight<u64>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.inner.config.name)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to the cluster through its bootstrap servers and loads its metadata.
    pub async fn connect(config: ClusterConfig) -> Result<Cluster> {
        let options = ConnectionOptions {
            cluster: config.name.as_str().into(),
            client_id: config.client_id.as_str().into(),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            connector: config.connector.clone(),
            sasl: config.sasl.clone().map(Arc::new),
        };
        let cluster = Cluster {
            inner: Arc::new(Inner {
                config,
                options,
                metadata: RwLock::new(Arc::new(Metadata::default())),
                brokers: Default::default(),
                bootstrap: Default::default(),
                refresh: SingleFlight::default(),
            }),
        };
        cluster
            .with_retries("load metadata", || cluster.fetch_metadata())
            .await?;
        Ok(cluster)
    }

    /// The cluster's alias.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// The latest metadata snapshot.
    pub fn metadata(&self) -> Arc<Metadata> {
        self.inner.metadata.read().expect("metadata lock").clone()
    }

    /// Reloads metadata for all topics. Concurrent callers share one request.
    pub async fn refresh_metadata(&self) -> Result<Arc<Metadata>> {
        let seen = self.inner.refresh.peek(|done| *done);
        let cluster = self.clone();
        self.inner
            .refresh
            .get_or_run(
                |done| (*done != seen).then(|| self.metadata()),
                || async move {
                    cluster.fetch_metadata().await?;
                    Ok(cluster.metadata())
                },
                |done, refreshed| {
                    if refreshed.is_ok() {
                        *done += 1;
                    }
                },
                || Error::Metadata {
                    cluster: self.name().to_owned(),
                    what: "the metadata refresh was cancelled (the runtime is stopping)".into(),
                },
            )
            .await
    }

    /// Reloads metadata for the given topics only (creating nothing), merging into the snapshot.
    pub async fn refresh_topics(&self, topics: &[&str]) -> Result<Arc<Metadata>> {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default().with_name(Some(TopicName(str_bytes(t))))
                    })
                    .collect(),
            ));
        let response = self.send_any(&request).await?;
        let fresh = Metadata::from_response(&response);
        let mut lock = self.inner.metadata.write().expect("metadata lock");
        let mut merged = (**lock).clone();
        merged.brokers = fresh.brokers;
        merged.controller = fresh.controller.or(merged.controller);
        for name in topics {
            match fresh.topics.get(*name) {
                Some(t) => merged.topics.insert(name.to_string(), t.clone()),
                None => merged.topics.remove(*name),
            };
        }
        *lock = Arc::new(merged);
        Ok(lock.clone())
    }

    async fn fetch_metadata(&self) -> Result<()> {
        let request = MetadataRequest::default()
            .with_topics(None)
            .with_allow_auto_topic_creation(false);
        let response = self.send_any(&request).await?;
        let metadata = Metadata::from_response(&response);
        if metadata.brokers.is_empty() {
            return Err(Error::Metadata {
                cluster: self.name().to_owned(),
                what: "metadata lists no brokers".into(),
            });
        }
        *self.inner.metadata.write().expect("metadata lock") = Arc::new(metadata);
        Ok(())
    }

    /// The connection to broker `id`, opened (or reopened) as needed.
    pub async fn broker(&self, id: i32) -> Result<Arc<Connection>> {
        let address = self.metadata().brokers.get(&id).cloned();
        let address = match address {
            Some(a) => a,
            None => {
                return Err(Error::Metadata {
                    cluster: self.name().to_owned(),
                    what: format!("broker {id} is not in the metadata"),
                })
            }
        };
        let slot = self
            .inner
            .brokers
            .lock()
            .expect("brokers lock")
            .entry(id)
            .or_default()
            .clone();
        let wanted = format!("{}:{}", address.host, address.port);
        let options = self.inner.options.clone();
        slot.get_or_run(
            |slot| live(slot).filter(|c| c.broker() == wanted),
            || async move {
                Connection::open(options, &address.host, address.port)
                    .await
                    .map(Arc::new)
            },
            keep_opened,
            || opening_stopped(self.name(), &wanted),
        )
        .await
    }

    /// A connection to any live broker: a known broker first, else a bootstrap server.
    pub async fn any_broker(&self) -> Result<Arc<Connection>> {
        let ids: Vec<i32> = self.metadata().brokers.keys().copied().collect();
        for id in ids {
            if let Ok(conn) = self.broker(id).await {
                return Ok(conn);
            }
        }
        self.bootstrap_connection().await
    }

    async fn bootstrap_connection(&self) -> Result<Arc<Connection>> {
        let cluster = self.clone();
        self.inner
            .bootstrap
            .get_or_run(
                live,
                || async move { cluster.open_bootstrap().await.map(Arc::new) },
                keep_opened,
                || opening_stopped(self.name(), "(bootstrap)"),
            )
            .await
    }

    /// A connection to the first bootstrap server that answers.
    async fn open_bootstrap(&self) -> Result<Connection> {
        let mut last = None;
        for (host, port) in &self.inner.config.bootstrap {
            match Connection::open(self.inner.options.clone(), host, *port).await {
                Ok(conn) => return Ok(conn),
                // A TLS or SASL failure is not "unreachable": report it as is.
                Err(e) if e.is_security() => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        let tried = self
            .inner
            .config
            .bootstrap
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        Err(Error::Bootstrap {
            cluster: self.name().to_owned(),
            tried,
            last: match last.expect("bootstrap list is never empty") {
                Error::Connect { broker, source, .. } => format!("{broker}: {source}"),
                other => other.to_string(),
            },
        })
    }

    /// The connection to the leader of `topic`/`partition`, refreshing metadata once if unknown.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<(i32, Arc<Connection>)> {
        let leader = self.leader_id(topic, partition).await?;
        Ok((leader, self.broker(leader).await?))
    }

    /// The broker id leading `topic`/`partition`, refreshing metadata once if unknown.
    pub async fn leader_id(&self, topic: &str, partition: i32) -> Result<i32> {
        if let Some(id) = self.metadata().leader(topic, partition) {
            return Ok(id);
        }
        self.refresh_metadata()
            .await?
            .leader(topic, partition)
            .ok_or_else(|| Error::Metadata {
                cluster: self.name().to_owned(),
                what: format!("no leader known for topic {topic} partition {partition}"),
            })
    }

    /// The connection to the controller (or any broker, which forwards admin requests).
    pub async fn controller(&self) -> Result<Arc<Connection>> {
        match self.metadata().controller {
            Some(id) => match self.broker(id).await {
                Ok(conn) => Ok(conn),
                Err(_) => self.any_broker().await,
            },
            None => self.any_broker().await,
        }
    }

    /// Sends a request to any broker.
    pub async fn send_any<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.any_broker().await?.send(request).await
    }

    /// Sends a request to the controller.
    pub async fn send_controller<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.controller().await?.send(request).await
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error, or the retry policy is
    /// exhausted; refreshes metadata before retrying errors that mean it is stale.
    pub async fn with_retries<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.with_retries_by(self.inner.config.retry, what, op)
            .await
    }

    /// [`Cluster::with_retries`] with a policy of the caller's.
    pub async fn with_retries_by<T, F, Fut>(
        &self,
        policy: RetryPolicy,
        what: &str,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op().await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retriable() && attempt < policy.max_attempts => {
                    tracing::debug!(cluster = self.name(), %e, attempt, "retrying {what}");
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    if e.needs_metadata_refresh() {
                        let _ = self.refresh_metadata().await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A broker error naming this cluster and the operation.
    pub(crate) fn broker_error(
        &self,
        op: impl Into<String>,
        code: i16,
        message: Option<&str>,
    ) -> Option<Error> {
        kafka_protocol::error::ResponseError::try_from_code(code).map(|code| Error::Broker {
            cluster: self.name().to_owned(),
            op: op.into(),
            code,
            message: message.filter(|m| !m.is_empty()).map(str::to_owned),
            denied: None,
        })
    }
}

/// The connection in `slot`, unless it has closed.
fn live(slot: &Option<Arc<Connection>>) -> Option<Arc<Connection>> {
    slot.as_ref().filter(|c| !c.is_closed()).cloned()
}

/// The error of a caller whose connection was being opened when the runtime stopped.
fn opening_stopped(cluster: &str, broker: &str) -> Error {
    Error::ConnectionLost {
        cluster: cluster.to_owned(),
        broker: broker.to_owned(),
        reason: "the connection was being opened when the runtime stopped".into(),
    }
}

/// Keeps a newly opened connection in its slot.
fn keep_opened(slot: &mut Option<Arc<Connection>>, opened: &Result<Arc<Connection>>) {
    if let Ok(conn) = opened {
        *slot = Some(conn.clone());
    }
}
