//! `strait.buffer.max.bytes`: how many bytes a flow may hold fetched from its source and not yet
//! written to its target (docs/isolation.md). Like the throttle keys it may be set for all flows
//! or for one (`A->B.strait.buffer.max.bytes`), the flow's setting winning.

use super::error::{ConfigError, KeyProblem};
use super::group::strait_keys;
use super::properties::Properties;
use super::values::{key_error, Layer, Typed};

/// The key.
pub const BUFFER_MAX_BYTES: &str = "strait.buffer.max.bytes";
/// Its default: 256 MiB per flow.
pub const DEFAULT_BUFFER_MAX_BYTES: u32 = 256 * 1024 * 1024;
/// The least budget accepted: 1 MiB.
const MIN_BUFFER_BYTES: i64 = 1024 * 1024;

/// The flow's fetch buffer budget, in bytes.
pub(crate) fn buffer_max_bytes(props: &Properties, connector: &Layer) -> Result<u32, ConfigError> {
    let layer = strait_keys(props, connector, BUFFER_MAX_BYTES);
    let value = Typed(&layer).long(BUFFER_MAX_BYTES, DEFAULT_BUFFER_MAX_BYTES.into())?;
    match u32::try_from(value) {
        Ok(v) if i64::from(v) >= MIN_BUFFER_BYTES => Ok(v),
        _ => Err(key_error(
            &layer,
            BUFFER_MAX_BYTES,
            KeyProblem::OutOfRange {
                value: value.to_string(),
                requirement: "must be between 1048576 (1 MiB) and 4294967295 bytes",
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_str;

    const BASE: &str = "clusters = a, b\na.bootstrap.servers = h:1\nb.bootstrap.servers = h:2\n\
                        a->b.enabled = true\n";

    #[test]
    fn default_global_and_per_flow() {
        let flow = |extra: &str| {
            let config = parse_str(&format!("{BASE}{extra}")).unwrap();
            config.flows[0].buffer_max_bytes
        };
        assert_eq!(flow(""), super::DEFAULT_BUFFER_MAX_BYTES);
        assert_eq!(flow("strait.buffer.max.bytes = 33554432\n"), 32 << 20);
        assert_eq!(
            flow("strait.buffer.max.bytes = 33554432\na->b.strait.buffer.max.bytes = 8388608\n"),
            8 << 20
        );
    }

    #[test]
    fn out_of_range_names_the_key_and_line() {
        for bad in ["1000", "-1", "5000000000"] {
            let e = parse_str(&format!("{BASE}a->b.strait.buffer.max.bytes = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("strait.buffer.max.bytes") && e.contains("1 MiB"),
                "{e}"
            );
        }
        let e = parse_str(&format!("{BASE}strait.buffer.max.bytes = lots\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("strait.buffer.max.bytes"), "{e}");
    }
}
