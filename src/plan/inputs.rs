//! What the plan needs from outside the device, gathered before planning so that planning
//! itself stays pure: the time, and the Edge CA material an answers file points at (read from
//! the machine running edgeprep, or generated).

use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;

use crate::answers::Answers;
use crate::certs::generate::{GenerateOptions, generate_chain};
use crate::cli::KeyType;
use crate::error::input_error;
use crate::input_file::{MAX_CERT_BYTES, read_regular};

/// Default lifetime of an Edge CA generated through the answers file.
pub const DEFAULT_GENERATED_DAYS: u32 = 365;
/// Default CN of an Edge CA generated through the answers file.
pub const DEFAULT_GENERATED_CN: &str = "edgeprep Edge CA";

/// Everything outside the device state that the plan depends on.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// "Now", for certificate validity.
    pub now: OffsetDateTime,
    pub edge_ca: Option<EdgeCaMaterial>,
}

/// Edge CA files to install: from the answers' paths, or generated.
#[derive(Debug, Clone, Default)]
pub struct EdgeCaMaterial {
    /// The chain (Edge CA first) and where it came from, for messages.
    pub chain: Option<(Vec<u8>, String)>,
    pub key: Option<(Vec<u8>, String)>,
    pub trust_bundle: Option<(Vec<u8>, String)>,
    /// Set when edgeprep generated the chain: the CN asked for, and the root's private key.
    pub generated: Option<Generated>,
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub common_name: String,
    pub root_key: Vec<u8>,
}

impl Inputs {
    /// Inputs with no Edge CA material (answers without `[edge_ca]`).
    pub fn at(now: OffsetDateTime) -> Self {
        Self { now, edge_ca: None }
    }

    /// Read (or generate) what `answers` point at. Paths are absolute by now (see
    /// [`crate::answers::read_answers`]).
    pub fn gather(answers: &Answers, now: OffsetDateTime) -> Result<Self> {
        let Some(edge_ca) = &answers.edge_ca else {
            return Ok(Self::at(now));
        };
        let mut material = EdgeCaMaterial {
            chain: read_input(edge_ca.cert.as_deref(), "[edge_ca] cert")?,
            key: read_input(edge_ca.key.as_deref(), "[edge_ca] key")?,
            trust_bundle: read_input(edge_ca.trust_bundle.as_deref(), "[edge_ca] trust_bundle")?,
            generated: None,
        };
        if let Some(generate) = &edge_ca.generate {
            let common_name =
                generate.common_name.clone().unwrap_or_else(|| DEFAULT_GENERATED_CN.to_string());
            let chain = generate_chain(&GenerateOptions {
                common_name: common_name.clone(),
                days: generate.days.unwrap_or(DEFAULT_GENERATED_DAYS),
                key_type: KeyType::EcP256,
                now,
            })
            .context("generating the Edge CA")?;
            let source = format!("the generated Edge CA \"{common_name}\"");
            material.chain = Some((chain.edge_chain_pem.into_bytes(), source.clone()));
            material.key = Some((chain.edge_key_pem.into_bytes(), source.clone()));
            if material.trust_bundle.is_none() {
                material.trust_bundle = Some((chain.root_cert_pem.into_bytes(), source));
            }
            material.generated = Some(Generated { common_name, root_key: chain.root_key_pem.into_bytes() });
        }
        Ok(Self { now, edge_ca: Some(material) })
    }
}

/// A certificate, key or trust bundle the answers point at: a regular file of certificate
/// size, so a FIFO or `/dev/zero` given by mistake is refused instead of hanging or filling
/// memory.
fn read_input(path: Option<&str>, key: &str) -> Result<Option<(Vec<u8>, String)>> {
    let Some(path) = path else { return Ok(None) };
    let bytes = read_regular(Path::new(path), MAX_CERT_BYTES)
        .map_err(|e| input_error(format!("{key} = \"{}\": {e}", path.escape_debug())))?;
    Ok(Some((bytes, path.to_string())))
}
