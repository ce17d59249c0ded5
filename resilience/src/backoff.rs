//! When to try again a delivery that failed `attempts` times in a row: exponential from `min`,
//! capped at `max`, with ±20% jitter so deliveries that failed together do not retry together.
//! The pledge worker and the channel worker share it (the pipeline's retries of reads use tower's
//! own backoff inside a call).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The moment of the next attempt.
pub fn next_attempt(min: Duration, max: Duration, attempts: u32) -> DateTime<Utc> {
    let base = min
        .saturating_mul(2u32.saturating_pow(attempts.min(20)))
        .min(max);
    let wait = base.mul_f64(rand::rng().random_range(0.8..1.2));
    Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()
}
