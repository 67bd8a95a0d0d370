//! `[image_garbage_collection]`: recurrence, age threshold and time of day, with IoT Edge's
//! own limits.

use std::time::Duration;

use super::{Findings, quoted};
use crate::answers::ImageGarbageCollection;

/// Check `[image_garbage_collection]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_image_gc(gc: &ImageGarbageCollection) -> Findings {
    let mut f = Findings::default();
    check_image_gc(&mut f, gc);
    f
}

const DAY: Duration = Duration::from_secs(86_400);

fn check_image_gc(f: &mut Findings, gc: &ImageGarbageCollection) {
    if let Some(recurrence) = &gc.cleanup_recurrence {
        const KEY: &str = "image_garbage_collection.cleanup_recurrence";
        const RULE: &str = "must be a whole number of days (1d or more), e.g. \"1d\"";
        let shown = quoted(recurrence);
        match humantime::parse_duration(recurrence) {
            Err(e) => f.error(KEY, Some(&shown), format!("is not a duration ({e}); {RULE}")),
            // IoT Edge checks the multiple of a day in nanoseconds; "0d" passes its check but
            // then breaks its scheduling arithmetic, so it is refused here.
            Ok(d) if d < DAY || d.as_nanos() % DAY.as_nanos() != 0 => f.error(KEY, Some(&shown), RULE),
            Ok(_) => {}
        }
    }
    if let Some(threshold) = &gc.image_age_cleanup_threshold
        && let Err(e) = humantime::parse_duration(threshold)
    {
        f.error(
            "image_garbage_collection.image_age_cleanup_threshold",
            Some(&quoted(threshold)),
            format!(
                "is not a duration ({e}); write a number of days such as \"7d\" (\"0d\" removes unused images at every cleanup)",
            ),
        );
    }
    if let Some(time) = &gc.cleanup_time
        && !is_hh_mm(time)
    {
        f.error(
            "image_garbage_collection.cleanup_time",
            Some(&quoted(time)),
            "must be a 24-hour time \"HH:MM\" with two-digit hours 00-23 and minutes 00-59, in the device's local time, e.g. \"02:30\"",
        );
    }
}

/// `HH:MM`, both fields exactly two digits. IoT Edge's parser also takes `7:30`, but two digits
/// are unambiguous and accepted by every version.
fn is_hh_mm(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return false;
    }
    let hours = (b[0] - b'0') * 10 + (b[1] - b'0');
    let minutes = (b[3] - b'0') * 10 + (b[4] - b'0');
    hours <= 23 && minutes <= 59
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn gc_whole_day_recurrences_and_any_threshold_are_accepted() {
        for r in ["1d", "7d", "1w", "2 days", "48h"] {
            assert_valid(&gc(Some(r), Some("0d"), Some("00:00")));
        }
        assert_valid(&gc(None, Some("36h"), Some("23:59")));
    }

    #[test]
    fn gc_recurrence_must_be_whole_days_of_at_least_one() {
        let msg = assert_one_error(&gc(Some("36h"), None, None), &[]);
        assert_eq!(
            msg,
            "[image_garbage_collection] cleanup_recurrence = \"36h\": must be a whole number of days (1d or more), e.g. \"1d\""
        );
        assert_one_error(&gc(Some("0d"), None, None), &["1d or more"]);
        assert_one_error(&gc(Some("1M"), None, None), &["whole number of days"]);
        assert_one_error(&gc(Some("1 dy"), None, None), &["is not a duration", "unknown time unit"]);
    }

    #[test]
    fn gc_threshold_must_be_a_duration() {
        assert_one_error(
            &gc(None, Some("seven days"), None),
            &["[image_garbage_collection] image_age_cleanup_threshold"],
        );
    }

    #[test]
    fn gc_cleanup_time_must_be_two_digit_hh_mm() {
        for t in ["24:00", "12:60", "7:30", "00:00:00", "0730", "ab:cd", ""] {
            assert_one_error(
                &gc(None, None, Some(t)),
                &["[image_garbage_collection] cleanup_time", "\"HH:MM\""],
            );
        }
    }
}
