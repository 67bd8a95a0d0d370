//! Keeping secrets secret: masking registry passwords, SAS keys and proxy passwords wherever a
//! plan, diff or log line is shown.
