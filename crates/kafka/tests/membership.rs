//! Group membership under strait's own protocol type against real brokers: join, leader
//! election, assignments handed out by the leader, rebalances on join and leave, fencing of a
//! member whose session expired, and the write lease that stops a fenced producer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use strait_fixtures::{
    batch, connect, create_topic, now_ms, read_partition, record, start_cluster,
};
use strait_kafka::batch::Compression;
use strait_kafka::{
    Cluster, Error, GroupAnswer, Joined, Lease, Membership, MembershipTimeouts, Producer,
};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    members_join_rebalance_and_leave,
    a_silent_member_is_fenced_after_its_session,
    a_lapsed_lease_stops_every_write,
);

const PROTOCOL_TYPE: &str = "strait-test";

/// Kafka's smallest session timeout by default (`group.min.session.timeout.ms`).
fn timeouts() -> MembershipTimeouts {
    MembershipTimeouts {
        session: Duration::from_secs(6),
        rebalance: Duration::from_secs(10),
    }
}

fn member(cluster: &Cluster, group: &str) -> Membership {
    Membership::new(cluster, group, PROTOCOL_TYPE, timeouts())
}

async fn join(m: &mut Membership, metadata: &'static str) -> Joined {
    m.join(&[("v1", Bytes::from_static(metadata.as_bytes()))])
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
}

/// Heartbeats until the coordinator announces a rebalance.
async fn until_rebalance(m: &Membership) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match m.heartbeat().await.unwrap() {
            GroupAnswer::Rebalance => return,
            GroupAnswer::Current(()) => {}
            GroupAnswer::Fenced(e) => panic!("fenced while waiting for a rebalance: {e}"),
        }
        assert!(Instant::now() < deadline, "no rebalance announced");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn members_join_rebalance_and_leave(kind: BrokerKind) {
    let (node, cluster) = start_cluster(kind, "target").await;
    let mut a = member(&cluster, "scale-out");
    let first = join(&mut a, "a-meta").await;
    assert!(first.is_leader(), "{first:?}");
    assert_eq!(
        first.members,
        [(first.member_id.clone(), Bytes::from("a-meta"))]
    );
    assert_eq!(a.generation(), first.generation);
    let mine = a
        .sync(&first, &[(first.member_id.clone(), Bytes::from("all"))])
        .await
        .unwrap();
    assert_eq!(mine, GroupAnswer::Current(Bytes::from("all")));
    assert_eq!(a.heartbeat().await.unwrap(), GroupAnswer::Current(()));

    // A second member's join holds until the first rejoins in the new generation. It has a
    // connection of its own: a broker answers one connection's requests in order, so a join
    // waiting for the rebalance would hold up the first member's heartbeats behind it.
    let joiner = connect("target", &node.bootstrap()).await;
    let b_task = tokio::spawn(async move {
        let mut b = member(&joiner, "scale-out");
        let joined = join(&mut b, "b-meta").await;
        (b, joined)
    });
    until_rebalance(&a).await;
    let second = join(&mut a, "a-meta").await;
    let (b, b_joined) = b_task.await.unwrap();
    assert_eq!(second.generation, b_joined.generation);
    assert!(second.generation > first.generation);
    assert_eq!(second.leader_id, b_joined.leader_id);
    let (leader, follower) = if second.is_leader() {
        ((&a, &second), (&b, &b_joined))
    } else {
        ((&b, &b_joined), (&a, &second))
    };
    assert_eq!(leader.1.members.len(), 2, "{:?}", leader.1);
    let metadata: Vec<&[u8]> = leader.1.members.iter().map(|(_, m)| m.as_ref()).collect();
    assert!(metadata.contains(&&b"a-meta"[..]) && metadata.contains(&&b"b-meta"[..]));
    assert!(follower.1.members.is_empty());

    let assignments: Vec<(String, Bytes)> = leader
        .1
        .members
        .iter()
        .map(|(id, _)| (id.clone(), Bytes::from(format!("for {id}"))))
        .collect();
    let follower_sync = {
        let (m, joined) = (follower.0, follower.1.clone());
        async move { m.sync(&joined, &[]).await.unwrap() }
    };
    let (led, followed) = tokio::join!(leader.0.sync(leader.1, &assignments), follower_sync);
    let expect = |id: &str| GroupAnswer::Current(Bytes::from(format!("for {id}")));
    assert_eq!(led.unwrap(), expect(&leader.1.member_id));
    assert_eq!(followed, expect(&follower.1.member_id));

    // b leaves: a hears of the rebalance at once (not after b's session) and is alone again.
    let mut b = b;
    let left = Instant::now();
    b.leave().await.unwrap();
    assert_eq!(b.member_id(), "");
    until_rebalance(&a).await;
    assert!(
        left.elapsed() < timeouts().session,
        "the leave was not seen"
    );
    let third = join(&mut a, "a-meta").await;
    assert!(third.is_leader());
    assert_eq!(third.members.len(), 1);
    a.leave().await.unwrap();
}

async fn a_silent_member_is_fenced_after_its_session(kind: BrokerKind) {
    let (node, cluster) = start_cluster(kind, "target").await;
    let mut a = member(&cluster, "silent");
    let joined = join(&mut a, "a").await;
    a.sync(&joined, &[(joined.member_id.clone(), Bytes::new())])
        .await
        .unwrap();
    if kind == BrokerKind::Tansu {
        // Broker gap: tansu never expires a silent member's session.
        tokio::time::sleep(timeouts().session + Duration::from_secs(3)).await;
        assert_eq!(a.heartbeat().await.unwrap(), GroupAnswer::Current(()));
        return;
    }
    // b joins and heartbeats; a stays silent for longer than its session.
    let other = connect("target", &node.bootstrap()).await;
    let b_task = tokio::spawn(async move {
        let mut b = member(&other, "silent");
        let joined = join(&mut b, "b").await;
        (b, joined)
    });
    until_rebalance(&a).await;
    let rejoined = join(&mut a, "a").await;
    let (b, b_joined) = b_task.await.unwrap();
    let leader = if rejoined.is_leader() { &a } else { &b };
    let leads = if rejoined.is_leader() {
        &rejoined
    } else {
        &b_joined
    };
    let all: Vec<(String, Bytes)> = leads
        .members
        .iter()
        .map(|(id, _)| (id.clone(), Bytes::new()))
        .collect();
    let follower_sync = async {
        if rejoined.is_leader() {
            b.sync(&b_joined, &[]).await
        } else {
            a.sync(&rejoined, &[]).await
        }
    };
    let (led, followed) = tokio::join!(leader.sync(leads, &all), follower_sync);
    let led = led.unwrap();
    assert!(
        matches!(led, GroupAnswer::Current(_)),
        "{kind:?}: leader sync {led:?}"
    );
    assert!(matches!(followed.unwrap(), GroupAnswer::Current(_)));

    // The coordinator drops a after its session and tells b by a rebalance.
    let silent_since = Instant::now();
    let deadline = silent_since + timeouts().session * 3;
    let mut b_saw = None;
    while Instant::now() < deadline {
        match b.heartbeat().await.unwrap() {
            GroupAnswer::Current(()) => {}
            other => {
                b_saw = Some((other, silent_since.elapsed()));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answer = a.heartbeat().await.unwrap();
    match kind {
        BrokerKind::Tansu => unreachable!("returned above"),
        // Broker gap: noida fences the silent member when it speaks again, but never tells
        // the others: no rebalance, its partitions stay assigned to it.
        BrokerKind::Noida => assert_eq!(b_saw, None, "noida now rebalances on expiry"),
        BrokerKind::Kafka => {
            let (seen, after) = b_saw.expect("Kafka told the live member nothing");
            assert_eq!(seen, GroupAnswer::Rebalance);
            assert!(after >= timeouts().session, "rebalanced after {after:?}");
        }
    }
    assert!(
        matches!(answer, GroupAnswer::Fenced(_)),
        "{kind:?}: a member silent past its session is still current: {answer:?}"
    );
    // It can come back, as a new member of a new generation.
    let back = join(&mut a, "a").await;
    assert!(back.generation > joined.generation);
    assert_ne!(back.member_id, joined.member_id);
}

async fn a_lapsed_lease_stops_every_write(kind: BrokerKind) {
    let (_node, cluster) = start_cluster(kind, "target").await;
    create_topic(&cluster, "leased", 1).await;
    let lease = Lease::lapsed("group g member m");
    lease.renew(Instant::now(), Duration::from_secs(60));
    let producer = Producer::idempotent(&cluster)
        .await
        .unwrap()
        .with_lease(lease.clone());
    let one = batch(
        Compression::None,
        &[record(now_ms(), None, Some("v".into()))],
    );
    producer.send("leased", 0, &one).await.unwrap();
    lease.revoke();
    let err = producer.send("leased", 0, &one).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLapsed { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("target") && text.contains("leased") && text.contains("member m"),
        "{text}"
    );
    assert_eq!(read_partition(&cluster, "leased", 0).await.len(), 1);
}
