//! Cross-checks against kafka-protocol's independent record batch implementation.

use std::io::{Read, Write};

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Decompressor, Gzip as KGzip, Snappy as KSnappy};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KCompression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KTimestampType,
};

use super::fixtures::three_records;
use crate::batch::{
    BatchBuilder, Compression, Header, ProducerFields, RawBatch, Record, TimestampType,
};

fn k_compression(c: Compression) -> KCompression {
    match c {
        Compression::None => KCompression::None,
        Compression::Gzip => KCompression::Gzip,
        Compression::Snappy => KCompression::Snappy,
        Compression::Lz4 => KCompression::Lz4,
        Compression::Zstd => KCompression::Zstd,
    }
}

fn k_headers(headers: &[Header]) -> IndexMap<StrBytes, Option<Bytes>> {
    headers
        .iter()
        .map(|h| (StrBytes::try_from(h.key.clone()).unwrap(), h.value.clone()))
        .collect()
}

const PRODUCER: ProducerFields = ProducerFields {
    producer_id: 77,
    producer_epoch: 2,
    base_sequence: 30,
    transactional: true,
};

/// kafka-protocol records equivalent to `three_records(0)` under `PRODUCER`.
fn k_records() -> Vec<KRecord> {
    three_records(0)
        .iter()
        .map(|r| KRecord {
            transactional: PRODUCER.transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 4,
            producer_id: PRODUCER.producer_id,
            producer_epoch: PRODUCER.producer_epoch,
            timestamp_type: KTimestampType::Creation,
            offset: r.offset,
            sequence: PRODUCER.base_sequence + r.offset as i32,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: k_headers(&r.headers),
        })
        .collect()
}

/// A batch encoded by kafka-protocol; lz4 and zstd through closures over lz4_flex / zstd.
fn golden(compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: k_compression(compression),
    };
    let records = k_records();
    match compression {
        Compression::None | Compression::Gzip | Compression::Snappy => {
            RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap()
        }
        Compression::Lz4 | Compression::Zstd => RecordBatchEncoder::encode_with_custom_compression(
            &mut buf,
            &records,
            &options,
            Some(
                |plain: &mut BytesMut, out: &mut BytesMut, c: KCompression| {
                    let packed = match c {
                        KCompression::Lz4 => {
                            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                            enc.write_all(plain)?;
                            enc.finish()?
                        }
                        KCompression::Zstd => zstd::stream::encode_all(&plain[..], 1)?,
                        other => return Err(std::io::Error::other(format!("{other:?}")).into()),
                    };
                    out.extend_from_slice(&packed);
                    Ok(())
                },
            ),
        )
        .unwrap(),
    }
    buf.freeze()
}

#[test]
fn golden_batches_from_kafka_protocol_decode_to_the_same_records() {
    for compression in Compression::ALL {
        let bytes = golden(compression);
        let batch = RawBatch::new(bytes).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.compression().unwrap(), compression);
        // kafka-protocol writes the minimum timestamp as baseTimestamp; deltas still resolve.
        assert_eq!(batch.base_timestamp(), 900);
        let decoded = batch.decode().unwrap();
        assert_eq!(decoded.records, three_records(0), "{compression}");
        assert_eq!(decoded.producer, PRODUCER);
        assert_eq!(decoded.partition_leader_epoch, 4);
        assert_eq!(decoded.max_timestamp, 1_100);
        assert_eq!(decoded.timestamp_type, TimestampType::CreateTime);
        assert!(!decoded.is_control);
        // Re-encoding with our encoder gives records kafka-protocol agrees with.
        let ours = BatchBuilder::from(decoded).encode().unwrap();
        assert_eq!(ours.decode().unwrap().records, three_records(0));
    }
}

/// Decompression for kafka-protocol's decoder, from libraries other than our codec's paths.
fn k_decompress(
    buf: &mut Bytes,
    c: KCompression,
) -> Result<Bytes, Box<dyn std::error::Error + Send + Sync>> {
    Ok(match c {
        KCompression::None => buf.clone(),
        KCompression::Gzip => KGzip::decompress(buf, |b: &mut Bytes| Ok(b.clone()))?,
        KCompression::Snappy => KSnappy::decompress(buf, |b: &mut Bytes| Ok(b.clone()))?,
        KCompression::Lz4 => {
            let mut out = Vec::new();
            lz4_flex::frame::FrameDecoder::new(&buf[..]).read_to_end(&mut out)?;
            out.into()
        }
        KCompression::Zstd => zstd::stream::decode_all(&buf[..])?.into(),
    })
}

fn ours(compression: Compression, records: Vec<Record>) -> RawBatch {
    BatchBuilder {
        base_offset: 1_000,
        compression,
        timestamp_type: TimestampType::LogAppendTime,
        producer: PRODUCER,
        is_control: false,
        partition_leader_epoch: 6,
        records,
    }
    .encode()
    .unwrap()
}

fn assert_same(k: &[KRecord], ours: &[Record]) {
    assert_eq!(k.len(), ours.len());
    for (k, o) in k.iter().zip(ours) {
        assert_eq!((k.offset, k.timestamp), (o.offset, o.timestamp));
        assert_eq!((&k.key, &k.value), (&o.key, &o.value));
        assert_eq!(k.headers, k_headers(&o.headers));
        assert_eq!(
            k.sequence,
            PRODUCER.base_sequence + (o.offset - 1_000) as i32
        );
        assert_eq!(
            (k.producer_id, k.producer_epoch),
            (PRODUCER.producer_id, PRODUCER.producer_epoch)
        );
        assert!(k.transactional && !k.control);
        assert_eq!(k.partition_leader_epoch, 6);
        assert_eq!(k.timestamp_type, KTimestampType::LogAppend);
    }
}

#[test]
fn our_batches_decode_with_kafka_protocol() {
    // Offset gaps and a timestamp below the first one.
    let mut records = three_records(1_000);
    records[2].offset = 1_010;
    for compression in Compression::ALL {
        let batch = ours(compression, records.clone());
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut batch.bytes().clone(),
            Some(|buf: &mut Bytes, c: KCompression| {
                k_decompress(buf, c).map_err(|e| std::io::Error::other(e.to_string()).into())
            }),
        )
        .unwrap();
        assert_eq!(set.compression, k_compression(compression));
        assert_same(&set.records, &records);
        if matches!(
            compression,
            Compression::None | Compression::Gzip | Compression::Snappy
        ) {
            // kafka-protocol's built-in codecs (including its xerial snappy reader).
            let set = RecordBatchDecoder::decode(&mut batch.bytes().clone()).unwrap();
            assert_same(&set.records, &records);
        }
    }
}

#[test]
fn kafka_protocol_doc_example_bytes_decode() {
    // The FetchResponse records from kafka-protocol's records module docs.
    const RECORD: [u8; 79] = [
        0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x43, 0x0, 0x0, 0x0, 0x0, 0x2, 0x73,
        0x6d, 0x29, 0x7b, 0x0, 0b00000000, 0x0, 0x0, 0x0, 0x3, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
        0x0, 0x0, 0x0, 0x1, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
        0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1, 0x22, 0x1, 0xd0, 0xf, 0x2, 0xa, 0x68, 0x65,
        0x6c, 0x6c, 0x6f, 0xa, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x0,
    ];
    let batch = RawBatch::new(Bytes::from_static(&RECORD)).unwrap();
    let decoded = batch.decode().unwrap();
    assert_eq!(decoded.records.len(), 1);
    let r = &decoded.records[0];
    assert_eq!(
        (r.key.as_deref(), r.value.as_deref()),
        (Some(&b"hello"[..]), Some(&b"world"[..]))
    );
}
