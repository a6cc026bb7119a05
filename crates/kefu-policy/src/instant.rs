//! Rule-clock instants are `i64` unix seconds. Explanations render them in RFC 3339, the API's
//! format for output (parsing input is the server's job); nothing here reads a clock.
//!
//! The calendar arithmetic is the well-known days → civil-date conversion over 400-year eras
//! (proleptic Gregorian), in wide integers so that no `i64` input can overflow.

/// `unix` seconds as RFC 3339 in UTC, e.g. `2023-06-11T16:00:00Z`. Total: any `i64` renders.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(i128::from(days));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The date of a day count from 1970-01-01, as (year, month, day).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    // Both fit by construction (1..=12, 1..=31).
    (y, m.clamp(1, 12) as u32, d.clamp(1, 31) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (unix seconds, RFC 3339 in UTC), checked with Python's `datetime`.
    const KNOWN: [(i64, &str); 6] = [
        (0, "1970-01-01T00:00:00Z"),
        (1_686_499_200, "2023-06-11T16:00:00Z"),
        (1_709_164_800, "2024-02-29T00:00:00Z"),
        (1_795_517_999, "2026-11-24T10:59:59Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
    ];

    #[test]
    fn formats_known_instants() {
        for (unix, text) in KNOWN {
            assert_eq!(rfc3339(unix), text);
        }
        // Total: the extremes render without panicking.
        assert!(rfc3339(i64::MAX).ends_with('Z'));
        assert!(rfc3339(i64::MIN).ends_with('Z'));
    }
}
