//! `strait schemas sync` as an operator runs it, against two real registries (Apicurio Registry
//! 2.4.2 from the testkit): the report in text and JSON, and the exit status.

use serde_json::{json, Value};
use strait_fixtures::StraitBin;
use strait_testkit::{http, SchemaRegistry};

const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));

fn register(registry: &SchemaRegistry, subject: &str, record: &str) -> i64 {
    let schema =
        json!({"type": "record", "name": record, "fields": [{"name": "id", "type": "long"}]});
    let body = json!({ "schema": schema.to_string() }).to_string();
    let url = format!("{}/subjects/{subject}/versions", registry.url());
    let (status, text) = http("POST", &url, Some(&body)).expect("registry answers");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// An mm2.properties syncing `east`'s registry to `west`'s (brokers are never contacted).
fn config(dir: &tempfile::TempDir, source: &SchemaRegistry, target: &SchemaRegistry) -> String {
    let path = dir.path().join("mm2.properties");
    std::fs::write(
        &path,
        format!(
            "clusters = east, west\neast.bootstrap.servers = 127.0.0.1:1\n\
             west.bootstrap.servers = 127.0.0.1:2\neast->west.enabled = true\n\
             east.schema.registry.url = {}\nwest.schema.registry.url = {}\n\
             east->west.strait.schemas.sync.enabled = true\n",
            source.url(),
            target.url()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_pass_reports_what_it_copied_and_the_ids_the_target_gave() {
    let (source, target) = (
        SchemaRegistry::start().unwrap(),
        SchemaRegistry::start().unwrap(),
    );
    register(&source, "orders-value", "Order");
    register(&target, "audit-value", "Audit");
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &source, &target);

    let (code, out, err) = STRAIT.run(&["schemas", "sync", &config]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "east->west: registry of cluster east",
        "subjects 1, versions in sync 0, registered now 1",
        "schema ids: given by the target (it is not in IMPORT mode)",
        "orders-value version 1: source id 1 -> target id 2 (version 1)",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    let (code, out, _) = STRAIT.run(&["schemas", "sync", &config, "--flow", "east->west"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("versions in sync 1, registered now 0"),
        "{out}"
    );
}

#[test]
fn a_conflict_exits_2_and_shows_in_json() {
    let (source, target) = (
        SchemaRegistry::start().unwrap(),
        SchemaRegistry::start().unwrap(),
    );
    register(&source, "users-value", "User");
    register(&target, "users-value", "Account");
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &source, &target);

    let (code, out, err) = STRAIT.run(&["schemas", "sync", &config, "--json"]);
    assert_eq!(code, Some(2), "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["flow"], "east->west");
    let conflicts = report["report"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{report}");
    assert_eq!(conflicts[0]["subject"], "users-value");
    assert_eq!(conflicts[0]["version"], 1);
    assert_eq!(report["report"]["registered"], 0);
}

#[test]
fn a_flow_without_schema_sync_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mm2.properties");
    std::fs::write(
        &path,
        "clusters = east, west\neast.bootstrap.servers = 127.0.0.1:1\n\
         west.bootstrap.servers = 127.0.0.1:2\neast->west.enabled = true\n",
    )
    .unwrap();
    let config = path.display().to_string();
    let (code, _, err) = STRAIT.run(&["schemas", "sync", &config]);
    assert_eq!(code, Some(1));
    assert!(err.contains("strait.schemas.sync.enabled"), "{err}");
    let (code, _, err) = STRAIT.run(&["schemas", "sync", &config, "--flow", "east->west"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("flow east->west does not sync schemas"),
        "{err}"
    );
}
