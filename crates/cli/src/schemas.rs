//! `strait schemas sync`: one Schema Registry sync pass of a flow now, with its report (what
//! `strait run` does every `strait.schemas.sync.interval.seconds`).

use anyhow::bail;
use strait_mirror::config::FlowConfig;
use strait_mirror::schemas::{SchemaReport, SchemaSync};

use crate::offsets::flow::FlowArgs;

/// `strait schemas` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum SchemasCommand {
    /// Copy subjects, versions and compatibility levels to the target's registry now, and report
    /// conflicts and schema ids the target gave differently.
    #[command(
        after_help = "Examples:\n  strait schemas sync mm2.properties                  # every flow with strait.schemas.sync.enabled\n  strait schemas sync mm2.properties --flow 'primary->backup' --json\n\nThe flow needs strait.schemas.sync.enabled = true and <alias>.schema.registry.url for both clusters.\nExit status 0 when every selected version is on the target, 2 on a conflict or a failed request."
    )]
    Sync(SyncArgs),
}

/// Arguments of `strait schemas sync`.
#[derive(clap::Args, Debug)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    flow: FlowArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a `schemas` subcommand.
pub(crate) async fn run(command: SchemasCommand) -> anyhow::Result<()> {
    let SchemasCommand::Sync(args) = command;
    let named = args.flow.flow.is_some() || args.flow.source.is_some();
    let flows: Vec<FlowConfig> = args
        .flow
        .flows_or_all()?
        .into_iter()
        .filter(|f| named || f.schema_sync.is_some())
        .collect();
    if flows.is_empty() {
        bail!(
            "{} enables schema sync for no flow: set strait.schemas.sync.enabled = true \
             (or A->B.strait.schemas.sync.enabled) and <alias>.schema.registry.url for both clusters",
            args.flow.config.display()
        );
    }
    let mut clean = true;
    let mut reports = Vec::new();
    for flow in &flows {
        let Some(settings) = &flow.schema_sync else {
            bail!(
                "flow {} does not sync schemas: set {}.strait.schemas.sync.enabled = true",
                flow.name(),
                flow.name()
            );
        };
        let sync = SchemaSync::new(&flow.name(), settings)?;
        let report = sync.pass().await;
        clean &= report.conflicts.is_empty() && report.failures.is_empty();
        if args.json {
            reports.push(serde_json::json!({ "flow": flow.name(), "report": report }));
        } else {
            print_report(&flow.name(), &sync.registries(), &report);
        }
    }
    if args.json {
        let value = match reports.len() {
            1 => reports.pop().expect("one report"),
            _ => serde_json::Value::Array(reports),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    if clean {
        Ok(())
    } else {
        std::process::exit(2)
    }
}

fn print_report(flow: &str, (source, target): &(String, String), report: &SchemaReport) {
    println!("{flow}: {source} -> {target}");
    println!(
        "  subjects {}, versions in sync {}, registered now {}, compatibility levels set {}, versions only on the target {}",
        report.subjects, report.in_sync, report.registered, report.configs_set, report.target_only
    );
    let ids = if report.ids_kept {
        "kept (the target is in IMPORT mode)"
    } else {
        "given by the target (it is not in IMPORT mode)"
    };
    println!("  schema ids: {ids}");
    if report.renumbered_count() > 0 {
        println!(
            "  {} versions under another id or version on the target (records carry the source's id):",
            report.renumbered_count()
        );
        for (subject, renumbered) in &report.renumbered {
            for r in renumbered {
                println!(
                    "    {subject} version {}: source id {} -> target id {} (version {})",
                    r.version, r.source_id, r.target.id, r.target.version
                );
            }
        }
    }
    if !report.conflicts.is_empty() {
        println!(
            "  {} conflicts (never overwritten):",
            report.conflicts.len()
        );
        for conflict in &report.conflicts {
            println!("    {conflict}");
        }
    }
    for failure in &report.failures {
        println!("  failed: {failure}");
    }
}
