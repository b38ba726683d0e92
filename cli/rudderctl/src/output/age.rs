//! kubectl's time formats: `HumanDuration` (`5s`, `3m20s`, `4h`, `2d3h`) for AGE
//! columns, and the RFC 1123-ish layout `describe` prints.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

/// Seconds since the Unix epoch of an RFC 3339 timestamp as the API writes them.
pub fn parse_timestamp(value: &Value) -> Option<i64> {
    let time: Time = serde_json::from_value(value.clone()).ok()?;
    Some(time.0.as_second())
}

/// kubectl's `translateTimestampSince`: the age of `value` at `now`, `<unknown>`
/// when absent or unparsable.
pub fn since(value: Option<&Value>, now: i64) -> String {
    match value.and_then(parse_timestamp) {
        Some(ts) => human_duration(now - ts),
        None => "<unknown>".to_string(),
    }
}

pub use rudder_api::duration::human_duration;

/// `describe`'s time layout (Go's RFC 1123Z): `Mon, 02 Jan 2006 15:04:05 +0000`.
pub fn rfc1123(value: &Value) -> Option<String> {
    let secs = parse_timestamp(value)?;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m as usize).clamp(1, 12) - 1];
    Some(format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

/// Days since the epoch to (year, month, day), Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_parse_and_print() {
        let ts = json!("2024-01-01T00:00:00Z");
        assert_eq!(parse_timestamp(&ts), Some(1_704_067_200));
        assert_eq!(since(Some(&ts), 1_704_067_200 + 65), "65s");
        assert_eq!(since(None, 0), "<unknown>");
        assert_eq!(since(Some(&json!("garbage")), 0), "<unknown>");
        assert_eq!(
            rfc1123(&json!("2024-03-05T07:08:09Z")).unwrap(),
            "Tue, 05 Mar 2024 07:08:09 +0000"
        );
    }
}
