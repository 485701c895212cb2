//! Golden-byte tests for MM2's internal topic formats (worked examples from the MM2 spec §4).

use strait_mirror::formats::{
    encode_offset_value, murmur2, parse_offset_value, partition_for_key, Checkpoint,
    ConnectOffsetKey, FormatError, Heartbeat, OffsetSync,
};

/// Parses space-separated hex bytes; `|` separators are ignored.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .filter(|t| *t != "|")
        .map(|t| u8::from_str_radix(t, 16).unwrap())
        .collect()
}

fn offset_sync_example() -> OffsetSync {
    OffsetSync {
        topic: "test-topic-1".into(),
        partition: 3,
        upstream_offset: 1000,
        downstream_offset: 990,
    }
}

fn checkpoint_example() -> Checkpoint {
    Checkpoint {
        group: "my-group".into(),
        topic: "primary.test-topic-1".into(),
        partition: 3,
        upstream_offset: 1000,
        downstream_offset: 991,
        metadata: String::new(),
    }
}

const CHECKPOINT_KEY: &str = "00 08 6d 79 2d 67 72 6f 75 70 00 14 70 72 69 6d 61 72 79 2e 74 65 \
                              73 74 2d 74 6f 70 69 63 2d 31 00 00 00 03";
const CHECKPOINT_VALUE: &str = "00 00 | 00 00 00 00 00 00 03 e8 | 00 00 00 00 00 00 03 df | 00 00";

#[test]
fn offset_sync_worked_example() {
    let sync = offset_sync_example();
    let key = hex("00 0c 74 65 73 74 2d 74 6f 70 69 63 2d 31 00 00 00 03");
    let value = hex("00 00 00 00 00 00 03 e8 00 00 00 00 00 00 03 de");
    assert_eq!(key.len(), 18);
    assert_eq!(value.len(), 16);
    assert_eq!(sync.record_key().unwrap(), key);
    assert_eq!(sync.record_value(), value);
    assert_eq!(OffsetSync::decode(&key, &value).unwrap(), sync);
    assert_eq!(
        sync.to_string(),
        "OffsetSync{topicPartition=test-topic-1-3, upstreamOffset=1000, downstreamOffset=990}"
    );
}

#[test]
fn offset_sync_decode_ignores_trailing_bytes() {
    let sync = offset_sync_example();
    let mut key = sync.record_key().unwrap();
    key.extend_from_slice(&[1, 2, 3]);
    let mut value = sync.record_value();
    value.push(0xff);
    assert_eq!(OffsetSync::decode(&key, &value).unwrap(), sync);
}

#[test]
fn checkpoint_worked_example() {
    let cp = checkpoint_example();
    let key = hex(CHECKPOINT_KEY);
    let value = hex(CHECKPOINT_VALUE);
    assert_eq!(key.len(), 36);
    assert_eq!(value.len(), 20);
    assert_eq!(cp.record_key().unwrap(), key);
    assert_eq!(cp.record_value().unwrap(), value);
    assert_eq!(Checkpoint::decode(&key, &value).unwrap(), cp);
    assert_eq!(
        cp.to_string(),
        "Checkpoint{consumerGroupId=my-group, topicPartition=primary.test-topic-1-3, \
         upstreamOffset=1000, downstreamOffset=991, metadata=}"
    );
}

#[test]
fn checkpoint_with_metadata() {
    let cp = Checkpoint {
        metadata: "abc".into(),
        ..checkpoint_example()
    };
    let value = cp.record_value().unwrap();
    assert_eq!(value.len(), 23);
    assert_eq!(&value[..18], &hex(CHECKPOINT_VALUE)[..18]);
    assert_eq!(&value[18..], &hex("00 03 61 62 63")[..]);
    assert_eq!(
        Checkpoint::decode(&hex(CHECKPOINT_KEY), &value).unwrap(),
        cp
    );
    assert!(cp.to_string().ends_with("metadata=abc}"));
}

#[test]
fn checkpoint_decode_accepts_other_versions_and_trailing_bytes() {
    let mut value = hex(CHECKPOINT_VALUE);
    value[1] = 1; // version 1 header
    value.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7]);
    let mut key = hex(CHECKPOINT_KEY);
    key.push(0x42);
    assert_eq!(
        Checkpoint::decode(&key, &value).unwrap(),
        checkpoint_example()
    );
}

#[test]
fn heartbeat_worked_example() {
    let hb = Heartbeat {
        source_cluster_alias: "primary".into(),
        target_cluster_alias: "backup".into(),
        timestamp: 1_700_000_000_000,
    };
    let key = hex("00 07 70 72 69 6d 61 72 79 00 06 62 61 63 6b 75 70");
    let value = hex("00 00 00 00 01 8b cf e5 68 00");
    assert_eq!(key.len(), 17);
    assert_eq!(value.len(), 10);
    assert_eq!(hb.record_key().unwrap(), key);
    assert_eq!(hb.record_value(), value);
    assert_eq!(Heartbeat::decode(&key, &value).unwrap(), hb);
    assert_eq!(
        hb.to_string(),
        "Heartbeat{sourceClusterAlias=primary, targetClusterAlias=backup, timestamp=1700000000000}"
    );
    let mut v1 = value.clone();
    v1[1] = 1;
    v1.push(9);
    assert_eq!(Heartbeat::decode(&key, &v1).unwrap(), hb);
}

#[test]
fn string_longer_than_32767_bytes_is_rejected_naming_the_field() {
    let long = "é".repeat(16_384); // 32768 UTF-8 bytes
    let sync = OffsetSync {
        topic: long.clone(),
        ..offset_sync_example()
    };
    let err = sync.record_key().unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::StringTooLong {
                field: "topic",
                len: 32768
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("'topic'"), "{err}");

    let cp = Checkpoint {
        metadata: long.clone(),
        ..checkpoint_example()
    };
    let err = cp.record_value().unwrap_err();
    assert!(matches!(
        err,
        FormatError::StringTooLong {
            field: "metadata",
            ..
        }
    ));

    let cp = Checkpoint {
        group: long.clone(),
        ..checkpoint_example()
    };
    assert!(matches!(
        cp.record_key().unwrap_err(),
        FormatError::StringTooLong { field: "group", .. }
    ));

    let hb = Heartbeat {
        source_cluster_alias: "a".into(),
        target_cluster_alias: long,
        timestamp: 0,
    };
    assert!(matches!(
        hb.record_key().unwrap_err(),
        FormatError::StringTooLong {
            field: "targetClusterAlias",
            ..
        }
    ));
}

#[test]
fn truncated_records_are_rejected_naming_the_field() {
    let key = hex("00 0c 74 65 73 74 2d 74 6f 70 69 63 2d 31 00 00 00 03");
    let value = hex("00 00 00 00 00 00 03 e8 00 00 00 00 00 00 03 de");

    let err = OffsetSync::decode(&key[..17], &value).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "partition",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("'partition'"), "{err}");

    let err = OffsetSync::decode(&key[..5], &value).unwrap_err();
    assert!(
        matches!(err, FormatError::Truncated { field: "topic", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("'topic'"), "{err}");

    let err = OffsetSync::decode(&key, &value[..12]).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "offset",
                ..
            }
        ),
        "{err:?}"
    );

    let ck = hex(CHECKPOINT_KEY);
    let err = Checkpoint::decode(&ck[..11], &hex(CHECKPOINT_VALUE)).unwrap_err();
    assert!(
        matches!(err, FormatError::Truncated { field: "topic", .. }),
        "{err:?}"
    );
    let err = Checkpoint::decode(&ck, &hex(CHECKPOINT_VALUE)[..19]).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "metadata",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Checkpoint::decode(&ck, &[]).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "version",
                ..
            }
        ),
        "{err:?}"
    );

    let err = Heartbeat::decode(&[0, 1, b'a'], &[0, 0]).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "targetClusterAlias",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Heartbeat::decode(&[0, 0, 0, 0], &[0, 0, 1]).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                field: "timestamp",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn negative_length_and_invalid_utf8_are_rejected() {
    let err = OffsetSync::decode(&[0x80, 0x00, 0, 0, 0, 0], &[0; 16]).unwrap_err();
    assert!(matches!(
        err,
        FormatError::NegativeLength {
            field: "topic",
            len: -32768
        }
    ));
    let err = OffsetSync::decode(&[0, 1, 0xff, 0, 0, 0, 0], &[0; 16]).unwrap_err();
    assert!(matches!(
        err,
        FormatError::InvalidUtf8 { field: "topic", .. }
    ));
}

#[test]
fn connect_offsets_source_key_bytes_and_partition() {
    let key = ConnectOffsetKey::Source {
        cluster: "primary".into(),
        topic: "test-topic-1".into(),
        partition: 0,
    };
    let expected: &[u8] =
        br#"["MirrorSourceConnector",{"cluster":"primary","partition":0,"topic":"test-topic-1"}]"#;
    assert_eq!(expected.len(), 84);
    assert_eq!(key.encode(), expected);
    assert_eq!(partition_for_key(expected, 25), 14);
    assert_eq!(key.partition_in(25), 14);
    assert_eq!(ConnectOffsetKey::parse(expected).unwrap(), key);
    assert_eq!(key.connector_name(), "MirrorSourceConnector");
}

#[test]
fn connect_offsets_checkpoint_and_heartbeat_keys() {
    let cp = ConnectOffsetKey::Checkpoint {
        group: "my-group".into(),
        topic: "primary.test-topic-1".into(),
        partition: 3,
    };
    let bytes = cp.encode();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"["MirrorCheckpointConnector",{"partition":3,"topic":"primary.test-topic-1","group":"my-group"}]"#
    );
    assert_eq!(ConnectOffsetKey::parse(&bytes).unwrap(), cp);

    let hb = ConnectOffsetKey::Heartbeat {
        source_cluster_alias: "primary".into(),
        target_cluster_alias: "backup".into(),
    };
    let bytes = hb.encode();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"["MirrorHeartbeatConnector",{"sourceClusterAlias":"primary","targetClusterAlias":"backup"}]"#
    );
    assert_eq!(ConnectOffsetKey::parse(&bytes).unwrap(), hb);
}

#[test]
fn connect_offsets_values() {
    assert_eq!(encode_offset_value(0), br#"{"offset":0}"#);
    assert_eq!(encode_offset_value(1000), br#"{"offset":1000}"#);
    assert_eq!(encode_offset_value(-1), br#"{"offset":-1}"#);
    assert_eq!(
        parse_offset_value(Some(br#"{"offset":1000}"#)).unwrap(),
        Some(1000)
    );
    assert_eq!(
        parse_offset_value(Some(b" { \"offset\" : 9223372036854775807 } ")).unwrap(),
        Some(i64::MAX)
    );
    // Tombstone = offset reset; JSON null / missing offset = no position.
    assert_eq!(parse_offset_value(None).unwrap(), None);
    assert_eq!(parse_offset_value(Some(b"null")).unwrap(), None);
    assert_eq!(parse_offset_value(Some(b"{}")).unwrap(), None);
    assert_eq!(
        parse_offset_value(Some(br#"{"offset":null}"#)).unwrap(),
        None
    );
    assert!(matches!(
        parse_offset_value(Some(br#"{"offset":"12"}"#)),
        Err(FormatError::UnexpectedJson { part: "value", .. })
    ));
    assert!(matches!(
        parse_offset_value(Some(b"[1]")),
        Err(FormatError::UnexpectedJson { part: "value", .. })
    ));
    assert!(matches!(
        parse_offset_value(Some(b"{")),
        Err(FormatError::Json { part: "value", .. })
    ));
}

#[test]
fn connect_offsets_parser_tolerates_field_order_and_whitespace() {
    let expected = ConnectOffsetKey::Source {
        cluster: "primary".into(),
        topic: "test-topic-1".into(),
        partition: 0,
    };
    for text in [
        r#"["MirrorSourceConnector",{"topic":"test-topic-1","partition":0,"cluster":"primary"}]"#,
        r#"["MirrorSourceConnector",{"partition":0,"cluster":"primary","topic":"test-topic-1"}]"#,
        "[ \"MirrorSourceConnector\" ,\n {\n  \"cluster\" : \"primary\",\n  \"partition\" : 0,\n  \"topic\" : \"test-topic-1\"\n }\n]\n",
    ] {
        assert_eq!(ConnectOffsetKey::parse(text.as_bytes()).unwrap(), expected, "{text}");
    }
    let hb = br#" ["MirrorHeartbeatConnector", {"targetClusterAlias": "b", "sourceClusterAlias": "a"}] "#;
    assert_eq!(
        ConnectOffsetKey::parse(hb).unwrap(),
        ConnectOffsetKey::Heartbeat {
            source_cluster_alias: "a".into(),
            target_cluster_alias: "b".into(),
        }
    );
    let cp = br#"["MirrorCheckpointConnector",{"group":"g","topic":"t","partition":7}]"#;
    assert_eq!(
        ConnectOffsetKey::parse(cp).unwrap(),
        ConnectOffsetKey::Checkpoint {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
        }
    );
}

#[test]
fn connect_offsets_parser_rejects_malformed_keys() {
    let unexpected = |text: &str| {
        matches!(
            ConnectOffsetKey::parse(text.as_bytes()),
            Err(FormatError::UnexpectedJson { part: "key", .. })
        )
    };
    assert!(unexpected(r#"{"cluster":"a"}"#));
    assert!(unexpected(r#"["MirrorSourceConnector"]"#));
    assert!(unexpected(
        r#"["MirrorSourceConnector",{"cluster":"a","partition":0}]"#
    ));
    assert!(unexpected(
        r#"["MirrorSourceConnector",{"cluster":"a","partition":"0","topic":"t"}]"#
    ));
    assert!(unexpected(
        r#"["MirrorSourceConnector",{"cluster":"a","partition":2147483648,"topic":"t"}]"#
    ));
    assert!(unexpected(
        r#"["MirrorSourceConnector",{"cluster":"a","partition":0,"topic":"t","x":1}]"#
    ));
    assert!(unexpected(r#"[1,{}]"#));
    assert!(matches!(
        ConnectOffsetKey::parse(br#"["OtherConnector",{"a":1}]"#),
        Err(FormatError::UnknownConnector(name)) if name == "OtherConnector"
    ));
    assert!(matches!(
        ConnectOffsetKey::parse(b"not json"),
        Err(FormatError::Json { part: "key", .. })
    ));
}

#[test]
fn connect_offsets_json_escaping_matches_jackson() {
    let key = ConnectOffsetKey::Source {
        cluster: "pri\"mary".into(),
        topic: "we\"ird\\topic\n\u{1}/é".into(),
        partition: 2,
    };
    let bytes = key.encode();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        "[\"MirrorSourceConnector\",{\"cluster\":\"pri\\\"mary\",\"partition\":2,\
         \"topic\":\"we\\\"ird\\\\topic\\n\\u0001/é\"}]"
    );
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"["MirrorSourceConnector",{"cluster":"pri\"mary","partition":2,"topic":"we\"ird\\topic\n\u0001/é"}]"#
    );
    assert_eq!(ConnectOffsetKey::parse(&bytes).unwrap(), key);
}

#[test]
fn murmur2_matches_kafka_utils_test_vectors() {
    let cases: [(&[u8], i32); 6] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (&[0x61, 0x62, 0x63], 479_470_107), // byte array {'a','b','c'}
    ];
    for (input, expected) in cases {
        assert_eq!(
            murmur2(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn partition_for_key_is_positive_modulo() {
    // murmur2("21") is negative; toPositive masks the sign bit before the modulo.
    let h = murmur2(b"21");
    assert!(h < 0);
    assert_eq!(partition_for_key(b"21", 7), (h & 0x7fff_ffff) % 7);
    assert_eq!(partition_for_key(b"anything", 1), 0);
}
