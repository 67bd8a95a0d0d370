//! Edge CA certificates: reading PEM/DER, inspecting a chain against what IoT Edge needs,
//! generating a root + Edge CA, and creating a key + CSR for an external CA.
//!
//! Everything here is pure (no printing); `commands::cert` does the I/O. The planner uses
//! [`inspect::inspect_bytes`] to judge files named in an answers file and
//! [`generate::generate_chain`] for `[edge_ca.generate]`.

/// A CSR for an external CA (the key stays on the device).
pub mod csr;
/// A root CA and an Edge CA signed by it.
pub mod generate;
/// The Edge CA rules applied to a chain and key.
pub mod inspect;
/// Public keys from certificates and private keys, comparable and describable.
pub mod key;
/// PEM/DER decoding and encrypted-key detection.
pub mod pem;
/// Text rendering of reports and status.
pub mod report;
/// The device's current Edge CA, from config.toml.
pub mod status;
