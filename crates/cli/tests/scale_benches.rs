//! `strait bench --wide` (on Apache Kafka and tansu), `--outage` and plain `strait bench --on
//! kafka` end to end, small: a wide topic and a topic created meanwhile arrive whole with
//! strait's counters agreeing; a target stopped mid-run comes back and ends up holding every
//! record, in both runs; pass-through forwards and re-encode re-encodes every batch; `--latency`
//! sees every measured record arrive through strait and through the Java client's loop.

mod run_support;

use run_support::*;

#[test]
fn wide_bench_mirrors_every_partition_and_a_new_topic() {
    wide_bench_on(strait_testkit::BrokerKind::Kafka);
}

/// tansu's ListOffsets does not answer the log end: the bench reads the target back instead.
#[test]
fn wide_bench_on_tansu_judges_by_reading() {
    wide_bench_on(strait_testkit::BrokerKind::Tansu);
}

fn wide_bench_on(kind: strait_testkit::BrokerKind) {
    if !strait_testkit::selected(kind) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--wide",
        "300",
        "--on",
        &kind.to_string(),
        "--record-bytes",
        "200",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    for expected in [
        "catch-up: 3000 records in ",
        "all 300 partitions",
        "strait's counters: 3000 records; read back from the target: 3000 records (agree)",
        "a new topic created while mirroring arrived on the target in ",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
}

#[test]
fn outage_bench_recovers_every_record() {
    if !strait_testkit::selected(strait_testkit::BrokerKind::Kafka) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--outage",
        "3",
        "--partitions",
        "4",
        "--records-per-partition",
        "20000",
        "--record-bytes",
        "200",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() == 7 && cells.iter().all(|c| c.parse::<f64>().is_ok())
        })
        .collect();
    assert_eq!(rows.len(), 2, "two runs:\n{text}");
    for row in rows {
        assert!(
            row.trim_end().ends_with(" 80000"),
            "the target holds all 80000 records after the outage: {row}\n{text}"
        );
    }
}

/// Plain `strait bench` on Apache Kafka: every record mirrored in both runs, the first
/// forwarding every batch untouched, the second re-encoding every one.
#[test]
fn reencode_bench_on_kafka_forwards_then_reencodes_every_batch() {
    if !strait_testkit::selected(strait_testkit::BrokerKind::Kafka) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--on",
        "kafka",
        "--codec",
        "lz4",
        "--partitions",
        "4",
        "--records-per-partition",
        "2000",
        "--record-bytes",
        "200",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    assert!(
        text.contains("strait bench results on Apache Kafka"),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first() == Some(&"lz4") && cells.len() == 14)
        .collect();
    assert_eq!(rows.len(), 2, "two runs:\n{text}");
    for (row, mode) in rows.iter().zip(["pass-through", "re-encode"]) {
        assert_eq!(row[1], mode, "{row:?}");
        assert_eq!(row[2], "8000", "every record mirrored: {row:?}");
        let (forwarded, reencoded) = row[13].split_once('/').expect("fwd/re");
        let (forwarded, reencoded): (u64, u64) =
            (forwarded.parse().unwrap(), reencoded.parse().unwrap());
        match mode {
            "pass-through" => assert!(forwarded > 0 && reencoded == 0, "{row:?}"),
            _ => assert!(forwarded == 0 && reencoded > 0, "{row:?}"),
        }
    }
}

/// `strait bench --latency` on Apache Kafka: every record the floor's reader saw after the
/// warm-up also arrived on the target's own hop, through strait and through the Java client's
/// poll->send loop.
#[test]
fn latency_bench_sees_every_record_through_both_mirrors() {
    if !strait_testkit::selected(strait_testkit::BrokerKind::Kafka) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--latency",
        "200",
        "--partitions",
        "4",
        "--record-bytes",
        "100",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    let records = |path: &str| -> u64 {
        let row = text
            .lines()
            .find_map(|l| l.strip_prefix(path))
            .unwrap_or_else(|| panic!("a row {path:?} in:\n{text}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(cells.len() >= 4, "records, p50, p99, max: {row}\n{text}");
        cells[0].parse().expect("a record count")
    };
    let floor = records("floor: producer -> source reader");
    // 20 measured seconds at 200 records/s.
    assert!(floor >= 3_000, "{floor} records measured:\n{text}");
    assert_eq!(
        records("target hop: producer -> target reader"),
        floor,
        "{text}"
    );
    assert_eq!(records("two hops, nothing between (sum)"), floor, "{text}");
    assert_eq!(
        records("strait: producer -> target reader"),
        floor,
        "{text}"
    );
    assert_eq!(
        records("Java poll->send loop: -> target reader"),
        floor,
        "{text}"
    );
    assert_eq!(records("added by strait"), floor, "{text}");
    assert!(
        text.contains("p99 through strait / p99 through the Java loop: "),
        "{text}"
    );
    assert!(
        text.contains("p99 through strait / p99 of two hops: "),
        "{text}"
    );
}
