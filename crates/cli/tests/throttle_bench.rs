//! `strait bench --throttle` end to end on Apache Kafka: the runs alone and side by side
//! complete, and the figures the limit is judged by are printed.

mod run_support;

use run_support::*;

#[test]
fn bench_shows_the_throttled_and_the_free_flow() {
    if !strait_testkit::selected(strait_testkit::BrokerKind::Kafka) {
        return;
    }
    let (code, stdout, stderr) = STRAIT.run(&[
        "bench",
        "--throttle",
        "300000",
        "--partitions",
        "2",
        "--records-per-partition",
        "5000",
        "--record-bytes",
        "200",
    ]);
    let text = stdout + &stderr;
    assert_eq!(code, Some(0), "strait bench failed:\n{text}");
    for row in [
        "free alone",
        "free beside the twin",
        "limited",
        "free beside the limited",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "a row for {row}:\n{text}"
        );
    }
    assert!(
        text.contains("limited flow beyond its 1 s burst: "),
        "the limited flow was paced:\n{text}"
    );
    assert!(
        text.contains("free flow against its rate alone: beside the unlimited twin "),
        "{text}"
    );
}
