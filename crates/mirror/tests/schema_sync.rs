//! Schema Registry sync against two real registries (Apicurio Registry 2.4.2, its Confluent
//! API, built by the testkit from Maven Central): subjects, versions and compatibility levels
//! arrive, conflicts are reported and never overwritten, renumbered ids are reported with the
//! ids that resolve to the same schema on the target; and a running flow syncs by itself.

use std::time::Duration;

use serde_json::{json, Value};
use strait_mirror::config::{parse_str, SchemaSyncSettings};
use strait_mirror::schemas::{SchemaReport, SchemaSync};
use strait_testkit::{http, SchemaRegistry};

fn call(registry: &SchemaRegistry, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", registry.url());
    let body = body.map(|b| b.to_string());
    let (status, text) = http(method, &url, body.as_deref()).expect("registry answers");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn ok(registry: &SchemaRegistry, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, value) = call(registry, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}

fn register(registry: &SchemaRegistry, subject: &str, schema: Value) -> i64 {
    let path = format!("/subjects/{subject}/versions");
    ok(registry, "POST", &path, Some(schema))["id"]
        .as_i64()
        .expect("an id")
}

fn avro(name: &str, fields: Value) -> Value {
    let schema = json!({"type": "record", "name": name, "namespace": "shop", "fields": fields});
    json!({ "schema": schema.to_string() })
}

fn set_level(registry: &SchemaRegistry, subject: Option<&str>, level: &str) {
    let path = subject.map_or("/config".to_owned(), |s| format!("/config/{s}"));
    ok(
        registry,
        "PUT",
        &path,
        Some(json!({ "compatibility": level })),
    );
}

fn level(registry: &SchemaRegistry, subject: Option<&str>) -> String {
    let path = subject.map_or("/config".to_owned(), |s| format!("/config/{s}"));
    ok(registry, "GET", &path, None)["compatibilityLevel"]
        .as_str()
        .expect("a level")
        .to_owned()
}

fn subjects(registry: &SchemaRegistry) -> Vec<String> {
    let mut list: Vec<String> =
        serde_json::from_value(ok(registry, "GET", "/subjects", None)).expect("a subject list");
    list.sort();
    list
}

fn versions(registry: &SchemaRegistry, subject: &str) -> Vec<i64> {
    let path = format!("/subjects/{subject}/versions");
    serde_json::from_value(ok(registry, "GET", &path, None)).expect("a version list")
}

/// (schema text, type) of a subject's version.
fn schema_of(registry: &SchemaRegistry, subject: &str, version: i64) -> (String, Option<String>) {
    let v = ok(
        registry,
        "GET",
        &format!("/subjects/{subject}/versions/{version}"),
        None,
    );
    (
        v["schema"].as_str().expect("schema text").to_owned(),
        v["schemaType"].as_str().map(str::to_owned),
    )
}

fn schema_by_id(registry: &SchemaRegistry, id: i64) -> String {
    ok(registry, "GET", &format!("/schemas/ids/{id}"), None)["schema"]
        .as_str()
        .expect("schema text")
        .to_owned()
}

fn settings(source: &SchemaRegistry, target: &SchemaRegistry, extra: &str) -> SchemaSyncSettings {
    let text = format!(
        "clusters = east, west\neast.bootstrap.servers = 127.0.0.1:1\n\
         west.bootstrap.servers = 127.0.0.1:2\neast->west.enabled = true\n\
         east.schema.registry.url = {}\nwest.schema.registry.url = {}\n\
         strait.schemas.sync.enabled = true\n{extra}",
        source.url(),
        target.url()
    );
    let config = parse_str(&text).expect("valid config");
    config.flows[0].schema_sync.clone().expect("schema sync on")
}

async fn pass(sync: &SchemaSync) -> SchemaReport {
    let report = sync.pass().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

fn order_fields(extra: bool) -> Value {
    let mut fields = vec![json!({"name": "id", "type": "long"})];
    if extra {
        fields.push(json!({"name": "note", "type": "string", "default": ""}));
    }
    Value::Array(fields)
}

#[tokio::test]
async fn subjects_versions_and_levels_arrive_and_ids_are_mapped() {
    let (source, target) = (
        SchemaRegistry::start().expect("source registry"),
        SchemaRegistry::start().expect("target registry"),
    );
    set_level(&source, None, "BACKWARD");
    register(&source, "orders-value", avro("Order", order_fields(false)));
    register(&source, "orders-value", avro("Order", order_fields(true)));
    set_level(&source, Some("orders-value"), "FULL");
    let json_schema = json!({"type": "object", "properties": {"sku": {"type": "string"}}});
    register(
        &source,
        "stock-value",
        json!({"schemaType": "JSON", "schema": json_schema.to_string()}),
    );
    // prices-value imports a schema of a subject sorting after it: synced first all the same.
    register(
        &source,
        "zz-money",
        json!({"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";\npackage money;\nmessage Cents { int64 value = 1; }\n"}),
    );
    register(
        &source,
        "prices-value",
        json!({
            "schemaType": "PROTOBUF",
            "schema": "syntax = \"proto3\";\nimport \"money.proto\";\nmessage Price { string sku = 1; money.Cents cents = 2; }\n",
            "references": [{"name": "money.proto", "subject": "zz-money", "version": 1}],
        }),
    );
    register(
        &source,
        "scratch-test",
        avro("Scratch", order_fields(false)),
    );
    // The target's own schemas take its first two ids: every id the sync registers there
    // differs from the source's (both registries give ids in order).
    register(&target, "audit-value", avro("Audit", order_fields(false)));
    register(&target, "audit-value", avro("Audit", order_fields(true)));

    let sync = SchemaSync::new(
        "east->west",
        &settings(
            &source,
            &target,
            "strait.schemas.subjects.exclude = .*-test\n",
        ),
    )
    .expect("registries");
    let first = pass(&sync).await;
    assert_eq!(
        (first.subjects, first.registered, first.in_sync),
        (4, 5, 0),
        "{first:?}"
    );
    assert!(first.conflicts.is_empty(), "{:?}", first.conflicts);
    assert!(!first.ids_kept, "Apicurio 2.4 has no IMPORT mode");

    assert_eq!(
        subjects(&target),
        [
            "audit-value",
            "orders-value",
            "prices-value",
            "stock-value",
            "zz-money"
        ]
    );
    for subject in ["orders-value", "prices-value", "stock-value", "zz-money"] {
        assert_eq!(
            versions(&target, subject),
            versions(&source, subject),
            "{subject}"
        );
        for v in versions(&source, subject) {
            assert_eq!(
                schema_of(&target, subject, v),
                schema_of(&source, subject, v),
                "{subject} version {v}"
            );
        }
    }
    assert_eq!(level(&target, None), "BACKWARD");
    assert_eq!(level(&target, Some("orders-value")), "FULL");

    // Every version is renumbered (the target's id 1 was taken), and each reported target id
    // resolves on the target to the schema the source id names on the source.
    assert_eq!(first.renumbered_count(), 5, "{:?}", first.renumbered);
    let target_id = |subject: &str| first.renumbered[subject][0].target.id;
    assert!(
        target_id("zz-money") < target_id("prices-value"),
        "the referenced subject is registered first: {:?}",
        first.renumbered
    );
    let prices = ok(&target, "GET", "/subjects/prices-value/versions/1", None);
    assert_eq!(
        prices["references"],
        json!([{"name": "money.proto", "subject": "zz-money", "version": 1}])
    );
    for (subject, renumbered) in &first.renumbered {
        for r in renumbered {
            assert_ne!(r.target.id, r.source_id, "{subject} {r:?}");
            assert_eq!(r.target.version, r.version, "{subject} {r:?}");
            assert_eq!(
                schema_by_id(&target, r.target.id),
                schema_by_id(&source, r.source_id),
                "{subject} {r:?}"
            );
        }
    }

    let again = pass(&sync).await;
    assert_eq!(
        (again.registered, again.configs_set, again.in_sync),
        (0, 0, 5),
        "a second pass changes nothing: {again:?}"
    );
    assert_eq!(again.renumbered, first.renumbered);

    // A new version and a changed level on the source follow at the next pass.
    let mut third = order_fields(true);
    third
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "qty", "type": "int", "default": 1}));
    register(&source, "orders-value", avro("Order", third));
    set_level(&source, Some("orders-value"), "FULL_TRANSITIVE");
    let next = pass(&sync).await;
    assert_eq!((next.registered, next.configs_set), (1, 1), "{next:?}");
    assert_eq!(versions(&target, "orders-value"), [1, 2, 3]);
    assert_eq!(level(&target, Some("orders-value")), "FULL_TRANSITIVE");
}

#[tokio::test]
async fn conflicts_are_reported_and_never_overwritten() {
    let (source, target) = (
        SchemaRegistry::start().expect("source registry"),
        SchemaRegistry::start().expect("target registry"),
    );
    // users-value: the target registered its own version 1.
    register(&source, "users-value", avro("User", order_fields(false)));
    register(&source, "users-value", avro("User", order_fields(true)));
    let theirs = avro("Account", order_fields(false));
    register(&target, "users-value", theirs.clone());
    // payments-value: the source's history predates its current rule; the target, holding
    // version 1 under the same rule, refuses version 2.
    let p1 = avro("Payment", order_fields(false));
    let p2 = avro(
        "Payment",
        json!([{"name": "id", "type": "long"}, {"name": "currency", "type": "string"}]),
    );
    register(&source, "payments-value", p1.clone());
    register(&source, "payments-value", p2);
    set_level(&source, Some("payments-value"), "BACKWARD");
    register(&target, "payments-value", p1);
    set_level(&target, Some("payments-value"), "BACKWARD");

    let sync = SchemaSync::new("east->west", &settings(&source, &target, "")).expect("registries");
    for round in 0..2 {
        let report = pass(&sync).await;
        let found: Vec<(String, i32, bool)> = report
            .conflicts
            .iter()
            .map(|c| {
                (
                    c.subject.clone(),
                    c.version,
                    c.reason.contains("incompatible"),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("payments-value".to_owned(), 2, true),
                ("users-value".to_owned(), 1, false)
            ],
            "round {round}: {:?}",
            report.conflicts
        );
        assert_eq!((report.registered, report.in_sync), (0, 1), "{report:?}");
        assert_eq!(report.target_only, 1, "users-value's own version 1");
    }
    assert_eq!(
        versions(&target, "users-value"),
        [1],
        "nothing added after the conflict"
    );
    assert_eq!(
        schema_of(&target, "users-value", 1).0,
        theirs["schema"].as_str().unwrap(),
        "the target's version 1 is untouched"
    );
    assert_eq!(versions(&target, "payments-value"), [1]);
}

#[tokio::test]
async fn an_unreachable_registry_fails_the_pass_and_names_it() {
    let target = SchemaRegistry::start().expect("target registry");
    let source_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        "clusters = east, west\neast.bootstrap.servers = 127.0.0.1:1\n\
         west.bootstrap.servers = 127.0.0.1:2\neast->west.enabled = true\n\
         east.schema.registry.url = http://127.0.0.1:{source_port}/apis/ccompat/v7\n\
         west.schema.registry.url = {}\nstrait.schemas.sync.enabled = true\n",
        target.url()
    );
    let settings = parse_str(&text).unwrap().flows[0]
        .schema_sync
        .clone()
        .unwrap();
    let sync = SchemaSync::new("east->west", &settings).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), sync.pass())
        .await
        .expect("a pass ends");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    let failure = &report.failures[0];
    assert!(
        failure.contains("registry of cluster east") && failure.contains(&source_port.to_string()),
        "{failure}"
    );
    assert_eq!(report.registered, 0);
}

/// A flow with `strait.schemas.sync.enabled` syncs by itself, every interval, and counts what
/// it did in its metrics (`strait_sync_actions_total{kind="schema"}`, the standing gauges).
#[tokio::test]
async fn a_running_flow_syncs_its_registries() {
    use strait_fixtures::{eventually, flow_stats, shutdown, start_mirror, Pair};
    use strait_mirror::metrics::{render, PartitionLabels};

    let (source, target) = (
        SchemaRegistry::start().expect("source registry"),
        SchemaRegistry::start().expect("target registry"),
    );
    register(&source, "orders-value", avro("Order", order_fields(false)));
    register(&target, "orders-value", avro("Order", order_fields(false)));
    register(&source, "users-value", avro("User", order_fields(false)));
    register(&target, "users-value", avro("Account", order_fields(false)));
    let pair = Pair::start(strait_testkit::BrokerKind::Kafka).await;
    let properties = pair.properties(&format!(
        "backup->primary.enabled = false\n\
         primary.schema.registry.url = {}\nbackup.schema.registry.url = {}\n\
         primary->backup.strait.schemas.sync.enabled = true\n\
         strait.schemas.sync.interval.seconds = 1\n",
        source.url(),
        target.url()
    ));
    let mirror = start_mirror(&properties);

    register(&source, "orders-value", avro("Order", order_fields(true)));
    let (source, target) = (&source, &target);
    eventually("orders-value version 2 on the target", || async move {
        let found = versions(target, "orders-value");
        if found == [1, 2] {
            Ok(())
        } else {
            Err(format!("versions {found:?}"))
        }
    })
    .await;
    assert_eq!(
        schema_of(target, "orders-value", 2),
        schema_of(source, "orders-value", 2)
    );
    let text = eventually("schema metrics", || async {
        let text = render(mirror.flows(), PartitionLabels::Partition);
        let wanted = [
            "strait_sync_actions_total{source=\"primary\",target=\"backup\",kind=\"schema\"} 1",
            "strait_schema_conflicts{source=\"primary\",target=\"backup\"} 1",
            // Both registries gave ids in the same order: orders 1, users 2, orders v2 3.
            "strait_schema_renumbered{source=\"primary\",target=\"backup\"} 0",
        ];
        match wanted.iter().find(|w| !text.contains(*w)) {
            None => Ok(text),
            Some(missing) => Err(format!("no `{missing}` in\n{text}")),
        }
    })
    .await;
    assert!(
        !text.contains("strait_schema_conflicts{source=\"backup\""),
        "no schema gauges for a flow without schema sync"
    );
    assert_eq!(flow_stats(&mirror, "primary->backup").schemas_synced, 1);
    assert_eq!(versions(target, "users-value"), [1], "the conflict stays");
    shutdown(mirror).await;
}
