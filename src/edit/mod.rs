//! Format-preserving editors for the files edgeprep changes. Each keeps every comment, blank
//! line and untouched byte; only the values it is asked to change move.

pub mod dropin;
pub mod json;
pub mod toml;

pub use self::json::DaemonJson;
pub use self::toml::ConfigToml;
