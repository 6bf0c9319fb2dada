//! Prometheus metrics: request counts and latency histograms by route and status, database pool
//! usage (and the reads' share of it), authentication failures by reason, and how often a token
//! verified before answered. Rendered by hand in the text exposition format: a handful of series
//! does not need a metrics framework.

use crate::error::AuthRejection;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use poem::http::Method;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use crate::auth::{CacheLookups, TokenVerifier};
use crate::db::{Db, ReadTurnsUsage};

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The process's metrics; one instance is shared by the app and the `/metrics` endpoint.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), Histogram>>,
    /// Indexed by [`AuthRejection::kind_index`].
    auth_failures: [AtomicU64; AuthRejection::KINDS.len()],
}

impl Metrics {
    pub fn record_request(&self, route: &'static str, method: &Method, status: u16, latency: Duration) {
        let seconds = latency.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let histogram = requests.entry((route, method_label(method), status)).or_default();
        histogram.count += 1;
        histogram.sum_seconds += seconds;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    pub fn record_auth_failure(&self, rejection: AuthRejection) {
        self.auth_failures[rejection.kind_index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition of every series, plus the pool gauges and the verified-token lookups.
    pub fn render(&self, pool: PoolUsage, tokens: CacheLookups) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());

        out.push_str("# HELP http_requests_total HTTP requests answered, by route template, method and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((route, method, status), histogram) in requests.iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                histogram.count
            );
        }

        out.push_str("# HELP http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((route, method, status), histogram) in requests.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum_seconds
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        drop(requests);

        out.push_str("# HELP auth_failures_total Requests refused for authentication, by reason.\n");
        out.push_str("# TYPE auth_failures_total counter\n");
        for (kind, count) in AuthRejection::KINDS.iter().zip(&self.auth_failures) {
            let reason = kind.code();
            let _ = writeln!(
                out,
                "auth_failures_total{{reason=\"{reason}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }

        out.push_str(
            "# HELP verified_token_cache_lookups_total Bearer tokens looked up among those verified \
             before: answered from there (hit) or checked in full (miss).\n",
        );
        out.push_str("# TYPE verified_token_cache_lookups_total counter\n");
        let CacheLookups { hits, misses } = tokens;
        let _ = writeln!(out, "verified_token_cache_lookups_total{{result=\"hit\"}} {hits}");
        let _ = writeln!(out, "verified_token_cache_lookups_total{{result=\"miss\"}} {misses}");

        let PoolUsage { open, idle, max, reads } = pool;
        out.push_str("# HELP db_pool_connections Open database connections, by state.\n");
        out.push_str("# TYPE db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "db_pool_connections{{state=\"in_use\"}} {}",
            open.saturating_sub(idle)
        );
        let _ = writeln!(out, "db_pool_connections{{state=\"idle\"}} {idle}");
        out.push_str("# HELP db_pool_max_connections The pool's upper bound.\n");
        out.push_str("# TYPE db_pool_max_connections gauge\n");
        let _ = writeln!(out, "db_pool_max_connections {max}");
        if let Some(ReadTurnsUsage { taken, waiting, limit }) = reads {
            out.push_str(
                "# HELP db_pool_reads Reads (SELECTs outside a transaction) holding one of their \
                 turns on the pool, or waiting for one (DB_READ_CONNECTIONS).\n",
            );
            out.push_str("# TYPE db_pool_reads gauge\n");
            let _ = writeln!(out, "db_pool_reads{{state=\"in_flight\"}} {taken}");
            let _ = writeln!(out, "db_pool_reads{{state=\"waiting\"}} {waiting}");
            out.push_str("# HELP db_pool_max_read_connections How many connections reads may hold at once.\n");
            out.push_str("# TYPE db_pool_max_read_connections gauge\n");
            let _ = writeln!(out, "db_pool_max_read_connections {limit}");
        }
        out
    }
}

/// A static label per method, so recording a request allocates nothing.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

/// How many connections the pool holds, and how reads use their share (PostgreSQL only).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolUsage {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
    pub reads: Option<ReadTurnsUsage>,
}

impl PoolUsage {
    pub fn of(db: &Db) -> Self {
        let (open, idle, max) = db.pool_usage();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        PoolUsage {
            open: count(open),
            idle: count(idle),
            max: count(max),
            reads: db.read_usage(),
        }
    }
}

/// `GET /metrics`.
#[handler]
pub fn metrics_endpoint(
    metrics: Data<&std::sync::Arc<Metrics>>,
    db: Data<&Db>,
    verifier: Data<&std::sync::Arc<TokenVerifier>>,
) -> Response {
    metrics
        .render(PoolUsage::of(db.0), verifier.cache_lookups())
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_into_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record_request("/api/tasks", &Method::GET, 200, Duration::from_millis(3));
        metrics.record_request("/api/tasks", &Method::GET, 200, Duration::from_millis(30));
        metrics.record_auth_failure(AuthRejection::Expired);

        let text = metrics.render(
            PoolUsage {
                open: 3,
                idle: 1,
                max: 10,
                reads: Some(ReadTurnsUsage {
                    taken: 2,
                    waiting: 4,
                    limit: 5,
                }),
            },
            CacheLookups { hits: 5, misses: 2 },
        );

        assert!(text.contains("http_requests_total{route=\"/api/tasks\",method=\"GET\",status=\"200\"} 2\n"));
        let bucket = |le: &str| {
            format!(
                "http_request_duration_seconds_bucket{{route=\"/api/tasks\",method=\"GET\",status=\"200\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 0\n", bucket("0.0025"))));
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))));
        assert!(text.contains(&format!("{} 2\n", bucket("0.05"))));
        assert!(text.contains(&format!("{} 2\n", bucket("+Inf"))));
        assert!(text.contains("auth_failures_total{reason=\"token_expired\"} 1\n"));
        assert!(text.contains("auth_failures_total{reason=\"missing_token\"} 0\n"));
        assert!(text.contains("db_pool_connections{state=\"in_use\"} 2\n"));
        assert!(text.contains("db_pool_max_connections 10\n"));
        assert!(text.contains("db_pool_reads{state=\"in_flight\"} 2\n"));
        assert!(text.contains("db_pool_reads{state=\"waiting\"} 4\n"));
        assert!(text.contains("db_pool_max_read_connections 5\n"));
        assert!(text.contains("verified_token_cache_lookups_total{result=\"hit\"} 5\n"));
        assert!(text.contains("verified_token_cache_lookups_total{result=\"miss\"} 2\n"));
    }
}
