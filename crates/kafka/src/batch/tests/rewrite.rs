//! Producer-field rewrite.

use super::fixtures::three_records;
use crate::batch::{BatchBuilder, BatchError, Compression, ProducerFields, RawBatch};

fn source(compression: Compression) -> RawBatch {
    BatchBuilder {
        base_offset: 500,
        compression,
        producer: ProducerFields {
            producer_id: 1,
            producer_epoch: 2,
            base_sequence: 3,
            transactional: false,
        },
        partition_leader_epoch: 12,
        records: three_records(500),
        ..BatchBuilder::new()
    }
    .encode()
    .unwrap()
}

const TARGET: ProducerFields = ProducerFields {
    producer_id: 9_000,
    producer_epoch: 7,
    base_sequence: 40,
    transactional: true,
};

#[test]
fn rewrite_replaces_producer_and_keeps_records_bytes() {
    for compression in Compression::ALL {
        let original = source(compression);
        for rewritten in [
            original.rewrite_producer(&TARGET),
            original.try_rewrite_producer(&TARGET).unwrap(),
        ] {
            rewritten.verify_crc().unwrap();
            assert_eq!(rewritten.base_offset(), 0);
            assert_eq!(rewritten.producer(), TARGET);
            assert_eq!(rewritten.partition_leader_epoch(), 12);
            assert_eq!(rewritten.compression().unwrap(), compression);
            assert_eq!(rewritten.last_offset_delta(), original.last_offset_delta());
            assert_eq!(rewritten.bytes()[61..], original.bytes()[61..]);
            assert_eq!(rewritten.bytes()[8..17], original.bytes()[8..17]);
            let records: Vec<_> = rewritten.decode().unwrap().records;
            let shifted: Vec<_> = three_records(0);
            assert_eq!(records, shifted, "offsets follow the new base offset 0");
        }
    }
}

#[test]
fn rewrite_can_clear_the_transactional_bit() {
    let txn = source(Compression::None).rewrite_producer(&TARGET);
    let plain = txn.rewrite_producer(&ProducerFields::NONE);
    assert!(!plain.is_transactional());
    assert_eq!(plain.attributes(), source(Compression::None).attributes());
}

#[test]
fn try_rewrite_refuses_corrupt_input() {
    let mut bytes = source(Compression::None).into_bytes().to_vec();
    *bytes.last_mut().unwrap() ^= 0x40;
    let corrupt = RawBatch::new(bytes.into()).unwrap();
    assert!(matches!(
        corrupt.try_rewrite_producer(&TARGET),
        Err(BatchError::CrcMismatch { .. })
    ));
    // The infallible variant updates the CRC for the header only: corrupt stays corrupt.
    assert!(matches!(
        corrupt.rewrite_producer(&TARGET).verify_crc(),
        Err(BatchError::CrcMismatch { .. })
    ));
}

#[test]
fn the_updated_crc_is_the_crc_of_the_rewritten_bytes() {
    let fields = [
        TARGET,
        ProducerFields::NONE,
        ProducerFields {
            producer_id: i64::MAX,
            producer_epoch: -1,
            base_sequence: i32::MAX,
            transactional: false,
        },
    ];
    for compression in Compression::ALL {
        for f in &fields {
            let rewritten = source(compression).rewrite_producer(f);
            assert_eq!(
                rewritten.crc(),
                rewritten.computed_crc(),
                "{compression:?} {f:?}"
            );
            let again = rewritten.rewrite_producer(&TARGET);
            assert_eq!(again.crc(), again.computed_crc(), "{compression:?} twice");
        }
    }
}
