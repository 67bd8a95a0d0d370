//! `[logging]`: the Docker log driver and its size and file-count options.

use super::{Findings, quoted};
use crate::answers::{LogDriver, Logging};

/// Check `[logging]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_logging(logging: &Logging) -> Findings {
    let mut f = Findings::default();
    check_logging(&mut f, logging);
    f
}

/// The largest `max_size` accepted: one log file larger than this would fill the disk of a
/// typical edge device long before it rotates.
pub const MAX_LOG_SIZE_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Why a Docker log size is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizeProblem {
    /// Not a whole number followed by k, m or g.
    Malformed,
    /// More than [`MAX_LOG_SIZE_BYTES`] (or more than fits in 64 bits).
    TooLarge,
}

/// Docker log sizes: a whole number followed by k, m or g (any case, binary multiples as
/// Docker reads them), e.g. `10m`. Counted with checked arithmetic, so a number of any length
/// is refused rather than wrapped around.
fn log_size_bytes(text: &str) -> Result<u64, SizeProblem> {
    let Some(unit) = text.chars().last() else {
        return Err(SizeProblem::Malformed);
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let multiplier: u64 = match unit.to_ascii_lowercase() {
        'k' => 1024,
        'm' => 1024 * 1024,
        'g' => 1024 * 1024 * 1024,
        _ => return Err(SizeProblem::Malformed),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeProblem::Malformed);
    }
    let mut value: u64 = 0;
    for digit in number.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or(SizeProblem::TooLarge)?;
    }
    if value == 0 {
        return Err(SizeProblem::Malformed);
    }
    let bytes = value.checked_mul(multiplier).ok_or(SizeProblem::TooLarge)?;
    if bytes > MAX_LOG_SIZE_BYTES {
        return Err(SizeProblem::TooLarge);
    }
    Ok(bytes)
}

fn check_logging(f: &mut Findings, logging: &Logging) {
    if logging.driver == LogDriver::Journald {
        for (name, present) in
            [("max_size", logging.max_size.is_some()), ("max_files", logging.max_files.is_some())]
        {
            if present {
                f.error(
                    &format!("logging.{name}"),
                    None,
                    "does not apply to driver = \"journald\" (journald rotates logs itself, see journald.conf); remove it, or use driver = \"local\"",
                );
            }
        }
        return;
    }
    if let Some(size) = &logging.max_size {
        match log_size_bytes(size) {
            Ok(_) => {}
            Err(SizeProblem::Malformed) => f.error(
                "logging.max_size",
                Some(&quoted(size)),
                "must be a whole number followed by k, m or g, e.g. \"10m\"",
            ),
            Err(SizeProblem::TooLarge) => f.error(
                "logging.max_size",
                Some(&quoted(size)),
                "is more than 10g; one log file that large would fill the device's disk before it rotates. Use a few megabytes, e.g. \"10m\", and max_files for more history",
            ),
        }
    }
    if logging.max_files == Some(0) {
        f.error("logging.max_files", Some("0"), "must be 1 or more, e.g. 3");
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn log_sizes_are_counted_in_bytes_without_overflow() {
        assert_eq!(log_size_bytes("10m"), Ok(10 * 1024 * 1024));
        assert_eq!(log_size_bytes("500K"), Ok(500 * 1024));
        assert_eq!(log_size_bytes("10g"), Ok(MAX_LOG_SIZE_BYTES));
        assert_eq!(log_size_bytes("10241m"), Err(SizeProblem::TooLarge));
        // 2^64 / 1024 fits in u64 as a number but not once multiplied.
        assert_eq!(log_size_bytes("18014398509481984k"), Err(SizeProblem::TooLarge));
        assert_eq!(log_size_bytes("99999999999999999999m"), Err(SizeProblem::TooLarge));
        assert_eq!(log_size_bytes(&format!("{}m", "9".repeat(500))), Err(SizeProblem::TooLarge));
        assert_eq!(log_size_bytes("0m"), Err(SizeProblem::Malformed));
        assert_eq!(log_size_bytes("١٠m"), Err(SizeProblem::Malformed));
    }

    #[test]
    fn an_overflowing_or_huge_max_size_is_refused_with_a_bound() {
        for size in ["99999999999999999999m", "11g", "20000m"] {
            assert_one_error(
                &logging(LogDriver::Local, Some(size), None),
                &["[logging] max_size", "more than 10g", "\"10m\""],
            );
        }
    }

    #[test]
    fn logging_sizes_and_file_counts() {
        for size in ["10m", "500k", "1g", "10M", "2G"] {
            assert_valid(&logging(LogDriver::Local, Some(size), Some(3)));
        }
        assert_valid(&logging(LogDriver::JsonFile, None, None));
        for size in ["10", "10mb", "m", "0m", "1.5m", "-1m"] {
            assert_one_error(
                &logging(LogDriver::Local, Some(size), None),
                &["[logging] max_size", "\"10m\""],
            );
        }
        assert_one_error(&logging(LogDriver::JsonFile, None, Some(0)), &["[logging] max_files = 0"]);
    }

    #[test]
    fn journald_refuses_size_and_file_limits() {
        assert_valid(&logging(LogDriver::Journald, None, None));
        let e = errors(&logging(LogDriver::Journald, Some("10m"), Some(3)));
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("[logging] max_size: does not apply to driver = \"journald\""));
        assert!(e[1].starts_with("[logging] max_files:"));
    }
}
