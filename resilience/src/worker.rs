//! The one loop of the gateway's background workers (the pledge worker, the channel's delivery
//! worker): each round does what is due; after a round that found nothing, the loop sleeps until
//! it is woken (new work was stored) or the tick passes (work came due by time).

use std::future::Future;
use std::time::Duration;

use tokio::sync::Notify;

/// Runs `round` until the task is aborted; `round` answers whether it found nothing to do.
pub async fn run<F, Fut>(wake: &Notify, tick: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        let idle = round().await;
        if idle {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(tick) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    async fn until(rounds: &AtomicU32, n: u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while rounds.load(Ordering::SeqCst) < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn busy_rounds_follow_each_other_and_an_idle_one_waits_for_a_wake() {
        let rounds = Arc::new(AtomicU32::new(0));
        let wake = Arc::new(Notify::new());
        let (r, w) = (rounds.clone(), wake.clone());
        let task = tokio::spawn(async move {
            run(&w, Duration::from_secs(3600), || {
                let n = r.fetch_add(1, Ordering::SeqCst);
                // Three busy rounds, then idle ones.
                async move { n >= 3 }
            })
            .await;
        });
        until(&rounds, 4).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            4,
            "three busy rounds back to back, then one idle round that waits"
        );
        wake.notify_one();
        until(&rounds, 5).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            5,
            "woken once, one more round"
        );
        task.abort();
    }
}
