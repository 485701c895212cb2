//! `strait bench --wide` (on Apache Kafka and tansu) and `--outage` (on Apache Kafka) end to
//! end, small: a wide topic and a
//! topic created meanwhile arrive whole with strait's counters agreeing; a target stopped
//! mid-run comes back and ends up holding every record, in both runs.

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
