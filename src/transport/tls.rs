//! TLS (feature `tls`): trusted roots from PEM text, the agent's TLS
//! settings, and which ureq errors are TLS failures. `no_tls.rs` is the
//! same interface for a build without it.

use std::io;

use ureq::config::ConfigBuilder;
use ureq::typestate::AgentScope;

use super::TransportConfig;
use crate::address::HostAddress;
use crate::error::Error;

/// The certificates in PEM text, or why there are none to use.
fn root_certs(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("could not be read: {e}")),
        }
    }
    if certs.is_empty() {
        return Err("holds no certificate".to_string());
    }
    Ok(certs)
}

/// Why PEM text cannot serve as root certificates, if it cannot (checked
/// by the builder and the config file before any node is built).
pub(crate) fn check_root_certs_pem(pem: &[u8]) -> Result<(), String> {
    root_certs(pem).map(drop)
}

/// Every node can be reached: this build speaks TLS.
pub(super) fn check_scheme(_host: &HostAddress) -> Result<(), Error> {
    Ok(())
}

/// The agent's TLS settings: the configured roots, or the WebPKI roots.
pub(super) fn configure(
    builder: ConfigBuilder<AgentScope>,
    cfg: &TransportConfig,
) -> Result<ConfigBuilder<AgentScope>, Error> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(pem) = &cfg.root_certs_pem {
        let certs = root_certs(pem)
            .map_err(|why| Error::InvalidConfig(format!("root certificate PEM {why}")))?;
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    Ok(builder.tls_config(tls.build()))
}

/// A TLS failure (handshake, certificate, PEM), not a plain connect error.
pub(super) fn is_tls_failure(err: &ureq::Error) -> bool {
    use ureq::Error as U;
    match err {
        U::Tls(_) | U::Pem(_) | U::Rustls(_) | U::TlsRequired => true,
        U::Io(e) => is_tls_io(e),
        _ => false,
    }
}

/// ureq reports a failed handshake as an I/O error wrapping rustls's error.
fn is_tls_io(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}
