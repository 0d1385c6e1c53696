//! The job runner in-process on a real store: panics, pipelines, concurrency bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rockit_edge::jobs::queue::NewTask;
use rockit_edge::jobs::{Jobs, RunnerConfig, TaskContext, TaskFuture, TaskHandler};
use rockit_edge::store::{Store, StoreError, TASKS, TaskRecord, TaskStatus};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Sleeps `ms` milliseconds, panics when asked, and tracks how many run at once.
struct Probe {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl TaskHandler for Probe {
    fn kind(&self) -> &'static str {
        "probe"
    }

    fn run(&self, ctx: TaskContext) -> TaskFuture {
        let (running, peak) = (Arc::clone(&self.running), Arc::clone(&self.peak));
        let params = ctx.params().clone();
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(params["ms"].as_u64().unwrap_or(0))).await;
            running.fetch_sub(1, Ordering::SeqCst);
            if params["panic"] == true {
                panic!("probe exploded");
            }
            Ok(json!({ "ok": true }))
        })
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    jobs: Jobs,
    peak: Arc<AtomicUsize>,
}

async fn harness(workers: usize) -> Harness {
    harness_per_org(workers, workers).await
}

async fn harness_per_org(workers: usize, per_org: usize) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("edge.redb"), 1 << 20, dir.path()).expect("store");
    let peak = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        running: Arc::new(AtomicUsize::new(0)),
        peak: Arc::clone(&peak),
    };
    let jobs = Jobs::start(
        store.clone(),
        RunnerConfig {
            workers,
            lease: Duration::from_secs(5),
            per_org,
        },
        vec![Arc::new(probe)],
        CancellationToken::new(),
    )
    .await
    .expect("start runner");
    Harness {
        _dir: dir,
        store,
        jobs,
        peak,
    }
}

fn probe(params: Value, pipeline: Option<&str>) -> NewTask {
    probe_of(None, params, pipeline)
}

fn probe_of(org: Option<&str>, params: Value, pipeline: Option<&str>) -> NewTask {
    NewTask {
        kind: "probe".into(),
        org: org.map(str::to_string),
        app: None,
        group: None,
        pipeline: pipeline.map(str::to_string),
        params,
    }
}

async fn wait_all(store: &Store, names: &[String]) -> Vec<TaskRecord> {
    for _ in 0..400 {
        let names = names.to_vec();
        let tasks = store
            .read(move |tx| {
                let table = tx.open(&TASKS)?;
                names
                    .iter()
                    .map(|n| table.get(n.as_str()).map(|t| t.expect("task exists")))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await
            .expect("read");
        if tasks.iter().all(|t| t.status.is_terminal()) {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("tasks did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_fails_and_the_runner_lives_on() {
    let h = harness(2).await;
    let bad = h
        .jobs
        .submit(probe(json!({"panic": true}), None))
        .await
        .expect("submit");
    let good = h
        .jobs
        .submit(probe(json!({"ms": 10}), None))
        .await
        .expect("submit");
    let tasks = wait_all(&h.store, &[bad.name, good.name]).await;
    assert_eq!(tasks[0].status, TaskStatus::Failed);
    let message = tasks[0].exception.as_ref().expect("exception")["internal"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(message.contains("probe exploded"), "{message}");
    assert_eq!(tasks[1].status, TaskStatus::Done);
    let after = h.jobs.submit(probe(json!({}), None)).await.expect("submit");
    assert_eq!(
        wait_all(&h.store, &[after.name]).await[0].status,
        TaskStatus::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_one_pipeline_run_one_at_a_time_in_order() {
    let h = harness(4).await;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            h.jobs
                .submit(probe(json!({"ms": 150}), Some("acme/game")))
                .await
                .expect("submit")
                .name,
        );
    }
    let tasks = wait_all(&h.store, &names).await;
    for pair in tasks.windows(2) {
        let (first, second) = (&pair[0], &pair[1]);
        assert!(
            second.started.expect("started") >= first.ended.expect("ended"),
            "{} started before {} ended",
            second.name,
            first.name
        );
    }
    assert_eq!(h.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_by_the_worker_count() {
    let h = harness(2).await;
    let mut names = Vec::new();
    for i in 0..6 {
        let pipeline = format!("app{i}");
        names.push(
            h.jobs
                .submit(probe(json!({"ms": 200}), Some(&pipeline)))
                .await
                .expect("submit")
                .name,
        );
    }
    let tasks = wait_all(&h.store, &names).await;
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Done));
    assert_eq!(
        h.peak.load(Ordering::SeqCst),
        2,
        "different apps run in parallel, at most 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_orgs_long_tasks_leave_a_worker_for_another_org() {
    let h = harness_per_org(2, 1).await;
    let mut long = Vec::new();
    for i in 0..3 {
        let pipeline = format!("busy/app{i}");
        long.push(
            h.jobs
                .submit(probe_of(Some("busy"), json!({"ms": 400}), Some(&pipeline)))
                .await
                .expect("submit")
                .name,
        );
    }
    let quick = h
        .jobs
        .submit(probe_of(Some("other"), json!({}), None))
        .await
        .expect("submit")
        .name;
    let mut names = long.clone();
    names.push(quick);
    let tasks = wait_all(&h.store, &names).await;
    let (busy, other) = (&tasks[..3], &tasks[3]);
    assert!(
        other.ended.expect("ended") < busy[0].ended.expect("ended"),
        "the other org's task waited for the busy org's first task"
    );
    for pair in busy.windows(2) {
        assert!(
            pair[1].started.expect("started") >= pair[0].ended.expect("ended"),
            "the busy org ran more tasks at once than its bound"
        );
    }
}
