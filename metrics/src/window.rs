//! Latency over recent time slots, for the registries' windows and the console's timeline. Each
//! slot keeps a log-linear histogram (32 sub-buckets per power of two of microseconds: a
//! quantile is within about 2% of the true value), so a window's percentiles come from adding
//! slots up, without keeping every sample.

use std::collections::VecDeque;
use std::time::Duration;

/// Sub-buckets per power of two (5 bits of precision below the leading one).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
/// Rows of `SUB` buckets: the first holds 0–31 µs one by one, row `r` holds [2^(r+4), 2^(r+5))
/// µs, so the last ends at 2^36 µs (about 19 hours); anything longer counts in the last bucket.
const POWERS: usize = 32;

/// A histogram of latencies in µs.
#[derive(Clone)]
pub struct Latencies {
    counts: Box<[u32; POWERS * SUB]>,
    total: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            counts: Box::new([0; POWERS * SUB]),
            total: 0,
        }
    }
}

/// The bucket of `us` (at least 1).
fn index(us: u64) -> usize {
    let us = us.max(1);
    let power = 63 - us.leading_zeros();
    let sub = if power < SUB_BITS {
        // Below 32 µs every microsecond is its own bucket.
        (us as usize) & (SUB - 1)
    } else {
        ((us >> (power - SUB_BITS)) as usize) & (SUB - 1)
    };
    let row = power.saturating_sub(SUB_BITS - 1) as usize;
    (row * SUB + sub).min(POWERS * SUB - 1)
}

/// The middle of bucket `i`, in µs.
fn value(i: usize) -> u64 {
    let (row, sub) = (i / SUB, (i % SUB) as u64);
    if row == 0 {
        return sub.max(1);
    }
    let shift = row as u32 - 1;
    let low = (SUB as u64 + sub) << shift;
    low + ((1u64 << shift) >> 1)
}

impl Latencies {
    /// Counts one call of `took`.
    pub fn record(&mut self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let slot = &mut self.counts[index(us)];
        *slot = slot.saturating_add(1);
        self.total += 1;
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &Latencies) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
    }

    /// Calls counted.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether no call was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The latency below which a fraction `q` of the calls fall, µs; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The rank of the sample asked for, 1-based, as hdrhistogram and Prometheus count it.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return value(i);
            }
        }
        value(POWERS * SUB - 1)
    }
}

/// Calls in one time slot.
pub(crate) struct Slot {
    /// Start, in slots since the Unix epoch.
    pub(crate) at: u64,
    pub(crate) latency: Latencies,
    pub(crate) errors: u64,
}

/// Calls in consecutive slots of `slot_s` seconds, the last `keep` of them.
pub(crate) struct Ring {
    pub(crate) slot_s: u64,
    keep: usize,
    pub(crate) slots: VecDeque<Slot>,
}

impl Ring {
    pub(crate) fn new(slot_s: u64, keep: usize) -> Self {
        Self {
            slot_s,
            keep,
            slots: VecDeque::new(),
        }
    }

    pub(crate) fn slot_now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / self.slot_s)
    }

    pub(crate) fn record(&mut self, ok: bool, took: Duration) {
        let at = self.slot_now();
        if self.slots.back().is_none_or(|s| s.at != at) {
            self.slots.push_back(Slot {
                at,
                latency: Latencies::default(),
                errors: 0,
            });
            while self.slots.len() > self.keep {
                self.slots.pop_front();
            }
        }
        if let Some(s) = self.slots.back_mut() {
            s.latency.record(took);
            s.errors += u64::from(!ok);
        }
    }

    /// Every call in the slots of the last `window`, and how many failed.
    pub(crate) fn over(&self, window: Duration) -> (Latencies, u64) {
        let slots = window.as_secs().div_ceil(self.slot_s).max(1);
        let first = self.slot_now().saturating_sub(slots - 1);
        let mut all = Latencies::default();
        let mut errors = 0;
        for s in self.slots.iter().filter(|s| s.at >= first) {
            all.add(&s.latency);
            errors += s.errors;
        }
        (all, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_few_percent_of_the_samples() {
        let mut h = Latencies::default();
        // 1..=10_000 µs, once each: the true p50 is 5,000 µs and the true p99 9,900 µs.
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.len(), 10_000);
        let near = |got: u64, want: f64| ((got as f64 - want) / want).abs() < 0.035;
        assert!(near(h.quantile(0.5), 5_000.0), "p50 {}", h.quantile(0.5));
        assert!(near(h.quantile(0.99), 9_900.0), "p99 {}", h.quantile(0.99));
        assert!(near(h.quantile(0.0), 1.0), "min {}", h.quantile(0.0));
        assert_eq!(Latencies::default().quantile(0.5), 0);
    }

    #[test]
    fn small_values_are_exact_and_huge_ones_do_not_overflow() {
        let mut h = Latencies::default();
        for us in [3u64, 3, 3, 17] {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.quantile(0.5), 3);
        assert_eq!(h.quantile(1.0), 17);
        let mut huge = Latencies::default();
        huge.record(Duration::from_secs(100_000));
        assert!(huge.quantile(0.5) > 1_000_000_000);
    }

    #[test]
    fn adding_histograms_adds_their_counts() {
        let (mut a, mut b) = (Latencies::default(), Latencies::default());
        a.record(Duration::from_micros(100));
        b.record(Duration::from_micros(900));
        b.record(Duration::from_micros(900));
        a.add(&b);
        assert_eq!(a.len(), 3);
        let p50 = a.quantile(0.5);
        assert!((880..=920).contains(&p50), "{p50}");
    }
}
