//! `strait status`: flows, lag and last errors of a running strait, from its REST API, as
//! tables, JSON (`--json`) or, with `--watch`, refreshed (progress bars on a terminal).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Endpoint;

/// Arguments of `strait status`.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// Print JSON (the REST API's flows, each with its partitions) instead of tables.
    #[arg(long)]
    json: bool,
    /// Refresh every this many seconds until Ctrl-C (progress bars when stderr is a terminal).
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
}

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let Some(every) = args.watch else {
        let status = fetch(&args.endpoint).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            print!("{}", render(&args.endpoint.url, &status));
        }
        return Ok(());
    };
    watch(&args, Duration::from_secs(every.max(1))).await
}

/// Every flow of the running strait, each with a `partitions` array.
pub(crate) async fn fetch(endpoint: &Endpoint) -> anyhow::Result<Value> {
    let mut flows = endpoint.get("/api/v1/flows").await?;
    for flow in flows.as_array_mut().into_iter().flatten() {
        let path = format!(
            "/api/v1/flows/{}/{}/partitions",
            flow["source"].as_str().unwrap_or_default(),
            flow["target"].as_str().unwrap_or_default()
        );
        let partitions = endpoint.get(&path).await?;
        flow["partitions"] = partitions;
    }
    Ok(json!({ "flows": flows }))
}

/// The tables `strait status` prints.
pub(crate) fn render(url: &str, status: &Value) -> String {
    let flows = status["flows"].as_array().cloned().unwrap_or_default();
    let mut out = format!("strait at {url}: {} flow(s)\n\n", flows.len());
    let mut rows = vec![row(&[
        "FLOW",
        "STATE",
        "PARTITIONS",
        "RECORDS",
        "BYTES",
        "LAG",
        "LAG BYTES",
        "LAG AGE",
        "HEARTBEAT",
        "PAUSED",
    ])];
    for f in &flows {
        let t = &f["totals"];
        rows.push(vec![
            s(&f["flow"]),
            state(&f["state"]),
            n(&t["partitions"]),
            n(&t["records"]),
            bytes(&t["bytes"]),
            n(&f["lag_records"]),
            bytes(&f["lag_bytes"]),
            secs(&f["lag_seconds"]),
            f["heartbeat_age_seconds"]
                .as_f64()
                .map_or("-".to_owned(), |a| format!("{a:.1}s ago")),
            paused(&f["paused"]),
        ]);
    }
    out.push_str(&table(&rows));
    for f in &flows {
        let mut rows = vec![row(&[
            "TOPIC",
            "PARTITION",
            "POSITION",
            "LOG END",
            "LAG",
            "LAG AGE",
            "RECORDS",
            "STATE",
        ])];
        for p in f["partitions"].as_array().into_iter().flatten() {
            rows.push(vec![
                s(&p["topic"]),
                n(&p["partition"]),
                n(&p["position"]),
                n(&p["log_end"]),
                n(&p["lag_records"]),
                secs(&p["lag_seconds"]),
                n(&p["records"]),
                p["paused"]
                    .as_str()
                    .map_or("replicating".to_owned(), |r| format!("paused: {r}")),
            ]);
        }
        out.push_str(&format!("\n{}:\n", s(&f["flow"])));
        out.push_str(&table(&rows));
        let errors: Vec<String> = f["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} {} x{}", s(&e["op"]), s(&e["code"]), n(&e["count"])))
            .collect();
        if !errors.is_empty() {
            out.push_str(&format!("errors: {}\n", errors.join(", ")));
        }
        if let Some(e) = f["last_error"].as_object() {
            out.push_str(&format!(
                "last error: {}-{}: {}\n",
                s(&e["topic"]),
                n(&e["partition"]),
                s(&e["message"])
            ));
        }
        let orphaned: Vec<String> = f["orphaned_topics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        if !orphaned.is_empty() {
            out.push_str(&format!(
                "orphaned remote topics: {}\n",
                orphaned.join(", ")
            ));
        }
        if let Some(g) = f["group"].as_object() {
            out.push_str(&group(g));
        }
    }
    out
}

/// The flow's group: generation, leader, and each member with its partitions.
fn group(g: &serde_json::Map<String, Value>) -> String {
    let me = s(&g["member_id"]);
    let leader = s(&g["leader_id"]);
    let rebalance = g["last_rebalance_ms"]
        .as_u64()
        .map_or(String::new(), |ms| format!(", last took {ms} ms"));
    let mut out = format!(
        "group {} ({}): generation {}, {} rebalances{rebalance}, {} partitions being handed over\n",
        s(&g["group"]),
        s(&g["state"]),
        n(&g["generation"]),
        n(&g["rebalances"]),
        n(&g["held_back"]),
    );
    let mut rows = vec![row(&["MEMBER", "HOST", "ROLE", "PARTITIONS", "OWNS"])];
    for (id, m) in g["members"].as_object().into_iter().flatten() {
        let owns: Vec<String> = m["partitions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(topic, ps)| {
                let ps: Vec<String> = ps.as_array().into_iter().flatten().map(n).collect();
                format!("{topic}[{}]", ps.join(","))
            })
            .collect();
        let count: usize = m["partitions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, ps)| ps.as_array().map_or(0, Vec::len))
            .sum();
        let mut role = if *id == leader { "leader" } else { "member" }.to_owned();
        if *id == me {
            role.push_str(" (this one)");
        }
        rows.push(vec![
            id.clone(),
            s(&m["host"]),
            role,
            count.to_string(),
            owns.join(" "),
        ]);
    }
    out.push_str(&table(&rows));
    out
}

/// Repeats the status; on a terminal, one progress bar per flow with records and bytes
/// remaining and an ETA from how fast lag fell since the previous refresh.
async fn watch(args: &StatusArgs, every: Duration) -> anyhow::Result<()> {
    let tty = std::io::stderr().is_terminal() && !args.json;
    let mut previous: Option<(Instant, Vec<(String, f64)>)> = None;
    let mut start_lag: Vec<(String, f64)> = Vec::new();
    loop {
        let status = fetch(&args.endpoint).await?;
        let flows = status["flows"].as_array().cloned().unwrap_or_default();
        let lags: Vec<(String, f64)> = flows
            .iter()
            .map(|f| (s(&f["flow"]), f["lag_records"].as_f64().unwrap_or(0.0)))
            .collect();
        if start_lag.is_empty() {
            start_lag = lags.clone();
        }
        if args.json {
            println!("{}", serde_json::to_string(&status)?);
        } else if tty {
            let mut lines = String::new();
            for (f, (flow, lag)) in flows.iter().zip(&lags) {
                let start = start_lag
                    .iter()
                    .find(|(l, _)| l == flow)
                    .map_or(*lag, |(_, v)| *v)
                    .max(*lag);
                let rate = previous.as_ref().and_then(|(at, before)| {
                    let old = before.iter().find(|(l, _)| l == flow)?.1;
                    let fell = old - lag;
                    (fell > 0.0).then(|| fell / at.elapsed().as_secs_f64())
                });
                let eta = match rate {
                    _ if *lag == 0.0 => "caught up".to_owned(),
                    Some(r) => format!("ETA {}", secs(&json!(lag / r))),
                    None => "ETA -".to_owned(),
                };
                lines.push_str(&format!(
                    "{flow:<24} {} {} records, {} remaining, {eta}\n",
                    bar(if start > 0.0 { 1.0 - lag / start } else { 1.0 }),
                    n(&f["lag_records"]),
                    bytes(&f["lag_bytes"]),
                ));
            }
            eprint!(
                "\x1b[2J\x1b[H{}\n{lines}",
                render(&args.endpoint.url, &status)
            );
        } else {
            for (f, (flow, _)) in flows.iter().zip(&lags) {
                eprintln!(
                    "strait status: {flow}: lag {} records ({}), {} replicated",
                    n(&f["lag_records"]),
                    bytes(&f["lag_bytes"]),
                    n(&f["totals"]["records"])
                );
            }
        }
        previous = Some((Instant::now(), lags));
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn bar(done: f64) -> String {
    let width = 30;
    let filled = ((done.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!(
        "[{}{}] {:>3.0}%",
        "#".repeat(filled),
        "-".repeat(width - filled),
        done.clamp(0.0, 1.0) * 100.0
    )
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn n(v: &Value) -> String {
    if v.is_null() {
        "-".to_owned()
    } else {
        v.to_string()
    }
}

fn secs(v: &Value) -> String {
    let x = v.as_f64().unwrap_or(0.0);
    if x < 60.0 {
        format!("{x:.1}s")
    } else if x < 3600.0 {
        format!("{:.0}m{:02.0}s", (x / 60.0).floor(), x % 60.0)
    } else {
        format!("{:.0}h{:02.0}m", (x / 3600.0).floor(), (x % 3600.0) / 60.0)
    }
}

fn bytes(v: &Value) -> String {
    let x = v.as_f64().unwrap_or(0.0);
    match x {
        x if x < 1024.0 => format!("{x:.0} B"),
        x if x < 1024.0 * 1024.0 => format!("{:.1} KiB", x / 1024.0),
        x if x < 1024.0 * 1024.0 * 1024.0 => format!("{:.1} MiB", x / 1024.0 / 1024.0),
        x => format!("{:.1} GiB", x / 1024.0 / 1024.0 / 1024.0),
    }
}

fn state(v: &Value) -> String {
    match v["reason"].as_str() {
        Some(r) => format!("{} ({r})", s(&v["state"])),
        None => s(&v["state"]),
    }
}

fn paused(v: &Value) -> String {
    let topics: Vec<String> = v["topics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    match (v["flow"].as_bool(), topics.is_empty()) {
        (Some(true), _) => "flow".to_owned(),
        (_, false) => format!("topics {}", topics.join(",")),
        _ => "-".to_owned(),
    }
}
