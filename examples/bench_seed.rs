//! Seeds a stopped appliance's store for `scripts/bench/api.sh`: for every org already in it,
//! `--tasks` ended tasks of its first app and `--audit` audit entries, and `--queued` tasks
//! waiting in one org's pipeline behind a long-running one. Written through the store's own
//! API (the same records and indexes the server writes), in one transaction per org.
//!
//! Usage: cargo run --release --example bench_seed -- DATA_DIR [--tasks N] [--audit N] [--queued N]

use std::path::PathBuf;

use chrono::Utc;
use rockit_edge::jobs::{NewTask, queue, submit};
use rockit_edge::store::{
    APPS, AuditRecord, HelloParams, ORGS, Store, StoreError, TaskSpec, append_audit, org_prefix,
};

struct Args {
    data_dir: PathBuf,
    tasks: usize,
    audit: usize,
    queued: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let data_dir = args
        .next()
        .ok_or("usage: bench_seed DATA_DIR [--tasks N] [--audit N] [--queued N]")?;
    let mut parsed = Args {
        data_dir: data_dir.into(),
        tasks: 1000,
        audit: 100,
        queued: 1000,
    };
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--tasks" => parsed.tasks = value,
            "--audit" => parsed.audit = value,
            "--queued" => parsed.queued = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(parsed)
}

fn hello(message: &str, delay_ms: u64) -> TaskSpec {
    TaskSpec::Hello(HelloParams {
        message: message.to_string(),
        delay_ms,
        heavy: false,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let store = Store::open(
        &args.data_dir.join("edge.redb"),
        64 << 20,
        &args.data_dir.join("backups"),
    )?;
    let orgs: Vec<String> = store
        .read(|tx| tx.open(&ORGS)?.with_prefix(""))
        .await?
        .into_iter()
        .map(|(_, org)| org.name)
        .collect();
    for (n, org) in orgs.iter().enumerate() {
        let (org, tasks, audit) = (org.clone(), args.tasks, args.audit);
        store
            .write(move |tx| {
                let app = tx
                    .open(&APPS)?
                    .with_prefix(&org_prefix(&org))?
                    .into_iter()
                    .next()
                    .map(|(_, app)| app.name);
                for i in 0..tasks {
                    let mut task = NewTask::new(hello(&format!("seed {i}"), 0), Some(org.clone()));
                    if let Some(app) = &app {
                        task = task.for_app(app.clone());
                    }
                    let task = submit(tx, task, Utc::now())?;
                    queue::expire(tx, &task.name, None, Utc::now())?;
                }
                for i in 0..audit {
                    append_audit(
                        tx,
                        AuditRecord {
                            id: 0,
                            time: Utc::now(),
                            org: Some(org.clone()),
                            actor: "seed".into(),
                            action: "POST /be/v1/apps".into(),
                            target: format!("/be/v1/apps/seed{i}"),
                            result: 200,
                            client_address: "127.0.0.1".into(),
                        },
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        eprintln!("seeded org {} of {}", n + 1, orgs.len());
    }
    if let Some(org) = orgs.first().cloned() {
        let queued = args.queued;
        store
            .write(move |tx| {
                // One long task holds the pipeline; the others wait behind it.
                for i in 0..=queued {
                    let delay = if i == 0 { 3_600_000 } else { 0 };
                    let task =
                        NewTask::new(hello(&format!("queued {i}"), delay), Some(org.clone()))
                            .in_pipeline(format!("bench/{org}"));
                    submit(tx, task, Utc::now())?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
    }
    eprintln!(
        "seeded {} orgs: {} tasks and {} audit entries each, {} queued",
        orgs.len(),
        args.tasks,
        args.audit,
        args.queued
    );
    Ok(())
}
