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

/// An `xs:dateTime` in Kazakhstan's time zone, as the registries write theirs:
/// `2026-12-01T15:29:02.123+05:00`.
pub fn xs_datetime_local(t: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(UNZONED_OFFSET_SECONDS) {
        Some(offset) => t
            .with_timezone(&offset)
            .to_rfc3339_opts(SecondsFormat::Millis, false),
        None => rfc3339(t),
    }
}

/// Reads a lexical `xs:date`: `YYYY-MM-DD`, optionally followed by a zone (`Z`, `±hh:mm`), which
/// says where the day is and is dropped. `None` when it is not one.
pub fn parse_xs_date(s: &str) -> Option<chrono::NaiveDate> {
    let s = s.trim();
    let (date, zone) = s.split_at(s.len().min(10));
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && chrono::NaiveTime::parse_from_str(&format!("{}:00", &zone[1..]), "%H:%M:%S")
                .is_ok());
    if !zone_ok || date.len() != 10 {
        return None;
    }
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_date_with_and_without_zone() {
        let d = chrono::NaiveDate::from_ymd_opt(2020, 1, 15);
        assert_eq!(parse_xs_date("2020-01-15"), d);
        assert_eq!(parse_xs_date("2020-01-15+06:00"), d);
        assert_eq!(parse_xs_date("2020-01-15Z"), d);
        assert_eq!(parse_xs_date("2020-01-15+6"), None);
        assert_eq!(parse_xs_date("15.01.2020"), None);
        assert_eq!(parse_xs_date("2020-01-1"), None);
        assert_eq!(parse_xs_date("ж"), None);
    }

    #[test]
    fn local_xs_datetime_reads_back() {
        let t = DateTime::from_timestamp_micros(1_764_585_000_123_000).expect("in range");
        let s = xs_datetime_local(t);
        assert_eq!(s, "2025-12-01T15:30:00.123+05:00");
        assert_eq!(parse_xs_datetime(&s), Some(t));
    }

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
