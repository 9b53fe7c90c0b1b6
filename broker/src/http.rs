//! The HTTP listener (`weir.http.listen`, `--http-listen`): HTTP/1.1 (hyper), GET or HEAD.
//!
//! - `/metrics`: Prometheus text format 0.0.4 — the recorded event series, then the state
//!   series read at scrape time ([`crate::metrics::snapshot`]).
//! - `/livez`: 200 `ok` while the process serves HTTP.
//! - `/readyz`: 200 `ok` when every [`Health`] check passes, else 503 listing the failing
//!   ones; `?verbose` lists every check (`[+]logs ok`, `[-]listeners failed: …`).
//! - `POST /drain?timeout_ms=N` (cluster mode): hands leadership of every partition this
//!   broker leads to an in-sync peer, waiting up to N ms (default 30 000); 200 when it leads
//!   none any more, else 503 with how many it still leads (`weir cluster drain`, a `preStop`
//!   hook before a rolling restart).
//!
//! It starts before the logs are recovered, so a probe sees "live, not ready" meanwhile.

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::health::Health;
use crate::metrics::{snapshot, Metrics};
use crate::server::Shared;

/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What the HTTP listener serves from.
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The broker's state, once its logs are open.
    pub shared: OnceLock<Arc<Shared>>,
}

/// Serves until the task is aborted (when the broker has stopped).
pub async fn serve(listener: TcpListener, state: Arc<HttpState>) {
    let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(route(&state, &request).await) }
                        });
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(10))
                            .serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = connection.await {
                            debug!(client = %peer, error = %e, "http connection failed");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = upkeep.tick() => state.metrics.upkeep(),
        }
    }
}

async fn route<B>(state: &HttpState, request: &Request<B>) -> Response<Full<Bytes>> {
    if request.method() == Method::POST && request.uri().path() == "/drain" {
        let timeout = request.uri().query().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("timeout_ms=")?.parse::<u64>().ok()));
        return drain(state, Duration::from_millis(timeout.unwrap_or(30_000))).await;
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
    }
    let verbose = request.uri().query().is_some_and(|q| q.split('&').any(|p| p == "verbose" || p.starts_with("verbose=")));
    match request.uri().path() {
        "/livez" | "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => readyz(&state.health, verbose),
        "/metrics" => {
            let mut body = state.metrics.render_events();
            if let Some(shared) = state.shared.get() {
                snapshot::render(shared, state.health.ready(), &mut body);
            } else {
                let _ = writeln!(body, "# HELP {0} 1 once the broker is ready, else 0.\n# TYPE {0} gauge\n{0} 0", snapshot::READY);
            }
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found: try /metrics, /livez, /readyz (or POST /drain)\n".into()),
    }
}

async fn drain(state: &HttpState, timeout: Duration) -> Response<Full<Bytes>> {
    let Some(cluster) = state.shared.get().and_then(|s| s.metadata.cluster().cloned()) else {
        return text(StatusCode::CONFLICT, "not a cluster broker (or not started yet): nothing to drain\n".into());
    };
    tracing::info!(timeout_ms = timeout.as_millis() as u64, "drain requested over HTTP");
    match cluster.drain(timeout).await {
        0 => text(StatusCode::OK, "drained: this broker leads no partition\n".into()),
        still => text(StatusCode::SERVICE_UNAVAILABLE, format!("still leading {still} partition(s): no in-sync replica to take them\n")),
    }
}

fn readyz(health: &Health, verbose: bool) -> Response<Full<Bytes>> {
    let checks = health.checks();
    let ready = checks.iter().all(|c| c.ok);
    let mut body = String::new();
    if verbose || !ready {
        for check in &checks {
            if check.ok {
                let _ = writeln!(body, "[+]{} ok", check.name);
            } else {
                let _ = writeln!(body, "[-]{} failed: {}", check.name, check.reason);
            }
        }
    }
    body.push_str(if ready { "ok\n" } else { "not ready\n" });
    text(if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
