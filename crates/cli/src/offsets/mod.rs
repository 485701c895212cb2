//! `strait offsets translate|apply`: move consumer groups to the other cluster (failover) and
//! back (failback), reading only the cluster they move to.

mod datetime;
pub(crate) mod flow;
mod output;
mod syncs;
mod translate;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use strait_mirror::checkpoint::group_sync::{decide, Decision, TargetGroup, WantedOffset};

use self::datetime::parse_datetime;
use self::flow::{connect_target, within, FlowArgs};
use self::output::{print_json, print_table};
use self::translate::{translate, GroupSelector, How, Row, Translated};

/// `strait offsets` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum OffsetsCommand {
    /// Print where each group would resume on the target, per partition, and how that was found.
    #[command(
        after_help = "Examples:\n  strait offsets translate mm2.properties --flow 'primary->backup' --group orders-app\n  strait offsets translate mm2.properties --source primary --target backup --group-regex 'orders-.*' --json\n\nOffsets come from the target cluster only: works while the source is down. With the offset\nsyncs on the source (offset-syncs.topic.location = source, the default), it is tried for 5s to\ncheck their precision.\nHOW: exact = nothing re-read; conservative = may re-read, never skips; checkpoint = translated by\nthe mirror, precision unknown (source unreachable); timestamp = from --to-datetime;\nuntranslatable = left alone."
    )]
    Translate(TranslateArgs),
    /// Commit the translated offsets to the groups on the target (dry run unless --execute).
    #[command(
        after_help = "Examples:\n  strait offsets apply mm2.properties --flow 'primary->backup' --group orders-app            # dry run\n  strait offsets apply mm2.properties --flow 'primary->backup' --group orders-app --execute\n  strait offsets apply mm2.properties --flow 'backup->primary' --group-regex 'orders-.*' --execute  # failback\n\nRefuses while the group has active members on the target; never moves a group backwards\nunless --allow-rewind."
    )]
    Apply(ApplyArgs),
}

/// Arguments of `strait offsets translate`.
#[derive(clap::Args, Debug)]
pub(crate) struct TranslateArgs {
    #[command(flatten)]
    flow: FlowArgs,
    /// The consumer group.
    #[arg(long, conflicts_with = "group_regex")]
    group: Option<String>,
    /// Every checkpointed group whose whole id matches this regex.
    #[arg(long)]
    group_regex: Option<String>,
    /// For partitions without a checkpoint: the first offset at or after this time
    /// (e.g. 2026-11-22T05:00:00Z; UTC when no zone is given).
    #[arg(long)]
    to_datetime: Option<String>,
    /// Print JSON (one object per group and partition) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `strait offsets apply`.
#[derive(clap::Args, Debug)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    translate: TranslateArgs,
    /// Commit the offsets (without it, only show what would be committed).
    #[arg(long)]
    execute: bool,
    /// Also commit offsets lower than what the group committed on the target.
    #[arg(long)]
    allow_rewind: bool,
}

/// Runs an `offsets` subcommand.
pub(crate) async fn run(command: OffsetsCommand) -> anyhow::Result<()> {
    match command {
        OffsetsCommand::Translate(args) => {
            let (_, rows) = rows(&args).await?;
            if args.json {
                print_json(&rows, None);
            } else {
                print_table(&rows, None);
            }
            Ok(())
        }
        OffsetsCommand::Apply(args) => apply(args).await,
    }
}

async fn rows(args: &TranslateArgs) -> anyhow::Result<(strait_kafka::Cluster, Vec<Row>)> {
    let flow = args.flow.flow()?;
    let selector = GroupSelector::new(args.group.clone(), args.group_regex.clone())?;
    let to_datetime = args
        .to_datetime
        .as_deref()
        .map(parse_datetime)
        .transpose()?;
    let target = connect_target(&flow, "offsets").await?;
    let Translated { rows, note } = translate(&flow, &target, &selector, to_datetime).await?;
    if let Some(note) = note {
        eprintln!("strait: {note}");
    }
    if rows.is_empty() {
        bail!(
            "no checkpoints for {} in {} on cluster {} (is the flow running with emit.checkpoints.enabled, and has the group committed offsets on {}?)",
            match &selector {
                GroupSelector::Name(g) => format!("group {g}"),
                GroupSelector::Regex(_) => "groups matching the regex".to_owned(),
            },
            strait_mirror::checkpoint::checkpoints_topic(&flow),
            flow.target,
            flow.source,
        );
    }
    Ok((target, rows))
}

async fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let (target, rows) = rows(&args.translate).await?;
    let alias = args.translate.flow.flow()?.target;
    let groups: BTreeSet<String> = rows.iter().map(|r| r.group.clone()).collect();
    let mut active = Vec::new();
    let mut actions = BTreeMap::new();
    for group in &groups {
        let described = within(
            format!("describing group {group} on cluster {alias}"),
            target.describe_group(group),
        )
        .await?;
        if let TargetGroup::Active(state) = TargetGroup::from_description(&described) {
            active.push(format!("{group} ({state})"));
        }
        let committed = within(
            format!("fetching offsets of group {group} on cluster {alias}"),
            target.fetch_offsets(group, None),
        )
        .await?;
        for (i, row) in rows.iter().enumerate().filter(|(_, r)| &r.group == group) {
            let action = match (row.how, row.target_offset) {
                (How::Untranslatable, _) | (_, None) => "skip: untranslatable",
                (_, Some(offset)) => {
                    let wanted = WantedOffset {
                        topic: row.topic.clone(),
                        partition: row.partition,
                        offset,
                        metadata: row.metadata.clone(),
                    };
                    match decide(&committed, &wanted, args.allow_rewind) {
                        Decision::Write => "commit",
                        Decision::Unchanged => "unchanged",
                        Decision::WouldRewind => "skip: would rewind",
                    }
                }
            };
            actions.insert(i, action);
        }
    }
    if args.translate.json {
        print_json(&rows, Some(&actions));
    } else {
        print_table(&rows, Some(&actions));
    }
    if !active.is_empty() {
        bail!(
            "refusing to move groups with active members on cluster {alias}: {}; stop their consumers first",
            active.join(", ")
        );
    }
    let rewinds = actions.values().filter(|a| a.contains("rewind")).count();
    if rewinds > 0 {
        eprintln!("strait: {rewinds} partitions left alone: the group is further ahead on {alias} (--allow-rewind moves it back)");
    }
    if !args.execute {
        eprintln!("strait: dry run, nothing committed (add --execute to commit)");
        return Ok(());
    }
    for group in &groups {
        let writes: Vec<(&str, i32, i64, Option<&str>)> = rows
            .iter()
            .enumerate()
            .filter(|(i, r)| &r.group == group && actions.get(i) == Some(&"commit"))
            .filter_map(|(_, r)| {
                Some((
                    r.topic.as_str(),
                    r.partition,
                    r.target_offset?,
                    Some(r.metadata.as_str()),
                ))
            })
            .collect();
        within(
            format!("committing offsets of group {group} on cluster {alias}"),
            target.commit_offsets(group, &writes),
        )
        .await?;
        eprintln!(
            "strait: group {group}: {} offsets committed on {alias}",
            writes.len()
        );
    }
    Ok(())
}
