//! `strait run` stopped and disturbed while a producer keeps writing: SIGTERM (drains, resumes
//! exactly), repeated SIGKILLs (lose nothing, repeat at most a batch per kill) and a target broker outage (memory
//! bounded, resumes by itself). Records as in run_support: `p<partition>-<seq>` keys.

mod run_support;

use std::time::{Duration, Instant};

use run_support::*;
use strait_kafka::{Cluster, Isolation, OffsetSpec};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    sigterm_mid_stream_loses_and_duplicates_nothing,
    repeated_kills_lose_nothing_and_repeat_at_most_a_batch;
    // tansu's memory engine forgets everything on restart, so it sits out the target outage.
    not_tansu: target_outage_is_ridden_out,
);

const STREAM_PARTITIONS: i32 = 4;
const STREAM_BATCH: u64 = 50;
/// 4 partitions x 100 batches x 50 records = 20k records.
const STREAM_BATCHES: u64 = 100;
const STREAM: Stream = Stream {
    partitions: STREAM_PARTITIONS,
    batch: STREAM_BATCH,
    batches: STREAM_BATCHES,
};

/// SIGTERM while a producer keeps writing: strait drains, stores progress and exits 0; started
/// again it continues exactly where it stopped: every record once, in order.
async fn sigterm_mid_stream_loses_and_duplicates_nothing(kind: BrokerKind) {
    // A backlog of 12k records, so strait is busy catching up, batches in flight, when stopped.
    let (env, mut strait, feed) = start_stream(
        kind,
        "test-topic-2",
        60,
        1,
        Pace {
            // The 40 rounds after the backlog last 4 s: time for strait to start under load.
            between_rounds: Duration::from_millis(100),
            strait_extra: "",
        },
    )
    .await;
    strait.signal("TERM");
    let status = strait.wait_exit(Duration::from_secs(15));
    assert_eq!(
        status.code(),
        Some(0),
        "strait after SIGTERM:\n{}",
        strait.log()
    );
    assert!(strait.log().contains("strait: stopped"), "{}", strait.log());
    let at_stop = count_topic(&env.target, "primary.test-topic-2", STREAM_PARTITIONS).await;
    eprintln!(
        "{kind}: stopped by SIGTERM with {at_stop} of {} produced records mirrored",
        feed.produced()
    );
    drop(strait);

    feed.finish().await;
    let mut strait = env.start_strait("");
    let got = wait_stream_complete(&env, "primary.test-topic-2", &strait).await;
    assert_same(&stream_expected(), &got, "primary.test-topic-2");
    // Nothing trails in afterwards either.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = read_topic(&env.target, "primary.test-topic-2", STREAM_PARTITIONS)
        .await
        .unwrap();
    assert_same(&stream_expected(), &again, "primary.test-topic-2");
    strait.stop_gracefully(Duration::from_secs(15));
}

/// SIGKILL again and again while a producer keeps writing, with progress stored only every 2 s:
/// strait loses nothing and, since each restart recognises the batches a killed run wrote after
/// its stored progress, repeats at most one batch per partition per kill (without that, what
/// was mirrored since the last flush: about 4 batches per partition per kill).
async fn repeated_kills_lose_nothing_and_repeat_at_most_a_batch(kind: BrokerKind) {
    const KILLS: usize = 5;
    let remote = "primary.test-topic-3";
    // A static member: each restart takes the partitions back at once, without waiting for
    // the killed member's session to end.
    let slow_flush = "backup.offset.flush.interval.ms = 2000\nstrait.group.instance.id = drill\n";
    let (env, mut strait, feed) = start_stream(
        kind,
        "test-topic-3",
        0,
        2000,
        Pace {
            between_rounds: Duration::from_millis(250),
            strait_extra: slow_flush,
        },
    )
    .await;
    let mut at_kills = Vec::new();
    for kill in 0..KILLS {
        if kill > 0 {
            strait = env.start_strait(slow_flush);
            strait.wait_for_log("strait: mirroring primary->backup", Duration::from_secs(10));
            let before = at_kills.last().copied().unwrap_or(0);
            wait_until_mirrored(&env, remote, before + 1000, &feed, &strait).await;
        }
        // After the first progress flush, somewhere before or between later ones.
        let pause = 2200 + (kill as u64 * 677) % 1800;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        strait.signal("KILL");
        let status = strait.wait_exit(Duration::from_secs(5));
        assert!(!status.success(), "killed strait exited with {status}");
        for line in strait
            .log()
            .lines()
            .filter(|l| l.contains("already on the target"))
        {
            eprintln!("{kind}: kill {kill}: {line}");
        }
        at_kills.push(latest_offsets(&env.target, remote, STREAM_PARTITIONS).await);
        eprintln!(
            "{kind}: kill {kill}: {:?} records on the target, {} produced",
            at_kills.last(),
            feed.produced()
        );
    }
    feed.finish().await;
    strait = env.start_strait(slow_flush);
    wait_stream_complete(&env, remote, &strait).await;
    // Let any late duplicate land before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = read_topic(&env.target, remote, STREAM_PARTITIONS)
        .await
        .expect("read the remote topic");
    let duplicates = check_no_loss(&stream_expected(), &got, remote);
    let log = strait.log();
    eprintln!(
        "{kind}: {KILLS} SIGKILLs at {at_kills:?} records mirrored; duplicate records per \
         partition {} ({} in all of {} records)",
        fmt_list(&duplicates),
        duplicates.iter().sum::<usize>(),
        STREAM.records(),
    );
    let bound = KILLS * STREAM_BATCH as usize;
    for (p, d) in duplicates.iter().enumerate() {
        assert!(
            *d <= bound,
            "{kind}: partition {p}: {d} duplicates after {KILLS} kills, more than one batch \
             ({STREAM_BATCH} records) per kill:\n{log}"
        );
    }
    strait.stop_gracefully(Duration::from_secs(15));
}

/// Waits until the remote topic's partitions hold `records` in all, or the feed has ended.
async fn wait_until_mirrored(
    env: &Env,
    remote: &str,
    records: usize,
    feed: &Feed,
    strait: &Strait,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let total = STREAM.records();
    while feed.produced() < total
        && latest_offsets(&env.target, remote, STREAM_PARTITIONS).await < records
    {
        assert!(
            Instant::now() < deadline,
            "fewer than {records} records mirrored after 20 s:\n{}",
            strait.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The target broker goes away while data keeps coming: strait keeps its memory bounded,
/// resumes by itself when the target is back, and every record arrives.
///
/// The target is stopped while strait has nothing in flight: noida 0.2.3 drops batches it
/// acknowledged in the last moments before a SIGTERM (acks=all, yet gone after the restart),
/// a loss no replicator can see or repair. Stopping it mid-write made this test fail on noida,
/// not on strait.
async fn target_outage_is_ridden_out(kind: BrokerKind) {
    let topic = "test-topic-4";
    let remote = "primary.test-topic-4";
    let pause = Duration::from_millis(30);
    let mut env = Env::start(kind).await;
    create_topic(&env.source, topic, STREAM_PARTITIONS).await;
    let mut strait = env.start_strait("");
    strait.wait_for_log("strait: mirroring primary->backup", Duration::from_secs(10));

    // 6k records while the target is up; wait until strait has caught up and stored progress.
    let before_rounds = 30;
    Feed::rounds(&env.source, topic, STREAM, 0..before_rounds, 0, pause)
        .finish()
        .await;
    let before = (before_rounds * STREAM_BATCH) as usize * STREAM_PARTITIONS as usize;
    wait_for_count(
        &env.target,
        remote,
        STREAM_PARTITIONS,
        before,
        Duration::from_secs(20),
        &strait,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let target_node = env.target_node.take().unwrap();
    let target_node = tokio::task::spawn_blocking(move || {
        let mut node = target_node;
        node.stop();
        node
    })
    .await
    .unwrap();
    strait.note("target broker stopped");
    // The other 14k records are produced while the target is down.
    let feed = Feed::rounds(
        &env.source,
        topic,
        STREAM,
        before_rounds..STREAM_BATCHES,
        0,
        pause,
    );
    let down_since = Instant::now();
    let mut peak_rss_kb = 0;
    while down_since.elapsed() < Duration::from_secs(5) {
        let rss = strait.rss_kb().expect("strait is running and has a VmRSS");
        peak_rss_kb = peak_rss_kb.max(rss);
        assert!(
            strait.is_running(),
            "strait exited while the target was down:\n{}",
            strait.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let produced_while_down = feed.produced();
    let target_node = tokio::task::spawn_blocking(move || {
        let mut node = target_node;
        node.restart().expect("target broker restarts");
        node
    })
    .await
    .unwrap();
    env.target_node = Some(target_node);
    strait.note("target broker restarted");
    eprintln!(
        "{kind}: target down for 5 s after {before} records mirrored; {produced_while_down} records \
         produced meanwhile; strait peak VmRSS while the target was down: {} MB ({peak_rss_kb} kB)",
        peak_rss_kb / 1024
    );
    assert!(
        peak_rss_kb < 300 * 1024,
        "strait used {} MB while the target was down",
        peak_rss_kb / 1024
    );

    feed.finish().await;
    // strait's clients reconnect by themselves; so does the test's.
    let got = wait_stream_complete(&env, remote, &strait).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = read_topic(&env.target, remote, STREAM_PARTITIONS)
        .await
        .unwrap_or(got);
    let duplicates = check_no_loss(&stream_expected(), &got, remote);
    eprintln!(
        "{kind}: after the outage every record arrived; duplicates per partition: {}",
        fmt_list(&duplicates)
    );
    strait.stop_gracefully(Duration::from_secs(15));
}

// ---------------------------------------------------------------------------------------------
// Streaming scenario shared by the SIGTERM, SIGKILL and outage tests
// ---------------------------------------------------------------------------------------------

/// How a stream is produced and mirrored.
struct Pace {
    /// The producer's pause between two rounds (one batch per partition).
    between_rounds: Duration,
    /// Extra mm2.properties lines of the first strait.
    strait_extra: &'static str,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            between_rounds: Duration::from_millis(30),
            strait_extra: "",
        }
    }
}

/// Creates `topic`, writes `backlog_rounds` rounds of batches, starts strait and a paced
/// producer for the remaining rounds, and returns once strait has mirrored `mirrored_at_least`
/// records while the producer is still writing.
async fn start_stream(
    kind: BrokerKind,
    topic: &str,
    backlog_rounds: u64,
    mirrored_at_least: usize,
    pace: Pace,
) -> (Env, Strait, Feed) {
    let env = Env::start(kind).await;
    create_topic(&env.source, topic, STREAM_PARTITIONS).await;
    let feed = Feed::start(
        &env.source,
        topic,
        STREAM,
        backlog_rounds,
        pace.between_rounds,
    );
    let backlog = backlog_rounds * STREAM_BATCH * STREAM_PARTITIONS as u64;
    while feed.produced() < backlog {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let strait = env.start_strait(pace.strait_extra);
    strait.wait_for_log("strait: mirroring primary->backup", Duration::from_secs(10));
    let remote = format!("primary.{topic}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mirrored = latest_offsets(&env.target, &remote, STREAM_PARTITIONS).await;
        let produced = feed.produced();
        if mirrored >= mirrored_at_least {
            eprintln!("{kind}: {mirrored} of {produced} produced records mirrored, producer still running");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {mirrored} of {produced} records mirrored after 20 s:\n{}",
            strait.log()
        );
        assert!(
            produced < STREAM.records(),
            "the producer finished before strait mirrored {mirrored_at_least} records ({mirrored}):\n{}",
            strait.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (env, strait, feed)
}

fn stream_expected() -> Vec<Partition> {
    STREAM.expected()
}

async fn wait_stream_complete(env: &Env, remote: &str, strait: &Strait) -> Vec<Partition> {
    let total = STREAM.records() as usize;
    wait_for_count(
        &env.target,
        remote,
        STREAM_PARTITIONS,
        total,
        Duration::from_secs(30),
        strait,
    )
    .await
}

/// The sum of the partitions' latest offsets: cheap, and a lower bound of the records on
/// tansu (which reports the last batch's base offset + 1); 0 while the topic is missing.
async fn latest_offsets(cluster: &Cluster, topic: &str, partitions: i32) -> usize {
    if !topic_ready(cluster, topic, partitions).await {
        return 0;
    }
    let all: Vec<i32> = (0..partitions).collect();
    cluster
        .list_offsets(topic, &all, OffsetSpec::Latest, Isolation::ReadUncommitted)
        .await
        .map_or(0, |offsets| {
            offsets.iter().map(|(_, o)| o.offset.max(0) as usize).sum()
        })
}
