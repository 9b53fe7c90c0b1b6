//! Prometheus metrics, recorded through the `metrics` facade into a
//! `metrics-exporter-prometheus` recorder that belongs to one broker (nothing is installed
//! globally, so several brokers in one process keep separate numbers) and rendered by Weir's
//! own HTTP listener ([`crate::http`]).
//!
//! Two kinds of series:
//! - **Events** (counters, histograms, the connection gauge), recorded on the request path
//!   through handles registered once: per API in a table indexed by API key, per topic in the
//!   [`TopicStats`] each `Topic` carries. No lock is taken per request; error counters are
//!   looked up in the recorder's sharded registry, and only when a response carries an error.
//! - **State** (partitions, log sizes, offsets, groups, disk), read from the broker when
//!   `/metrics` is scraped ([`snapshot`]), so deleted topics and groups leave no stale series.
//!
//! With no HTTP listener configured (`weir.http.listen` empty, the default) every handle is a
//! no-op and request timing is skipped: metrics then cost nothing.
//!
//! Names follow Prometheus conventions: `weir_` prefix, counters end in `_total`, durations are
//! histograms in seconds with explicit buckets (aggregatable across brokers, unlike summaries).
//! The README's "Operating Weir" maps each to Kafka's JMX name or Redpanda's metric.

pub mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use kafka_protocol::error::ResponseError;
use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use parking_lot::Mutex;
use weir_protocol::request::api_name;
use weir_protocol::versions::SUPPORTED_APIS;

/// Requests handled, by API (`api` = Kafka's API name, e.g. `Produce`).
pub const REQUESTS: &str = "weir_requests_total";
/// Error codes in responses, by API and Kafka error name (`UNKNOWN_TOPIC_OR_PARTITION`); one
/// increment per occurrence (a Produce refused on three partitions counts three), as Kafka's
/// `ErrorsPerSec`. `NONE` is not counted.
pub const REQUEST_ERRORS: &str = "weir_request_errors_total";
/// Seconds from a request being decoded to its response being ready, by API (includes a
/// Fetch's long poll and an acks=all Produce's fsync wait).
pub const REQUEST_DURATION: &str = "weir_request_duration_seconds";
/// Records appended by Produce, by topic.
pub const RECORDS_IN: &str = "weir_topic_records_in_total";
/// Record-batch bytes appended by Produce (as stored, after any recompression), by topic.
pub const BYTES_IN: &str = "weir_topic_bytes_in_total";
/// Records returned by Fetch (consumers and the broker's own readers), by topic.
pub const RECORDS_OUT: &str = "weir_topic_records_out_total";
/// Record-batch bytes returned by Fetch, by topic.
pub const BYTES_OUT: &str = "weir_topic_bytes_out_total";
/// Open client connections.
pub const CONNECTIONS: &str = "weir_connections_active";
/// Client connections accepted since start.
pub const CONNECTIONS_ACCEPTED: &str = "weir_connections_accepted_total";
/// Partition leaderships this broker gained (cluster mode), Redpanda's
/// `redpanda_raft_leadership_changes`.
pub const LEADER_CHANGES: &str = "weir_leader_changes_total";
/// Seconds per log flush (msync of dirty ranges + fsync of sealed files), one per flush job.
pub const FLUSH_DURATION: &str = "weir_log_flush_duration_seconds";
/// Always 1, labelled with `version` and `revision` (git commit).
pub const BUILD_INFO: &str = "weir_build_info";

/// The `topic` label of topics past `weir.metrics.topic.label.limit`.
pub const OTHER_TOPIC: &str = "other";

/// Request-duration buckets, seconds: 100 µs to 10 s (a Fetch long poll defaults to 500 ms).
const REQUEST_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Flush-duration buckets, seconds: 50 µs to 5 s.
const FLUSH_BUCKETS: &[f64] = &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// This build's version (Cargo) and git revision (`build.rs`; `unknown` outside a checkout).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (short hash, `-dirty` if the tree had changes).
pub const REVISION: &str = env!("GIT_REVISION_OF_THIS_BUILD");

/// Handles registered once per API.
struct ApiMetrics {
    name: &'static str,
    requests: Counter,
    duration: Histogram,
}

/// Per-topic traffic counters. Topics past the label limit share the `other` handles.
#[derive(Clone)]
pub struct TopicStats {
    /// The `topic` label these counters carry (the topic's name, or `other`).
    pub label: Arc<str>,
    pub records_in: Counter,
    pub bytes_in: Counter,
    pub records_out: Counter,
    pub bytes_out: Counter,
}

impl Default for TopicStats {
    /// No-op counters (for topics that are only validated, never created).
    fn default() -> TopicStats {
        TopicStats {
            label: OTHER_TOPIC.into(),
            records_in: Counter::noop(),
            bytes_in: Counter::noop(),
            records_out: Counter::noop(),
            bytes_out: Counter::noop(),
        }
    }
}

/// Which topics have their own label, so the number of series stays bounded.
struct TopicLabels {
    named: HashMap<Arc<str>, TopicStats>,
    other: TopicStats,
}

/// A broker's metrics: the recorder, and the handles the request path uses.
pub struct Metrics {
    recorder: Option<PrometheusRecorder>,
    handle: Option<PrometheusHandle>,
    /// Indexed by API key; `None` for APIs Weir does not serve.
    apis: Vec<Option<ApiMetrics>>,
    /// Open connections (`weir_connections_active`).
    pub connections: Gauge,
    /// Accepted connections (`weir_connections_accepted_total`).
    pub connections_accepted: Counter,
    /// Leaderships gained (`weir_leader_changes_total`).
    pub leader_changes: Counter,
    /// Flush durations (`weir_log_flush_duration_seconds`).
    pub flush_duration: Histogram,
    topics: Mutex<TopicLabels>,
    topic_label_limit: usize,
}

/// When a request started, if requests are being timed.
#[derive(Clone, Copy)]
pub struct RequestTimer {
    api_key: i16,
    started: Option<Instant>,
}

impl Metrics {
    /// Metrics recorded into a fresh Prometheus registry (`enabled`), or no-ops.
    /// `topic_label_limit` bounds the `topic` label's values (then `other`).
    pub fn new(enabled: bool, topic_label_limit: usize) -> Metrics {
        let recorder = enabled.then(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(REQUEST_DURATION.into()), REQUEST_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(FLUSH_DURATION.into()), FLUSH_BUCKETS));
            // Only fails on an empty bucket list; the lists above are constants.
            builder.map(PrometheusBuilder::build_recorder).unwrap_or_else(|_| PrometheusBuilder::new().build_recorder())
        });
        let handle = recorder.as_ref().map(PrometheusRecorder::handle);
        if let Some(r) = &recorder {
            describe(r);
        }
        let register_counter = |name: &'static str, labels: Vec<Label>| match &recorder {
            Some(r) => r.register_counter(&Key::from_parts(name, labels), &METADATA),
            None => Counter::noop(),
        };
        let register_histogram = |name: &'static str, labels: Vec<Label>| match &recorder {
            Some(r) => r.register_histogram(&Key::from_parts(name, labels), &METADATA),
            None => Histogram::noop(),
        };
        let max_key = SUPPORTED_APIS.iter().map(|(k, _)| *k as i16).max().unwrap_or(0).max(0) as usize;
        let mut apis: Vec<Option<ApiMetrics>> = (0..=max_key).map(|_| None).collect();
        for (key, _) in SUPPORTED_APIS {
            let name = api_name(*key);
            let labels = || vec![Label::new("api", name)];
            apis[*key as i16 as usize] =
                Some(ApiMetrics { name, requests: register_counter(REQUESTS, labels()), duration: register_histogram(REQUEST_DURATION, labels()) });
        }
        let connections = match &recorder {
            Some(r) => r.register_gauge(&Key::from_name(CONNECTIONS), &METADATA),
            None => Gauge::noop(),
        };
        if let Some(r) = &recorder {
            let labels = vec![Label::new("version", VERSION), Label::new("revision", REVISION)];
            r.register_gauge(&Key::from_parts(BUILD_INFO, labels), &METADATA).set(1.0);
        }
        let other = TopicStats {
            label: OTHER_TOPIC.into(),
            records_in: register_counter(RECORDS_IN, vec![Label::new("topic", OTHER_TOPIC)]),
            bytes_in: register_counter(BYTES_IN, vec![Label::new("topic", OTHER_TOPIC)]),
            records_out: register_counter(RECORDS_OUT, vec![Label::new("topic", OTHER_TOPIC)]),
            bytes_out: register_counter(BYTES_OUT, vec![Label::new("topic", OTHER_TOPIC)]),
        };
        Metrics {
            connections_accepted: register_counter(CONNECTIONS_ACCEPTED, Vec::new()),
            leader_changes: register_counter(LEADER_CHANGES, Vec::new()),
            flush_duration: register_histogram(FLUSH_DURATION, Vec::new()),
            connections,
            apis,
            topics: Mutex::new(TopicLabels { named: HashMap::new(), other }),
            topic_label_limit,
            recorder,
            handle,
        }
    }

    /// Whether anything is recorded (an HTTP listener is configured).
    pub fn enabled(&self) -> bool {
        self.recorder.is_some()
    }

    /// The counters for `topic`: its own while fewer than the label limit have one, else the
    /// shared `other` ones. Called when a topic is opened or rebuilt, not per request; the same
    /// name always gets the same counters.
    pub fn topic(&self, topic: &str) -> TopicStats {
        let mut labels = self.topics.lock();
        if let Some(stats) = labels.named.get(topic) {
            return stats.clone();
        }
        let Some(recorder) = &self.recorder else { return labels.other.clone() };
        if labels.named.len() >= self.topic_label_limit {
            return labels.other.clone();
        }
        let label: Arc<str> = topic.into();
        let counter = |name: &'static str| recorder.register_counter(&Key::from_parts(name, vec![Label::new("topic", label.to_string())]), &METADATA);
        let stats = TopicStats {
            label: label.clone(),
            records_in: counter(RECORDS_IN),
            bytes_in: counter(BYTES_IN),
            records_out: counter(RECORDS_OUT),
            bytes_out: counter(BYTES_OUT),
        };
        labels.named.insert(label, stats.clone());
        stats
    }

    /// Whether `topic` has its own label (per-partition state series are shown only for those).
    pub fn topic_is_labelled(&self, topic: &str) -> bool {
        self.topics.lock().named.contains_key(topic)
    }

    /// Starts timing a request of API `api_key`.
    pub fn start_request(&self, api_key: i16) -> RequestTimer {
        RequestTimer { api_key, started: self.enabled().then(Instant::now) }
    }

    /// Records a finished request: its count, duration, and each non-zero error code in its
    /// response (`errors`: code and number of occurrences).
    pub fn finish_request(&self, timer: RequestTimer, errors: &[(i16, u32)]) {
        let Some(started) = timer.started else { return };
        let Some(api) = usize::try_from(timer.api_key).ok().and_then(|i| self.apis.get(i)).and_then(Option::as_ref) else { return };
        api.requests.increment(1);
        api.duration.record(started.elapsed().as_secs_f64());
        if let Some(recorder) = &self.recorder {
            for &(code, count) in errors {
                let labels = vec![Label::new("api", api.name), Label::new("error", error_name(code))];
                recorder.register_counter(&Key::from_parts(REQUEST_ERRORS, labels), &METADATA).increment(u64::from(count));
            }
        }
    }

    /// The event series in Prometheus text format (empty when disabled).
    pub fn render_events(&self) -> String {
        self.handle.as_ref().map(PrometheusHandle::render).unwrap_or_default()
    }

    /// Drains histogram samples into their buckets; must run periodically (the recorder keeps
    /// raw samples until then).
    pub fn upkeep(&self) {
        if let Some(handle) = &self.handle {
            handle.run_upkeep();
        }
    }
}

static METADATA: metrics::Metadata<'static> = metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

fn describe(r: &PrometheusRecorder) {
    let counters: &[(&'static str, &'static str)] = &[
        (REQUESTS, "Requests handled, by Kafka API."),
        (REQUEST_ERRORS, "Error codes in responses, by Kafka API and error name (one per occurrence)."),
        (RECORDS_IN, "Records appended by Produce, by topic (topics past the label limit: other)."),
        (BYTES_IN, "Record-batch bytes appended by Produce, by topic."),
        (RECORDS_OUT, "Records returned by Fetch, by topic."),
        (BYTES_OUT, "Record-batch bytes returned by Fetch, by topic."),
        (CONNECTIONS_ACCEPTED, "Client connections accepted."),
        (LEADER_CHANGES, "Partition leaderships this broker gained (cluster mode)."),
    ];
    for (name, help) in counters {
        r.describe_counter((*name).into(), None, (*help).into());
    }
    r.describe_histogram(REQUEST_DURATION.into(), Some(Unit::Seconds), "Time from request decoded to response ready, by Kafka API.".into());
    r.describe_histogram(FLUSH_DURATION.into(), Some(Unit::Seconds), "Duration of each log flush round, as each log in it becomes durable (write-back start + fdatasync).".into());
    r.describe_gauge(CONNECTIONS.into(), None, "Open client connections.".into());
    r.describe_gauge(BUILD_INFO.into(), None, "Always 1; labels give the version and git revision.".into());
}

/// Kafka's name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`), or the number for codes the
/// protocol crate does not know.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(error) => screaming_snake(&format!("{error:?}")),
        None => format!("CODE_{code}"),
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(10), "MESSAGE_TOO_LARGE");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
    }

    #[test]
    fn topic_labels_are_bounded() {
        let metrics = Metrics::new(true, 2);
        assert_eq!(&*metrics.topic("a").label, "a");
        assert_eq!(&*metrics.topic("b").label, "b");
        assert_eq!(&*metrics.topic("c").label, OTHER_TOPIC);
        assert_eq!(&*metrics.topic("a").label, "a");
        metrics.topic("a").bytes_in.increment(5);
        metrics.topic("c").bytes_in.increment(7);
        metrics.topic("d").bytes_in.increment(1);
        let text = metrics.render_events();
        assert!(text.contains("weir_topic_bytes_in_total{topic=\"a\"} 5"), "{text}");
        assert!(text.contains("weir_topic_bytes_in_total{topic=\"other\"} 8"), "{text}");
    }

    #[test]
    fn disabled_metrics_render_nothing() {
        let metrics = Metrics::new(false, 10);
        let timer = metrics.start_request(0);
        metrics.finish_request(timer, &[(3, 1)]);
        metrics.topic("a").bytes_in.increment(5);
        assert_eq!(metrics.render_events(), "");
    }
}
