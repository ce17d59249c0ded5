//! Per-client rate limit: a GCRA limiter (governor) per client id, with the client's own rate from
//! config or the default. Over the limit, the request is refused at once with RESOURCE_EXHAUSTED
//! and the delay until the next one is let through; other clients are not touched.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::check::Check;
use super::GatewayRequest;
use crate::config::{Rate, RateLimits};
use crate::error::GatewayError;
use kopir_core::principal::Principal;

/// The rate-limit stage.
#[derive(Clone)]
pub struct RateLimit {
    config: Arc<RateLimits>,
    // Client ids come from requests, so the limiters live in a bounded cache that forgets idle
    // clients, instead of a map that any stream of new ids could grow.
    limiters: moka::sync::Cache<Principal, Arc<DefaultDirectRateLimiter>>,
    clock: DefaultClock,
}

fn quota(rate: Rate) -> Quota {
    let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

impl RateLimit {
    /// The stage for these limits.
    pub fn new(config: &RateLimits) -> Self {
        Self {
            config: Arc::new(config.clone()),
            limiters: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            clock: DefaultClock::default(),
        }
    }

    fn rate_of(&self, client: &str) -> Rate {
        self.config
            .clients
            .get(client)
            .copied()
            .unwrap_or(self.config.default)
    }
}

impl Check for RateLimit {
    const NAME: &'static str = "rate_limit";
    async fn check(&self, req: &mut GatewayRequest) -> Result<(), GatewayError> {
        let client = &req.ctx.client;
        // The client's rate is looked up by its key form once, when its limiter is made (the
        // limits are fixed for the stage's life), and again only to word a refusal.
        let limiter = self.limiters.get_with_by_ref(client, || {
            Arc::new(RateLimiter::direct(quota(
                self.rate_of(&client.to_string()),
            )))
        });
        limiter.check().map_err(|not_until| {
            let key = client.to_string();
            GatewayError::RateLimited {
                per_second: self.rate_of(&key).per_second,
                client: key,
                retry_after: not_until.wait_time_from(self.clock.now()),
            }
        })
    }
}
