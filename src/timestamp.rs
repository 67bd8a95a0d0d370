//! UTC timestamps in the two forms edgeprep writes: RFC 3339 for logs, reports and JSON, and a
//! compact form for backup set ids (sorts by time, safe as a file name).

use time::{OffsetDateTime, UtcOffset};

/// `2026-11-26T12:03:01Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `20261126T120301Z`.
pub fn compact(t: OffsetDateTime) -> String {
    rfc3339(t).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_to_the_second_whatever_the_offset() {
        let t = time::macros::datetime!(2026-11-26 13:03:01.75 +01:00);
        assert_eq!(rfc3339(t), "2026-11-26T12:03:01Z");
        assert_eq!(compact(t), "20261126T120301Z");
    }
}
