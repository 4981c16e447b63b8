//! Dates the detectors read: the `notAfter=` form OpenSSL prints (`Jan  1 00:00:00 2024 GMT`)
//! as seconds since the epoch (chrono does the calendar).
use chrono::NaiveDateTime;

/// Parse OpenSSL's date form `Mon DD HH:MM:SS YYYY GMT` (day may be space-padded; the zone,
/// when present, must be GMT/UTC/Z).
pub fn parse_openssl_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 || parts.len() > 5 {
        return None;
    }
    if let Some(tz) = parts.get(4) {
        if !matches!(*tz, "GMT" | "UTC" | "Z") {
            return None;
        }
    }
    let text = parts[..4].join(" ");
    NaiveDateTime::parse_from_str(&text, "%b %d %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Seconds since the epoch for a `SystemTime` (negative before 1970).
pub fn epoch_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssl_dates() {
        assert_eq!(parse_openssl_date("Jan  1 00:00:00 1970 GMT"), Some(0));
        assert_eq!(
            parse_openssl_date("Mar 15 12:30:45 2024 GMT"),
            Some(1_710_505_845)
        );
        assert_eq!(
            parse_openssl_date("Feb 29 00:00:00 2024 GMT"),
            Some(1_709_164_800)
        );
        assert_eq!(
            parse_openssl_date("Jan  5 08:00:00 2027"),
            Some(1_799_136_000)
        );
        assert_eq!(parse_openssl_date("garbage"), None);
        assert_eq!(parse_openssl_date("Foo 1 00:00:00 2024 GMT"), None);
        assert_eq!(parse_openssl_date("Feb 30 00:00:00 2024 GMT"), None);
        assert_eq!(parse_openssl_date("Jan  1 00:00:00 2024 CET"), None);
    }
}
