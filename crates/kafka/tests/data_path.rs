//! The raw-batch data path against real brokers: idempotent produce in every codec, fetch back
//! byte-identical, forward between clusters without re-compression, splitter behaviour on real
//! fetch responses, and errors that name what failed.

use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::batch::{Compression, RawBatch};
use strait_kafka::{
    AbortedTransaction, Cluster, ClusterConfig, Error, FetchOptions, FetchPosition, FetchSession,
    Isolation, PartitionFetch, Producer, ResponseError, RetryPolicy,
};
use strait_testkit::{BrokerKind, ProxyOptions, SecureProxy, TestCluster};

const CODECS: [Compression; 5] = Compression::ALL;

strait_testkit::per_broker!(
    every_codec_round_trips_byte_identical,
    batches_forwarded_between_clusters_keep_records_and_compression,
    pipelined_batches_keep_order_and_sequences,
    batches_for_many_partitions_share_produce_requests,
    a_refused_first_batch_is_not_overtaken,
    small_fetches_yield_only_whole_batches,
    fetch_inside_a_batch_returns_that_batch,
    fetch_errors_name_topic_partition_and_offset,
    a_stale_fetch_answer_refreshes_metadata,
    fetch_sessions_name_only_what_changed,
    read_committed_lists_aborted_transactions,
    a_connection_knows_its_round_trip,
);

/// A proxy in front of `node` (it counts requests and can refuse a produce) and a client of
/// cluster `a` connected through it.
async fn through_proxy(node: &TestCluster) -> (SecureProxy, Cluster) {
    let proxy = SecureProxy::start(&node.bootstrap(), ProxyOptions::default())
        .await
        .unwrap();
    let through = connect("a", &proxy.bootstrap()).await;
    (proxy, through)
}

async fn every_codec_round_trips_byte_identical(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "codecs", CODECS.len() as i32).await;
    let producer = Producer::idempotent(&cluster).await.unwrap();
    for (partition, codec) in CODECS.iter().enumerate() {
        let partition = partition as i32;
        let sent: Vec<RawBatch> = (0..3)
            .map(|i| batch(*codec, &rich_records(i, 20 + i * 7)))
            .collect();
        let mut expected_base = 0;
        for b in &sent {
            let ack = producer.send("codecs", partition, b).await.unwrap();
            assert_eq!(
                ack.base_offset, expected_base,
                "{codec:?}: offsets assigned in order"
            );
            expected_base += b.record_count() as i64;
        }
        let got =
            read_batches_between(&cluster, "codecs", partition, 0, expected_base, 1 << 20).await;
        assert_eq!(
            got.len(),
            sent.len(),
            "{codec:?}: one stored batch per produced batch"
        );
        let mut sequence = 0;
        for (s, g) in sent.iter().zip(&got) {
            g.verify_crc().unwrap();
            assert_eq!(
                g.compression().unwrap(),
                *codec,
                "stored with the codec it was produced with"
            );
            assert_eq!(
                records_as_produced(g),
                records_as_produced(s),
                "{codec:?}: records, headers, timestamps intact"
            );
            assert_eq!(
                &g.bytes()[61..],
                &s.bytes()[61..],
                "{codec:?}: record bytes untouched"
            );
            assert_eq!(g.producer_id(), producer.producer_id());
            assert_eq!(g.producer_epoch(), producer.producer_epoch());
            assert_eq!(g.base_sequence(), sequence);
            sequence += s.record_count();
        }
    }
}

async fn batches_forwarded_between_clusters_keep_records_and_compression(kind: BrokerKind) {
    let (_a_node, a) = start_cluster(kind, "a").await;
    let (_b_node, b) = start_cluster(kind, "b").await;
    create_topic(&a, "orders", 2).await;
    create_topic(&b, "a.orders", 2).await;
    let source = Producer::idempotent(&a).await.unwrap();
    let mut counts = [0i64; 2];
    for i in 0..10 {
        let partition = (i % 2) as i32;
        let b = batch(CODECS[i % CODECS.len()], &rich_records(i, 15));
        counts[partition as usize] += b.record_count() as i64;
        source.send("orders", partition, &b).await.unwrap();
    }
    let forwarder = Producer::idempotent(&b).await.unwrap();
    assert_ne!(
        (forwarder.producer_id(), forwarder.cluster().name()),
        (source.producer_id(), "a")
    );
    for partition in 0..2 {
        let fetched = read_batches_between(
            &a,
            "orders",
            partition,
            0,
            counts[partition as usize],
            1 << 20,
        )
        .await;
        let mut in_flight = Vec::new();
        for batch in &fetched {
            in_flight.push(
                forwarder
                    .submit("a.orders", partition, batch)
                    .await
                    .unwrap(),
            );
        }
        for (sent, original) in in_flight.into_iter().zip(&fetched) {
            let ack = sent.wait().await.unwrap();
            assert_eq!(
                ack.base_offset,
                original.base_offset(),
                "fresh target: same offsets"
            );
        }
        let arrived = read_batches_between(
            &b,
            "a.orders",
            partition,
            0,
            counts[partition as usize],
            1 << 20,
        )
        .await;
        assert_eq!(arrived.len(), fetched.len());
        for (src, dst) in fetched.iter().zip(&arrived) {
            assert_eq!(
                dst.compression().unwrap(),
                src.compression().unwrap(),
                "not re-compressed"
            );
            assert_eq!(
                &dst.bytes()[61..],
                &src.bytes()[61..],
                "records forwarded byte for byte"
            );
            assert_eq!(records_as_produced(dst), records_as_produced(src));
            assert_eq!(
                dst.producer_id(),
                forwarder.producer_id(),
                "target batches carry strait's producer id"
            );
        }
    }
}

async fn pipelined_batches_keep_order_and_sequences(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "pipelined", 1).await;
    let producer = Producer::idempotent(&cluster).await.unwrap();
    let sent: Vec<RawBatch> = (0..40)
        .map(|i| batch(Compression::Lz4, &rich_records(i, 5)))
        .collect();
    let mut in_flight = Vec::new();
    for b in &sent {
        in_flight.push(producer.submit("pipelined", 0, b).await.unwrap());
    }
    let mut expected = 0;
    for f in in_flight {
        let ack = f.wait().await.unwrap();
        assert_eq!(
            ack.base_offset, expected,
            "acks arrive for consecutive offsets"
        );
        expected += 5;
    }
    let got = read_batches_between(&cluster, "pipelined", 0, 0, expected, 1 << 20).await;
    let got: Vec<_> = got.iter().flat_map(records_as_produced).collect();
    let want: Vec<_> = sent.iter().flat_map(records_as_produced).collect();
    assert_eq!(got, want, "every record once, in order");
}

/// A producer writing to many partitions of one broker at once sends them in a few Produce
/// requests, not one per batch (counted by a proxy in front of the broker); every batch gets
/// its own partition's acknowledgement and lands once, in order.
async fn batches_for_many_partitions_share_produce_requests(kind: BrokerKind) {
    const PARTITIONS: i32 = 40;
    const PRODUCE: i16 = 0;
    let (node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "wide", PARTITIONS).await;
    let (proxy, through) = through_proxy(&node).await;
    let producer = Producer::idempotent(&through).await.unwrap();
    let sent: Vec<Vec<RawBatch>> = (0..PARTITIONS as usize)
        .map(|p| {
            (0..3)
                .map(|i| batch(Compression::Lz4, &rich_records(p * 10 + i, 5)))
                .collect()
        })
        .collect();
    // The first batch of a producer on a partition goes alone (acknowledged before the next).
    for (p, batches) in sent.iter().enumerate() {
        let ack = producer.send("wide", p as i32, &batches[0]).await.unwrap();
        assert_eq!(ack.base_offset, 0, "partition {p}");
    }
    let before = proxy.stats().requests(PRODUCE);
    let mut in_flight = Vec::new();
    for round in 1..3 {
        for (p, batches) in sent.iter().enumerate() {
            let written = producer.submit("wide", p as i32, &batches[round]).await;
            in_flight.push((p, round, written.unwrap()));
        }
    }
    for (p, round, written) in in_flight {
        let ack = written.wait().await.unwrap();
        assert_eq!(
            ack.base_offset,
            5 * round as i64,
            "partition {p}: batch {round}'s own acknowledgement"
        );
    }
    // How many batches share a request depends on how far the lane's writer lags behind the
    // submits (usually 2-10 requests, at times half the batches when the writer keeps up):
    // what must hold is that batches submitted while one is written go out together.
    let requests = proxy.stats().requests(PRODUCE) - before;
    assert!(
        requests < 2 * PARTITIONS as u64,
        "{} batches to one broker in {requests} Produce requests: none shared a request",
        2 * PARTITIONS
    );
    for (p, batches) in sent.iter().enumerate() {
        let got = read_batches_between(&cluster, "wide", p as i32, 0, 15, 1 << 20).await;
        let got: Vec<_> = got.iter().flat_map(records_as_produced).collect();
        let want: Vec<_> = batches.iter().flat_map(records_as_produced).collect();
        assert_eq!(got, want, "partition {p}: every record once, in order");
    }
}

/// The first batch of a producer on a new partition is refused with NOT_LEADER_OR_FOLLOWER (as
/// a new topic's leader that is not serving yet does) while more are submitted behind it. Kafka
/// would store a later batch from a producer it has no state for, whatever its sequence, so the
/// producer holds the others back until the first is acknowledged: every batch lands once, in
/// order. (The proxy diverts the refused request to a missing topic: nothing is stored.)
async fn a_refused_first_batch_is_not_overtaken(kind: BrokerKind) {
    let (node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "first", 1).await;
    let (proxy, through) = through_proxy(&node).await;
    proxy.refuse_next_produce("first", 0, ResponseError::NotLeaderOrFollower.code());
    let producer = Producer::idempotent(&through).await.unwrap();
    let sent: Vec<RawBatch> = (0..4)
        .map(|i| batch(Compression::Lz4, &rich_records(i, 5)))
        .collect();
    let mut in_flight = Vec::new();
    for b in &sent {
        in_flight.push(producer.submit("first", 0, b).await.unwrap());
    }
    let mut offsets = Vec::new();
    for f in in_flight {
        offsets.push(f.wait().await.unwrap().base_offset);
    }
    assert_eq!(offsets, [0, 5, 10, 15]);
    assert_eq!(
        proxy
            .stats()
            .refused_produces
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the first write was refused once"
    );
    let got = read_batches_between(&cluster, "first", 0, 0, 20, 1 << 20).await;
    let got: Vec<_> = got.iter().flat_map(records_as_produced).collect();
    let want: Vec<_> = sent.iter().flat_map(records_as_produced).collect();
    assert_eq!(got, want, "every record once, in order");
}

async fn small_fetches_yield_only_whole_batches(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "small", 1).await;
    let producer = Producer::idempotent(&cluster).await.unwrap();
    let sent: Vec<RawBatch> = (0..12)
        .map(|i| batch(Compression::None, &rich_records(i, 10)))
        .collect();
    for b in &sent {
        producer.send("small", 0, b).await.unwrap();
    }
    // A limit of ~2.5 batches: brokers that honour it cut responses mid-batch (noida ignores it).
    let limit = (sent[0].len() * 5 / 2) as i32;
    let got = read_batches_between(&cluster, "small", 0, 0, 120, limit).await;
    assert_eq!(got.len(), sent.len(), "every batch exactly once");
    for (s, g) in sent.iter().zip(&got) {
        assert_eq!(&g.bytes()[61..], &s.bytes()[61..]);
    }
}

async fn fetch_inside_a_batch_returns_that_batch(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "mid", 1).await;
    let producer = Producer::idempotent(&cluster).await.unwrap();
    for i in 0..3 {
        producer
            .send("mid", 0, &batch(Compression::Zstd, &rich_records(i, 10)))
            .await
            .unwrap();
    }
    let position = fetch_position("mid", 0, 15);
    let fetched = cluster
        .fetch(&position, &FetchOptions::default())
        .await
        .unwrap();
    let batches: Vec<_> = fetched.batches().map(Result::unwrap).collect();
    assert_eq!(
        batches[0].base_offset(),
        10,
        "the batch holding offset 15 comes first"
    );
    assert_eq!(
        batches.iter().map(|b| b.base_offset()).collect::<Vec<_>>(),
        vec![10, 20]
    );
    assert_eq!(fetched.high_watermark, 30);
}

async fn fetch_errors_name_topic_partition_and_offset(kind: BrokerKind) {
    let (node, _) = start_cluster(kind, "east").await;
    let mut config = ClusterConfig::new("east", &node.bootstrap()).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 3,
        min_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let cluster = Cluster::connect(config).await.unwrap();
    create_topic(&cluster, "known", 1).await;
    let position = fetch_position("known", 0, 1000);
    let result = cluster.fetch(&position, &FetchOptions::default()).await;
    if kind == BrokerKind::Tansu {
        // Broker gap: tansu answers a fetch past the log end with no error and no records,
        // where Kafka answers OFFSET_OUT_OF_RANGE.
        let fetched = result.expect("tansu does not report the range error");
        assert!(fetched.records.is_empty() && fetched.high_watermark == 0);
    } else {
        let err = result.unwrap_err();
        assert_eq!(err.code(), Some(ResponseError::OffsetOutOfRange), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("east")
                && text.contains("known")
                && text.contains("partition 0")
                && text.contains("1000"),
            "{text}"
        );
    }

    let position = fetch_position("missing", 3, 0);
    let err = cluster
        .fetch(&position, &FetchOptions::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Metadata { .. }), "{text}");
    assert!(
        text.contains("east") && text.contains("missing") && text.contains("partition 3"),
        "{text}"
    );
}

/// The client, not its caller, keeps metadata fresh: a fetch answer that shows the snapshot
/// stale (here UNKNOWN_TOPIC_OR_PARTITION, or the partition left out) reloads it before
/// `fetch_from` returns; a healthy answer leaves it alone.
async fn a_stale_fetch_answer_refreshes_metadata(kind: BrokerKind) {
    let (node, cluster) = start_cluster(kind, "east").await;
    create_topic(&cluster, "known", 1).await;
    let leader = cluster.leader_id("known", 0).await.unwrap();
    // Created through another client: `cluster`'s snapshot does not know it yet.
    let other = connect("east-admin", &node.bootstrap()).await;
    create_topic(&other, "late", 1).await;
    assert_eq!(cluster.metadata().leader("late", 0), None);

    let before = cluster.metadata();
    let healthy = cluster
        .fetch_from(
            leader,
            &[fetch_position("known", 0, 0)],
            &FetchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(healthy.len(), 1);
    assert_eq!(healthy[0].error, None);
    assert!(
        std::sync::Arc::ptr_eq(&before, &cluster.metadata()),
        "a healthy answer reloaded metadata"
    );

    let answer = cluster
        .fetch_from(
            leader,
            &[fetch_position("ghost", 0, 0)],
            &FetchOptions::default(),
        )
        .await;
    if kind == BrokerKind::Tansu {
        // Broker gap: tansu answers a fetch of a missing topic with an empty partition and no
        // error, which shows nothing stale: metadata is left alone.
        let fetched = answer.expect("tansu answers a missing topic without an error");
        assert_eq!((fetched.len(), fetched[0].error), (1, None));
        assert_eq!(cluster.metadata().leader("late", 0), None);
        return;
    }
    let stale = match &answer {
        Ok(fetched) => fetched.is_empty() || fetched[0].error.is_some(),
        Err(e) => e.needs_metadata_refresh(),
    };
    assert!(
        stale,
        "{kind:?} answered a fetch of a missing topic normally: {answer:?}"
    );
    assert!(
        cluster.metadata().leader("late", 0).is_some(),
        "metadata not reloaded after {answer:?}"
    );
}

/// An incremental fetch session (KIP-227): after the first request, a fetch of 60 idle
/// partitions names none of them, yet each gets its answer with the right high watermark; a
/// record written to one partition arrives in the next answer for that partition alone; a
/// session whose epoch the broker refuses is replaced without failing the fetch. Brokers that
/// keep no sessions (id 0) get full requests and the same answers.
/// A connection notes the shortest time a request took to start being answered: the link's
/// round trip, whatever the answers' sizes or long-polls (strait's fetch windows grow on long
/// links only). Through a proxy adding 40 ms each way it is at least 80 ms; direct, well
/// under that.
async fn a_connection_knows_its_round_trip(kind: BrokerKind) {
    let (node, direct) = start_cluster(kind, "a").await;
    create_topic(&direct, "round-trips", 1).await;
    let options = ProxyOptions {
        delay: Some(Duration::from_millis(40)),
        ..ProxyOptions::default()
    };
    let proxy = SecureProxy::start(&node.bootstrap(), options)
        .await
        .unwrap();
    let far = connect("a", &proxy.bootstrap()).await;
    let idle = FetchOptions {
        max_wait: Duration::from_millis(300),
        ..FetchOptions::default()
    };
    for cluster in [&direct, &far] {
        let leader = cluster.leader_id("round-trips", 0).await.unwrap();
        let at = [FetchPosition::new("round-trips", 0, 0, 1 << 20)];
        cluster.fetch_from(leader, &at, &idle).await.unwrap();
    }
    let round_trip = |cluster: Cluster| async move {
        let leader = cluster.leader_id("round-trips", 0).await.unwrap();
        let connection = cluster.broker(leader).await.unwrap();
        connection.round_trip().expect("answers came")
    };
    let (near, far) = (round_trip(direct).await, round_trip(far).await);
    assert!(
        far >= Duration::from_millis(80),
        "through the proxy: {far:?}"
    );
    assert!(
        near < Duration::from_millis(40),
        "direct: {near:?}, as long as the proxy's one way"
    );
}

async fn fetch_sessions_name_only_what_changed(kind: BrokerKind) {
    const PARTITIONS: i32 = 60;
    const FETCH: i16 = 1;
    let (node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "sessions", PARTITIONS).await;
    let producer = Producer::idempotent(&cluster).await.unwrap();
    for p in 0..PARTITIONS {
        let records = rich_records(p as usize, 1 + p as usize % 3);
        producer
            .send("sessions", p, &batch(Compression::Lz4, &records))
            .await
            .unwrap();
    }
    let ends: Vec<i64> = (0..PARTITIONS).map(|p| 1 + i64::from(p % 3)).collect();
    let (proxy, through) = through_proxy(&node).await;
    let leader = through.leader_id("sessions", 0).await.unwrap();
    let quick = FetchOptions {
        max_wait: Duration::from_millis(100),
        ..FetchOptions::default()
    };
    let from = |offsets: &dyn Fn(i32) -> i64| -> Vec<FetchPosition> {
        (0..PARTITIONS)
            .map(|p| FetchPosition::new("sessions", p, offsets(p), 1 << 20))
            .collect()
    };
    let by_partition = |fetched: Vec<PartitionFetch>| -> Vec<PartitionFetch> {
        let mut fetched = fetched;
        fetched.sort_by_key(|f| f.partition);
        assert_eq!(
            fetched.len(),
            PARTITIONS as usize,
            "one answer per partition"
        );
        fetched
    };
    let mut session = FetchSession::default();

    let bytes = |proxy: &SecureProxy| proxy.stats().request_bytes(FETCH);
    let before = bytes(&proxy);
    let first = through
        .fetch_in_session(leader, &mut session, &from(&|_| 0), &quick)
        .await
        .unwrap();
    let full_request = bytes(&proxy) - before;
    for f in by_partition(first) {
        assert_eq!(f.error, None, "partition {}", f.partition);
        assert_eq!(f.high_watermark, ends[f.partition as usize]);
        assert_eq!(
            f.batches().count(),
            1,
            "partition {}: its batch",
            f.partition
        );
    }
    let sessions = session.is_open();
    if kind == BrokerKind::Kafka {
        assert!(sessions, "Apache Kafka opens fetch sessions");
    }

    // Every partition idle at its end.
    let at_end = from(&|p| ends[p as usize]);
    let before = bytes(&proxy);
    let idle = through
        .fetch_in_session(leader, &mut session, &at_end, &quick)
        .await
        .unwrap();
    let idle_request = bytes(&proxy) - before;
    for f in by_partition(idle) {
        assert_eq!(
            (f.error, f.records.len()),
            (None, 0),
            "partition {}",
            f.partition
        );
        assert_eq!(
            f.high_watermark, ends[f.partition as usize],
            "partition {}",
            f.partition
        );
    }
    let again = through
        .fetch_in_session(leader, &mut session, &at_end, &quick)
        .await
        .unwrap();
    let idle_again = bytes(&proxy) - before - idle_request;
    if sessions {
        assert!(
            idle_again * 10 < full_request,
            "an idle request of the session is {idle_again} bytes, the full one {full_request}"
        );
    }
    assert_eq!(
        by_partition(again)
            .iter()
            .map(|f| f.high_watermark)
            .collect::<Vec<_>>(),
        ends
    );

    // News on partition 7 only.
    producer
        .send(
            "sessions",
            7,
            &batch(Compression::Lz4, &rich_records(99, 2)),
        )
        .await
        .unwrap();
    let stale_copy = session.clone();
    let news = by_partition(
        through
            .fetch_in_session(leader, &mut session, &at_end, &quick)
            .await
            .unwrap(),
    );
    for f in &news {
        let want = if f.partition == 7 { 1 } else { 0 };
        assert_eq!(f.batches().count(), want, "partition {}", f.partition);
        let end = ends[f.partition as usize] + if f.partition == 7 { 2 } else { 0 };
        assert_eq!(f.high_watermark, end, "partition {}", f.partition);
    }

    // A copy of the session one epoch behind: the broker refuses it, the fetch opens a new one.
    let mut stale = stale_copy;
    let answered = by_partition(
        through
            .fetch_in_session(leader, &mut stale, &at_end, &quick)
            .await
            .expect("a refused epoch opens a new session"),
    );
    assert_eq!(
        answered[7].batches().count(),
        1,
        "partition 7's news again, from its offset"
    );
    assert_eq!(answered[7].high_watermark, ends[7] + 2);
    if sessions {
        assert_ne!(stale.id(), 0, "a new session");
    }

    // Closed (final epoch): the broker forgets the session at once, so a copy of it is
    // refused and its fetch goes twice (refused, then in a new session).
    let requests = |proxy: &SecureProxy| proxy.stats().requests(FETCH);
    let copy = stale.clone();
    let before = requests(&proxy);
    through
        .close_fetch_session(leader, &mut stale)
        .await
        .expect("the session closes");
    assert!(!stale.is_open());
    assert_eq!(
        requests(&proxy) - before,
        u64::from(sessions),
        "one request closes an open session, none is sent without one"
    );
    if sessions {
        let mut copy = copy;
        let before = requests(&proxy);
        through
            .fetch_in_session(leader, &mut copy, &at_end, &quick)
            .await
            .expect("a closed session's copy opens a new one");
        assert_eq!(
            requests(&proxy) - before,
            2,
            "the broker still knew the closed session"
        );
    }
}

async fn read_committed_lists_aborted_transactions(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "a").await;
    create_topic(&cluster, "txn", 1).await;
    let producer =
        match Producer::transactional(&cluster, "strait-test-txn", Duration::from_secs(60)).await {
            Ok(p) => p,
            Err(e) if kind == BrokerKind::Tansu => {
                // Broker gap: tansu 0.6 has no transactions; its refusal must be a clear error.
                assert!(e.to_string().contains("strait-test-txn"), "{e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
    producer.add_to_transaction(&[("txn", 0)]).await.unwrap();
    producer
        .send("txn", 0, &batch(Compression::Lz4, &rich_records(1, 5)))
        .await
        .unwrap();
    producer.end_transaction(false).await.unwrap();
    producer.add_to_transaction(&[("txn", 0)]).await.unwrap();
    producer
        .send("txn", 0, &batch(Compression::Zstd, &rich_records(2, 3)))
        .await
        .unwrap();
    producer.end_transaction(true).await.unwrap();

    // Offsets: aborted data 0..4, abort marker 5, committed data 6..8, commit marker 9.
    let position = fetch_position("txn", 0, 0);
    let mut fetched = cluster
        .fetch(&position, &FetchOptions::default())
        .await
        .unwrap();
    for _ in 0..50 {
        if fetched.last_stable_offset >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fetched = cluster
            .fetch(&position, &FetchOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(fetched.last_stable_offset, 10);
    let listed = vec![AbortedTransaction {
        producer_id: producer.producer_id(),
        first_offset: 0,
    }];
    let shape: Vec<_> = fetched
        .batches()
        .map(Result::unwrap)
        .map(|b| (b.base_offset(), b.is_transactional(), b.is_control()))
        .collect();
    let (marker_abort, data, marker_commit) = ((5, true, true), (6, true, false), (9, true, true));
    match kind {
        BrokerKind::Kafka => {
            // Kafka returns the aborted batch and lists its transaction for the client to drop.
            assert_eq!(fetched.aborted, listed, "aborted transaction listed");
            assert_eq!(
                shape,
                vec![(0, true, false), marker_abort, data, marker_commit]
            );
        }
        BrokerKind::Noida => {
            // noida lists the aborted transaction too but already leaves the aborted batch out
            // (broker gap).
            assert_eq!(fetched.aborted, listed, "aborted transaction listed");
            assert_eq!(shape, vec![marker_abort, data, marker_commit]);
        }
        BrokerKind::Tansu => {
            // Broker gap: tansu lists no aborted transactions and serves aborted data to
            // read_committed consumers.
            assert!(fetched.aborted.is_empty());
            assert_eq!(
                shape,
                vec![(0, true, false), marker_abort, data, marker_commit]
            );
        }
    }

    let uncommitted = FetchOptions {
        isolation: Isolation::ReadUncommitted,
        ..FetchOptions::default()
    };
    let fetched = cluster.fetch(&position, &uncommitted).await.unwrap();
    assert!(
        fetched.aborted.is_empty(),
        "read_uncommitted reports no aborted transactions"
    );
}
