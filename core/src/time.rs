//! Times as the gateway writes them: RFC 3339 in UTC with a `Z`, milliseconds for what people and
//! clients read, microseconds where the journal's precision matters.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-12-01T10:29:02.123Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2026-12-01T10:29:02.123456Z`.
pub fn rfc3339_micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_with_z() {
        let t = DateTime::from_timestamp_micros(1_764_585_000_123_456).expect("in range");
        assert_eq!(rfc3339(t), "2025-12-01T10:30:00.123Z");
        assert_eq!(rfc3339_micros(t), "2025-12-01T10:30:00.123456Z");
    }
}
