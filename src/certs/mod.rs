//! Edge CA certificates: reading PEM/DER, inspecting a chain against what IoT Edge needs,
//! generating a root + Edge CA, and creating a key + CSR for an external CA.

pub mod csr;
pub mod generate;
pub mod inspect;
pub mod key;
pub mod pem;
pub mod report;
pub mod status;
