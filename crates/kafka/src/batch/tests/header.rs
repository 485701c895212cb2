//! Header accessors and the record codec against hand-built bytes.

use bytes::Bytes;

use super::fixtures::{hand_built, record, text, three_records};
use crate::batch::{
    BatchBuilder, BatchError, Compression, Header, ProducerFields, RawBatch, TimestampType,
};

const PRODUCER: ProducerFields = ProducerFields {
    producer_id: 0x0102_0304_0506_0708,
    producer_epoch: 0x0a0b,
    base_sequence: 0x0c0d_0e0f,
    transactional: true,
};

#[test]
fn accessors_read_every_header_field() {
    // snappy | log-append-time | transactional | control
    let attributes = 2 | 8 | 16 | 32;
    let bytes = hand_built(
        1_000,
        7,
        attributes,
        4,
        1_600_000_000_000,
        1_600_000_000_005,
        PRODUCER,
        5,
        b"0123456789",
    );
    let batch = RawBatch::new(bytes.clone()).unwrap();
    assert_eq!(batch.len(), 71);
    assert_eq!(batch.bytes(), &bytes);
    assert_eq!(batch.base_offset(), 1_000);
    assert_eq!(batch.last_offset(), 1_004);
    assert_eq!(batch.next_offset(), 1_005);
    assert_eq!(batch.magic(), 2);
    assert_eq!(batch.partition_leader_epoch(), 7);
    assert_eq!(batch.crc(), crc32c::crc32c(&bytes[21..]));
    assert_eq!(batch.attributes(), attributes);
    assert_eq!(batch.compression().unwrap(), Compression::Snappy);
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.is_transactional());
    assert!(batch.is_control());
    assert!(!batch.has_delete_horizon());
    assert_eq!(batch.last_offset_delta(), 4);
    assert_eq!(batch.base_timestamp(), 1_600_000_000_000);
    assert_eq!(batch.max_timestamp(), 1_600_000_000_005);
    assert_eq!(batch.producer_id(), PRODUCER.producer_id);
    assert_eq!(batch.producer_epoch(), PRODUCER.producer_epoch);
    assert_eq!(batch.base_sequence(), PRODUCER.base_sequence);
    assert_eq!(batch.producer(), PRODUCER);
    assert_eq!(batch.record_count(), 5);
    assert!(batch.offsets_contiguous());
    assert_eq!(&batch.records_section()[..], b"0123456789");
    batch.verify_crc().unwrap();
    assert_eq!(batch.clone().into_bytes(), bytes);
}

#[test]
fn plain_attributes_mean_create_time_and_no_flags() {
    let bytes = hand_built(0, -1, 0, 0, 5, 5, ProducerFields::NONE, 1, &[]);
    let batch = RawBatch::new(bytes).unwrap();
    assert_eq!(batch.compression().unwrap(), Compression::None);
    assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
    assert!(!batch.is_transactional() && !batch.is_control());
    assert_eq!(batch.producer(), ProducerFields::NONE);
}

#[test]
fn unknown_codec_id_is_an_error() {
    let batch = RawBatch::new(hand_built(9, 0, 6, 0, 0, 0, ProducerFields::NONE, 0, &[])).unwrap();
    assert!(matches!(
        batch.compression(),
        Err(BatchError::UnknownCompression { offset: 9, id: 6 })
    ));
    assert!(batch.decode().is_err());
}

#[test]
fn crc_mismatch_is_reported() {
    let bytes = hand_built(3, 0, 0, 0, 0, 0, ProducerFields::NONE, 0, b"xyz");
    let mut corrupted = bytes.to_vec();
    *corrupted.last_mut().unwrap() ^= 1;
    let batch = RawBatch::new(Bytes::from(corrupted)).unwrap();
    let err = batch.verify_crc().unwrap_err();
    assert!(
        matches!(err, BatchError::CrcMismatch { base_offset: 3, .. }),
        "{err}"
    );
    assert!(matches!(
        batch.decode(),
        Err(BatchError::CrcMismatch { .. })
    ));
}

#[test]
fn new_rejects_bad_lengths_and_magics() {
    let good = hand_built(0, 0, 0, 0, 0, 0, ProducerFields::NONE, 0, b"ab");
    assert!(matches!(
        RawBatch::new(good.slice(..good.len() - 1)),
        Err(BatchError::Corrupt { .. })
    ));
    assert!(matches!(
        RawBatch::new(good.slice(..10)),
        Err(BatchError::Corrupt { .. })
    ));
    let mut long = good.to_vec();
    long.push(0);
    assert!(matches!(
        RawBatch::new(Bytes::from(long)),
        Err(BatchError::Corrupt { .. })
    ));
    let mut magic = good.to_vec();
    magic[16] = 3;
    assert!(matches!(
        RawBatch::new(Bytes::from(magic)),
        Err(BatchError::UnsupportedMagic { magic: 3, .. })
    ));
    let mut short = good[..60].to_vec();
    short[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert!(matches!(
        RawBatch::new(Bytes::from(short)),
        Err(BatchError::Corrupt { .. })
    ));
}

#[test]
fn hand_encoded_record_with_duplicate_header_keys_decodes() {
    // length 15, attrs 0, ts delta 0, offset delta 0, key "k", value "v",
    // 2 headers: "h" = "1", "h" = null.
    let rec = [
        0x1e, 0, 0, 0, 0x02, b'k', 0x02, b'v', 0x04, 0x02, b'h', 0x02, b'1', 0x02, b'h', 0x01,
    ];
    let bytes = hand_built(50, 0, 0, 0, 77, 77, ProducerFields::NONE, 1, &rec);
    let decoded = RawBatch::new(bytes.clone()).unwrap().decode().unwrap();
    let want = record(
        50,
        77,
        Some("k"),
        Some("v"),
        &[("h", Some("1")), ("h", None)],
    );
    assert_eq!(decoded.records, vec![want.clone()]);
    // Our encoder produces exactly these bytes.
    let built = BatchBuilder {
        base_offset: 50,
        partition_leader_epoch: 0,
        records: vec![want],
        ..BatchBuilder::new()
    };
    assert_eq!(built.encode().unwrap().bytes(), &bytes);
}

#[test]
fn malformed_records_are_corrupt_not_panics() {
    let cases: [&[u8]; 5] = [
        &[0x1e, 0],                               // length beyond the data
        &[0x01],                                  // negative length
        &[0x02, 0],                               // body ends inside the record
        &[0x0e, 0, 0, 0, 0x01, 0x01, 0x01, 0xff], // header count -1, then junk
        &[0x0e, 0, 0, 0, 0x01, 0x01, 0x00, 0x00], // 1 trailing byte inside the record
    ];
    for rec in cases {
        let bytes = hand_built(0, 0, 0, 0, 0, 0, ProducerFields::NONE, 1, rec);
        let err = RawBatch::new(bytes).unwrap().decode().unwrap_err();
        assert!(matches!(err, BatchError::Corrupt { .. }), "{rec:?}: {err}");
    }
    // Bytes left after the declared records.
    let bytes = hand_built(0, 0, 0, 0, 0, 0, ProducerFields::NONE, 0, &[0]);
    assert!(matches!(
        RawBatch::new(bytes).unwrap().decode(),
        Err(BatchError::Corrupt { .. })
    ));
    // A huge record count with no data: error, no huge allocation.
    let bytes = hand_built(0, 0, 0, 0, 0, 0, ProducerFields::NONE, i32::MAX, &[]);
    assert!(matches!(
        RawBatch::new(bytes).unwrap().decode(),
        Err(BatchError::Corrupt { .. })
    ));
}

#[test]
fn encoder_sets_header_from_records() {
    let records = three_records(100);
    let batch = BatchBuilder {
        base_offset: 98,
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
        producer: ProducerFields {
            producer_id: 5,
            producer_epoch: 1,
            base_sequence: 9,
            transactional: true,
        },
        is_control: false,
        partition_leader_epoch: 3,
        records: records.clone(),
    }
    .encode()
    .unwrap();
    assert_eq!(batch.base_offset(), 98);
    assert_eq!(batch.last_offset_delta(), 4);
    assert_eq!(batch.record_count(), 3);
    assert!(!batch.offsets_contiguous());
    assert_eq!(batch.base_timestamp(), 1_000, "first record's timestamp");
    assert_eq!(batch.max_timestamp(), 1_100);
    assert_eq!(batch.compression().unwrap(), Compression::Gzip);
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.is_transactional());
    let decoded = batch.decode().unwrap();
    assert_eq!(decoded.records, records);
    assert_eq!(decoded.partition_leader_epoch, 3);
    assert_eq!(decoded.max_timestamp, 1_100);
}

#[test]
fn encoder_refuses_bad_offsets() {
    let bad = [
        vec![record(5, 0, None, None, &[]), record(5, 0, None, None, &[])],
        vec![record(6, 0, None, None, &[]), record(5, 0, None, None, &[])],
        vec![record(-1, 0, None, None, &[])],
        vec![record(1 << 40, 0, None, None, &[])],
    ];
    for records in bad {
        let err = BatchBuilder {
            records,
            ..BatchBuilder::new()
        }
        .encode()
        .unwrap_err();
        assert!(matches!(err, BatchError::Encode { .. }), "{err}");
    }
}

#[test]
fn empty_batch_encodes_and_decodes() {
    let batch = BatchBuilder {
        base_offset: 10,
        is_control: true,
        ..BatchBuilder::new()
    }
    .encode()
    .unwrap();
    assert_eq!(batch.len(), 61);
    assert_eq!(
        (
            batch.record_count(),
            batch.last_offset(),
            batch.base_timestamp()
        ),
        (0, 10, -1)
    );
    let decoded = batch.decode().unwrap();
    assert!(decoded.records.is_empty() && decoded.is_control);
}

#[test]
fn non_utf8_header_keys_survive() {
    let mut rec = record(0, 0, None, None, &[]);
    rec.headers = vec![
        Header {
            key: Bytes::from_static(&[0xff, 0xfe]),
            value: Some(text("")),
        },
        Header {
            key: Bytes::new(),
            value: None,
        },
        Header {
            key: Bytes::from_static(&[0xff, 0xfe]),
            value: None,
        },
    ];
    for compression in Compression::ALL {
        let batch = BatchBuilder {
            compression,
            records: vec![rec.clone()],
            ..BatchBuilder::new()
        };
        assert_eq!(
            batch.encode().unwrap().decode().unwrap().records,
            vec![rec.clone()]
        );
    }
}

#[test]
fn decode_limit_is_enforced() {
    let mut big = record(0, 0, None, None, &[]);
    big.value = Some(Bytes::from(vec![b'x'; 100_000]));
    let records = vec![big];
    let batch = BatchBuilder {
        compression: Compression::Zstd,
        records,
        ..BatchBuilder::new()
    }
    .encode()
    .unwrap();
    assert!(batch.len() < 1_000);
    assert!(batch.decode_with_limit(200_000).is_ok());
    assert!(matches!(
        batch.decode_with_limit(50_000),
        Err(BatchError::DecompressedTooLarge {
            codec: Compression::Zstd,
            limit: 50_000
        })
    ));
}

#[test]
fn compression_names_and_bits() {
    for (id, c) in Compression::ALL.into_iter().enumerate() {
        assert_eq!(c.attribute_bits(), id as i16);
        assert_eq!(Compression::from_attributes(0x78 | id as i16), Some(c));
        assert_eq!(Compression::from_name(c.name()), Some(c));
        assert_eq!(c.to_string(), c.name());
    }
    assert_eq!(Compression::from_attributes(7), None);
    assert_eq!(Compression::from_name("LZ4"), Some(Compression::Lz4));
    assert_eq!(
        TimestampType::from_attributes(8),
        TimestampType::LogAppendTime
    );
    assert_eq!(TimestampType::LogAppendTime.attribute_bits(), 8);
}
