//! Fault injection: how a mock registry misbehaves, set per registry at start (`--fault`) and at
//! run time (the control endpoint). Rates are spread evenly over calls rather than drawn at
//! random, so a test asking for 30% errors gets exactly that and runs the same way every time;
//! only the jitter is random (seeded).

use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How a registry misbehaves. The default is a healthy registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added latency on every call.
    pub latency_ms: u64,
    /// Plus a uniform random 0..=jitter_ms.
    pub jitter_ms: u64,
    /// Share of calls (0..=1) that take `spike_ms` more: the long tail.
    pub spike_rate: f64,
    /// The long tail's extra latency.
    pub spike_ms: u64,
    /// Share of calls answered with the registry failure status `SRVC001`.
    pub error_rate: f64,
    /// Share of calls accepted and never answered.
    pub timeout_rate: f64,
    /// Share of calls answered with a reply that is not a SyncChannel envelope.
    pub malformed_rate: f64,
    /// Share of calls whose connection is cut in the middle of the reply.
    pub reset_rate: f64,
    /// Share of calls answered with a WS-Security signature that does not verify (the Body
    /// changed after signing).
    pub bad_signature_rate: f64,
    /// Share of calls answered without a WS-Security header.
    pub unsigned_rate: f64,
    /// The registry's port is closed.
    pub down: bool,
}

/// Why a [`Faults`] value is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FaultsError(String);

impl Faults {
    /// Checks every rate is a share between 0 and 1.
    pub fn validate(&self) -> Result<(), FaultsError> {
        for (name, rate) in [
            ("spike_rate", self.spike_rate),
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("malformed_rate", self.malformed_rate),
            ("reset_rate", self.reset_rate),
            ("bad_signature_rate", self.bad_signature_rate),
            ("unsigned_rate", self.unsigned_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultsError(format!(
                    "{name} must be between 0 and 1, got {rate}"
                )));
            }
        }
        Ok(())
    }

    /// Parses `key=value,key=value` (the `--fault` flag's form after `registry:`).
    pub fn parse_pairs(pairs: &str, mut base: Faults) -> Result<Faults, FaultsError> {
        let mut object = serde_json::to_value(&base).map_err(|e| FaultsError(e.to_string()))?;
        for pair in pairs.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| FaultsError(format!("{pair:?} is not key=value")))?;
            let value: serde_json::Value = serde_json::from_str(value.trim())
                .map_err(|_| FaultsError(format!("{key}: {value:?} is not a number or boolean")))?;
            object[key.trim()] = value;
        }
        base = serde_json::from_value(object).map_err(|e| FaultsError(e.to_string()))?;
        base.validate()?;
        Ok(base)
    }
}

/// What one call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answer normally.
    Answer,
    /// Answer with `SRVC001`.
    Error,
    /// Never answer.
    Hang,
    /// Answer with garbage.
    Malformed,
    /// Cut the connection mid-reply.
    Reset,
    /// Answered, signed, the Body changed after signing.
    BadSignature,
    /// Answered without a signature.
    Unsigned,
}

#[derive(Default)]
struct Spread {
    spike: f64,
    error: f64,
    timeout: f64,
    malformed: f64,
    reset: f64,
    bad_signature: f64,
    unsigned: f64,
}

/// Fires `rate` of the time, evenly: the accumulator crosses 1 once every 1/rate calls.
fn fire(acc: &mut f64, rate: f64) -> bool {
    *acc += rate;
    if *acc >= 1.0 - 1e-9 {
        *acc -= 1.0;
        true
    } else {
        false
    }
}

/// A registry's faults and the state that spreads them over calls.
pub struct FaultState {
    faults: Mutex<(Faults, Spread, ChaCha8Rng)>,
}

impl FaultState {
    /// Starts with `faults`.
    pub fn new(faults: Faults) -> Self {
        Self {
            faults: Mutex::new((faults, Spread::default(), ChaCha8Rng::seed_from_u64(7))),
        }
    }

    /// The current faults.
    pub fn get(&self) -> Faults {
        self.faults.lock().map(|g| g.0.clone()).unwrap_or_default()
    }

    /// Replaces the faults and restarts their spreading.
    pub fn set(&self, faults: Faults) {
        if let Ok(mut g) = self.faults.lock() {
            g.0 = faults;
            g.1 = Spread::default();
        }
    }

    /// Decides one call: its added latency and what it does.
    pub fn draw(&self) -> (Duration, Outcome) {
        let Ok(mut g) = self.faults.lock() else {
            return (Duration::ZERO, Outcome::Answer);
        };
        let (f, s, rng) = &mut *g;
        let mut ms = f.latency_ms;
        if f.jitter_ms > 0 {
            ms += rng.random_range(0..=f.jitter_ms);
        }
        if fire(&mut s.spike, f.spike_rate) {
            ms += f.spike_ms;
        }
        // Every rate advances on every call, so each keeps its share when several are set.
        let error = fire(&mut s.error, f.error_rate);
        let timeout = fire(&mut s.timeout, f.timeout_rate);
        let malformed = fire(&mut s.malformed, f.malformed_rate);
        let reset = fire(&mut s.reset, f.reset_rate);
        let bad_signature = fire(&mut s.bad_signature, f.bad_signature_rate);
        let unsigned = fire(&mut s.unsigned, f.unsigned_rate);
        let outcome = if timeout {
            Outcome::Hang
        } else if reset {
            Outcome::Reset
        } else if malformed {
            Outcome::Malformed
        } else if error {
            Outcome::Error
        } else if bad_signature {
            Outcome::BadSignature
        } else if unsigned {
            Outcome::Unsigned
        } else {
            Outcome::Answer
        };
        (Duration::from_millis(ms), outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_exact_over_a_run() {
        let state = FaultState::new(Faults {
            error_rate: 0.3,
            ..Faults::default()
        });
        let errors = (0..1000)
            .filter(|_| state.draw().1 == Outcome::Error)
            .count();
        assert_eq!(errors, 300);
        // Never two errors in a row at 30%: a retry after an error meets an answer.
        let state = FaultState::new(Faults {
            error_rate: 0.3,
            ..Faults::default()
        });
        let seq: Vec<_> = (0..100).map(|_| state.draw().1).collect();
        assert!(seq
            .windows(2)
            .all(|w| !(w[0] == Outcome::Error && w[1] == Outcome::Error)));
    }

    #[test]
    fn flag_pairs_parse_and_validate() {
        let f = Faults::parse_pairs("error_rate=0.5,latency_ms=20,down=true", Faults::default())
            .unwrap();
        assert_eq!((f.error_rate, f.latency_ms, f.down), (0.5, 20, true));
        assert!(Faults::parse_pairs("error_rate=2", Faults::default()).is_err());
        assert!(Faults::parse_pairs("eror_rate=0.1", Faults::default()).is_err());
        assert!(Faults::parse_pairs("latency_ms", Faults::default()).is_err());
    }
}
