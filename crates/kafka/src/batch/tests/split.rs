//! Splitting a records buffer into whole batches.

use bytes::{BufMut, Bytes, BytesMut};

use super::fixtures::batch;
use crate::batch::{split_batches, BatchError, Compression, RawBatch};

fn concat(batches: &[RawBatch]) -> Bytes {
    let mut buf = BytesMut::new();
    for b in batches {
        buf.put_slice(b.bytes());
    }
    buf.freeze()
}

fn three() -> Vec<RawBatch> {
    vec![
        batch(0, 3, Compression::None),
        batch(3, 2, Compression::Lz4),
        batch(5, 4, Compression::Snappy),
    ]
}

#[test]
fn splits_whole_batches_zero_copy() {
    let batches = three();
    let buf = concat(&batches);
    let out: Vec<_> = split_batches(&buf, 0).map(Result::unwrap).collect();
    assert_eq!(out, batches);
    // Zero copy: the yielded bytes point into `buf`.
    assert_eq!(out[1].bytes().as_ptr(), buf[batches[0].len()..].as_ptr());
}

#[test]
fn truncated_tail_ends_silently() {
    let batches = three();
    let buf = concat(&batches);
    let whole_two = batches[0].len() + batches[1].len();
    for cut in [
        whole_two,
        whole_two + 1,
        whole_two + 11,
        whole_two + 12,
        whole_two + 17,
        buf.len() - 1,
    ] {
        let out: Vec<_> = split_batches(&buf.slice(..cut), 0)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(out, batches[..2], "cut at {cut}");
    }
    assert_eq!(split_batches(&Bytes::new(), 0).count(), 0);
}

#[test]
fn batches_before_the_fetch_offset_are_skipped() {
    let batches = three();
    let buf = concat(&batches);
    let firsts = |fetch| -> Vec<i64> {
        split_batches(&buf, fetch)
            .map(|b| b.unwrap().base_offset())
            .collect()
    };
    assert_eq!(
        firsts(2),
        [0, 3, 5],
        "batch containing the fetch offset is kept"
    );
    assert_eq!(firsts(3), [3, 5]);
    assert_eq!(firsts(8), [5]);
    assert_eq!(firsts(9), Vec::<i64>::new());
}

#[test]
fn bad_length_yields_one_error_then_stops() {
    let good = batch(0, 1, Compression::None);
    for length in [-1i32, 0, 13, 48] {
        let mut buf = BytesMut::from(&good.bytes()[..]);
        let mut bad = BytesMut::from(&good.bytes()[..]);
        bad[0..8].copy_from_slice(&77i64.to_be_bytes());
        bad[8..12].copy_from_slice(&length.to_be_bytes());
        buf.put_slice(&bad);
        buf.put_slice(good.bytes());
        let out: Vec<_> = split_batches(&buf.freeze(), 0).collect();
        assert_eq!(out.len(), 2, "length {length}");
        assert!(out[0].is_ok());
        assert!(
            matches!(out[1], Err(BatchError::Corrupt { offset: 77, .. })),
            "length {length}"
        );
    }
}

#[test]
fn unknown_magic_yields_one_error_then_stops() {
    let mut bytes = batch(4, 1, Compression::None).into_bytes().to_vec();
    bytes[16] = 7;
    bytes.extend_from_slice(batch(5, 1, Compression::None).bytes());
    let out: Vec<_> = split_batches(&Bytes::from(bytes), 0).collect();
    assert!(matches!(
        out.as_slice(),
        [Err(BatchError::UnsupportedMagic {
            offset: 4,
            magic: 7
        })]
    ));
}

#[test]
fn huge_claimed_length_is_just_truncation() {
    let mut bytes = batch(0, 1, Compression::None).into_bytes().to_vec();
    bytes[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(split_batches(&Bytes::from(bytes), 0).count(), 0);
}
