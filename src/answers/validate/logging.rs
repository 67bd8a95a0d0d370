//! `[logging]`: the Docker log driver and its size and file-count options.

use super::{Findings, quoted};
use crate::answers::{LogDriver, Logging};

/// Check `[logging]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_logging(logging: &Logging) -> Findings {
    let mut f = Findings::default();
    check_logging(&mut f, logging);
    f
}

/// Docker log sizes: a whole number followed by k, m or g (any case), e.g. `10m`.
fn is_log_size(text: &str) -> bool {
    let Some(unit) = text.chars().last() else {
        return false;
    };
    let number = &text[..text.len() - unit.len_utf8()];
    matches!(unit.to_ascii_lowercase(), 'k' | 'm' | 'g')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && number.chars().any(|c| c != '0')
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
    if let Some(size) = &logging.max_size
        && !is_log_size(size)
    {
        f.error(
            "logging.max_size",
            Some(&quoted(size)),
            "must be a whole number followed by k, m or g, e.g. \"10m\"",
        );
    }
    if logging.max_files == Some(0) {
        f.error("logging.max_files", Some("0"), "must be 1 or more, e.g. 3");
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

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
