//! A REST mock's server that can be taken down (port closed, open connections ended) and brought
//! back on the same port, as a registry outage looks to the gateway.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::MockError;

/// An axum app served on a fixed address, stoppable and restartable.
pub struct Switch {
    addr: SocketAddr,
    app: axum::Router,
    up: AtomicBool,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

async fn spawn(
    addr: SocketAddr,
    app: axum::Router,
) -> Result<(SocketAddr, oneshot::Sender<()>, JoinHandle<()>), MockError> {
    let (listener, addr) = crate::bind(addr).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stop = async {
            rx.await.ok();
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(error = %e, "mock server ended");
        }
    });
    Ok((addr, tx, task))
}

impl Switch {
    /// Serves `app` on `addr` (port 0 picks one).
    pub async fn start(addr: SocketAddr, app: axum::Router) -> Result<Self, MockError> {
        let (addr, tx, task) = spawn(addr, app.clone()).await?;
        Ok(Self {
            addr,
            app,
            up: AtomicBool::new(true),
            running: Mutex::new(Some((tx, task))),
        })
    }

    /// Where it listens (also while down: it comes back there).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the port is open.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Closes the port and ends open connections once their request is answered.
    pub async fn stop(&self) {
        if let Some((tx, task)) = self.running.lock().await.take() {
            self.up.store(false, Ordering::Relaxed);
            tx.send(()).ok();
            task.await.ok();
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&self) -> Result<(), MockError> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let (_, tx, task) = spawn(self.addr, self.app.clone()).await?;
            *running = Some((tx, task));
            self.up.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
