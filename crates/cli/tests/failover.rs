//! The failover drill, as an operator runs it: `strait run` mirrors primary→backup (and back),
//! a group consumes part of `orders` on the primary, the primary is stopped,
//! `strait failover status` and `strait offsets apply` move the group to the backup, and a
//! consumer there reads the rest: nothing skipped, nothing re-read, wherever the group had
//! committed (a batch boundary, or a random offset inside a batch). Then the primary returns,
//! records written on the backup meanwhile are mirrored back, and the same commands move the
//! group home, again exactly.
//!
//! Not on tansu: the drill stops and restarts a broker, and tansu's memory engine forgets
//! everything on restart.

mod failover_support;

use bytes::Bytes;
use failover_support::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, Isolation, Producer};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(; not_tansu: failover_drill, status_reports_the_lag);

async fn failover_drill(kind: BrokerKind) {
    let (mut primary_node, mut backup_node) = start_two_nodes(kind).await;
    let primary = connect("primary", &primary_node.bootstrap()).await;
    let backup = connect("backup", &backup_node.bootstrap()).await;
    let config = write_config(&primary_node, &backup_node);

    // Producers write 10 batches of 10 records to each partition of `orders` on the primary.
    create_topic(&primary, TOPIC, 2).await;
    produce_numbered(&primary, TOPIC, &[0, 1], 0, 10).await;
    let mut mirror = run_strait(&config);
    wait_for_count(&backup, "primary.orders", &[0, 1], 100).await;

    // The application consumed part of it on the primary: partition 0 up to a batch boundary,
    // partition 1 to a random offset inside a batch.
    let inside = offset_inside_a_batch(10);
    eprintln!("partition 1 committed at {inside}, inside a batch");
    commit(&primary, GROUP, TOPIC, &[(0, 50), (1, inside)]).await;
    // A checkpoint may come before the syncs of the last batches (then it is conservative):
    // wait until it settles.
    let rows = wait_for_rows("primary->backup", &config, |rows| {
        source_offset(rows, "primary.orders", 0) == Some(50)
            && source_offset(rows, "primary.orders", 1) == Some(inside)
            && target_offset(rows, "primary.orders", 0) == Some(50)
            && target_offset(rows, "primary.orders", 1) == Some(inside)
    })
    .await;
    // The offset syncs live on the primary (the default location), which is up: read there,
    // they show both commits translate exactly (a batch forwarded untouched keeps its span).
    let how =
        |rows: &[serde_json::Value], p: i32| row(rows, "primary.orders", p).unwrap()["how"].clone();
    assert_eq!(
        (how(&rows, 0), how(&rows, 1)),
        ("exact".into(), "exact".into()),
        "{rows:?}"
    );

    // Everything mirrored: safe to cut over.
    eventually_blocking("failover status says safe", || {
        let (code, out, _) = STRAIT.run(&[
            "failover",
            "status",
            path(&config),
            "--flow",
            "primary->backup",
            "--json",
        ]);
        let status: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        match (code, &status["safe_to_cut_over"], &status["lag_records"]) {
            (Some(0), serde_json::Value::Bool(true), lag) if lag == 0 => Ok(()),
            _ => Err(out),
        }
    })
    .await;

    // Disaster: the primary stops.
    primary_node.stop();
    let (code, out, _) = STRAIT.run(&[
        "failover",
        "status",
        path(&config),
        "--flow",
        "primary->backup",
    ]);
    assert_eq!(
        code,
        Some(2),
        "not known to be safe with the source down:\n{out}"
    );
    assert!(out.contains("unreachable"), "{out}");

    // With the primary down the precision cannot be checked: same offsets, `checkpoint`, and
    // a note saying why.
    let (code, out, err) = STRAIT.run(&[
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->backup",
        "--group",
        GROUP,
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let down: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            target_offset(&down, "primary.orders", 0),
            target_offset(&down, "primary.orders", 1)
        ),
        (Some(50), Some(inside))
    );
    assert_eq!(
        (how(&down, 0), how(&down, 1)),
        ("checkpoint".into(), "checkpoint".into())
    );
    assert!(
        err.contains("source cluster primary unreachable") && err.contains("precision unknown"),
        "{err}"
    );

    // Dry run first: shows the plan, commits nothing.
    let apply = [
        "offsets",
        "apply",
        path(&config),
        "--flow",
        "primary->backup",
        "--group",
        GROUP,
    ];
    let (code, out, err) = STRAIT.run(&apply);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("commit") && err.contains("dry run"),
        "{out}{err}"
    );
    assert!(backup.fetch_offsets(GROUP, None).await.unwrap().is_empty());
    let (code, out, err) = STRAIT.run(&[&apply[..], &["--execute"]].concat());
    assert_eq!(code, Some(0), "{out}{err}");

    // A consumer on the backup resumes from the group's offsets and reads the rest.
    let committed = backup.fetch_offsets(GROUP, None).await.unwrap();
    let at = |p: i32| committed[&("primary.orders".to_owned(), p)].offset;
    assert_eq!((at(0), at(1)), (50, inside));
    let p0 = seqs(&read_from(&backup, "primary.orders", 0, at(0)).await);
    assert_eq!(
        p0,
        (50..100).collect::<Vec<_>>(),
        "batch boundary: nothing skipped, nothing re-read"
    );
    let p1 = seqs(&read_from(&backup, "primary.orders", 1, at(1)).await);
    assert_eq!(
        p1,
        (inside as u64..100).collect::<Vec<_>>(),
        "inside a batch: nothing skipped, nothing re-read"
    );

    // The application runs on the backup now: it finishes `primary.orders`, producers write
    // to `orders` on the backup, and it reads part of those 30 (into a batch).
    commit(&backup, GROUP, "primary.orders", &[(0, 100), (1, 100)]).await;
    create_topic(&backup, TOPIC, 1).await;
    produce_numbered(&backup, TOPIC, &[0], 0, 3).await;
    let read_on_backup = offset_inside_a_batch(3);
    eprintln!("orders on the backup committed at {read_on_backup}, inside a batch");
    commit(&backup, GROUP, TOPIC, &[(0, read_on_backup)]).await;
    // Applying the failover again would rewind the group: refused per partition.
    let (code, out, err) = STRAIT.run(&[&apply[..], &["--execute"]].concat());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("would rewind"), "{out}");
    let committed = backup.fetch_offsets(GROUP, None).await.unwrap();
    assert_eq!(committed[&("primary.orders".to_owned(), 0)].offset, 100);

    // Failback: the primary returns, the backup's records are mirrored to it, and the group
    // moves home.
    tokio::task::block_in_place(|| primary_node.restart()).expect("primary restarts");
    let primary = connect("primary", &primary_node.bootstrap()).await;
    wait_for_count(&primary, "backup.orders", &[0], 30).await;
    let rows = wait_for_rows("backup->primary", &config, |rows| {
        source_offset(rows, "backup.orders", 0) == Some(read_on_backup)
            && target_offset(rows, "backup.orders", 0) == Some(read_on_backup)
            && source_offset(rows, TOPIC, 0) == Some(100)
            && source_offset(rows, TOPIC, 1) == Some(100)
    })
    .await;
    eprintln!("failback translations: {rows:?}");
    let apply_back = [
        "offsets",
        "apply",
        path(&config),
        "--flow",
        "backup->primary",
        "--group",
        GROUP,
        "--execute",
    ];
    let (code, out, err) = STRAIT.run(&apply_back);
    assert_eq!(code, Some(0), "{out}{err}");
    let committed = primary.fetch_offsets(GROUP, None).await.unwrap();
    let home = |t: &str, p: i32| committed[&(t.to_owned(), p)].offset;
    assert_eq!(home("backup.orders", 0), read_on_backup);
    let written_on_backup =
        seqs(&read_from(&primary, "backup.orders", 0, home("backup.orders", 0)).await);
    assert_eq!(
        written_on_backup,
        (read_on_backup as u64..30).collect::<Vec<_>>(),
        "nothing skipped or re-read"
    );
    for p in [0, 1] {
        // The group read all 100 on the backup, the log end there: back home, through the
        // end-of-batch sync, it resumes exactly at the end too.
        let rest = seqs(&read_from(&primary, TOPIC, p, home(TOPIC, p)).await);
        assert!(rest.is_empty(), "partition {p}: re-read {rest:?}");
    }
    mirror.terminate();
    backup_node.stop();
}

/// `strait failover status` while the mirror is stopped and producers keep writing: the lag in
/// records, bytes (the batches not mirrored) and seconds (age of the oldest), and not safe.
/// A random offset strictly inside one of the first `batches` batches of [`BATCH`] records
/// (never a batch's first offset): where a consumer that stopped mid-batch commits.
fn offset_inside_a_batch(batches: u64) -> i64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos() as u64;
    let batch = seed % batches;
    (batch * BATCH + 1 + (seed / batches) % (BATCH - 1)) as i64
}

async fn status_reports_the_lag(kind: BrokerKind) {
    let (primary_node, backup_node) = start_two_nodes(kind).await;
    let primary = connect("primary", &primary_node.bootstrap()).await;
    let backup = connect("backup", &backup_node.bootstrap()).await;
    let config = write_config(&primary_node, &backup_node);
    create_topic(&primary, TOPIC, 1).await;
    produce_numbered(&primary, TOPIC, &[0], 0, 2).await;
    let mut mirror = run_strait(&config);
    wait_for_count(&backup, "primary.orders", &[0], 20).await;
    let status = [
        "failover",
        "status",
        path(&config),
        "--flow",
        "primary->backup",
        "--json",
    ];
    eventually_blocking("safe to cut over", || {
        let (code, out, _) = STRAIT.run(&status);
        if code == Some(0) {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    mirror.terminate();

    // 30 more records, written 5 s ago, while nothing mirrors them.
    let producer = Producer::idempotent(&primary).await.unwrap();
    let old = now_ms() - 5_000;
    for b in 2..5u64 {
        let records: Vec<Record> = (0..BATCH)
            .map(|i| {
                let key = Bytes::from((b * BATCH + i).to_string());
                record(old, Some(key), Some(Bytes::from_static(b"v")))
            })
            .collect();
        produce(&producer, TOPIC, 0, Compression::None, &records).await;
    }
    let unmirrored: i64 = data_bytes_from(&primary, TOPIC, 0, 20).await;
    let (code, out, err) = STRAIT.run(&status);
    assert_eq!(code, Some(2), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["safe_to_cut_over"], false);
    assert_eq!(v["source_reachable"], true);
    // (The flow also mirrors `heartbeats`; its last heartbeat may be unmirrored too.)
    let p = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["topic"] == TOPIC)
        .unwrap();
    assert_eq!(p["mirrored_up_to"], 20);
    assert_eq!(p["lag_records"], 30);
    assert_eq!(p["lag_bytes"], unmirrored);
    assert!(p["lag_seconds"].as_f64().unwrap() >= 5.0, "{p}");
    assert!(v["heartbeat_age_seconds"].as_f64().is_some(), "{v}");
    let (_, table, _) = STRAIT.run(&status[..5]);
    assert!(table.contains("safe to cut over: no: "), "{table}");
}

/// Total bytes of the data batches of a partition from `offset` on (one fetch).
async fn data_bytes_from(cluster: &Cluster, topic: &str, partition: i32, offset: i64) -> i64 {
    let position = fetch_position(topic, partition, offset);
    let options = read_options(Isolation::ReadCommitted);
    let fetched = cluster.fetch(&position, &options).await.expect("fetch");
    fetched
        .batches()
        .map(|b| b.expect("valid batch"))
        .filter(|b| b.base_offset() >= offset && !b.is_control())
        .map(|b| b.len() as i64)
        .sum()
}
