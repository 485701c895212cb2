//! Metrics and lag while mirroring real brokers: the counters `/metrics` would serve match the
//! records mirrored, lag falls to zero, stays at exactly the number of records produced while
//! the flow is paused, and falls to zero again after resuming with every record once, in order.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::batch::Record;
use strait_mirror::engine::{FlowHandle, Mirror};
use strait_mirror::metrics::{render, PartitionLabels, CONDITIONAL, METRICS};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    counts_and_lag_follow_mirroring_and_pause,
    topic_pause_holds_only_that_topic,
    refresh_finds_a_new_topic_now;
    // tansu's memory engine forgets everything on restart.
    not_tansu: target_outage_shows_as_errors_and_recovers;
    // The scale-out group is proven on Kafka (docs/testing.md).
    kafka_only: target_outage_loses_the_group_then_resumes,
);

const ONE_WAY: &str =
    "topics = orders|audit\nbackup->primary.enabled = false\nemit.heartbeats.enabled = false";

fn flow(mirror: &Mirror) -> &FlowHandle {
    mirror
        .flow("primary", "backup")
        .expect("flow primary->backup")
}

/// The value of the sample `name{labels...}` in OpenMetrics text, if present. Every given label
/// must match; a sample with other labels too still matches.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (set, value) = rest.split_once("} ")?;
        let all = labels
            .iter()
            .all(|(k, v)| set.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        all.then(|| value.trim().parse().ok()).flatten()
    })
}

/// Waits until every partition of `topic` shows `lag` records of lag and a known log end.
async fn wait_for_lag(mirror: &Mirror, topic: &str, lag: &BTreeMap<i32, u64>) {
    eventually(&format!("lag of {topic} = {lag:?}"), || async {
        let seen: BTreeMap<i32, u64> = flow(mirror)
            .partitions()
            .iter()
            .filter(|p| p.topic == topic && p.log_end.is_some())
            .map(|p| (p.partition, p.lag_records))
            .collect();
        if &seen == lag {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await
}

async fn counts_and_lag_follow_mirroring_and_pause(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, "orders", 2).await;
    let first = produce_fixture(&pair.primary, "orders", 0..2, 50, "first").await;
    let mirror = start_mirror(&pair.properties(ONE_WAY));

    // 100 records mirrored: counters say 100 and lag falls to 0 on both partitions.
    wait_for_records(&pair.backup, "primary.orders", 100).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0), (1, 0)])).await;
    wait_for_stats(&mirror, "primary->backup", "100 records", |s| {
        s.records == 100
    })
    .await;
    let text = render(mirror.flows(), PartitionLabels::Partition);
    for p in ["0", "1"] {
        let labels = [
            ("source", "primary"),
            ("target", "backup"),
            ("topic", "orders"),
            ("partition", p),
        ];
        assert_eq!(
            sample(&text, "strait_record_count_total", &labels),
            Some(50.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "strait_lag_records", &labels),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "strait_lag_seconds", &labels),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "strait_source_log_end_offset", &labels),
            Some(50.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "strait_replicated_offset", &labels),
            Some(50.0),
            "{text}"
        );
        assert!(
            sample(&text, "strait_byte_count_total", &labels).unwrap() > 0.0,
            "{text}"
        );
    }
    let path = |p| [("source", "primary"), ("target", "backup"), ("path", p)];
    assert_eq!(
        sample(&text, "strait_batches_total", &path("passed_through")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "strait_batches_total", &path("reencoded")),
        Some(0.0),
        "{text}"
    );
    for name in METRICS.iter().filter(|n| !CONDITIONAL.contains(n)) {
        assert!(
            text.contains(&format!("# TYPE {} ", family_of(name))),
            "{name} missing:\n{text}"
        );
    }
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (family, kind) = line.split_once(' ').unwrap();
        let name = if kind == "counter" {
            format!("{family}_total")
        } else {
            family.to_owned()
        };
        assert!(
            METRICS.contains(&name.as_str()),
            "{name} is exported but not listed"
        );
    }

    // Paused: 30 + 20 more records on the source stay there, lag is exactly 30 and 20.
    assert!(flow(&mirror).control.pause(None));
    eventually("partitions report paused", || async {
        let parts = flow(&mirror).partitions();
        if parts.iter().all(|p| p.paused.is_some()) {
            Ok(())
        } else {
            Err(format!("{parts:?}"))
        }
    })
    .await;
    let second = produce_fixture(&pair.primary, "orders", [0], 30, "second").await;
    let third = produce_fixture(&pair.primary, "orders", [1], 20, "third").await;
    let paused_lag = BTreeMap::from([(0, 30), (1, 20)]);
    wait_for_lag(&mirror, "orders", &paused_lag).await;
    let status = flow(&mirror).status();
    assert_eq!(status.lag_records, 50);
    assert!(
        status.lag_seconds > 0.0,
        "the oldest waiting record has an age: {status:?}"
    );
    assert!(status.lag_bytes > 0, "{status:?}");
    // A few paused polls later: still nothing on the target, still the same lag.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count_records(&pair.backup, "primary.orders").await, 100);
    wait_for_lag(&mirror, "orders", &paused_lag).await;
    let text = render(mirror.flows(), PartitionLabels::Partition);
    let p0 = [("topic", "orders"), ("partition", "0")];
    assert_eq!(
        sample(&text, "strait_lag_records", &p0),
        Some(30.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "strait_partition_paused", &p0),
        Some(1.0),
        "{text}"
    );
    let per_topic = render(mirror.flows(), PartitionLabels::Topic);
    assert_eq!(
        sample(&per_topic, "strait_lag_records", &[("topic", "orders")]),
        Some(50.0)
    );
    assert!(!per_topic.contains("partition=\"0\""), "{per_topic}");

    // Resumed: everything arrives once, in order, and lag is 0 again.
    assert!(flow(&mirror).control.resume(None));
    wait_for_records(&pair.backup, "primary.orders", 150).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0), (1, 0)])).await;
    let expected: BTreeMap<i32, Vec<Record>> = BTreeMap::from([
        (0, [first[&0].clone(), second[&0].clone()].concat()),
        (1, [first[&1].clone(), third[&1].clone()].concat()),
    ]);
    for (p, records) in &expected {
        let got = read_partition(&pair.backup, "primary.orders", *p).await;
        assert_same_records(&format!("primary.orders-{p}"), records, &got);
    }
    wait_for_stats(&mirror, "primary->backup", "150 records", |s| {
        s.records == 150
    })
    .await;
    let text = render(mirror.flows(), PartitionLabels::Partition);
    assert_eq!(
        sample(&text, "strait_record_count_total", &p0),
        Some(80.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "strait_partition_paused", &p0),
        Some(0.0),
        "{text}"
    );
    shutdown(mirror).await;
}

/// Pausing one topic holds that topic only; resuming it lets its records through once.
async fn topic_pause_holds_only_that_topic(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, "orders", 1).await;
    create_topic(&pair.primary, "audit", 1).await;
    let mirror = start_mirror(&pair.properties(ONE_WAY));
    eventually("both topics are being replicated", || async {
        let topics: Vec<String> = flow(&mirror)
            .partitions()
            .into_iter()
            .map(|p| p.topic)
            .collect();
        if topics.len() == 2 {
            Ok(())
        } else {
            Err(format!("{topics:?}"))
        }
    })
    .await;
    assert!(flow(&mirror).control.pause(Some("orders")));
    assert!(
        !flow(&mirror).control.pause(Some("orders")),
        "pausing twice changes nothing"
    );
    eventually("orders reports paused", || async {
        let parts = flow(&mirror).partitions();
        match parts.iter().find(|p| p.topic == "orders") {
            Some(p) if p.paused.is_some() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let orders = produce_fixture(&pair.primary, "orders", [0], 10, "o").await;
    let audit = produce_fixture(&pair.primary, "audit", [0], 10, "a").await;
    wait_for_records(&pair.backup, "primary.audit", 10).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 10)])).await;
    assert_eq!(count_records(&pair.backup, "primary.orders").await, 0);
    assert!(flow(&mirror).status().paused.topics.contains("orders"));

    assert!(flow(&mirror).control.resume(Some("orders")));
    wait_for_records(&pair.backup, "primary.orders", 10).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0)])).await;
    let got = read_partition(&pair.backup, "primary.orders", 0).await;
    assert_same_records("primary.orders", &orders[&0], &got);
    let got = read_partition(&pair.backup, "primary.audit", 0).await;
    assert_same_records("primary.audit", &audit[&0], &got);
    shutdown(mirror).await;
}

/// With an hour between topic refreshes, a topic created after the start is found only
/// because a refresh is requested (what `POST .../refresh` does).
async fn refresh_finds_a_new_topic_now(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, "orders", 1).await;
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\nrefresh.topics.interval.seconds = 3600"
    )));
    let orders = produce_fixture(&pair.primary, "orders", [0], 5, "o").await;
    wait_for_records(&pair.backup, "primary.orders", 5).await;
    create_topic(&pair.primary, "audit", 1).await;
    let audit = produce_fixture(&pair.primary, "audit", [0], 7, "a").await;
    flow(&mirror).control.refresh();
    wait_for_records(&pair.backup, "primary.audit", 7).await;
    let got = read_partition(&pair.backup, "primary.audit", 0).await;
    assert_same_records("primary.audit", &audit[&0], &got);
    let got = read_partition(&pair.backup, "primary.orders", 0).await;
    assert_same_records("primary.orders", &orders[&0], &got);
    shutdown(mirror).await;
}

/// The target down, in a process working alone (`strait.group.enabled = false`): produce errors
/// are counted by kind, the partition reports the error as why it is paused and its last error,
/// lag counts what waits; back up, all arrives once.
async fn target_outage_shows_as_errors_and_recovers(kind: BrokerKind) {
    let mut pair = Pair::start(kind).await;
    create_topic(&pair.primary, "orders", 1).await;
    let mirror =
        start_mirror(&pair.properties(&format!("{ONE_WAY}\nstrait.group.enabled = false")));
    let before = produce_fixture(&pair.primary, "orders", [0], 10, "before").await;
    wait_for_records(&pair.backup, "primary.orders", 10).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0)])).await;
    assert!(flow(&mirror).status().errors.is_empty());

    tokio::task::block_in_place(|| pair.backup_node.stop());
    let during = produce_fixture(&pair.primary, "orders", [0], 10, "during").await;
    let status = eventually("a produce error reported", || async {
        let status = flow(&mirror).status();
        let part = flow(&mirror).partitions().remove(0);
        let errored = status
            .errors
            .iter()
            .any(|e| e.op == "produce" && e.count > 0);
        let paused = part
            .paused
            .as_deref()
            .is_some_and(|r| r.starts_with("error"));
        if errored && paused && status.last_error.is_some() && status.lag_records == 10 {
            Ok(status)
        } else {
            Err(format!("{status:?} {part:?}"))
        }
    })
    .await;
    let last = status.last_error.unwrap();
    assert_eq!((last.topic.as_str(), last.partition), ("orders", 0));
    assert!(last.error.message.contains("orders"), "{last:?}");
    let text = render(mirror.flows(), PartitionLabels::Partition);
    assert!(
        sample(&text, "strait_errors_total", &[("op", "produce")]).is_some_and(|n| n > 0.0),
        "{text}"
    );

    tokio::task::block_in_place(|| pair.backup_node.restart()).expect("backup restarts");
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0)])).await;
    eventually("partition replicating again", || async {
        match flow(&mirror).partitions().remove(0).paused {
            None => Ok(()),
            Some(r) => Err(r),
        }
    })
    .await;
    assert_orders_arrived_once(&pair, &before, &during).await;
    shutdown(mirror).await;
}

/// The target down with the flow's group on (the default): the member cannot renew its write
/// lease on the target's coordinator, so when the lease lapses it stops every partition and
/// reports the group lost (another member could have taken them over by then); back up, it
/// rejoins and resumes each partition where it had got to: every record once.
async fn target_outage_loses_the_group_then_resumes(kind: BrokerKind) {
    let mut pair = Pair::start(kind).await;
    create_topic(&pair.primary, "orders", 1).await;
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\n\
         strait.group.session.timeout.ms = 6000\n\
         strait.group.heartbeat.interval.ms = 500"
    )));
    let before = produce_fixture(&pair.primary, "orders", [0], 10, "before").await;
    wait_for_records(&pair.backup, "primary.orders", 10).await;
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0)])).await;

    tokio::task::block_in_place(|| pair.backup_node.stop());
    let during = produce_fixture(&pair.primary, "orders", [0], 10, "during").await;
    eventually("the group lost and every partition stopped", || async {
        let state = flow(&mirror).status().group.map(|g| g.state);
        let running = flow(&mirror).partitions().len();
        if state.as_deref() == Some("lost") && running == 0 {
            Ok(())
        } else {
            Err(format!("group {state:?}, {running} partitions running"))
        }
    })
    .await;
    let text = render(mirror.flows(), PartitionLabels::Partition);
    assert_eq!(
        sample(&text, "strait_group_state", &[("state", "lost")]),
        Some(1.0),
        "{text}"
    );

    tokio::task::block_in_place(|| pair.backup_node.restart()).expect("backup restarts");
    wait_for_lag(&mirror, "orders", &BTreeMap::from([(0, 0)])).await;
    let group = flow(&mirror).status().group.expect("group");
    assert_eq!(group.state, "stable", "{group:?}");
    assert_orders_arrived_once(&pair, &before, &during).await;
    shutdown(mirror).await;
}

/// `primary.orders` partition 0 on the target holds exactly the records produced `before` and
/// `during` the outage, once each, in order.
async fn assert_orders_arrived_once(
    pair: &Pair,
    before: &BTreeMap<i32, Vec<Record>>,
    during: &BTreeMap<i32, Vec<Record>>,
) {
    let got = read_partition(&pair.backup, "primary.orders", 0).await;
    assert_same_records(
        "primary.orders",
        &[before[&0].clone(), during[&0].clone()].concat(),
        &got,
    );
}

/// The family name in `# TYPE` lines (counters are declared without `_total`).
fn family_of(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// docs/observability.md lists exactly the exported families, in the same order.
#[test]
fn observability_doc_lists_every_metric() {
    let doc = include_str!("../../../docs/observability.md");
    let listed: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `strait_"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let exported: Vec<&str> = METRICS
        .iter()
        .map(|m| m.strip_prefix("strait_").unwrap())
        .collect();
    assert_eq!(listed, exported);
}

/// The strait-only listener keys: defaults, and bad values named with key and line.
#[test]
fn listener_keys_default_and_name_bad_values() {
    use strait_mirror::config::{parse_str, ObserveConfig};
    let base = "clusters = a, b\na.bootstrap.servers = x:1\nb.bootstrap.servers = y:1\na->b.enabled = true\n";
    let observe = |extra: &str| {
        let config = parse_str(&format!("{base}{extra}")).unwrap();
        ObserveConfig::from_properties(&config.properties)
    };
    let default = observe("").unwrap();
    assert!(default.http_enabled && !default.http_listen_explicit && !default.metrics_per_topic);
    assert_eq!(default.http_listen.to_string(), "127.0.0.1:9464");
    let set = observe("strait.http.listen = 0.0.0.0:9999\nstrait.metrics.partition.labels = topic\nstrait.http.enabled = false\n").unwrap();
    assert_eq!(set.http_listen.to_string(), "0.0.0.0:9999");
    assert!(set.http_listen_explicit && set.metrics_per_topic && !set.http_enabled);
    for (extra, key) in [
        ("strait.http.listen = localhost", "strait.http.listen"),
        (
            "strait.metrics.partition.labels = group",
            "strait.metrics.partition.labels",
        ),
        ("strait.http.enabled = yes", "strait.http.enabled"),
        ("strait.http.token.file =", "strait.http.token.file"),
    ] {
        let err = observe(extra).unwrap_err().to_string();
        assert!(
            err.contains(key) && err.contains("line 5"),
            "{extra}: {err}"
        );
    }
}
