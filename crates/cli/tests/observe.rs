//! `strait run` observed as an operator would: `/metrics` scraped over HTTP while a known number
//! of records is mirrored, lag read from the REST API, a flow paused and resumed over REST and
//! with `strait pause`, `strait status --json` compared with the REST data, the bearer token
//! enforced, every documented GET route answered with its documented fields, JSON logs, and the
//! deploy/ files checked against the running binary (deploy/check.sh).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use strait_kafka::batch::{BatchBuilder, Compression, RawBatch, Record};
use strait_kafka::{Cluster, ClusterConfig, FetchOptions, FetchPosition, NewTopic, Producer};
use strait_testkit::{BrokerKind, TestCluster};

strait_testkit::per_broker!(observe_a_running_mirror);

const TOKEN: &str = "s3cret-observe-token";
const DEADLINE: Duration = Duration::from_secs(60);

async fn observe_a_running_mirror(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, "orders", 2).await;
    let producer = Producer::idempotent(&env.source).await.unwrap();
    for p in 0..2 {
        for b in 0..4 {
            producer
                .send("orders", p, &batch(p, b * 10, 10, Compression::Lz4))
                .await
                .unwrap();
        }
    }
    let strait = Strait::start(&env.config(), &env.dir);
    let api = strait.wait_for_address();

    // Liveness needs no token; everything else does, and the token never shows in the logs.
    assert_eq!(api.call("GET", "/health", None).0, 200);
    assert_eq!(api.call("GET", "/api/v1/flows", None).0, 401);
    assert_eq!(api.call("GET", "/metrics", Some("wrong")).0, 401);

    // 80 records mirrored: /metrics counts 40 per partition, lag falls to zero.
    let text = eventually("80 records counted and lag 0 in /metrics", || {
        let text = api.text("/metrics");
        let counted: f64 = (0..2)
            .map(|p| metric(&text, "strait_record_count_total", "orders", p).unwrap_or(-1.0))
            .sum();
        let lag: f64 = (0..2)
            .map(|p| metric(&text, "strait_lag_records", "orders", p).unwrap_or(-1.0))
            .sum();
        let ready = text.contains("strait_heartbeat_age_seconds{");
        (counted == 80.0 && lag == 0.0 && ready).then_some(text)
    });
    for p in 0..2 {
        assert_eq!(
            metric(&text, "strait_record_count_total", "orders", p),
            Some(40.0)
        );
        assert_eq!(
            metric(&text, "strait_source_log_end_offset", "orders", p),
            Some(40.0)
        );
    }
    assert_eq!(api.call("GET", "/ready", None).0, 200);
    assert_eq!(
        read_topic(&env.target, "primary.orders", 2).await,
        expected(&[40, 40])
    );

    // Paused over REST: 25 more records stay on the source; lag is exactly 25 and stays.
    let paused = api.json("POST", "/api/v1/flows/primary/backup/pause");
    assert_eq!(paused["changed"], true);
    assert_eq!(paused["paused"]["flow"], true);
    eventually("partitions paused", || {
        let parts = api.json("GET", "/api/v1/flows/primary/backup/partitions");
        parts
            .as_array()?
            .iter()
            .all(|p| p["paused"].is_string())
            .then_some(())
    });
    producer
        .send("orders", 0, &batch(0, 40, 25, Compression::Zstd))
        .await
        .unwrap();
    let lag_is_25 = || {
        let flow = api.json("GET", "/api/v1/flows/primary/backup");
        (flow["lag_records"] == 25).then_some(flow)
    };
    let flow = eventually("lag 25 while paused", lag_is_25);
    assert!(flow["lag_seconds"].as_f64().unwrap() > 0.0, "{flow}");
    std::thread::sleep(Duration::from_secs(3));
    let flow = lag_is_25().expect("lag stays 25 while paused");
    assert_eq!(flow["totals"]["records"], 80);
    assert_eq!(
        read_topic(&env.target, "primary.orders", 2).await,
        expected(&[40, 40])
    );
    let text = api.text("/metrics");
    assert_eq!(metric(&text, "strait_lag_records", "orders", 0), Some(25.0));
    assert_eq!(
        metric(&text, "strait_partition_paused", "orders", 0),
        Some(1.0)
    );

    // `strait status --json` shows what the REST API shows.
    let status: Value = serde_json::from_str(&strait.cli(&["status", "--json"])).unwrap();
    let flows = api.json("GET", "/api/v1/flows");
    let partitions = api.json("GET", "/api/v1/flows/primary/backup/partitions");
    let from_status = &status["flows"][0];
    for field in [
        "flow",
        "state",
        "paused",
        "totals",
        "lag_records",
        "lag_bytes",
        "errors",
    ] {
        assert_eq!(from_status[field], flows[0][field], "{field}");
    }
    assert_eq!(stable(&from_status["partitions"]), stable(&partitions));
    let human = strait.cli(&["status"]);
    eprintln!("strait status (paused):\n{human}");
    assert!(
        human.contains("primary->backup") && human.contains("paused: flow paused by operator"),
        "{human}"
    );

    // `--watch` without a terminal logs a line per flow per refresh.
    let line = strait.watch_line("primary->backup: lag 25 records");
    assert!(line.contains("80 replicated"), "{line}");

    // Resumed with `strait resume`: the 25 arrive once, in order; lag is 0 again.
    assert!(strait
        .cli(&["resume", "primary->backup"])
        .contains("resumed"));
    eventually("105 records on the target", || {
        futures_block(read_topic(&env.target, "primary.orders", 2))
            .iter()
            .map(Vec::len)
            .sum::<usize>()
            .eq(&105)
            .then_some(())
    });
    eventually("lag 0 after resume", || {
        let flow = api.json("GET", "/api/v1/flows/primary/backup");
        (flow["lag_records"] == 0 && flow["totals"]["records"] == 105).then_some(())
    });
    assert_eq!(
        read_topic(&env.target, "primary.orders", 2).await,
        expected(&[65, 40])
    );

    // A topic paused with `strait pause --topic` holds only that topic.
    let out = strait.cli(&["pause", "primary->backup", "--topic", "orders"]);
    assert!(
        out.contains("topic orders of primary->backup paused"),
        "{out}"
    );
    let flow = api.json("GET", "/api/v1/flows/primary/backup");
    assert_eq!(flow["paused"]["topics"][0], "orders");
    assert!(strait
        .cli(&["resume", "primary->backup", "--topic", "orders"])
        .contains("resumed"));
    assert_eq!(
        api.call("POST", "/api/v1/flows/primary/nowhere/pause", Some(TOKEN))
            .0,
        404
    );
    let refresh = api.call("POST", "/api/v1/flows/primary/backup/refresh", Some(TOKEN));
    assert_eq!(refresh.0, 202);

    // Every documented GET answers 200 with the documented required fields.
    check_openapi_gets(&api);

    // deploy/: dashboard queries use metrics this instance exports; k8s args are real flags.
    let scrape = env.dir.join("scrape.txt");
    std::fs::write(&scrape, api.text("/metrics")).unwrap();
    let check = Command::new(workspace().join("deploy/check.sh"))
        .env("STRAIT_METRICS_FILE", &scrape)
        .env(
            "STRAIT_CONDITIONAL_METRICS",
            strait_mirror::metrics::CONDITIONAL.join("\n"),
        )
        .env("STRAIT_BIN", env!("CARGO_BIN_EXE_strait"))
        .env("STRAIT_SKIP_DOCKER", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "deploy/check.sh:\n{said}");
    assert!(said.contains("all exported"), "{said}");

    // JSON logs: every stderr line is a JSON object; significant events are there.
    let log = strait.stop();
    assert!(!log.contains(TOKEN), "the token must never be logged");
    for line in log.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    for event in [
        "flow started",
        "flow paused by operator",
        "topic orders paused by operator",
        "created remote topic primary.orders",
    ] {
        assert!(log.contains(event), "no {event:?} in the log:\n{log}");
    }
}

/// GETs every documented path (flow parameters filled with primary/backup) and checks the
/// schema's required fields are in the answer.
fn check_openapi_gets(api: &Api) {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("docs/openapi.json")).unwrap(),
    )
    .unwrap();
    let schemas = &doc["components"]["schemas"];
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(get) = ops.get("get") else { continue };
        let url = path
            .replace("{source}", "primary")
            .replace("{target}", "backup");
        let (code, body) = api.call("GET", &url, Some(TOKEN));
        assert_eq!(code, 200, "GET {url}: {body}");
        let content = &get["responses"]["200"]["content"];
        let Some(schema) = content.get("application/json").map(|c| &c["schema"]) else {
            continue;
        };
        let body: Value = serde_json::from_str(&body).unwrap();
        let (schema, items) = match schema["type"].as_str() {
            Some("array") => (&schema["items"], body.as_array().unwrap().clone()),
            _ => (schema, vec![body]),
        };
        let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        assert!(!items.is_empty(), "GET {url} returned no {name}");
        for item in items {
            for field in schemas[name]["required"].as_array().unwrap() {
                let field = field.as_str().unwrap();
                assert!(
                    item.get(field).is_some(),
                    "GET {url}: {name} lacks {field}: {item}"
                );
            }
        }
    }
}

/// Partition rows without the fields that move with the clock.
fn stable(partitions: &Value) -> Value {
    let mut v = partitions.clone();
    for p in v.as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("lag_seconds");
    }
    v
}

/// The sample of `name` for `topic` partition `p`.
fn metric(text: &str, name: &str, topic: &str, p: i32) -> Option<f64> {
    let want = [format!("topic=\"{topic}\""), format!("partition=\"{p}\"")];
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.split_once("} ")?;
        let labels: Vec<&str> = labels.split(',').collect();
        want.iter()
            .all(|w| labels.contains(&w.as_str()))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// Brokers, strait, HTTP
// ---------------------------------------------------------------------------------------------

struct Env {
    source: Cluster,
    target: Cluster,
    dir: PathBuf,
    nodes: Vec<TestCluster>,
}

impl Env {
    async fn start(kind: BrokerKind) -> Env {
        let nodes = tokio::task::spawn_blocking(move || strait_testkit::start_clusters(kind, 2))
            .await
            .unwrap()
            .expect("two test brokers start");
        let source = connect("primary", &nodes[0].bootstrap()).await;
        let target = connect("backup", &nodes[1].bootstrap()).await;
        let dir = nodes[0].runtime_dir().to_owned();
        Env {
            source,
            target,
            dir,
            nodes,
        }
    }

    fn config(&self) -> PathBuf {
        let token = self.dir.join("token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let text = format!(
            "clusters = primary, backup\n\
             primary.bootstrap.servers = {}\n\
             backup.bootstrap.servers = {}\n\
             primary->backup.enabled = true\n\
             primary->backup.topics = orders\n\
             backup->primary.enabled = false\n\
             backup->primary.emit.heartbeats.enabled = false\n\
             emit.heartbeats.interval.seconds = 1\n\
             sync.topic.acls.enabled = false\n\
             replication.factor = 1\n\
             offset-syncs.topic.replication.factor = 1\n\
             heartbeats.topic.replication.factor = 1\n\
             checkpoints.topic.replication.factor = 1\n\
             offset.storage.replication.factor = 1\n\
             refresh.topics.interval.seconds = 1\n\
             strait.http.listen = 127.0.0.1:0\n\
             strait.http.token.file = {}\n",
            self.nodes[0].bootstrap(),
            self.nodes[1].bootstrap(),
            token.display(),
        );
        let path = self.dir.join("mm2.properties");
        std::fs::write(&path, text).unwrap();
        path
    }
}

async fn connect(name: &str, bootstrap: &str) -> Cluster {
    Cluster::connect(ClusterConfig::new(name, bootstrap).unwrap())
        .await
        .expect("test client connects")
}

async fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) {
    let spec = NewTopic {
        configs: vec![("retention.ms".into(), "-1".into())],
        ..NewTopic::new(topic, partitions)
    };
    cluster.create_topic(&spec).await.expect("create topic");
}

fn key(p: i32, seq: u64) -> Bytes {
    Bytes::from(format!("p{p}-{seq:06}"))
}

fn batch(p: i32, first: u64, count: u64, compression: Compression) -> RawBatch {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let records = (0..count)
        .map(|i| Record {
            offset: i as i64,
            timestamp: ts,
            key: Some(key(p, first + i)),
            value: Some(Bytes::from(format!("value {}", first + i))),
            headers: vec![],
        })
        .collect();
    BatchBuilder {
        compression,
        records,
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap()
}

/// Keys expected per partition: `counts[p]` records from sequence 0.
fn expected(counts: &[u64]) -> Vec<Vec<Bytes>> {
    counts
        .iter()
        .enumerate()
        .map(|(p, n)| (0..*n).map(|s| key(p as i32, s)).collect())
        .collect()
}

/// The keys of every record of each partition, read until a fetch returns nothing (empty if
/// the topic is missing).
async fn read_topic(cluster: &Cluster, topic: &str, partitions: i32) -> Vec<Vec<Bytes>> {
    let options = FetchOptions {
        max_wait: Duration::from_millis(20),
        ..FetchOptions::default()
    };
    let _ = cluster.refresh_topics(&[topic]).await;
    let mut all = Vec::new();
    for partition in 0..partitions {
        let mut keys = Vec::new();
        let mut offset = 0;
        loop {
            let position = FetchPosition {
                topic: topic.to_owned(),
                partition,
                offset,
                max_bytes: 16 * 1024 * 1024,
            };
            let Ok(fetched) = cluster.fetch(&position, &options).await else {
                break;
            };
            let mut progressed = false;
            for batch in fetched.batches() {
                let batch = batch.unwrap();
                offset = batch.next_offset();
                progressed = true;
                if !batch.is_control() {
                    keys.extend(
                        batch
                            .decode()
                            .unwrap()
                            .records
                            .into_iter()
                            .map(|r| r.key.unwrap()),
                    );
                }
            }
            if !progressed {
                break;
            }
        }
        all.push(keys);
    }
    all
}

/// A running `strait --log-format json run`; stderr collected; killed when dropped.
struct Strait {
    child: Child,
    log: Arc<Mutex<String>>,
    token_file: PathBuf,
}

impl Strait {
    fn start(config: &Path, dir: &Path) -> Strait {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strait"))
            .args(["--log-format", "json", "run"])
            .arg(config)
            .args(["--report-every", "0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strait run");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Strait {
            child,
            log,
            token_file: dir.join("token"),
        }
    }

    /// The listener's address, from the JSON log line announcing it.
    fn wait_for_address(&self) -> Api {
        let addr = eventually("the REST API address in the log", || {
            let log = self.log.lock().unwrap().clone();
            log.lines().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                let m = v["message"].as_str()?;
                Some(
                    m.strip_prefix("REST API and /metrics on http://")?
                        .to_owned(),
                )
            })
        });
        Api { addr }
    }

    /// Runs `strait <args> --url ... --token-file ...` and returns its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let addr = self.address();
        let out = Command::new(env!("CARGO_BIN_EXE_strait"))
            .args(args)
            .args(["--url", &format!("http://{addr}")])
            .arg("--token-file")
            .arg(&self.token_file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "strait {args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs `strait status --watch 1` (stderr not a terminal) until it logs a line containing
    /// `needle`; returns that line.
    fn watch_line(&self, needle: &str) -> String {
        // `timeout` ends it if the line never comes, so the test fails instead of hanging.
        let mut child = Command::new("timeout")
            .args(["30", env!("CARGO_BIN_EXE_strait")])
            .args([
                "status",
                "--watch",
                "1",
                "--url",
                &format!("http://{}", self.address()),
            ])
            .arg("--token-file")
            .arg(&self.token_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let found = lines.map_while(Result::ok).find(|l| l.contains(needle));
        // SIGTERM, which timeout(1) passes on to strait (SIGKILL would orphan it).
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        found.unwrap_or_else(|| panic!("strait status --watch never printed {needle:?}"))
    }

    fn address(&self) -> String {
        self.wait_for_address().addr
    }

    /// SIGTERM, exit 0, and the whole log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "strait did not stop:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        assert_eq!(status.code(), Some(0), "{log}");
        log
    }
}

impl Drop for Strait {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "===== strait output =====\n{}=====",
                self.log.lock().unwrap()
            );
        }
    }
}

struct Api {
    addr: String,
}

impl Api {
    /// One HTTP/1.1 request; returns the status code and body.
    fn call(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n{auth}\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
        (code, body.to_owned())
    }

    fn text(&self, path: &str) -> String {
        let (code, body) = self.call("GET", path, Some(TOKEN));
        assert_eq!(code, 200, "GET {path}: {body}");
        body
    }

    fn json(&self, method: &str, path: &str) -> Value {
        let (code, body) = self.call(method, path, Some(TOKEN));
        assert_eq!(code, 200, "{method} {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}
