//! strait under fire (issue #14, MM2's `MirrorConnectorsIntegrationExactlyOnceTest` taken
//! further): a 1M-record stream mirrored while `strait run` is SIGKILLed every few seconds, the
//! target broker restarts, and strait is frozen for seconds. In exactly-once mode (frozen past
//! its transaction timeout) a read_committed consumer of the target (the Java client) then sees
//! every record exactly once, in order; in the default mode nothing is lost and at most one batch
//! per partition is repeated per disturbance.

mod run_support;

use std::time::{Duration, Instant};

use run_support::*;
use strait_kafka::{Cluster, Isolation, OffsetSpec};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    ;
    kafka_only: exactly_once_drill_every_record_once,
    default_drill_repeats_at_most_a_batch_per_crash,
);

/// 4 partitions x 500 batches x 500 records = 1M records.
const STREAM: Stream = Stream {
    partitions: 4,
    batch: 500,
    batches: 500,
};
const TOPIC: &str = "test-topic-eos";
const REMOTE: &str = "primary.test-topic-eos";
/// Exactly-once, with transactions that stay open for a second while data flows (so a kill or
/// a freeze finds one open; the default commits after every fetch), a transaction timeout the
/// freeze outlasts, and a static member so each restart takes the partitions back at once.
const EOS: &str = "backup.exactly.once.source.support = enabled\n\
                   primary->backup.transaction.boundary = interval\n\
                   primary->backup.transaction.boundary.interval.ms = 1000\n\
                   backup.producer.transaction.timeout.ms = 3000\n\
                   strait.group.instance.id = eos-drill\n";
/// The default mode, progress stored every second (the default), a static member.
const DEFAULT: &str = "backup.offset.flush.interval.ms = 1000\n\
                       strait.group.instance.id = drill\n";

/// Exactly-once: the Java read_committed consumer sees every record once, in order, and the
/// disturbances really cut transactions short (their records lie aborted in the log).
async fn exactly_once_drill_every_record_once(kind: BrokerKind) {
    drill(kind, EOS).await;
}

/// The default mode: nothing lost, order kept, at most one batch per partition written twice
/// per disturbance (restarts recognise what a killed run wrote).
async fn default_drill_repeats_at_most_a_batch_per_crash(kind: BrokerKind) {
    drill(kind, DEFAULT).await;
}

async fn drill(kind: BrokerKind, mode: &str) {
    let exactly_once = mode == EOS;
    let mut env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, STREAM.partitions).await;
    // 10% of the stream before strait starts, the rest paced over about half a minute.
    let feed = Feed::start(&env.source, TOPIC, STREAM, 50, Duration::from_millis(50));
    let mut strait = env.start_strait(mode);
    wait_for_log(&strait, "strait: mirroring primary->backup");
    let started = Instant::now();
    let mut events = Vec::new();
    // Every killed run's log: a failure shows what each one said about recognition.
    let mut earlier_logs = Vec::new();
    let mut step = 0u64;
    while feed.produced() < STREAM.records() {
        step += 1;
        // Every few seconds, at a different point of the transaction cycle each time.
        tokio::time::sleep(Duration::from_millis(2000 + (step * 733) % 2000)).await;
        let mirrored = log_end(&env.target).await;
        match step {
            4 => {
                events.push(format!("target broker restart at {mirrored}"));
                strait.note("stopping the target broker");
                let node = env.target_node.take().expect("target node");
                let node = tokio::task::spawn_blocking(move || {
                    let mut node = node;
                    node.stop();
                    std::thread::sleep(Duration::from_secs(2));
                    node.restart().expect("target broker restarts");
                    node
                })
                .await
                .unwrap();
                env.target_node = Some(node);
                strait.note("target broker restarted");
            }
            7 => {
                // Exactly-once: frozen past transaction.timeout.ms, the coordinator aborts the
                // open transactions and bumps the epochs; thawed, strait must notice, not commit.
                events.push(format!("SIGSTOP for 6 s at {mirrored}"));
                strait.signal("STOP");
                strait.note("SIGSTOP");
                tokio::time::sleep(Duration::from_secs(6)).await;
                strait.signal("CONT");
                strait.note("SIGCONT");
                if !exactly_once {
                    continue;
                }
                let thawed = wait_for_log(&strait, "(test) SIGCONT");
                let failed = wait_for_log(&strait, "partition paused, retrying");
                let why = failed[thawed.len()..]
                    .lines()
                    .find_map(|l| l.split_once("partition paused, retrying"))
                    .map(|(_, why)| why.split('\u{1b}').next().unwrap_or(why).to_owned());
                events.push(format!("after the thaw: {why:?}"));
            }
            _ => {
                events.push(format!("SIGKILL at {mirrored}"));
                strait.signal("KILL");
                tokio::task::block_in_place(|| strait.wait_exit(Duration::from_secs(5)));
                earlier_logs.push(strait.log());
                strait = env.start_strait(mode);
                wait_for_log(&strait, "strait: mirroring primary->backup");
            }
        }
    }
    eprintln!(
        "{kind}: {} produced in {:.0} s; target log end (records and markers) at each event: {events:?}",
        STREAM.records(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        events.iter().filter(|e| e.starts_with("SIGKILL")).count() >= 5
            && events.iter().any(|e| e.starts_with("SIGSTOP"))
            && events.iter().any(|e| e.starts_with("target broker")),
        "the stream ended before every disturbance: {events:?}"
    );
    feed.finish().await;

    let expected = expected_digests(STREAM);
    let seen = wait_for_digests(
        &env.target_bootstrap,
        REMOTE,
        STREAM.records(),
        Duration::from_secs(120),
    )
    .await;
    tokio::task::block_in_place(|| strait.stop_gracefully(Duration::from_secs(15)));
    if exactly_once {
        assert_every_record_once(&env, kind, &seen, &expected, &strait).await;
    } else if seen != expected {
        // Nothing lost, order kept, and the repeats counted and bounded.
        let got = read_topic(&env.target, REMOTE, STREAM.partitions)
            .await
            .expect("read the remote topic");
        let duplicates = check_no_loss(&STREAM.expected(), &got, REMOTE);
        let crashes = events.iter().filter(|e| !e.starts_with("after")).count();
        eprintln!(
            "{kind}: default mode: every record arrived; duplicate records per partition {} after \
             {crashes} disturbances",
            fmt_list(&duplicates)
        );
        let bound = crashes * STREAM.batch as usize;
        for (p, d) in duplicates.iter().enumerate() {
            assert!(
                *d <= bound,
                "{kind}: partition {p}: {d} duplicates after {crashes} disturbances, more than one \
                 batch ({} records) each; repeated runs (target offset, records) per partition: \
                 {:?}\nwhat each run said about resuming:\n{}\nthe last run:\n{}",
                STREAM.batch,
                got.iter().map(repeated_runs).collect::<Vec<_>>(),
                resume_lines(&earlier_logs),
                strait.log()
            );
        }
    } else {
        eprintln!(
            "{kind}: default mode: the Java consumer saw all {} records exactly once, in order",
            STREAM.records()
        );
    }
}

/// Where a partition's records repeat: (target offset of the first repeat, records repeated).
fn repeated_runs(partition: &Partition) -> Vec<(usize, usize)> {
    let mut seen = std::collections::HashSet::new();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (offset, record) in partition.iter().enumerate() {
        if seen.insert(record) {
            continue;
        }
        match runs.last_mut() {
            Some((start, len)) if *start + *len == offset => *len += 1,
            _ => runs.push((offset, 1)),
        }
    }
    runs
}

/// The lines of each earlier run that say how it resumed or why it paused.
fn resume_lines(logs: &[String]) -> String {
    let mut out = String::new();
    for (run, log) in logs.iter().enumerate() {
        out.push_str(&format!("run {run}:\n"));
        for line in log.lines().filter(|l| {
            l.contains("already on the target")
                || l.contains("written again")
                || l.contains("paused")
                || l.contains("(test)")
                || l.contains("WARN")
                || l.contains("replication progress")
                || l.contains("strait: primary->backup")
        }) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every record once, in order, for the Java read_committed consumer; and records of aborted
/// transactions in the log: the drill did cut transactions short.
async fn assert_every_record_once(
    env: &Env,
    kind: BrokerKind,
    seen: &Digests,
    expected: &Digests,
    strait: &Strait,
) {
    if seen != expected {
        let got = read_topic(&env.target, REMOTE, STREAM.partitions)
            .await
            .unwrap_or_default();
        panic!(
            "{kind}: the Java read_committed consumer saw {seen:?}, expected {expected:?}; \
             per partition (records, distinct, first out of order): {:?}\n{}",
            got.iter().map(diagnose).collect::<Vec<_>>(),
            strait.log()
        );
    }
    // What the disturbances cost: transactions that never committed, their records still in
    // the log (read_uncommitted sees them), hidden from read_committed consumers.
    let mut written = 0;
    for p in 0..STREAM.partitions {
        let batches = read_batches(&env.target, REMOTE, p, Isolation::ReadUncommitted).await;
        written += batches
            .iter()
            .filter(|b| !b.is_control())
            .map(|b| u64::from(b.record_count() as u32))
            .sum::<u64>();
    }
    let aborted = written - STREAM.records();
    eprintln!(
        "{kind}: the Java read_committed consumer saw all {} records exactly once, in order; \
         {aborted} records of aborted transactions lie in the target's log beside them",
        STREAM.records()
    );
    assert!(
        aborted > 0,
        "no transaction was cut short by a kill or the freeze: the drill did not test them"
    );
}

/// Waits (without holding up the producer's task) until strait's log contains `needle`;
/// returns the log then.
fn wait_for_log(strait: &Strait, needle: &str) -> String {
    tokio::task::block_in_place(|| strait.wait_for_log(needle, Duration::from_secs(20)))
}

/// The sum of the target partitions' log end offsets (records, aborted ones and markers).
async fn log_end(target: &Cluster) -> i64 {
    let partitions: Vec<i32> = (0..STREAM.partitions).collect();
    target
        .list_offsets(
            REMOTE,
            &partitions,
            OffsetSpec::Latest,
            Isolation::ReadUncommitted,
        )
        .await
        .map_or(-1, |o| o.iter().map(|(_, o)| o.offset).sum())
}

/// (records, distinct records, index of the first record out of order) of a partition.
fn diagnose(records: &Partition) -> (usize, usize, Option<usize>) {
    let distinct: std::collections::HashSet<_> = records.iter().collect();
    let out_of_order = records.windows(2).position(|w| w[0].0 >= w[1].0);
    (records.len(), distinct.len(), out_of_order)
}

/// `strait bench --exactly-once` runs end to end on Apache Kafka: both modes mirror (commit)
/// every record, and the cost of transactions is printed as a ratio.
#[test]
fn bench_prints_the_cost_of_exactly_once() {
    if !strait_testkit::selected(BrokerKind::Kafka) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--exactly-once",
        "--codec",
        "lz4",
        "--partitions",
        "2",
        "--records-per-partition",
        "5000",
        "--record-bytes",
        "200",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    for mode in ["pass-through", "exactly-once"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("lz4") && l.contains(mode) && l.contains(" 10000 ")),
            "a row for {mode} with every record:\n{text}"
        );
    }
    assert!(
        text.contains("lz4: exactly-once / pass-through: CPU per GB"),
        "{text}"
    );
    assert!(!text.contains("warning: the target topic"), "{text}");
}
