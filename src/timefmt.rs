//! Wall-clock time: epoch milliseconds inside, RFC 3339 (UTC) outside.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now();
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-11-25T03:50:00Z`.
pub fn rfc3339(ms: i64) -> String {
    let dt = datetime(ms.div_euclid(1000).saturating_mul(1000));
    dt.format(&Rfc3339).unwrap_or_default()
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-25T03:50:00.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let dt = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

/// Parses an RFC 3339 time to epoch milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

/// "3s ago", "5m ago", for tables.
pub fn ago(ms: i64, now: i64) -> String {
    let secs = (now - ms).max(0) / 1000;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_042_600_999), "2025-11-25T03:50:00Z");
        assert_eq!(rfc3339_ms(1_764_042_600_123), "2025-11-25T03:50:00.123Z");
        assert_eq!(
            parse_rfc3339("2025-11-25T03:50:00Z"),
            Some(1_764_042_600_000)
        );
        assert_eq!(ago(0, 61_000), "1m ago");
    }
}
