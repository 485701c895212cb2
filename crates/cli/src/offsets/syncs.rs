//! The offset syncs that tell how precise a checkpoint is: read from the target when they
//! live there, else tried on the source within a short bound (it may be down: failover).

use std::time::Duration;

use anyhow::Context;
use strait_kafka::Cluster;
use strait_mirror::checkpoint::{
    offset_syncs_topic, OffsetSyncStore, SyncsTail, RECENT_SYNCS_PER_PARTITION,
};
use strait_mirror::clients::connect;
use strait_mirror::config::{FlowConfig, SyncsLocation};

use super::flow::within;

/// How long the source cluster gets to answer before it counts as unreachable.
pub(crate) const SOURCE_TIMEOUT: Duration = Duration::from_secs(5);

/// The offset syncs read, or why they could not be.
pub(crate) enum Syncs {
    /// Every sync of the flow, read to the end of the topic.
    Read(OffsetSyncStore),
    /// The syncs live on the source and it did not answer: the note to show the operator.
    SourceUnreachable(String),
}

/// Reads the flow's offset syncs: from `target` when they live there (an error is an error),
/// else from the source, where failing is expected while it is down.
pub(crate) async fn load(flow: &FlowConfig, target: &Cluster) -> anyhow::Result<Syncs> {
    match flow.offset_syncs_location {
        SyncsLocation::Target => Ok(Syncs::Read(
            within(
                format!(
                    "reading {} on cluster {}",
                    offset_syncs_topic(flow),
                    flow.target
                ),
                read(flow, target),
            )
            .await?,
        )),
        SyncsLocation::Source => Ok(match from_source(flow).await {
            Ok(store) => Syncs::Read(store),
            Err(e) => Syncs::SourceUnreachable(format!(
                "source cluster {} unreachable ({e:#}): the offset syncs live there \
                 (offset-syncs.topic.location = source), so HOW says `checkpoint`: translated \
                 by the mirror, precision unknown",
                flow.source
            )),
        }),
    }
}

/// Connects to the source within [`SOURCE_TIMEOUT`] and reads the syncs there.
async fn from_source(flow: &FlowConfig) -> anyhow::Result<OffsetSyncStore> {
    let source = tokio::time::timeout(
        SOURCE_TIMEOUT,
        connect(
            &flow.offset_syncs_consumer,
            &flow.name(),
            "offset-syncs-consumer",
        ),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no answer within {SOURCE_TIMEOUT:?}"))?
    .context("connecting")?;
    within(
        format!("reading {} on it", offset_syncs_topic(flow)),
        read(flow, &source),
    )
    .await
}

async fn read(
    flow: &FlowConfig,
    cluster: &Cluster,
) -> Result<OffsetSyncStore, strait_mirror::internal::InternalTopicError> {
    let mut tail = SyncsTail::new(&offset_syncs_topic(flow));
    let syncs = tail.poll(cluster).await?;
    let mut store = OffsetSyncStore::with_recent(false, RECENT_SYNCS_PER_PARTITION);
    syncs.iter().for_each(|s| store.handle_claimed(s));
    store.set_read_to_end();
    Ok(store)
}
