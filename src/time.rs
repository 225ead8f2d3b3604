//! Capture time: nanoseconds since the Unix epoch, and its RFC 3339 rendering.
//!
//! All detection logic runs on the capture's own clock, never the wall clock,
//! so a replay gives the same answer however fast it runs.

/// Nanoseconds since 1970-01-01T00:00:00Z, as read from capture records.
pub type Nanos = i64;

pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// How many sub-second digits the capture carries, and so how many we print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Micro,
    Nano,
}

impl Precision {
    fn digits(self) -> usize {
        match self {
            Precision::Micro => 6,
            Precision::Nano => 9,
        }
    }
}

/// Whole seconds of `t`, rounded towards minus infinity.
pub fn floor_secs(t: Nanos) -> i64 {
    t.div_euclid(NANOS_PER_SEC)
}

/// Whole minutes of `t`, rounded towards minus infinity.
pub fn floor_minutes(t: Nanos) -> i64 {
    t.div_euclid(60 * NANOS_PER_SEC)
}

/// RFC 3339 in UTC. `precision` of `None` prints whole seconds (bin starts).
pub fn rfc3339(t: Nanos, precision: Option<Precision>) -> String {
    let secs = floor_secs(t);
    let sub = t.rem_euclid(NANOS_PER_SEC);
    let dt =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if let Some(p) = precision {
        let digits = format!("{sub:09}");
        s.push('.');
        s.push_str(&digits[..p.digits()]);
    }
    s.push('Z');
    s
}

/// A window boundary: whole seconds when it is one (the 5-minute bins),
/// otherwise with as many sub-second digits as it needs (a sub-second
/// `--bin`), so two windows never print alike.
pub fn rfc3339_window(t: Nanos) -> String {
    let sub = t.rem_euclid(NANOS_PER_SEC);
    let precision = if sub == 0 {
        None
    } else if sub % 1_000 == 0 {
        Some(Precision::Micro)
    } else {
        Some(Precision::Nano)
    };
    let s = rfc3339(t, precision);
    if sub != 0 && sub % 1_000_000 == 0 {
        // Milliseconds: drop the three trailing zeros of microseconds.
        return format!("{}Z", &s[..s.len() - 4]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_boundaries_print_the_digits_they_need() {
        let t = 1_700_000_000 * NANOS_PER_SEC;
        assert_eq!(rfc3339_window(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_window(t + 500_000_000), "2023-11-14T22:13:20.500Z");
        assert_eq!(rfc3339_window(t + 250_000), "2023-11-14T22:13:20.000250Z");
        assert_eq!(rfc3339_window(t + 7), "2023-11-14T22:13:20.000000007Z");
    }

    #[test]
    fn formats_whole_and_fractional_seconds() {
        let t = 1_700_000_000 * NANOS_PER_SEC + 123_456_789;
        assert_eq!(rfc3339(t, None), "2023-11-14T22:13:20Z");
        assert_eq!(
            rfc3339(t, Some(Precision::Micro)),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(
            rfc3339(t, Some(Precision::Nano)),
            "2023-11-14T22:13:20.123456789Z"
        );
    }

    #[test]
    fn floors_before_the_epoch() {
        assert_eq!(floor_secs(-1), -1);
        assert_eq!(floor_minutes(-1), -1);
        assert_eq!(
            rfc3339(-1, Some(Precision::Nano)),
            "1969-12-31T23:59:59.999999999Z"
        );
    }
}
