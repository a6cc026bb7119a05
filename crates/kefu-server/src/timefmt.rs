//! RFC 3339 at the edge: UTC on output, any offset on input. Inside, instants are unix seconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-24T08:00:00Z`. Instants outside what RFC 3339 can say are clamped to its range.
pub fn rfc3339(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(if unix < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    });
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses an RFC 3339 instant with any offset into unix seconds (fractions are truncated, as
/// the rule clock has whole seconds).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            parse_rfc3339("2023-06-12T00:00:00+08:00"),
            parse_rfc3339("2023-06-11T16:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2023-06-12"), None);
    }
}
