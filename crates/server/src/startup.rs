//! Building and running the service: bind first (port 0 picks a free port), then serve until
//! told to stop, finishing requests in flight.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use loyalty_store::Store;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::config::ServeSettings;
use crate::delivery::Delivery;
use crate::http::{router, AppParts, AppState};
use crate::service::Service;

/// The listener, its connections sending each write at once (`TCP_NODELAY`). With Nagle's
/// algorithm a small write waits while an earlier one is unacknowledged, and a client that
/// acknowledges late (Linux delays an ACK up to 40 ms) then holds the answer up. In
/// `loyalty bench --rate 4500` runs on this machine, 3 of 7 runs with Nagle's algorithm on
/// began with about 100 ms in which no answer came (about 450 requests answered more than 20 ms
/// late, a p99 of 32–39 ms); none of 7 runs with it off did (p99 6.9–7.8 ms).
fn without_nagle(listener: TcpListener) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = SocketAddr> {
    axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not turn Nagle's algorithm off for a connection");
        }
    })
}

/// A bound, ready service.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    sweep_interval: Option<std::time::Duration>,
}

impl Application {
    /// Open (and migrate) the database and bind the listen address.
    pub async fn build(settings: &ServeSettings) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database.store_settings())
            .with_context(|| format!("could not open the database at {}", settings.database.describe()))?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen))?;
        let delivery = Delivery::build(store.clone(), &settings.delivery).context("could not set up event delivery")?;
        let state = AppState::new(AppParts {
            delivery,
            service: Service::new(store.clone()).with_claim_window_days(settings.claim_window_days),
            store,
            keys: Arc::new(RwLock::new(HashMap::new())),
            admin_token_hash: settings
                .admin_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            metrics: crate::telemetry::metrics_handle(),
        });
        Ok(Self {
            listener,
            state,
            sweep_interval: settings.sweep_interval,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serve until `shutdown` resolves, then finish the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(%addr, database = %self.state.store.describe(), "loyalty is listening");
        let everywhere = self.state.delivery.start_on_every_instance();
        let leader = tokio::spawn(crate::leadership::lead_background_work(
            self.state.store.clone(),
            self.state.delivery.clone(),
            self.sweep_interval,
        ));
        let served = axum::serve(without_nagle(self.listener), router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server failed");
        leader.abort();
        for task in everywhere {
            task.abort();
        }
        served
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "could not listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;
    use tokio::net::{TcpListener, TcpStream};

    use super::without_nagle;

    #[tokio::test]
    async fn accepted_connections_send_without_nagle_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let mut listener = without_nagle(listener);
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (accepted, _) = listener.accept().await;
        assert!(
            accepted.nodelay().expect("TCP_NODELAY readable"),
            "Nagle's algorithm is off"
        );
    }
}
