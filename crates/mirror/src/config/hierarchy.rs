//! MM2's property hierarchy (§1.3): cluster props, worker config, connector config, clients.
//!
//! Each function mirrors one of MM2's derivations step by step, so precedence falls out exactly
//! as in Java; every value remembers the file entry it came from.

use super::keys::{is_client_key, is_connector_key, is_worker_key};
use super::properties::Properties;
use super::values::{Layer, Val};

/// Kafka client kinds a derived configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    Consumer,
    Producer,
    Admin,
}

impl Client {
    fn prefix(self) -> &'static str {
        match self {
            Self::Consumer => "consumer.",
            Self::Producer => "producer.",
            Self::Admin => "admin.",
        }
    }
}

/// Which end of a flow a client connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Source,
    Target,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Target => "target",
        }
    }
}

/// `MirrorMakerConfig.clusterProps(alias)` (§1.3(a)).
pub(crate) fn cluster_props(props: &Properties, alias: &str) -> Layer {
    let prefix = format!("{alias}.");
    let mut layer: Layer = props
        .iter()
        .filter_map(|p| {
            p.key
                .strip_prefix(&prefix)
                .map(|k| (k.to_owned(), Val::from_property(p)))
        })
        .collect();
    let cluster_client_keys: Vec<(String, Val)> = layer
        .iter()
        .filter(|(k, _)| is_client_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in cluster_client_keys {
        for client in [Client::Producer, Client::Consumer, Client::Admin] {
            layer
                .entry(format!("{}{k}", client.prefix()))
                .or_insert_with(|| v.clone());
        }
    }
    for p in props.iter().filter(|p| is_client_key(&p.key)) {
        let v = Val::from_property(p);
        for client in [Client::Producer, Client::Consumer, Client::Admin] {
            layer
                .entry(format!("{}{}", client.prefix(), p.key))
                .or_insert_with(|| v.clone());
        }
        layer.entry(p.key.clone()).or_insert(v);
    }
    layer
}

/// `MirrorMakerConfig.workerConfig(source, target)` without defaults (§1.3(b)).
pub(crate) fn worker_config(props: &Properties, target: &str) -> Layer {
    let mut layer = cluster_props(props, target);
    for p in props.iter().filter(|p| is_worker_key(&p.key)) {
        layer.insert(p.key.clone(), Val::from_property(p));
    }
    layer
}

/// `MirrorMakerConfig.connectorBaseConfig(source->target)` (§1.3(c)).
pub(crate) fn connector_config(props: &Properties, source: &str, target: &str) -> Layer {
    let mut layer: Layer = props
        .iter()
        .filter(|p| {
            is_connector_key(&p.key)
                || p.key.starts_with("config.providers")
                || p.key.starts_with("replication.policy")
        })
        .map(|p| (p.key.clone(), Val::from_property(p)))
        .collect();
    for (side, alias) in [(Side::Source, source), (Side::Target, target)] {
        for (k, v) in cluster_props(props, alias) {
            let client_key = ["consumer", "producer", "admin"]
                .iter()
                .any(|c| k.starts_with(c));
            let prefix = if client_key { "" } else { "cluster." };
            layer.insert(format!("{}.{prefix}{k}", side.name()), v);
        }
    }
    layer
        .entry("source.cluster.alias".to_owned())
        .or_insert_with(|| Val::injected(source));
    layer
        .entry("target.cluster.alias".to_owned())
        .or_insert_with(|| Val::injected(target));
    let flow_prefix = format!("{source}->{target}.");
    for p in props.iter() {
        if let Some(k) = p.key.strip_prefix(&flow_prefix) {
            layer.insert(k.to_owned(), Val::from_property(p));
        }
    }
    layer
        .entry("enabled".to_owned())
        .or_insert_with(|| Val::injected("false"));
    layer
}

/// A client built inside a connector (`MirrorConnectorConfig`, §1.3(d)):
/// `<side>.cluster.*` client keys, then `<client>.*`, then `<side>.<client>.*`.
pub(crate) fn connector_client(connector: &Layer, side: Side, client: Client) -> Layer {
    let mut layer: Layer = with_prefix(connector, &format!("{}.cluster.", side.name()))
        .filter(|(k, _)| is_client_key(k))
        .collect();
    layer.extend(with_prefix(connector, client.prefix()));
    layer.extend(with_prefix(
        connector,
        &format!("{}.{}", side.name(), client.prefix()),
    ));
    if client == Client::Consumer {
        layer.insert("enable.auto.commit".to_owned(), Val::injected("false"));
        layer
            .entry("auto.offset.reset".to_owned())
            .or_insert_with(|| Val::injected("earliest"));
    }
    layer
}

/// The Connect worker's producer, which writes the replicated records: the worker's bootstrap
/// servers, its `producer.*` keys, then the connector's `producer.override.*` keys.
pub(crate) fn worker_producer(worker: &Layer, connector: &Layer) -> Layer {
    let mut layer = Layer::new();
    if let Some(v) = worker.get("bootstrap.servers") {
        layer.insert("bootstrap.servers".to_owned(), v.clone());
    }
    layer.extend(with_prefix(worker, "producer."));
    layer.extend(with_prefix(connector, "producer.override."));
    layer
}

/// Entries whose key starts with `prefix`, with the prefix stripped.
fn with_prefix<'a>(layer: &'a Layer, prefix: &'a str) -> impl Iterator<Item = (String, Val)> + 'a {
    layer
        .iter()
        .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|s| (s.to_owned(), v.clone())))
}
