//! Several `strait run` processes on one mm2.properties share a flow through a group on the
//! target cluster: real processes, real brokers, a producer writing all along. Each record
//! arrives once and in order except what a killed member had in flight; partitions spread
//! evenly after every change; a member frozen past its session writes nothing once its
//! partitions moved; partitions that stay put never stop. On Kafka only: noida and tansu lack
//! parts of the group coordinator (docs/testing.md).

mod run_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use run_support::*;
use serde_json::Value;
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, Producer};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(;
    // noida fences a silent member only when it speaks again and never tells the others
    // (crates/kafka/tests/membership.rs), and does not announce the rebalance a rejoining
    // member starts (its joins wait out the rebalance timeout): scale-out is proven on Kafka.
    kafka_only:
        members_share_the_work_through_kill_join_and_stop,
        a_frozen_member_writes_nothing_after_its_partitions_moved,
        scaling_up_and_down_never_stops_the_partitions_that_stay,
        a_static_member_takes_its_place_back_at_once,
);

const TOPIC: &str = "test-topic-scale";
const REMOTE: &str = "primary.test-topic-scale";
const PARTITIONS: i32 = 12;
const BATCH: u64 = 50;
/// The session timeout the tests run with (Kafka's smallest by default).
const SESSION: Duration = Duration::from_secs(6);
/// No key turns the group on: it is the default.
const GROUP_KEYS: &str = "strait.group.session.timeout.ms = 6000\n\
                          strait.group.heartbeat.interval.ms = 500\n\
                          emit.heartbeats.interval.seconds = 1\n";

/// One `strait run` process and its REST API.
struct Member {
    name: &'static str,
    strait: Strait,
    api: String,
}

impl Member {
    fn start(env: &Env, name: &'static str) -> Member {
        Member::start_with(env, name, "")
    }

    /// A member whose config also has `extra` lines.
    fn start_with(env: &Env, name: &'static str, extra: &str) -> Member {
        let config = env.config(&format!("{GROUP_KEYS}{extra}"));
        let strait = Strait::spawn_stamped(STRAIT.command().arg("run").arg(config).args([
            "--report-every",
            "1",
            "--http-listen",
            "127.0.0.1:0",
        ]));
        let api = wait_until("the REST API address in the log", || {
            let log = strait.log();
            log.lines().find_map(|l| {
                let (_, rest) = l.split_once("REST API and /metrics on http://")?;
                Some(rest.split_whitespace().next()?.to_owned())
            })
        });
        Member { name, strait, api }
    }

    /// The body this member's REST API answers for `path`.
    fn get(&self, path: &str) -> Option<String> {
        http_get(&self.api, path)
    }

    /// The flow's group as this member reports it (`None` while it has not joined).
    fn group(&self) -> Option<Value> {
        let flow: Value = serde_json::from_str(&self.get("/api/v1/flows/primary/backup")?).ok()?;
        Some(flow["group"].clone()).filter(|g| g["state"] == "stable")
    }

    /// The value of this member's group metric `name` (one series per flow).
    fn group_metric(&self, name: &str) -> f64 {
        let scrape = self.get("/metrics").expect("a /metrics scrape");
        scrape
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && !l.contains("state="))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{} exports no {name}:\n{scrape}", self.name))
    }
}

/// The body a REST API at `api` answers for `path` (`None` if it does not answer).
fn http_get(api: &str, path: &str) -> Option<String> {
    let (code, body) = http_request(api, "GET", path, None).ok()?;
    (code == 200).then_some(body)
}

/// The agreed assignment of the live `members`: each member's id and partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settled {
    generation: u64,
    leader: String,
    /// Member name → (member id, its partitions).
    owners: BTreeMap<&'static str, (String, BTreeSet<i32>)>,
}

/// Waits until every live member reports the same generation, with exactly these members,
/// nothing being handed over, every partition owned once and the counts even.
fn wait_settled(members: &[&Member], what: &str) -> Settled {
    let started = Instant::now();
    let settled = wait_until(what, || {
        let views: Vec<Value> = members.iter().map(|m| m.group()).collect::<Option<_>>()?;
        let first = &views[0];
        let same = views.iter().all(|v| {
            v["generation"] == first["generation"] && v["leader_id"] == first["leader_id"]
        });
        let listed = first["members"].as_object()?;
        if !same || listed.len() != members.len() || first["held_back"] != 0 {
            return None;
        }
        let mut owners = BTreeMap::new();
        let mut all = BTreeSet::new();
        for (m, v) in members.iter().zip(&views) {
            let id = v["member_id"].as_str()?.to_owned();
            let parts: BTreeSet<i32> = listed
                .get(&id)?
                .pointer(&format!("/partitions/{TOPIC}"))
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p.as_i64())
                        .map(|p| p as i32)
                        .collect()
                })
                .unwrap_or_default();
            all.extend(parts.iter().copied());
            owners.insert(m.name, (id, parts));
        }
        let counts: Vec<usize> = owners.values().map(|(_, ps)| ps.len()).collect();
        let even = counts.iter().max()? - counts.iter().min()? <= 1;
        (all.len() == PARTITIONS as usize && even).then(|| Settled {
            generation: first["generation"].as_u64().unwrap_or_default(),
            leader: first["leader_id"].as_str().unwrap_or_default().to_owned(),
            owners,
        })
    });
    let counts: Vec<String> = settled
        .owners
        .iter()
        .map(|(n, (_, ps))| format!("{n}: {}", ps.len()))
        .collect();
    eprintln!(
        "{what}: generation {} after {:.1}s ({})",
        settled.generation,
        started.elapsed().as_secs_f64(),
        counts.join(", ")
    );
    settled.agrees_with_metrics(members);
    settled
}

impl Settled {
    /// Every member's group metrics say what its REST API says: its generation, its share, and
    /// exactly one leader.
    fn agrees_with_metrics(&self, members: &[&Member]) {
        for m in members {
            let (id, parts) = &self.owners[m.name];
            let seen = (
                m.group_metric("strait_group_generation"),
                m.group_metric("strait_group_assigned_partitions"),
                m.group_metric("strait_group_leader"),
                m.group_metric("strait_group_members"),
            );
            let leads = f64::from(u8::from(*id == self.leader));
            let want = (
                self.generation as f64,
                parts.len() as f64,
                leads,
                members.len() as f64,
            );
            assert_eq!(
                seen, want,
                "{}'s metrics (generation, partitions, leader, members)",
                m.name
            );
        }
    }

    fn leader_name(&self) -> &'static str {
        self.owners
            .iter()
            .find(|(_, (id, _))| *id == self.leader)
            .map(|(n, _)| *n)
            .expect("the leader is a member")
    }

    fn of(&self, name: &str) -> BTreeSet<i32> {
        self.owners[name].1.clone()
    }
}

/// A producer writing one batch of `BATCH` records to every partition per round until
/// stopped; then how many rounds it wrote.
struct Feed {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    fn start(source: &Cluster) -> Feed {
        let (stop, rounds) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (cluster, halt, done) = (source.clone(), stop.clone(), rounds.clone());
        let task = tokio::spawn(async move {
            let producer = Producer::idempotent(&cluster).await.expect("producer id");
            let mut round = 0;
            while !halt.load(Ordering::Relaxed) {
                for p in 0..PARTITIONS {
                    let batch = numbered_batch(p, round * BATCH, BATCH, Compression::Lz4);
                    producer.send(TOPIC, p, &batch).await.expect("produce");
                }
                round += 1;
                done.store(round, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        });
        Feed { stop, rounds, task }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("producer task");
        self.rounds.load(Ordering::Relaxed)
    }
}

/// Samples every member's replicated position of each partition every 50 ms: how long each
/// partition went without an acknowledged write, whoever owned it.
struct AckWatch {
    stop: Arc<AtomicBool>,
    longest: Arc<Mutex<BTreeMap<i32, Duration>>>,
    thread: std::thread::JoinHandle<()>,
}

impl AckWatch {
    fn start(members: &[&Member]) -> AckWatch {
        let apis: Vec<String> = members.iter().map(|m| m.api.clone()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let longest: Arc<Mutex<BTreeMap<i32, Duration>>> = Arc::default();
        let (halt, pauses) = (stop.clone(), longest.clone());
        let thread = std::thread::spawn(move || {
            let mut last: BTreeMap<i32, (i64, Instant)> = BTreeMap::new();
            while !halt.load(Ordering::Relaxed) {
                let now = Instant::now();
                for (p, pos) in apis.iter().flat_map(|api| positions(api)) {
                    let (seen, since) = last.entry(p).or_insert((pos, now));
                    if pos > *seen {
                        let mut pauses = pauses.lock().expect("pauses");
                        let pause = pauses.entry(p).or_default();
                        *pause = (*pause).max(now - *since);
                        (*seen, *since) = (pos, now);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        AckWatch {
            stop,
            longest,
            thread,
        }
    }

    /// Each partition's longest pause between acknowledged writes, once each of `partitions`
    /// was acknowledged since the watch started (or `within` passed): a rebalance can settle
    /// before a partition that moved twice wrote again.
    fn finish_once_all_acked(self, partitions: usize, within: Duration) -> BTreeMap<i32, Duration> {
        let deadline = Instant::now() + within;
        while self.longest.lock().expect("pauses").len() < partitions && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.finish()
    }

    /// Each partition's longest pause between acknowledged writes.
    fn finish(self) -> BTreeMap<i32, Duration> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("ack watch");
        std::mem::take(&mut *self.longest.lock().expect("pauses"))
    }
}

/// The replicated position of each partition a member runs (none if it does not answer).
fn positions(api: &str) -> Vec<(i32, i64)> {
    let Some(body) = http_get(api, "/api/v1/flows/primary/backup/partitions") else {
        return Vec::new();
    };
    let rows: Value = serde_json::from_str(&body).unwrap_or_default();
    rows.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["partition"].as_i64()? as i32, r["position"].as_i64()?)))
        .collect()
}

/// Sequence numbers of the records in `partition`, in target order.
fn seqs(partition: &Partition) -> Vec<u64> {
    partition
        .iter()
        .map(|(k, _)| {
            let key = String::from_utf8_lossy(k);
            key.rsplit_once('-')
                .and_then(|(_, s)| s.parse().ok())
                .expect("a numbered key")
        })
        .collect()
}

/// Per partition: duplicates and rewinds (places where the sequence steps back: a new writer
/// resuming behind what an old one wrote). Asserts nothing is lost and first arrivals are in
/// order.
fn audit(got: &[Partition], rounds: u64) -> (Vec<usize>, Vec<usize>) {
    let mut duplicates = Vec::new();
    let mut rewinds = Vec::new();
    for (p, records) in got.iter().enumerate() {
        let seqs = seqs(records);
        let mut seen = BTreeSet::new();
        let mut firsts = Vec::new();
        for s in &seqs {
            if seen.insert(*s) {
                firsts.push(*s);
            }
        }
        let expected: Vec<u64> = (0..rounds * BATCH).collect();
        assert_eq!(firsts.len(), expected.len(), "partition {p}: records lost");
        assert_eq!(
            firsts, expected,
            "partition {p}: first arrivals out of order"
        );
        assert_eq!(
            records.iter().collect::<BTreeSet<_>>().len(),
            firsts.len(),
            "partition {p}: a key arrived with another value"
        );
        duplicates.push(seqs.len() - firsts.len());
        rewinds.push(seqs.windows(2).filter(|w| w[1] <= w[0]).count());
    }
    (duplicates, rewinds)
}

async fn wait_all(env: &Env, rounds: u64, watcher: &Strait) -> Vec<Partition> {
    let total = (rounds * BATCH) as usize * PARTITIONS as usize;
    wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        total,
        Duration::from_secs(60),
        watcher,
    )
    .await;
    // Late duplicates land before the count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    read_topic(&env.target, REMOTE, PARTITIONS)
        .await
        .expect("read the remote topic")
}

/// `text` without ANSI colour codes (the human log format colours field names).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The times of the heartbeats the flow wrote to the target between `from_ms` and `to_ms`, in order.
async fn heartbeats_between(env: &Env, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let mut beats = read_all(&env.target, "heartbeats")
        .await
        .into_values()
        .flatten()
        .map(|r| r.timestamp)
        .filter(|t| (from_ms..=to_ms).contains(t))
        .collect::<Vec<i64>>();
    beats.sort_unstable();
    beats
}

async fn members_share_the_work_through_kill_join_and_stop(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    let feed = Feed::start(&env.source);
    let started_ms = now_ms();
    let a = Member::start(&env, "a");
    let b = Member::start(&env, "b");
    let c = Member::start(&env, "c");
    let three = wait_settled(&[&a, &b, &c], "three members");

    // SIGKILL the leader: its partitions and the singleton work move within the session.
    let mut members = BTreeMap::from([("a", a), ("b", b), ("c", c)]);
    let victim = three.leader_name();
    let killed_owned = three.of(victim);
    let mut dead = members.remove(victim).unwrap();
    let killed_at = Instant::now();
    let killed_ms = now_ms();
    dead.strait.signal("KILL");
    dead.strait.wait_exit(Duration::from_secs(5));
    let live: Vec<&Member> = members.values().collect();
    let two = wait_settled(&live, "after SIGKILL of the leader");
    let takeover = killed_at.elapsed();
    assert!(two.generation > three.generation);
    eprintln!(
        "{kind}: the killed leader's partitions moved after {takeover:.1?} (session {SESSION:?})"
    );

    // A new member takes a fair share; nothing else moves.
    let d = Member::start(&env, "d");
    let mut live: Vec<&Member> = members.values().collect();
    live.push(&d);
    let joined = wait_settled(&live, "after a member joined");
    for (name, (_, before)) in &two.owners {
        assert!(
            joined.of(name).is_subset(before),
            "{name} gained while d joined"
        );
    }

    // SIGTERM one: it hands its partitions over cleanly and exits 0.
    let leaving = *members.keys().next().unwrap();
    let mut stopping = members.remove(leaving).unwrap();
    let status = stopping.strait.terminate_within(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", stopping.strait.log());
    let mut live: Vec<&Member> = members.values().collect();
    live.push(&d);
    let after_stop = wait_settled(&live, "after SIGTERM of a member");

    let rounds = feed.finish().await;
    let got = wait_all(&env, rounds, &d.strait).await;
    let finished_ms = now_ms();
    let (duplicates, rewinds) = audit(&got, rounds);
    eprintln!(
        "{kind}: {} records per partition; duplicates {duplicates:?}; rewinds {rewinds:?}; the killed member owned {killed_owned:?}",
        rounds * BATCH
    );
    // Only the killed member's partitions may hold what it had in flight or acknowledged after
    // its last progress flush (100 ms): a few batches, one rewind.
    for p in 0..PARTITIONS {
        let (d, r) = (duplicates[p as usize], rewinds[p as usize]);
        if killed_owned.contains(&p) {
            assert!(
                d <= 16 * BATCH as usize && r <= 1,
                "partition {p}: {d} duplicates, {r} rewinds"
            );
        } else {
            assert_eq!((d, r), (0, 0), "partition {p} moved cleanly, yet");
        }
    }

    // One heartbeat emitter at a time, and it moved with the lead.
    let beats = heartbeats_between(&env, started_ms, finished_ms).await;
    let seconds = (finished_ms - started_ms) as f64 / 1000.0;
    let leaders = [
        three.generation,
        two.generation,
        joined.generation,
        after_stop.generation,
    ]
    .len();
    assert!(
        (beats.len() as f64) < seconds * 1.3 + leaders as f64 + 3.0,
        "{} heartbeats in {seconds:.0}s: more than one emitter at a time",
        beats.len()
    );
    // The killed leader emits nothing after its death, so beats after it come from its heir;
    // the longest silence is the takeover (one session and a rebalance), not the rest of the run.
    let longest_silence = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        beats.iter().any(|t| *t > killed_ms)
            && beats.iter().any(|t| *t > finished_ms - 5_000)
            && longest_silence <= 2 * SESSION.as_millis() as i64,
        "heartbeats stopped with the killed leader (longest silence {longest_silence} ms): {beats:?}"
    );
    drop(dead);
    drop(stopping);
}

async fn a_frozen_member_writes_nothing_after_its_partitions_moved(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    let feed = Feed::start(&env.source);
    let a = Member::start(&env, "a");
    let b = Member::start(&env, "b");
    let both = wait_settled(&[&a, &b], "two members");
    let frozen_owned = both.of("b");

    // Frozen past its session, b loses its partitions to a while it sleeps.
    b.strait.signal("STOP");
    let alone = wait_settled(&[&a], "a alone while b is frozen");
    assert_eq!(alone.of("a").len(), PARTITIONS as usize);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Woken, b finds its lease lapsed, stops, and rejoins as a new member.
    b.strait.signal("CONT");
    let again = wait_settled(&[&a, &b], "b back");
    assert_ne!(
        again.owners["b"].0, both.owners["b"].0,
        "b rejoined under its old id"
    );

    let rounds = feed.finish().await;
    let got = wait_all(&env, rounds, &a.strait).await;
    let (duplicates, rewinds) = audit(&got, rounds);
    eprintln!("{kind}: frozen member owned {frozen_owned:?}; duplicates {duplicates:?}; rewinds {rewinds:?}");
    for p in 0..PARTITIONS {
        let (d, r) = (duplicates[p as usize], rewinds[p as usize]);
        if frozen_owned.contains(&p) {
            // a resumed behind b's unflushed tail once; a second rewind would be b writing
            // again after a took over.
            assert!(
                r <= 1,
                "partition {p}: {r} rewinds: the frozen member wrote after the move"
            );
            assert!(d <= 16 * BATCH as usize, "partition {p}: {d} duplicates");
        } else {
            assert_eq!((d, r), (0, 0), "partition {p} never left a");
        }
    }
    assert!(
        b.strait.log().contains("group membership lost"),
        "b's log does not say it stopped its partitions:\n{}",
        b.strait.log()
    );
}

async fn scaling_up_and_down_never_stops_the_partitions_that_stay(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    let feed = Feed::start(&env.source);
    let a = Member::start(&env, "a");
    wait_settled(&[&a], "one member");
    let alone = AckWatch::start(&[&a]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let steady = alone.finish().into_values().max();
    let b = Member::start(&env, "b");
    let mut c = Member::start(&env, "c");
    let watch = AckWatch::start(&[&a, &b, &c]);
    let three = wait_settled(&[&a, &b, &c], "scaled to three");
    let kept = three.of("a");
    let status = c.strait.terminate_within(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", c.strait.log());
    let two = wait_settled(&[&a, &b], "scaled back to two");
    assert!(kept.is_subset(&two.of("a")), "a lost a partition it kept");
    let pauses = watch.finish_once_all_acked(PARTITIONS as usize, Duration::from_secs(30));

    let rounds = feed.finish().await;
    let got = wait_all(&env, rounds, &a.strait).await;
    let (duplicates, rewinds) = audit(&got, rounds);
    assert!(
        duplicates.iter().all(|d| *d == 0),
        "duplicates {duplicates:?}"
    );
    assert!(rewinds.iter().all(|r| *r == 0), "rewinds {rewinds:?}");

    // The partitions a kept were never stopped: their pipelines ran through every rebalance.
    let log = without_colours(&a.strait.log());
    let stopped: BTreeSet<i32> = log
        .lines()
        .filter(|l| l.contains("partition stops"))
        .filter_map(|l| {
            let (_, rest) = l.split_once("partition=")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let moved: BTreeSet<i32> = (0..PARTITIONS).filter(|p| !kept.contains(p)).collect();
    assert_eq!(
        stopped, moved,
        "a stopped other partitions than those it gave up:\n{log}"
    );
    eprintln!("{kind}: a kept {kept:?} running through 1 -> 3 -> 2 members; gave up {moved:?}");
    // Measured: the longest pause between acknowledged writes while the group went 1 -> 3 -> 2.
    let longest = |ps: &BTreeSet<i32>| ps.iter().filter_map(|p| pauses.get(p)).max().copied();
    let (kept_pause, moved_pause) = (longest(&kept), longest(&moved));
    eprintln!(
        "{kind}: longest pause between acks: one member alone {steady:?}; while scaling, partitions that stayed {kept_pause:?}, partitions that moved {moved_pause:?}"
    );
    assert_eq!(
        pauses.len(),
        PARTITIONS as usize,
        "every partition was acknowledged again within 30 s of scaling: {pauses:?}"
    );
}

/// `strait bench --members 2` runs end to end on Apache Kafka: each run's members split the
/// partitions evenly and mirror every record.
#[test]
fn bench_members_splits_the_partitions_evenly() {
    let out = STRAIT
        .command()
        .args(["bench", "--members", "2", "--partitions", "4"])
        .args(["--records-per-partition", "5000", "--record-bytes", "200"])
        .output()
        .expect("strait bench runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "strait bench failed:\n{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w == "1" || w == "2")
                && words.next().is_some_and(|w| w.parse::<u64>().is_ok())
        })
        .collect();
    assert_eq!(rows.len(), 2, "one row per member count:\n{text}");
    assert!(
        rows[0].contains(" 20000 ") && rows[0].contains("4 p, "),
        "{text}"
    );
    assert!(
        rows[1].contains(" 20000 ") && rows[1].matches("2 p, ").count() == 2,
        "{text}"
    );
    assert!(text.contains("2 members / 1: throughput"), "{text}");
}

/// Static membership (`strait.group.instance.id`): a member killed and started again at once
/// takes its place back in the generation it left, without waiting out its session, while
/// the other member's partitions never stop; a second process started with a running member's
/// id takes that place too, but first waits until the running one's write lease has lapsed, so
/// the two never write at the same time, and the replaced one stops and says why.
async fn a_static_member_takes_its_place_back_at_once(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    let feed = Feed::start(&env.source);
    let a = Member::start_with(&env, "a", "strait.group.instance.id = node-a\n");
    let b = Member::start_with(&env, "b", "strait.group.instance.id = node-b\n");
    let both = wait_settled(&[&a, &b], "two static members");

    // SIGKILL a and start it again at once: the coordinator hands the new process a's place
    // in the same generation; its dead predecessor ran on this host, so it starts at once.
    let mut a = a;
    a.strait.signal("KILL");
    a.strait.wait_exit(Duration::from_secs(5));
    let restarted = Instant::now();
    let a2 = Member::start_with(&env, "a", "strait.group.instance.id = node-a\n");
    let back = wait_settled(&[&a2, &b], "a restarted in its place");
    eprintln!(
        "{kind}: a restarted in its place, group settled after {:.1?} (session {SESSION:?})",
        restarted.elapsed()
    );
    assert_eq!(back.of("a"), both.of("a"), "a's partitions moved");
    assert_eq!(back.of("b"), both.of("b"), "b's partitions moved");
    let a2_log = without_colours(&a2.strait.log());
    let took = format!("generation {}: ", both.generation);
    assert!(
        a2_log
            .lines()
            .any(|l| l.contains(&took) && l.contains(" gained") && !l.contains(" 0 gained")),
        "a's successor did not start a's partitions in the generation a left ({}):\n{a2_log}",
        both.generation
    );
    assert!(!a2_log.contains("may still be running"), "{a2_log}");

    // A second process with b's id while b runs: it takes b's place but holds back until b's
    // lease has lapsed; b is told at its next heartbeat and stops.
    let b2 = Member::start_with(&env, "b2", "strait.group.instance.id = node-b\n");
    let replaced = wait_settled(&[&a2, &b2], "b2 in b's place");
    assert_eq!(replaced.of("b2"), both.of("b"), "b2 did not get b's place");
    assert_eq!(replaced.of("a"), both.of("a"), "a's partitions moved");
    let b_log = without_colours(&b.strait.log());
    assert!(b_log.contains("took this member's place"), "{b_log}");
    let state = b
        .get("/api/v1/flows/primary/backup")
        .and_then(|f| serde_json::from_str::<Value>(&f).ok())
        .map(|f| f["group"]["state"].clone());
    assert_eq!(state, Some(Value::from("replaced")));
    let b2_log = without_colours(&b2.strait.log());
    assert!(
        b2_log.contains("which may still be running: waiting"),
        "{b2_log}"
    );

    let rounds = feed.finish().await;
    let got = wait_all(&env, rounds, &a2.strait).await;
    let (duplicates, rewinds) = audit(&got, rounds);
    eprintln!(
        "{kind}: duplicates {duplicates:?}; rewinds {rewinds:?}; a owned {:?}",
        both.of("a")
    );
    for p in 0..PARTITIONS {
        let (d, r) = (duplicates[p as usize], rewinds[p as usize]);
        // Each place changed hands once: its new process resumed behind the old one's
        // unflushed tail at most once. Two writers at a time would interleave: more rewinds.
        assert!(
            d <= 16 * BATCH as usize && r <= 1,
            "partition {p}: {d} duplicates, {r} rewinds"
        );
    }
    drop(a);
}
