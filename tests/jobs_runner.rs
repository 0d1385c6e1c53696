//! The job runner in-process on a real store: panics, pipelines, concurrency bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rockit_edge::jobs::{
    Dispatcher, Jobs, NewTask, Pool, RunnerConfig, TaskContext, TaskError, TaskFuture, submit,
};
use rockit_edge::store::{
    HelloParams, Store, StoreError, TASKS, TaskRecord, TaskSpec, TaskStatus, WorkClass,
};
use rockit_edge::workers::Workers;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Runs every task as a probe: sleeps `delayMs`, panics when the message is "panic", waits
/// for its stop signal when the message is "wait", and tracks how many run at once per pool.
struct Probe {
    running: [Arc<AtomicUsize>; 2],
    peak: [Arc<AtomicUsize>; 2],
}

fn pool_index(class: WorkClass) -> usize {
    match class {
        WorkClass::Light => 0,
        WorkClass::Heavy => 1,
    }
}

impl Dispatcher for Probe {
    fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskFuture {
        let index = pool_index(spec.class());
        let (running, peak) = (
            Arc::clone(&self.running[index]),
            Arc::clone(&self.peak[index]),
        );
        let TaskSpec::Hello(params) = spec else {
            return Box::pin(async { Err(TaskError::internal("probes are hello tasks")) });
        };
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let stopped = tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(params.delay_ms)) => false,
                _ = ctx.stop().cancelled() => true,
            };
            running.fetch_sub(1, Ordering::SeqCst);
            match params.message.as_str() {
                "panic" => panic!("probe exploded"),
                _ if stopped => Err(TaskError::Interrupted),
                _ => Ok(json!({ "ok": true }).into()),
            }
        })
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    peak: [Arc<AtomicUsize>; 2],
}

async fn harness(workers: usize) -> Harness {
    harness_with(
        Pool {
            workers,
            per_org: workers,
        },
        Pool {
            workers: 1,
            per_org: 1,
        },
    )
    .await
}

async fn harness_with(light: Pool, heavy: Pool) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("edge.redb"), 1 << 20, dir.path()).expect("store");
    let peak = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let probe = Probe {
        running: [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))],
        peak: peak.clone(),
    };
    Jobs::start(
        store.clone(),
        RunnerConfig {
            light,
            heavy,
            lease: Duration::from_secs(5),
        },
        Arc::new(probe),
        CancellationToken::new(),
        &Workers::default(),
    )
    .await
    .expect("start runner");
    Harness {
        _dir: dir,
        store,
        peak,
    }
}

/// A probe task: `message` "panic" or "wait" or anything, `delay_ms`, in the heavy pool or not.
fn probe(message: &str, delay_ms: u64, heavy: bool) -> TaskSpec {
    TaskSpec::Hello(HelloParams {
        message: message.to_string(),
        delay_ms,
        heavy,
    })
}

impl Harness {
    /// Submits a task in its own transaction, as every submission is: inside a write.
    async fn submit(&self, spec: TaskSpec, org: Option<&str>, pipeline: Option<&str>) -> String {
        let mut task = NewTask::new(spec, org.map(str::to_string));
        if let Some(pipeline) = pipeline {
            task = task.in_pipeline(pipeline.to_string());
        }
        self.store
            .write(move |tx| submit(tx, task, chrono::Utc::now()))
            .await
            .expect("submit")
            .name
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
    let bad = h.submit(probe("panic", 0, false), None, None).await;
    let good = h.submit(probe("good", 10, false), None, None).await;
    let tasks = wait_all(&h.store, &[bad, good]).await;
    assert_eq!(tasks[0].status, TaskStatus::Failed);
    let message = tasks[0].exception.as_ref().expect("exception")["internal"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(message.contains("probe exploded"), "{message}");
    assert_eq!(tasks[1].status, TaskStatus::Done);
    let after = h.submit(probe("after", 0, false), None, None).await;
    assert_eq!(
        wait_all(&h.store, &[after]).await[0].status,
        TaskStatus::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_one_pipeline_run_one_at_a_time_in_order() {
    let h = harness(4).await;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            h.submit(probe("step", 150, false), None, Some("acme/game"))
                .await,
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
    assert_eq!(h.peak[0].load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_by_the_worker_count() {
    let h = harness(2).await;
    let mut names = Vec::new();
    for i in 0..6 {
        let pipeline = format!("app{i}");
        names.push(
            h.submit(probe("app", 200, false), None, Some(&pipeline))
                .await,
        );
    }
    let tasks = wait_all(&h.store, &names).await;
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Done));
    assert_eq!(
        h.peak[0].load(Ordering::SeqCst),
        2,
        "different apps run in parallel, at most 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_orgs_long_tasks_leave_a_worker_for_another_org() {
    let h = harness_with(
        Pool {
            workers: 2,
            per_org: 1,
        },
        Pool {
            workers: 1,
            per_org: 1,
        },
    )
    .await;
    let mut long = Vec::new();
    for i in 0..3 {
        let pipeline = format!("busy/app{i}");
        long.push(
            h.submit(probe("long", 400, false), Some("busy"), Some(&pipeline))
                .await,
        );
    }
    let quick = h
        .submit(probe("quick", 0, false), Some("other"), None)
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_tasks_have_their_own_bound_and_never_hold_the_light_workers() {
    let h = harness_with(
        Pool {
            workers: 2,
            per_org: 2,
        },
        Pool {
            workers: 1,
            per_org: 1,
        },
    )
    .await;
    let mut heavy = Vec::new();
    for i in 0..3 {
        let pipeline = format!("heavy{i}");
        heavy.push(
            h.submit(probe("heavy", 300, true), None, Some(&pipeline))
                .await,
        );
    }
    let light = h.submit(probe("light", 0, false), None, None).await;
    let mut names = heavy.clone();
    names.push(light);
    let tasks = wait_all(&h.store, &names).await;
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Done));
    assert_eq!(
        h.peak[1].load(Ordering::SeqCst),
        1,
        "one heavy task at a time"
    );
    assert!(
        tasks[3].ended.expect("ended") < tasks[0].ended.expect("ended"),
        "the light task waited for a heavy one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_task_is_stopped_at_once() {
    let h = harness(1).await;
    let name = h.submit(probe("wait", 600_000, false), None, None).await;
    for _ in 0..400 {
        if h.peak[0].load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let expired = name.clone();
    h.store
        .write(move |tx| {
            rockit_edge::jobs::queue::expire(tx, &expired, None, chrono::Utc::now()).map(|_| ())
        })
        .await
        .expect("expire");
    let next = h.submit(probe("next", 0, false), None, None).await;
    let tasks = wait_all(&h.store, &[name, next]).await;
    assert_eq!(tasks[0].status, TaskStatus::Expired);
    assert_eq!(
        tasks[1].status,
        TaskStatus::Done,
        "the only worker was freed by stopping the expired task"
    );
}
