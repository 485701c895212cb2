//! `strait offsets translate|apply` rules, as an operator meets them: the source cluster is
//! down or silent, a partition without a checkpoint, a group still in use, a flow that does not exist.
//!
//! Not on tansu: the `--to-datetime` fallback needs ListOffsets by timestamp (tansu answers 0).

mod failover_support;

use std::time::Duration;

use bytes::Bytes;
use failover_support::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::Producer;
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(; not_tansu: apply_rules_with_the_source_down);

/// Every failover subcommand explains itself with examples and the meaning of its output.
#[test]
fn failover_commands_have_examples() {
    for sub in [
        &["offsets", "--help"][..],
        &["offsets", "translate", "--help"],
        &["offsets", "apply", "--help"],
        &["failover", "--help"],
        &["failover", "status", "--help"],
    ] {
        let (code, out, err) = STRAIT.run(sub);
        assert_eq!(code, Some(0), "{sub:?}: {err}");
        assert!(out.contains("Examples:"), "{sub:?}:\n{out}");
    }
    let (_, out, _) = STRAIT.run(&["offsets", "translate", "--help"]);
    for how in [
        "exact",
        "conservative",
        "checkpoint",
        "timestamp",
        "untranslatable",
    ] {
        assert!(out.contains(how), "translate --help explains {how}:\n{out}");
    }
}

/// `strait offsets` with the source cluster unreachable: checkpoints (here written the way
/// Java MM2 writes them) are translated, a partition without one falls back to
/// `--to-datetime` (ListOffsets by timestamp), and `apply` refuses a group with an active
/// member on the target.
async fn apply_rules_with_the_source_down(kind: BrokerKind) {
    let node = start_node(kind).await;
    let backup = connect("backup", &node.bootstrap()).await;
    // The source is down for good: nothing listens there.
    let config = node.runtime_dir().join("mm2.properties");
    std::fs::write(
        &config,
        format!(
            "clusters = primary, backup\nprimary.bootstrap.servers = 127.0.0.1:1\n\
             backup.bootstrap.servers = {}\nprimary->backup.enabled = true\n",
            node.bootstrap()
        ),
    )
    .unwrap();
    let remote = "primary.orders";
    create_topic(&backup, remote, 2).await;
    // Two batches per partition, one hour apart (2026-01-01 00:00 and 01:00 UTC).
    let producer = Producer::idempotent(&backup).await.unwrap();
    for (b, ts) in [(0u64, 1_767_225_600_000i64), (1, 1_767_229_200_000)] {
        for p in 0..2 {
            let records: Vec<Record> = (0..BATCH)
                .map(|i| record(ts, Some(Bytes::from((b * BATCH + i).to_string())), None))
                .collect();
            produce(&producer, remote, p, Compression::None, &records).await;
        }
    }
    // A checkpoint for partition 0 only.
    let writer = strait_mirror::checkpoint::CheckpointWriter::open(
        &backup,
        "primary.checkpoints.internal",
        1,
    )
    .await
    .unwrap();
    let checkpoint = strait_mirror::formats::Checkpoint {
        group: "app".to_owned(),
        topic: remote.to_owned(),
        partition: 0,
        upstream_offset: 30,
        downstream_offset: 10,
        metadata: String::new(),
    };
    writer.write(&[checkpoint], now_ms()).await.unwrap();

    let translate = [
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->backup",
        "--group",
        "app",
    ];
    let (code, out, err) = STRAIT.run(&translate);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("source cluster primary unreachable") && err.contains("precision unknown"),
        "the offset syncs live on the source: one note says why HOW is `checkpoint`:\n{err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("GROUP") && lines[0].contains("HOW"),
        "{out}"
    );
    assert!(
        lines[1]
            .split_whitespace()
            .eq(["app", remote, "0", "30", "10", "checkpoint", "-"]),
        "{out}"
    );
    assert!(
        lines[2]
            .split_whitespace()
            .eq(["app", remote, "1", "-", "-", "untranslatable", "-"]),
        "{out}"
    );

    // A source that accepts connections but never answers (a hung broker, a black-holed
    // network) is given 5 s, not the 30 s a cluster operation gets: the same rows, and a note
    // that names the 5 s bound (so the 30 s path was not the one taken).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_config = node.runtime_dir().join("mm2-silent-source.properties");
    std::fs::write(
        &silent_config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("127.0.0.1:1", &silent.local_addr().unwrap().to_string()),
    )
    .unwrap();
    let (code, silent_out, err) = STRAIT.run(
        &translate
            .iter()
            .map(|a| {
                if *a == path(&config) {
                    path(&silent_config)
                } else {
                    a
                }
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(0), "{silent_out}{err}");
    assert_eq!(silent_out, out);
    assert!(err.contains("unreachable (no answer within 5s)"), "{err}");
    drop(silent);

    // A regex selects the same group (whole-id match, like `groups`).
    let (code, by_regex, err) = STRAIT.run(&[
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->backup",
        "--group-regex",
        "a.p",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(by_regex, out);
    let (code, _, err) = STRAIT.run(&[
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->backup",
        "--group-regex",
        "ap",
    ]);
    assert_eq!(code, Some(1), "a partial match selects nothing");
    assert!(err.contains("no checkpoints for groups matching"), "{err}");

    let by_time = [
        &translate[..],
        &["--to-datetime", "2026-01-01T00:30:00Z", "--json"],
    ]
    .concat();
    let (code, out, err) = STRAIT.run(&by_time);
    assert_eq!(code, Some(0), "{out}{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[1]["how"], "timestamp");
    assert_eq!(
        rows[1]["target_offset"], 10,
        "the first record at or after 00:30 is the second batch"
    );

    let apply = [&by_time[..], &["--execute"]].concat();
    let apply: Vec<&str> = apply
        .iter()
        .map(|a| if *a == "translate" { "apply" } else { a })
        .collect();
    let (code, out, err) = STRAIT.run(&apply);
    assert_eq!(code, Some(0), "{out}{err}");
    let committed = backup.fetch_offsets("app", None).await.unwrap();
    let offsets: Vec<i64> = (0..2)
        .map(|p| committed[&(remote.to_owned(), p)].offset)
        .collect();
    assert_eq!(offsets, [10, 10]);

    // An application joins the group on the target: apply refuses and commits nothing.
    backup
        .join_group("app", Duration::from_secs(60))
        .await
        .expect("join group");
    let (code, out, err) = STRAIT.run(&apply);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("refusing") && err.contains("app (Stable with 1 members)"),
        "{err}"
    );

    // A flow that is not in the file is named with the ones that are.
    let (code, _, err) = STRAIT.run(&[
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->nowhere",
        "--group",
        "app",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no flow primary->nowhere") && err.contains("primary->backup"),
        "{err}"
    );
}
