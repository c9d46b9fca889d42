//! Calendar arithmetic on Unix time (UTC): timestamps in logs and listings, and the calendar
//! periods of usage budgets. Pure; the clocks themselves are in `platform`.

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a calendar date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-12-06T10:15:03.120Z` for Unix milliseconds.
pub fn rfc3339_ms(ms: u64) -> String {
    let mut out = String::with_capacity(24);
    push_rfc3339_ms(&mut out, ms);
    out
}

/// [`rfc3339_ms`] written at the end of `out` (a log line's first field, on every request:
/// digits pushed one by one, no formatting machinery).
pub fn push_rfc3339_ms(out: &mut String, ms: u64) {
    let secs = ms / 1000;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    // Years 0..=9999 in four digits, as the format has them.
    push_digits(out, year.clamp(0, 9999) as u64, 4);
    out.push('-');
    push_digits(out, u64::from(month), 2);
    out.push('-');
    push_digits(out, u64::from(day), 2);
    out.push('T');
    push_digits(out, rest / 3600, 2);
    out.push(':');
    push_digits(out, rest % 3600 / 60, 2);
    out.push(':');
    push_digits(out, rest % 60, 2);
    out.push('.');
    push_digits(out, ms % 1000, 3);
    out.push('Z');
}

/// The last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u64, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u64.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// The first second of the calendar month (UTC) that `secs` falls in, and of the next one.
pub fn month_bounds(secs: u64) -> (u64, u64) {
    let (year, month, _) = civil_from_days((secs / 86_400) as i64);
    let start = days_from_civil(year, month, 1);
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let end = days_from_civil(next_year, next_month, 1);
    (
        u64::try_from(start).unwrap_or(0).saturating_mul(86_400),
        u64::try_from(end).unwrap_or(0).saturating_mul(86_400),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_months() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_552_103_120), "2026-12-06T10:15:03.120Z");
        assert_eq!(rfc3339_ms(1_796_552_103_007), "2026-12-06T10:15:03.007Z");
        assert_eq!(rfc3339_ms(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        // 2026-12-06 → December 2026 .. January 2027.
        let (start, end) = month_bounds(1_796_552_103);
        assert_eq!(rfc3339_ms(start * 1000), "2026-12-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(end * 1000), "2027-01-01T00:00:00.000Z");
        for days in [-1000, 0, 59, 60, 365, 20_000, 20_793] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
