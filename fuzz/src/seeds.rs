//! The committed seed corpus, generated: `cargo run --example gen_corpus` writes it to
//! `corpus/<target>/`. Small valid inputs of every kind, framed as the targets expect.

use bytes::{BufMut, Bytes, BytesMut};
use strait_kafka::batch::legacy_builder::{self, entry, message};
use strait_kafka::batch::{
    BatchBuilder, Compression, Header, ProducerFields, Record, TimestampType,
};
use strait_mirror::formats::{
    encode_offset_value, Checkpoint, ConnectOffsetKey, Heartbeat, OffsetSync,
};

use crate::{op, TXN_PRODUCER_ID};

/// One named seed.
pub type Seed = (String, Vec<u8>);

/// Every target's seeds.
pub fn all() -> Vec<(&'static str, Vec<Seed>)> {
    vec![
        ("batches", batches()),
        ("forward", forward()),
        ("mm2_formats", mm2_formats()),
    ]
}

fn b(s: &[u8]) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s))
}

/// Three records: key and value, duplicate / non-UTF-8 / null-valued headers, a tombstone.
fn records(offsets: [i64; 3]) -> Vec<Record> {
    vec![
        Record {
            offset: offsets[0],
            timestamp: 1_700_000_000_000,
            key: b(b"k0"),
            value: b(b"v0"),
            headers: vec![],
        },
        Record {
            offset: offsets[1],
            timestamp: 1_700_000_000_005,
            key: None,
            value: b(b""),
            headers: vec![
                Header {
                    key: Bytes::from_static(b"dup"),
                    value: b(b"1"),
                },
                Header {
                    key: Bytes::from_static(b"dup"),
                    value: None,
                },
                Header {
                    key: Bytes::from_static(&[0xff, 0xc0]),
                    value: b(b""),
                },
            ],
        },
        Record {
            offset: offsets[2],
            timestamp: 1_699_999_999_000,
            key: b(b"k2"),
            value: None,
            headers: vec![],
        },
    ]
}

fn v2(base_offset: i64, offsets: [i64; 3], compression: Compression) -> Vec<u8> {
    BatchBuilder {
        base_offset,
        compression,
        records: records(offsets),
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap()
    .into_bytes()
    .to_vec()
}

/// A transactional batch of producer 7 (offsets from `base`, two records).
fn txn_batch(base: i64) -> Vec<u8> {
    BatchBuilder {
        base_offset: base,
        producer: ProducerFields {
            producer_id: TXN_PRODUCER_ID,
            producer_epoch: 0,
            base_sequence: 0,
            transactional: true,
        },
        records: records([base, base + 1, base + 2])[..2].to_vec(),
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap()
    .into_bytes()
    .to_vec()
}

/// A control batch of producer 7 holding one marker: `kind` 0 abort, 1 commit.
fn marker(offset: i64, kind: i16) -> Vec<u8> {
    let mut key = BytesMut::new();
    key.put_i16(0);
    key.put_i16(kind);
    let mut value = BytesMut::new();
    value.put_i16(0);
    value.put_i32(5); // coordinator epoch
    BatchBuilder {
        base_offset: offset,
        is_control: true,
        producer: ProducerFields {
            producer_id: TXN_PRODUCER_ID,
            producer_epoch: 0,
            base_sequence: -1,
            transactional: true,
        },
        records: vec![Record {
            offset,
            timestamp: 1_700_000_000_010,
            key: Some(key.freeze()),
            value: Some(value.freeze()),
            headers: vec![],
        }],
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap()
    .into_bytes()
    .to_vec()
}

/// Three uncompressed messages at `offsets` (relative for magic 1 wrappers, absolute for 0).
fn message_set(magic: i8, offsets: [i64; 3]) -> Vec<u8> {
    let mut set = entry(
        offsets[0],
        &message(magic, 0, 1_000, Some(b"k0"), Some(b"v0")),
    );
    set.extend(entry(
        offsets[1],
        &message(magic, 0, 3_000, None, Some(b"")),
    ));
    set.extend(entry(
        offsets[2],
        &message(magic, 0, 2_000, Some(b"k2"), None),
    ));
    set
}

/// A compressed legacy wrapper entry (codec id 1-3) holding `inner`.
fn wrapper(offset: i64, magic: i8, codec: u8, inner: &[u8]) -> Vec<u8> {
    let codec = Compression::from_id(codec.into()).expect("a legacy codec id");
    legacy_builder::wrapper(offset, magic, 0, 5_000, codec, inner)
}

fn framed(op: u8, fetch_offset: i8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![op, fetch_offset as u8];
    out.extend_from_slice(body);
    out
}

fn synth(op: u8, a: i8, b: i8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![op, 0, a as u8, b as u8];
    out.extend_from_slice(payload);
    out
}

/// Seeds of the `batches` target.
pub fn batches() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |name: &str, data: Vec<u8>| seeds.push((name.to_owned(), data));
    for codec in Compression::ALL {
        add(
            &format!("v2_{}", codec.name()),
            framed(op::RAW, 0, &v2(0, [0, 1, 2], codec)),
        );
    }
    let mut gaps = BatchBuilder {
        base_offset: 5,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
        records: records([5, 7, 10]),
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap()
    .into_bytes()
    .to_vec();
    add("v2_gaps_log_append_gzip", framed(op::RAW, 0, &gaps));
    // Transaction, abort marker, plain batch, then a truncated tail (cut by max_bytes).
    let mut buf = txn_batch(0);
    buf.extend(marker(2, 0));
    buf.extend(v2(3, [3, 4, 5], Compression::None));
    buf.extend(&v2(6, [6, 7, 8], Compression::Lz4)[..40]);
    add(
        "v2_txn_abort_marker_truncated_tail",
        framed(op::RAW, 0, &buf),
    );
    add(
        "v2_fetch_inside_batch",
        framed(op::RAW, 1, &v2(0, [0, 1, 2], Compression::Snappy)),
    );
    // A corrupted CRC, repaired by mode 1.
    let mut bad = v2(0, [0, 1, 2], Compression::Zstd);
    bad[17] ^= 0xff;
    gaps[52] ^= 0x01; // producer epoch
    bad.extend(&gaps);
    add("v2_repaired_crcs", framed(op::REPAIR, 0, &bad));

    add(
        "legacy_v0_plain",
        framed(
            op::RAW,
            0,
            &entry(0, &message(0, 0, -1, Some(b"k"), Some(b"v"))),
        ),
    );
    add(
        "legacy_v1_plain",
        framed(
            op::RAW,
            0,
            &entry(0, &message(1, 0, 1_000, None, Some(b"v"))),
        ),
    );
    for (codec, name) in [(1, "gzip"), (2, "snappy"), (3, "lz4")] {
        add(
            &format!("legacy_v1_{name}"),
            framed(
                op::RAW,
                0,
                &wrapper(12, 1, codec, &message_set(1, [0, 1, 2])),
            ),
        );
        add(
            &format!("legacy_v0_{name}"),
            framed(
                op::RAW,
                0,
                &wrapper(2, 0, codec, &message_set(0, [0, 1, 2])),
            ),
        );
    }
    let mut mixed = entry(0, &message(0, 0, -1, Some(b"k"), Some(b"v")));
    mixed.extend(v2(1, [1, 2, 3], Compression::Gzip));
    mixed.extend(wrapper(6, 1, 1, &message_set(1, [0, 1, 2])));
    add("mixed_legacy_and_v2", framed(op::RAW, 0, &mixed));

    // Synthetic v2 batches: an uncompressed records section, compressed by the harness.
    let section = &v2(0, [0, 1, 2], Compression::None)[61..];
    for codec in 0..5u8 {
        let name = Compression::from_id(i16::from(codec)).unwrap().name();
        add(
            &format!("synth_v2_{name}"),
            synth(op::V2 | op::codec(codec), 3, 0, section),
        );
    }
    add(
        "synth_v2_txn_log_append_gzip",
        synth(
            op::V2 | op::codec(1) | op::BIT5 | op::LOG_APPEND,
            3,
            0,
            section,
        ),
    );
    add(
        "synth_v2_control_marker",
        synth(op::V2 | op::CONTROL | op::BIT5, 1, 0, &marker(0, 0)[61..]),
    );
    // Synthetic legacy entries: an inner message set, compressed by the harness.
    // Codecs 1-3 only: zstd never existed for magic < 2 and is refused (op bits still reach it).
    for codec in 1..4u8 {
        let name = Compression::from_id(i16::from(codec)).unwrap().name();
        add(
            &format!("synth_legacy_v1_{name}"),
            synth(
                op::LEGACY | op::codec(codec) | op::BIT5,
                2,
                0,
                &message_set(1, [0, 1, 2]),
            ),
        );
        add(
            &format!("synth_legacy_v0_{name}"),
            synth(
                op::LEGACY | op::codec(codec),
                2,
                0,
                &message_set(0, [0, 1, 2]),
            ),
        );
    }
    add(
        "synth_legacy_v1_log_append_gzip",
        synth(
            op::LEGACY | op::codec(1) | op::BIT5 | op::LOG_APPEND,
            2,
            0,
            &message_set(1, [0, 1, 2]),
        ),
    );
    // The key and value fields: a magic 0 message after its crc, magic and attributes.
    let fields = message(0, 0, 0, Some(b"key"), Some(b"value"))[6..].to_vec();
    add(
        "synth_legacy_v1_plain",
        synth(op::LEGACY | op::BIT5, 0, 0, &fields),
    );
    seeds
}

/// Seeds of the `forward` target: a 3-byte prefix (flags, max batch bytes / 16, aborted first
/// offset) before a `batches` input.
pub fn forward() -> Vec<Seed> {
    let batches: std::collections::HashMap<String, Vec<u8>> = batches().into_iter().collect();
    let pick = [
        ("v2_none", [0, 0, 0]),
        ("v2_zstd", [1, 0, 0]), // forced re-encode
        ("v2_gzip", [0, 4, 0]), // larger than 64 bytes: split
        ("v2_gaps_log_append_gzip", [0, 0, 0]),
        ("v2_txn_abort_marker_truncated_tail", [2, 0, 0]), // producer 7 aborted from 0
        ("v2_fetch_inside_batch", [0, 0, 0]),
        ("legacy_v1_gzip", [0, 0, 0]),
        ("legacy_v0_lz4", [0, 0, 0]),
        ("mixed_legacy_and_v2", [0, 5, 0]),
        ("synth_v2_txn_log_append_gzip", [2, 0, 0]),
        ("synth_legacy_v1_snappy", [0, 0, 0]),
        ("v2_lz4", [0, 1, 0]), // 16-byte limit: split down to single records
        ("v2_snappy", [6, 0, 0xff]), // producer 8 aborted from -1: not this batch's producer
        ("synth_v2_control_marker", [0, 0, 0]),
        ("synth_v2_zstd", [1, 2, 0]),
        ("legacy_v0_plain", [1, 0, 0]),
        ("synth_legacy_v0_gzip", [0, 3, 0]),
        ("v2_repaired_crcs", [0, 0, 0]),
    ];
    pick.iter()
        .map(|(name, prefix)| {
            let mut data = prefix.to_vec();
            data.extend_from_slice(&batches[*name]);
            (name.to_string(), data)
        })
        .collect()
}

fn kv(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = (key.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// Seeds of the `mm2_formats` target: key length (u16), key, value.
pub fn mm2_formats() -> Vec<Seed> {
    let sync = OffsetSync {
        topic: "orders".into(),
        partition: 3,
        upstream_offset: 100,
        downstream_offset: 90,
    };
    let cp = Checkpoint {
        group: "billing".into(),
        topic: "east.orders".into(),
        partition: 1,
        upstream_offset: 100,
        downstream_offset: 90,
        metadata: "meta ü".into(),
    };
    let hb = Heartbeat {
        source_cluster_alias: "east".into(),
        target_cluster_alias: "west".into(),
        timestamp: 1_700_000_000_000,
    };
    let source = ConnectOffsetKey::Source {
        cluster: "east".into(),
        topic: "orders".into(),
        partition: 0,
    };
    let checkpoint = ConnectOffsetKey::Checkpoint {
        group: "g \"1\"\\\n\u{1}é".into(),
        topic: "east.orders".into(),
        partition: 7,
    };
    let heartbeat = ConnectOffsetKey::Heartbeat {
        source_cluster_alias: "east".into(),
        target_cluster_alias: "west".into(),
    };
    let edge_sync = OffsetSync {
        topic: String::new(),
        partition: i32::MIN,
        upstream_offset: i64::MAX,
        downstream_offset: -1,
    };
    let mut cp_key_trailing = cp.record_key().unwrap();
    cp_key_trailing.extend_from_slice(b"trailing");
    let mut cp_v1_value = cp.record_value().unwrap();
    cp_v1_value[..2].copy_from_slice(&1i16.to_be_bytes());
    cp_v1_value.push(0);
    let empty_hb = Heartbeat {
        source_cluster_alias: String::new(),
        target_cluster_alias: String::new(),
        timestamp: i64::MIN,
    };
    vec![
        ("offset_sync".into(), kv(&sync.record_key().unwrap(), &sync.record_value())),
        ("checkpoint".into(), kv(&cp.record_key().unwrap(), &cp.record_value().unwrap())),
        ("heartbeat".into(), kv(&hb.record_key().unwrap(), &hb.record_value())),
        ("connect_source".into(), kv(&source.encode(), &encode_offset_value(1234))),
        ("connect_checkpoint".into(), kv(&checkpoint.encode(), b"{\"offset\":null}")),
        ("connect_heartbeat".into(), kv(&heartbeat.encode(), b"null")),
        (
            "connect_reordered_whitespace".into(),
            kv(
                br#" [ "MirrorSourceConnector" , { "topic" : "a" , "partition" : 2 , "cluster" : "b" } ] "#,
                br#"{ "offset" : -1 }"#,
            ),
        ),
        (
            "connect_unicode_escapes".into(),
            kv(
                br#"["MirrorCheckpointConnector",{"group":"\u00e9\ud83d\ude00\t","topic":"t","partition":-1}]"#,
                br#"{"offset":9223372036854775807,"extra":[1,{"a":null}]}"#,
            ),
        ),
        ("connect_missing_offset".into(), kv(&heartbeat.encode(), b"{}")),
        ("connect_float_offset".into(), kv(&source.encode(), b"{\"offset\":1.5e3}")),
        ("connect_unknown_connector".into(), kv(br#"["Other",{}]"#, b"[]")),
        ("offset_sync_edge_values".into(), kv(&edge_sync.record_key().unwrap(), &edge_sync.record_value())),
        ("checkpoint_v1_trailing_bytes".into(), kv(&cp_key_trailing, &cp_v1_value)),
        ("heartbeat_empty_aliases".into(), kv(&empty_hb.record_key().unwrap(), &empty_hb.record_value())),
        // A string length of -1 (Java's null), which the readers refuse.
        ("null_string".into(), kv(&[0xff, 0xff, 0, 0, 0, 1], &[0; 16])),
    ]
}
