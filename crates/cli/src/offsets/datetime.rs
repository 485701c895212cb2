//! `--to-datetime`: an ISO-8601 date-time (like kafka-consumer-groups.sh) as epoch milliseconds.

use anyhow::{bail, Context};

/// Parses `YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]` (UTC when no zone is given) to epoch ms.
pub(crate) fn parse_datetime(text: &str) -> anyhow::Result<i64> {
    let bad = || format!("--to-datetime {text:?}: expected e.g. 2026-11-22T05:00:00Z");
    let (date, time) = text.split_once(['T', ' ']).with_context(bad)?;
    let mut d = date.split('-');
    let (year, month, day) = match (d.next(), d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(d), None) => (num(y, bad)?, num(m, bad)?, num(d, bad)?),
        _ => bail!(bad()),
    };
    let (clock, offset_minutes) = split_zone(time).with_context(bad)?;
    let (hms, millis) = match clock.split_once('.') {
        Some((hms, frac)) => {
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            (hms, num(&digits, bad)?)
        }
        None => (clock, 0),
    };
    let mut t = hms.split(':');
    let (h, m, s) = match (t.next(), t.next(), t.next(), t.next()) {
        (Some(h), Some(m), Some(s), None) => (num(h, bad)?, num(m, bad)?, num(s, bad)?),
        (Some(h), Some(m), None, None) => (num(h, bad)?, num(m, bad)?, 0),
        _ => bail!(bad()),
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        bail!(bad());
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + s - offset_minutes * 60;
    Ok(secs * 1000 + millis)
}

fn num(s: &str, bad: impl Fn() -> String) -> anyhow::Result<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        bail!(bad());
    }
    s.parse().with_context(bad)
}

/// Splits a trailing `Z` or `±HH:MM` off the time; returns the zone's offset in minutes.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    match time.rfind(['+', '-']) {
        Some(i) => {
            let (clock, zone) = time.split_at(i);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            Some((
                clock,
                sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
            ))
        }
        None => Some((time, 0)),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn parses_iso_datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_datetime("2026-11-22T05:00:00.250Z").unwrap(),
            1_795_323_600_250
        );
        assert_eq!(
            parse_datetime("2026-11-22T07:00:00+02:00").unwrap(),
            1_795_323_600_000
        );
        assert_eq!(parse_datetime("2000-02-29T12:30").unwrap(), 951_827_400_000);
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2026-13-01T00:00:00Z").is_err());
    }
}
