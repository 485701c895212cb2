//! Kafka's default key partitioner (`Utils.murmur2` + `Utils.toPositive`).

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java's `int length` wraps for >2 GiB arrays, which cannot exist; truncation mirrors it.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's fall-through `switch (length % 4)`.
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for a non-null key: `toPositive(murmur2(key)) % n`.
///
/// # Panics
///
/// Panics if `num_partitions` is not positive.
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    assert!(
        num_partitions > 0,
        "num_partitions must be positive, got {num_partitions}"
    );
    (murmur2(key) & 0x7fff_ffff) % num_partitions
}
