//! The process's counters for `GET /metrics`, in the Prometheus text format (version 0.0.4).
//!
//! One registry for the whole process, as Prometheus clients keep a default one: requests are
//! counted by the HTTP middleware, bytes by the pipeline and the publishers, deliveries by the
//! webhook notifier, each where it happens, without threading a handle through every layer.
//! Gauges that the store already knows (tasks by type and state) are read at scrape time and
//! handed to [`render`]. Label values are route templates, methods and statuses only, so the
//! number of series stays bounded whatever the traffic.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Monotonic counters kept outside the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// Build bytes received: uploaded or downloaded tars.
    BytesImported,
    /// Build bytes turned into images (the uncompressed tar read by image build).
    BytesProcessed,
    /// Bytes written to origins (the depot and S3), images and patches.
    BytesPublished,
    /// Origin operations that failed (a deploy attempt, a listing, a removal).
    OriginErrors,
    /// Webhook deliveries answered with 2xx.
    WebhookDeliveries,
    /// Webhook delivery attempts that failed (refused, timed out, non-2xx).
    WebhookFailures,
}

impl Counter {
    const ALL: [Counter; 6] = [
        Counter::BytesImported,
        Counter::BytesProcessed,
        Counter::BytesPublished,
        Counter::OriginErrors,
        Counter::WebhookDeliveries,
        Counter::WebhookFailures,
    ];

    fn name_and_help(self) -> (&'static str, &'static str) {
        match self {
            Counter::BytesImported => (
                "rockit_edge_bytes_imported_total",
                "Build bytes received by upload or download.",
            ),
            Counter::BytesProcessed => (
                "rockit_edge_bytes_processed_total",
                "Build bytes read into block images.",
            ),
            Counter::BytesPublished => (
                "rockit_edge_bytes_published_total",
                "Image and patch bytes written to origins (depot and S3).",
            ),
            Counter::OriginErrors => (
                "rockit_edge_origin_errors_total",
                "Origin operations that failed.",
            ),
            Counter::WebhookDeliveries => (
                "rockit_edge_webhook_deliveries_total",
                "Webhook deliveries answered with 2xx.",
            ),
            Counter::WebhookFailures => (
                "rockit_edge_webhook_failures_total",
                "Webhook delivery attempts that failed.",
            ),
        }
    }
}

/// Requests of one method, route template and status.
#[derive(Default)]
struct RouteSeries {
    count: u64,
    seconds: f64,
    /// Requests at or under each bucket's bound (not cumulative here; summed when rendered).
    buckets: [u64; LATENCY_BUCKETS.len()],
}

#[derive(Default)]
struct Registry {
    counters: [AtomicU64; Counter::ALL.len()],
    requests: Mutex<BTreeMap<(String, String, u16), RouteSeries>>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

/// Adds `amount` to a counter.
pub fn add(counter: Counter, amount: u64) {
    REGISTRY.counters[counter as usize].fetch_add(amount, Ordering::Relaxed);
}

/// Counts an answered request under its route template (`unmatched` when no route matched).
pub fn observe_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let mut requests = REGISTRY
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let series = requests
        .entry((method.to_string(), route.to_string(), status))
        .or_default();
    series.count += 1;
    series.seconds += seconds;
    if let Some(bucket) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
        series.buckets[bucket] += 1;
    }
}

/// What the store knows at scrape time.
#[derive(Debug, Default)]
pub struct TaskCensus {
    /// Tasks by (type, state).
    pub by_type_and_state: BTreeMap<(String, String), u64>,
    /// Tasks submitted and not yet started.
    pub queued: u64,
}

/// The whole exposition; `build` labels `rockit_edge_build_info` (version, format versions).
pub fn render(build: &[(&str, String)], tasks: &TaskCensus) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "rockit_edge_build_info",
        "gauge",
        "The running binary; the value is always 1.",
    );
    let labels: Vec<String> = build.iter().map(|(key, value)| label(key, value)).collect();
    let _ = writeln!(out, "rockit_edge_build_info{{{}}} 1", labels.join(","));

    render_requests(&mut out);

    family(
        &mut out,
        "rockit_edge_tasks",
        "gauge",
        "Tasks in the store, by type and state.",
    );
    for ((kind, state), count) in &tasks.by_type_and_state {
        let _ = writeln!(
            out,
            "rockit_edge_tasks{{{},{}}} {count}",
            label("type", kind),
            label("state", state)
        );
    }
    family(
        &mut out,
        "rockit_edge_queue_depth",
        "gauge",
        "Tasks submitted and waiting for a worker.",
    );
    let _ = writeln!(out, "rockit_edge_queue_depth {}", tasks.queued);

    for counter in Counter::ALL {
        let (name, help) = counter.name_and_help();
        family(&mut out, name, "counter", help);
        let value = REGISTRY.counters[counter as usize].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

fn render_requests(out: &mut String) {
    let requests = REGISTRY
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    family(
        out,
        "rockit_edge_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route template and status.",
    );
    for ((method, route, status), series) in requests.iter() {
        let _ = writeln!(
            out,
            "rockit_edge_http_requests_total{{{},{},{}}} {}",
            label("method", method),
            label("route", route),
            label("status", &status.to_string()),
            series.count
        );
    }
    family(
        out,
        "rockit_edge_http_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its response head, by method and route template.",
    );
    let mut by_route: BTreeMap<(&str, &str), RouteSeries> = BTreeMap::new();
    for ((method, route, _), series) in requests.iter() {
        let merged = by_route.entry((method, route)).or_default();
        merged.count += series.count;
        merged.seconds += series.seconds;
        for (sum, n) in merged.buckets.iter_mut().zip(series.buckets) {
            *sum += n;
        }
    }
    for ((method, route), series) in &by_route {
        let labels = format!("{},{}", label("method", method), label("route", route));
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(series.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "rockit_edge_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "rockit_edge_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            series.count
        );
        let _ = writeln!(
            out,
            "rockit_edge_http_request_duration_seconds_sum{{{labels}}} {}",
            series.seconds
        );
        let _ = writeln!(
            out,
            "rockit_edge_http_request_duration_seconds_count{{{labels}}} {}",
            series.count
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `key="value"` with the value escaped as the text format requires.
fn label(key: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{key}=\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("route", "a\"b\\c\nd"), r#"route="a\"b\\c\nd""#);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        observe_request("GET", "/unit-test", 200, Duration::from_millis(3));
        observe_request("GET", "/unit-test", 500, Duration::from_secs(100));
        let text = render(&[], &TaskCensus::default());
        let bucket = |le: &str| {
            format!(
                "rockit_edge_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/unit-test\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 0\n", bucket("0.001"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", bucket("60"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", bucket("+Inf"))), "{text}");
    }
}
