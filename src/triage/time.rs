//! Dates the detectors read: the `notAfter=` form OpenSSL prints (`Jan  1 00:00:00 2024 GMT`),
//! and the timestamps log lines start with (syslog `Mon DD HH:MM:SS`, ISO 8601 / RFC 3339 and
//! `journalctl -o short-iso`, nginx's `YYYY/MM/DD HH:MM:SS`, `dmesg -T` and Apache's
//! `[Wed Nov 25 08:01:02 2026]`, the kernel's `[  123.456]` seconds since boot), as seconds
//! since the epoch (chrono does the calendar). Lines without a zone are read as UTC; a syslog
//! line has no year, so it gets the year that puts it at most two days after "now".
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use regex::Regex;

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

static SYSLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)?\b")
        .expect("valid regex")
});
static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\[?(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?(?: ?(Z|[+-]\d\d:?\d\d|UTC|GMT)\b)?",
    )
    .expect("valid regex")
});
static BRACKETED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d:\d\d:\d\d)(?:\.\d+)? (\d{4})\]")
        .expect("valid regex")
});
static KERNEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[ *(\d+)\.(\d+)\]").expect("valid regex"));

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The time a log line was written, in seconds since the epoch, from the timestamp it starts
/// with. `now` picks the year of a syslog line; `boot` (when known) turns the kernel's
/// seconds-since-boot into a time. `None` when the line starts with no timestamp tai knows.
pub fn line_time(line: &str, now: i64, boot: Option<i64>) -> Option<i64> {
    let line = line.trim_start();
    if let Some(m) = ISO.captures(line) {
        let date =
            NaiveDate::from_ymd_opt(m[1].parse().ok()?, m[2].parse().ok()?, m[3].parse().ok()?)?;
        let t = date
            .and_hms_opt(m[4].parse().ok()?, m[5].parse().ok()?, m[6].parse().ok()?)?
            .and_utc()
            .timestamp();
        let offset = match m.get(7).map(|z| z.as_str()) {
            None | Some("Z" | "UTC" | "GMT") => 0,
            Some(z) => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let digits: String = z[1..].chars().filter(char::is_ascii_digit).collect();
                let h: i64 = digits.get(..2)?.parse().ok()?;
                let mi: i64 = digits.get(2..4)?.parse().ok()?;
                sign * (h * 3600 + mi * 60)
            }
        };
        return Some(t - offset);
    }
    if let Some(m) = SYSLOG.captures(line) {
        let month = MONTHS.iter().position(|x| *x == &m[1])? as u32 + 1;
        let day: u32 = m[2].parse().ok()?;
        let (h, mi, s): (u32, u32, u32) =
            (m[3].parse().ok()?, m[4].parse().ok()?, m[5].parse().ok()?);
        let year = DateTime::from_timestamp(now, 0)?.year();
        for y in [year + 1, year, year - 1, year - 2] {
            let Some(t) =
                NaiveDate::from_ymd_opt(y, month, day).and_then(|d| d.and_hms_opt(h, mi, s))
            else {
                continue;
            };
            let t = t.and_utc().timestamp();
            if t <= now + 2 * 86_400 {
                return Some(t);
            }
        }
        return None;
    }
    if let Some(m) = BRACKETED.captures(line) {
        let text = format!("{} {} {} {}", &m[1], &m[2], &m[3], &m[4]);
        return NaiveDateTime::parse_from_str(&text, "%b %d %H:%M:%S %Y")
            .ok()
            .map(|t| t.and_utc().timestamp());
    }
    if let (Some(m), Some(boot)) = (KERNEL.captures(line), boot) {
        return Some(boot + m[1].parse::<i64>().ok()?);
    }
    None
}

/// Whether a line is a kernel `[  123.456]` line (seconds since the current boot).
pub fn is_kernel_relative(line: &str) -> bool {
    KERNEL.is_match(line.trim_start())
}

/// The boot time, from what `uptime`, `uptime -s`, `who -b` or `cat /proc/uptime` printed
/// (`now` anchors the relative forms).
pub fn boot_time(program: &str, command: &str, text: &str, now: i64) -> Option<i64> {
    let first = text.lines().find(|l| !l.trim().is_empty())?.trim();
    match program {
        "uptime" if command.contains(" -s") => line_time(first, now, None),
        "uptime" => Some(now - uptime_secs(first)?),
        "who" => {
            let t = first.trim_start_matches("system boot").trim();
            NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
                .ok()
                .map(|t| t.and_utc().timestamp())
        }
        "cat" if command.contains("/proc/uptime") => {
            let secs: f64 = first.split_whitespace().next()?.parse().ok()?;
            Some(now - secs as i64)
        }
        _ => None,
    }
}

/// Seconds of uptime in `uptime`'s line (` 12:00:00 up 3 days,  4:05,  2 users, …`, `up 5 min`,
/// `up 1 day, 17 min`, `up 2:03`).
fn uptime_secs(line: &str) -> Option<i64> {
    let rest = line.split_once(" up ")?.1;
    let mut secs = 0i64;
    let mut seen = false;
    for part in rest.split(',') {
        let p = part.trim();
        if p.contains("user") || p.starts_with("load average") {
            break;
        }
        if let Some(d) = p.strip_suffix(" days").or_else(|| p.strip_suffix(" day")) {
            secs += d.trim().parse::<i64>().ok()? * 86_400;
        } else if let Some(m) = p.strip_suffix(" min").or_else(|| p.strip_suffix(" mins")) {
            secs += m.trim().parse::<i64>().ok()? * 60;
        } else if let Some((h, m)) = p.split_once(':') {
            secs += h.trim().parse::<i64>().ok()? * 3600 + m.trim().parse::<i64>().ok()? * 60;
        } else {
            break;
        }
        seen = true;
    }
    seen.then_some(secs)
}

/// `t` as RFC 3339 in UTC (`2026-11-25T08:01:02Z`).
pub fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25 12:00:00 UTC.
    const NOW: i64 = 1_795_608_000;

    #[test]
    fn parses_log_line_times() {
        let at = |s: &str| line_time(s, NOW, Some(NOW - 3600));
        assert_eq!(at("Nov 25 11:00:00 web01 nginx[1]: x"), Some(NOW - 3600));
        assert_eq!(at("Nov  5 12:00:00 web01 x"), Some(NOW - 20 * 86_400));
        // A December line seen in November is from last year.
        assert_eq!(at("Dec 24 12:00:00 web01 x"), Some(NOW - 336 * 86_400));
        assert_eq!(at("2026-11-25T11:00:00+0000 web01 x"), Some(NOW - 3600));
        assert_eq!(
            at("2026-11-25T12:00:00.123456+01:00 web01 x"),
            Some(NOW - 3600)
        );
        assert_eq!(at("2026-11-25T11:00:00Z x"), Some(NOW - 3600));
        assert_eq!(
            at("2026-11-25 11:00:00.123 UTC [811] FATAL: x"),
            Some(NOW - 3600)
        );
        assert_eq!(at("2026/11/25 11:00:00 [emerg] 1#1: x"), Some(NOW - 3600));
        assert_eq!(
            at("[Wed Nov 25 11:00:00 2026] EXT4-fs error"),
            Some(NOW - 3600)
        );
        assert_eq!(
            at("[Wed Nov 25 11:00:00.123456 2026] [core:error] x"),
            Some(NOW - 3600)
        );
        assert_eq!(at("[ 1800.123] EXT4-fs error"), Some(NOW - 1800));
        assert_eq!(line_time("[ 1800.123] x", NOW, None), None);
        assert_eq!(at("no time here"), None);
        assert_eq!(at("Foo 25 11:00:00 x"), None);
    }

    #[test]
    fn parses_boot_times() {
        let up = " 12:00:00 up 3 days,  4:05,  2 users,  load average: 0.10, 0.20, 0.30";
        assert_eq!(
            boot_time("uptime", "uptime", up, NOW),
            Some(NOW - 3 * 86_400 - 4 * 3600 - 5 * 60)
        );
        let up = " 12:00:00 up 5 min,  1 user,  load average: 0.00, 0.00, 0.00";
        assert_eq!(boot_time("uptime", "uptime", up, NOW), Some(NOW - 300));
        let up = " 12:00:00 up 1 day, 17 min,  0 users,  load average: 1.00, 0.50, 0.25";
        assert_eq!(
            boot_time("uptime", "uptime", up, NOW),
            Some(NOW - 86_400 - 17 * 60)
        );
        assert_eq!(
            boot_time("uptime", "uptime -s", "2026-11-25 11:00:00\n", NOW),
            Some(NOW - 3600)
        );
        assert_eq!(
            boot_time(
                "who",
                "who -b",
                "         system boot  2026-11-25 11:00\n",
                NOW
            ),
            Some(NOW - 3600)
        );
        assert_eq!(
            boot_time("cat", "cat /proc/uptime", "3600.55 7000.10\n", NOW),
            Some(NOW - 3600)
        );
        assert_eq!(boot_time("df", "df", "x", NOW), None);
    }

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
