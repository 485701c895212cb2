//! The testkit against the real, installed brokers (`STRAIT_TEST_BROKERS` picks which).

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use strait_testkit::{
    ensure_installed, ensure_installed_in, kinds_under_test, probe, start_clusters, BrokerKind,
    TestCluster, TestkitError, INSTALL_MARKER, PINNED_PACKAGES,
};

/// Asserts the broker answers ApiVersions + Metadata and advertises exactly its bootstrap address.
fn assert_answers(cluster: &TestCluster) {
    let brokers = probe(&cluster.bootstrap())
        .unwrap_or_else(|e| panic!("{} should answer: {e}", cluster.bootstrap()));
    assert!(
        brokers
            .iter()
            .any(|b| b.host == "127.0.0.1" && b.port == i32::from(cluster.port())),
        "{} advertises {brokers:?}",
        cluster.bootstrap()
    );
}

/// Waits up to 5 s for `port` to refuse connections.
fn assert_refuses(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "127.0.0.1:{port} still accepts connections"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_clusters_stop_and_restart() {
    for kind in kinds_under_test() {
        let mut clusters = start_clusters(kind, 2).expect("start two clusters");
        assert_eq!(clusters.len(), 2);
        assert_ne!(clusters[0].port(), clusters[1].port());
        for cluster in &clusters {
            assert_eq!(cluster.kind(), kind);
            assert_eq!(cluster.bootstrap(), format!("127.0.0.1:{}", cluster.port()));
            assert_answers(cluster);
        }

        let port = clusters[0].port();
        clusters[0].stop();
        assert_refuses(port);
        clusters[0].stop(); // idempotent
        assert_answers(&clusters[1]);

        clusters[0].restart().expect("restart");
        assert_eq!(clusters[0].port(), port);
        assert_answers(&clusters[0]);

        let logs = clusters[0].logs();
        let banner = match kind {
            BrokerKind::Noida => "noida-db 0.2.3",
            BrokerKind::Tansu => "tansu broker 0.6.0",
            BrokerKind::Kafka => "Kafka Server started",
        };
        assert_eq!(logs.matches(banner).count(), 2, "{kind} logs:\n{logs}");
    }
}

#[test]
fn drop_kills_the_broker() {
    for kind in kinds_under_test() {
        let cluster = TestCluster::start(kind).expect("start");
        let port = cluster.port();
        let runtime_dir = cluster.runtime_dir().to_owned();
        assert_answers(&cluster);
        drop(cluster);
        assert_refuses(port);
        assert!(
            !runtime_dir.exists(),
            "{} should be removed",
            runtime_dir.display()
        );
    }
}

#[test]
fn panicking_test_keeps_the_runtime_dir() {
    let kind = kinds_under_test()[0];
    let cluster = TestCluster::start(kind).expect("start");
    let port = cluster.port();
    let runtime_dir = cluster.runtime_dir().to_owned();
    let cluster = std::panic::AssertUnwindSafe(cluster);
    let result = std::panic::catch_unwind(move || {
        let _cluster = cluster;
        panic!("intentional panic: the {kind} broker logs should be printed below");
    });
    assert!(result.is_err());
    assert_refuses(port);
    let log = match kind {
        BrokerKind::Kafka => runtime_dir.join("node-1").join("broker.log"),
        _ => runtime_dir.join("broker.log"),
    };
    assert!(log.is_file(), "kept at {}", runtime_dir.display());
    std::fs::remove_dir_all(&runtime_dir).unwrap();
}

#[test]
fn ensure_installed_reuses_the_install() {
    let dir = ensure_installed().expect("install");
    let marker = std::fs::read_to_string(dir.join(INSTALL_MARKER)).expect("marker");
    assert!(marker.contains(&PINNED_PACKAGES.join(" ")), "{marker}");
    let again = ensure_installed().expect("second install");
    assert_eq!(dir, again);
    assert_eq!(
        std::fs::read_to_string(dir.join(INSTALL_MARKER)).unwrap(),
        marker
    );
}

#[test]
fn missing_python_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let python = Path::new("/nonexistent/python3");
    let err = ensure_installed_in(dir.path(), python.as_os_str()).unwrap_err();
    assert!(matches!(err, TestkitError::PythonNotFound { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/python3") && msg.contains("STRAIT_PYTHON"),
        "{msg}"
    );
    assert!(!dir.path().join(INSTALL_MARKER).exists());
}

/// One raw request/response (request header v1) on a fresh connection; returns the response body.
fn raw_request(addr: &str, api_key: i16, api_version: i16, body: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut msg = Vec::new();
    msg.extend_from_slice(&api_key.to_be_bytes());
    msg.extend_from_slice(&api_version.to_be_bytes());
    msg.extend_from_slice(&42i32.to_be_bytes());
    msg.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    msg.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&(msg.len() as i32).to_be_bytes()).unwrap();
    stream.write_all(&msg).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut resp = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut resp).unwrap();
    assert_eq!(resp[..4], 42i32.to_be_bytes());
    resp
}

/// Whether a Metadata v1 (all topics) response from `addr` mentions `topic`.
fn lists_topic(addr: &str, topic: &str) -> bool {
    let resp = raw_request(addr, 3, 1, &(-1i32).to_be_bytes());
    resp.windows(topic.len()).any(|w| w == topic.as_bytes())
}

#[test]
fn restart_keeps_data_but_not_on_tansu() {
    for kind in kinds_under_test() {
        let mut cluster = TestCluster::start(kind).expect("start");
        let topic = "testkit-restart-topic";
        // CreateTopics v2: [name, partitions, replication factor, no assignments, no configs],
        // timeout_ms, validate_only.
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend_from_slice(&(topic.len() as i16).to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&5000i32.to_be_bytes());
        body.push(0);
        raw_request(&cluster.bootstrap(), 19, 2, &body);
        assert!(
            lists_topic(&cluster.bootstrap(), topic),
            "{kind}: topic not created"
        );

        cluster.stop();
        cluster.restart().expect("restart");
        let kept = lists_topic(&cluster.bootstrap(), topic);
        assert_eq!(
            kept,
            kind != BrokerKind::Tansu,
            "{kind}: topic kept across restart"
        );
    }
}
