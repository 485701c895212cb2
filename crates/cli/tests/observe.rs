//! `strait run` observed as an operator would: `/metrics` scraped over HTTP while a known number
//! of records is mirrored, lag read from the REST API, a flow paused and resumed over REST and
//! with `strait pause`, `strait status --json` compared with the REST data, the bearer token
//! enforced, every documented GET route answered with its documented fields, JSON logs, and the
//! deploy/ files checked against the running binary (deploy/check.sh).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, Isolation, Producer};
use strait_testkit::{BrokerKind, TestCluster};

strait_testkit::per_broker!(observe_a_running_mirror);

const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));
const TOKEN: &str = "s3cret-observe-token";

async fn observe_a_running_mirror(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, "orders", 2).await;
    let producer = Producer::idempotent(&env.source).await.unwrap();
    for p in 0..2 {
        for b in 0..4 {
            let lz4 = batch(Compression::Lz4, &records(p, b * 10, 10));
            producer.send("orders", p, &lz4).await.unwrap();
        }
    }
    let strait = Observed::start(&env.config(), &env.dir);
    let api = strait.wait_for_address();

    // Liveness needs no token; everything else does, and the token never shows in the logs.
    assert_eq!(api.call("GET", "/health", None).0, 200);
    assert_eq!(api.call("GET", "/api/v1/flows", None).0, 401);
    assert_eq!(api.call("GET", "/metrics", Some("wrong")).0, 401);

    // 80 records mirrored: /metrics counts 40 per partition, lag falls to zero.
    let text = wait_until("80 records counted and lag 0 in /metrics", || {
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
    wait_until("partitions paused", || {
        let parts = api.json("GET", "/api/v1/flows/primary/backup/partitions");
        parts
            .as_array()?
            .iter()
            .all(|p| p["paused"].is_string())
            .then_some(())
    });
    let zstd = batch(Compression::Zstd, &records(0, 40, 25));
    producer.send("orders", 0, &zstd).await.unwrap();
    let lag_is_25 = || {
        let flow = api.json("GET", "/api/v1/flows/primary/backup");
        (flow["lag_records"] == 25).then_some(flow)
    };
    let flow = wait_until("lag 25 while paused", lag_is_25);
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
    let target = &env.target;
    eventually("105 records on the target", || async move {
        let n: usize = read_topic(target, "primary.orders", 2)
            .await
            .iter()
            .map(Vec::len)
            .sum();
        (n == 105).then_some(()).ok_or(format!("{n} records"))
    })
    .await;
    wait_until("lag 0 after resume", || {
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
        .env("STRAIT_BIN", STRAIT.0)
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
    metric_sample(
        text,
        name,
        &[("topic", topic), ("partition", &p.to_string())],
    )
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
    source_node: TestCluster,
    target_node: TestCluster,
}

impl Env {
    async fn start(kind: BrokerKind) -> Env {
        let (source_node, target_node) = start_two_nodes(kind).await;
        let source = connect("primary", &source_node.bootstrap()).await;
        let target = connect("backup", &target_node.bootstrap()).await;
        let dir = source_node.runtime_dir().to_owned();
        Env {
            source,
            target,
            dir,
            source_node,
            target_node,
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
             {MIRROR_ONE_REPLICA}\
             refresh.topics.interval.seconds = 1\n\
             strait.http.listen = 127.0.0.1:0\n\
             strait.http.token.file = {}\n",
            self.source_node.bootstrap(),
            self.target_node.bootstrap(),
            token.display(),
        );
        let path = self.dir.join("mm2.properties");
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn key(p: i32, seq: u64) -> Bytes {
    Bytes::from(format!("p{p}-{seq:06}"))
}

/// Records `first..first + count` of partition `p`.
fn records(p: i32, first: u64, count: u64) -> Vec<Record> {
    let ts = now_ms();
    (first..first + count)
        .map(|seq| {
            record(
                ts,
                Some(key(p, seq)),
                Some(Bytes::from(format!("value {seq}"))),
            )
        })
        .collect()
}

/// Keys expected per partition: `counts[p]` records from sequence 0.
fn expected(counts: &[u64]) -> Vec<Vec<Bytes>> {
    counts
        .iter()
        .enumerate()
        .map(|(p, n)| (0..*n).map(|s| key(p as i32, s)).collect())
        .collect()
}

/// The keys of every record of each partition, read until a fetch returns nothing (none where
/// the topic is missing or cannot be read).
async fn read_topic(cluster: &Cluster, topic: &str, partitions: i32) -> Vec<Vec<Bytes>> {
    let options = read_options(Isolation::ReadCommitted);
    let _ = cluster.refresh_topics(&[topic]).await;
    let mut all = Vec::new();
    for partition in 0..partitions {
        let batches = try_read_batches(cluster, topic, partition, 0, &options).await;
        let records = records_of(&batches.unwrap_or_default());
        all.push(records.into_iter().map(|r| r.key.unwrap()).collect());
    }
    all
}

/// A running `strait --log-format json run`, and the token file its commands present.
struct Observed {
    strait: Strait,
    token_file: PathBuf,
}

impl Observed {
    fn start(config: &Path, dir: &Path) -> Observed {
        let strait = Strait::spawn(
            STRAIT
                .command()
                .args(["--log-format", "json", "run"])
                .arg(config)
                .args(["--report-every", "0"])
                .env_remove("RUST_LOG"),
        );
        Observed {
            strait,
            token_file: dir.join("token"),
        }
    }

    /// The listener's address, from the JSON log line announcing it.
    fn wait_for_address(&self) -> Api {
        let addr = wait_until("the REST API address in the log", || {
            let log = self.strait.log();
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
        let url = format!("http://{addr}");
        let token_file = self.token_file.to_str().unwrap();
        let (code, stdout, stderr) =
            STRAIT.run(&[args, &["--url", &url, "--token-file", token_file]].concat());
        assert!(code == Some(0), "strait {args:?}: {stderr}\n{stdout}");
        stdout
    }

    /// Runs `strait status --watch 1` (stderr not a terminal) until it logs a line containing
    /// `needle`; returns that line.
    fn watch_line(&self, needle: &str) -> String {
        // `timeout` ends it if the line never comes, so the test fails instead of hanging.
        let mut child = Command::new("timeout")
            .args(["30", STRAIT.0])
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
        let status = self.strait.terminate_within(Duration::from_secs(20));
        let log = self.strait.log();
        assert_eq!(status.code(), Some(0), "{log}");
        log
    }
}

struct Api {
    addr: String,
}

impl Api {
    /// One HTTP/1.1 request; returns the status code and body.
    fn call(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        http_request(&self.addr, method, path, token)
            .unwrap_or_else(|e| panic!("{method} {path} to {}: {e}", self.addr))
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
