//! A build without feature `tls`: `tls.rs`'s interface, refusing what
//! needs TLS when the client is built (an `https://` node, trusted roots)
//! instead of failing at the first connect.

use ureq::config::ConfigBuilder;
use ureq::typestate::AgentScope;

use super::TransportConfig;
use crate::address::HostAddress;
use crate::error::Error;

const WHY: &str =
    "this build of cluster-client has no TLS (its feature \"tls\", on by default, is off)";

/// Root certificates need TLS.
pub(crate) fn check_root_certs_pem(_pem: &[u8]) -> Result<(), String> {
    Err(format!("cannot be used: {WHY}"))
}

/// An `https://` node is [`Error::InvalidConfig`].
pub(super) fn check_scheme(host: &HostAddress) -> Result<(), Error> {
    if host.is_tls() {
        return Err(Error::InvalidConfig(format!(
            "{host} is an https:// node, and {WHY}"
        )));
    }
    Ok(())
}

/// No TLS settings; trusted roots (refused when the settings were checked)
/// are refused here too.
pub(super) fn configure(
    builder: ConfigBuilder<AgentScope>,
    cfg: &TransportConfig,
) -> Result<ConfigBuilder<AgentScope>, Error> {
    match &cfg.root_certs_pem {
        Some(pem) => Err(Error::InvalidConfig(format!(
            "root certificate PEM {}",
            check_root_certs_pem(pem).err().unwrap_or_default()
        ))),
        None => Ok(builder),
    }
}

/// ureq's own TLS errors (it reports an `https://` URL it cannot serve as
/// `TlsRequired`).
pub(super) fn is_tls_failure(err: &ureq::Error) -> bool {
    matches!(err, ureq::Error::Tls(_) | ureq::Error::TlsRequired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_node_is_a_typed_error_when_the_client_is_built() {
        let err = crate::ClusterClient::builder()
            .hosts(["http://127.0.0.1:1", "https://127.0.0.1:2"])
            .build()
            .map(drop)
            .unwrap_err();
        match err {
            Error::InvalidConfig(why) => {
                assert!(why.contains("https://127.0.0.1:2"), "{why}");
                assert!(why.contains("feature \"tls\""), "{why}");
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn an_http_only_client_builds_without_tls_and_refuses_an_https_node_added() {
        let client = crate::ClusterClient::builder()
            .hosts(["http://127.0.0.1:1"])
            .build();
        let client = match client {
            Ok(c) => c,
            Err(e) => panic!("an http-only client must build without tls: {e}"),
        };
        match client.add_node("https://127.0.0.1:3") {
            Err(Error::InvalidConfig(why)) => assert!(why.contains("https://127.0.0.1:3"), "{why}"),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        let nodes = client.cluster_management().nodes();
        assert_eq!(nodes.len(), 1, "{nodes:?}");
    }
}
