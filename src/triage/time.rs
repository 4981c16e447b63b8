//! Date parsing the detectors need, without a date crate: the `notAfter=` form OpenSSL
//! prints (`Jan  1 00:00:00 2024 GMT`) turned into seconds since the epoch.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse OpenSSL's date form `Mon DD HH:MM:SS YYYY GMT` (day may be space-padded).
pub fn parse_openssl_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == parts[0])? as u32 + 1;
    let day: u32 = parts[1].parse().ok()?;
    let hms: Vec<u32> = parts[2]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    if hms.len() != 3 || !(1..=31).contains(&day) {
        return None;
    }
    let year: i64 = parts[3].parse().ok()?;
    if let Some(tz) = parts.get(4) {
        if *tz != "GMT" && *tz != "UTC" && *tz != "Z" {
            return None;
        }
    }
    Some(
        days_from_civil(year, month, day) * 86400
            + hms[0] as i64 * 3600
            + hms[1] as i64 * 60
            + hms[2] as i64,
    )
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
        assert_eq!(parse_openssl_date("garbage"), None);
        assert_eq!(parse_openssl_date("Foo 1 00:00:00 2024 GMT"), None);
    }
}
