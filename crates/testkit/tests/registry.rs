//! The schema registry of the test bed against the real thing: Apicurio Registry built from
//! Maven Central, its Confluent-compatible API, two instances side by side.

use std::time::Instant;

use strait_testkit::{ensure_registry_installed, http, SchemaRegistry, REGISTRY_MARKER};

#[test]
fn install_is_reused() {
    let dir = ensure_registry_installed().expect("install Apicurio Registry");
    let marker = dir.join(REGISTRY_MARKER);
    let text = std::fs::read_to_string(&marker).expect("marker");
    assert!(text.contains("fingerprint="), "{text}");
    assert!(dir
        .join("target")
        .join("quarkus-app")
        .join("quarkus-run.jar")
        .is_file());
    let stamp = || {
        std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .unwrap()
    };
    let before = stamp();
    assert_eq!(ensure_registry_installed().unwrap(), dir);
    assert_eq!(stamp(), before, "the second call rewrote the marker");
}

#[test]
fn two_registries_keep_their_own_subjects() {
    let started = Instant::now();
    let (one, two) = std::thread::scope(|s| {
        let one = s.spawn(SchemaRegistry::start);
        let two = s.spawn(SchemaRegistry::start);
        (
            one.join().unwrap().expect("start registry one"),
            two.join().unwrap().expect("start registry two"),
        )
    });
    eprintln!("two registries ready in {:?}", started.elapsed());
    assert_ne!(one.url(), two.url());
    assert!(one.url().starts_with("http://127.0.0.1:"), "{}", one.url());
    assert!(one.url().ends_with("/apis/ccompat/v7"), "{}", one.url());

    let (status, body) = http(
        "POST",
        &format!("{}/subjects/t-value/versions", one.url()),
        Some(r#"{"schema":"{\"type\":\"string\"}"}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""id":"#), "{body}");

    assert_eq!(
        http("GET", &format!("{}/subjects", one.url()), None).unwrap(),
        (200, r#"["t-value"]"#.to_owned())
    );
    assert_eq!(
        http("GET", &format!("{}/subjects", two.url()), None).unwrap(),
        (200, "[]".to_owned())
    );
    let (status, body) = http(
        "GET",
        &format!("{}/subjects/t-value/versions/latest/schema", one.url()),
        None,
    )
    .unwrap();
    // Apicurio returns the schema as registered (Confluent: its canonical form, `"string"`).
    assert_eq!((status, body.as_str()), (200, r#"{"type":"string"}"#));
    assert!(one.logs().contains(r#"action="register" result="success""#));

    let url = one.url();
    one.stop();
    assert!(http("GET", &format!("{url}/subjects"), None).is_err());
    drop(two);
}
