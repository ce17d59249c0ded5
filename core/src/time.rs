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

/// The offset an `xs:dateTime` without a zone is read in: Kazakhstan's single time zone
/// (UTC+05:00 since 2024-03-01), where the e-government registries run.
pub const UNZONED_OFFSET_SECONDS: i32 = 5 * 3600;

/// Reads any lexical `xs:dateTime`: a fraction of any length, a `Z`, a `±hh:mm` offset, or no
/// zone (read as [`UNZONED_OFFSET_SECONDS`]). `None` when it is not one.
pub fn parse_xs_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // rfc3339 wants seconds and a zone; xs:dateTime has seconds, a zone is optional.
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let offset = chrono::FixedOffset::east_opt(UNZONED_OFFSET_SECONDS)?;
    naive
        .and_local_timezone(offset)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_datetime_in_every_lexical_form() {
        let utc = |s: &str| parse_xs_datetime(s).map(rfc3339);
        assert_eq!(
            utc("2026-01-02T03:04:05Z").as_deref(),
            Some("2026-01-02T03:04:05.000Z")
        );
        assert_eq!(
            utc("2026-01-02T08:04:05.5+05:00").as_deref(),
            Some("2026-01-02T03:04:05.500Z")
        );
        assert_eq!(
            utc("2026-01-02T08:04:05.123456789").as_deref(),
            Some("2026-01-02T03:04:05.123Z")
        );
        assert_eq!(
            utc("2026-01-02T08:04:05").as_deref(),
            Some("2026-01-02T03:04:05.000Z")
        );
        assert_eq!(utc("2026-01-02"), None);
        assert_eq!(utc("yesterday"), None);
    }

    #[test]
    fn utc_with_z() {
        let t = DateTime::from_timestamp_micros(1_764_585_000_123_456).expect("in range");
        assert_eq!(rfc3339(t), "2025-12-01T10:30:00.123Z");
        assert_eq!(rfc3339_micros(t), "2025-12-01T10:30:00.123456Z");
    }
}
