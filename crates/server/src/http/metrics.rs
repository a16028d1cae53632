//! Request counts and latencies by route and status, for `/metrics`.
//!
//! A tower layer rather than an axum `from_fn` middleware, and each series' counter and
//! histogram looked up once: per request the middleware cloned the routes' boxed service and
//! boxed its future, and the lookup by labels built three strings and hashed them twice. Both
//! ran on every request of the hot path; without the middleware (an experiment) the HTTP
//! workers spent about 6 µs less per accrual (BENCHMARKS.md, twentieth session).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use metrics::{Counter, Histogram};
use tower::{Layer, Service};

/// The label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// The method label of a request whose method is none of HTTP's own (a client may send any
/// token, and each would otherwise be a series of its own).
const OTHER_METHOD: &str = "OTHER";

/// Record `http_requests_total` and `http_request_duration_seconds` for every request. The route
/// label is the route template (`/v1/accounts/{accountId}`), never the raw path, and the method
/// one of HTTP's own or `OTHER`, so labels stay bounded.
#[derive(Clone, Default)]
pub struct RecordLayer {
    series: Arc<Series>,
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            series: Arc::clone(&self.series),
        }
    }
}

/// The service of [`RecordLayer`].
#[derive(Clone)]
pub struct Record<S> {
    inner: S,
    series: Arc<Series>,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        Recorded {
            inner: self.inner.call(request),
            started,
            labels: Some((method, route)),
            series: Arc::clone(&self.series),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's response, recorded when it is ready.
    pub struct Recorded<F> {
        #[pin]
        inner: F,
        started: Instant,
        labels: Option<(Method, Option<MatchedPath>)>,
        series: Arc<Series>,
    }
}

impl<F, E> Future for Recorded<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some((method, route))) = (&output, this.labels.take()) {
            let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            this.series
                .record(&method, route, response.status(), this.started.elapsed().as_secs_f64());
        }
        Poll::Ready(output)
    }
}

/// The counter and histogram of each route, method and status seen, looked up from the
/// recorder once. Bounded as the labels are: by the routes, HTTP's methods and the statuses.
#[derive(Default)]
struct Series {
    by_route: RwLock<HashMap<String, RouteSeries>>,
}

/// One route's series: by method label and status, the counter and the histogram.
type RouteSeries = Vec<(&'static str, StatusCode, Counter, Histogram)>;

/// The method's label: its name if it is one of HTTP's own, else [`OTHER_METHOD`].
fn label_of(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or(OTHER_METHOD, |standard| standard.as_str())
}

impl Series {
    fn record(&self, method: &Method, route: &str, status: StatusCode, seconds: f64) {
        let method = label_of(method);
        let recorded = self.by_route.read().is_ok_and(|by_route| {
            by_route
                .get(route)
                .and_then(|series| series.iter().find(|(m, s, ..)| *m == method && *s == status))
                .map(|(.., counter, histogram)| {
                    counter.increment(1);
                    histogram.record(seconds);
                })
                .is_some()
        });
        if !recorded {
            let (counter, histogram) = self.look_up(method, route, status);
            counter.increment(1);
            histogram.record(seconds);
        }
    }

    /// The handles of a series not seen before, from the recorder, kept for next time.
    fn look_up(&self, method: &'static str, route: &str, status: StatusCode) -> (Counter, Histogram) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        let counter = metrics::counter!("http_requests_total", &labels);
        let histogram = metrics::histogram!("http_request_duration_seconds", &labels);
        if let Ok(mut by_route) = self.by_route.write() {
            let series = by_route.entry(route.to_owned()).or_default();
            if !series.iter().any(|(m, s, ..)| *m == method && *s == status) {
                series.push((method, status, counter.clone(), histogram.clone()));
            }
        }
        (counter, histogram)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use axum::routing::post;
    use axum::Router;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    use super::RecordLayer;

    /// The value of the one line of `text` that starts with `name{` and has every label.
    fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(&format!("{name}{{")) && labels.iter().all(|l| line.contains(l)))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    }

    /// Each response counted once, under its route template, method and status: the same
    /// series again (its handles then cached), a method HTTP does not know (as `OTHER`, on
    /// the route's 405), and a path no route matches (`unmatched`).
    #[test]
    fn every_response_is_counted_once_under_its_route_method_and_status() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let app = Router::new()
                .route("/v1/things/{id}", post(|| async { StatusCode::CREATED }))
                .layer(RecordLayer::default());
            let send = |method: Method, path: &str| {
                let request = Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .expect("a request");
                let response: Result<_, Infallible> = futures::executor::block_on(app.clone().oneshot(request));
                response.expect("an answer").status()
            };
            for id in ["a", "b", "c"] {
                assert_eq!(send(Method::POST, &format!("/v1/things/{id}")), StatusCode::CREATED);
            }
            let brew = Method::from_bytes(b"BREW").expect("a method token");
            assert_eq!(send(brew, "/v1/things/a"), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(send(Method::GET, "/nowhere"), StatusCode::NOT_FOUND);
        });
        let text = handle.render();
        let route = r#"route="/v1/things/{id}""#;
        let counted = |labels: &[&str]| value(&text, "http_requests_total", labels);
        assert_eq!(
            counted(&[r#"method="POST""#, route, r#"status="201""#]),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            counted(&[r#"method="OTHER""#, route, r#"status="405""#]),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            counted(&[r#"method="GET""#, r#"route="unmatched""#, r#"status="404""#]),
            Some(1.0),
            "{text}"
        );
        assert!(!text.contains("BREW"), "{text}");
        let timed = value(
            &text,
            "http_request_duration_seconds_count",
            &[r#"method="POST""#, route, r#"status="201""#],
        );
        assert_eq!(timed, Some(3.0), "{text}");
    }
}
