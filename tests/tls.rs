//! `https://` nodes: certificates are verified by default, a custom CA (PEM)
//! makes a private cluster's self-signed certificate trusted, and a TLS
//! certificate error is typed and final (never retried).

mod common;

use std::time::Duration;

use cluster_client::testkit::TlsTestNode;
use cluster_client::{ClusterClient, Error, HostAddress, NodeError};

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn localhost_cert() -> (String, String) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("rcgen generates a certificate");
    (generated.cert.pem(), generated.signing_key.serialize_pem())
}

#[test]
fn untrusted_certificate_is_a_final_tls_error() {
    let (cert_pem, key_pem) = localhost_cert();
    let node = TlsTestNode::start(&cert_pem, &key_pem).expect("TLS node starts");
    assert!(node.url().starts_with("https://localhost:"));
    let client = common::fast_builder_for([node.url()])
        .build()
        .expect("client builds");
    let host: HostAddress = node.url().parse().expect("valid host");

    let err = client
        .create_group("tls-untrusted")
        .expect_err("a self-signed certificate is not trusted by default");
    match &err {
        Error::GroupOperation {
            failed_hosts,
            failures,
            rollback_failed_hosts,
            possible_orphans,
            ..
        } => {
            assert_eq!(failed_hosts, &vec![host.clone()]);
            assert!(rollback_failed_hosts.is_empty());
            assert!(possible_orphans.is_empty(), "nothing was sent: {err}");
            let failure = failures
                .iter()
                .find(|f| f.host == host)
                .expect("the node's failure is reported");
            assert!(
                matches!(failure.error, NodeError::Tls(_)),
                "expected NodeError::Tls, got {:?}",
                failure.error
            );
        }
        other => panic!("expected Error::GroupOperation, got {other:?}"),
    }

    // The certificate error is final: one handshake with 3 attempts allowed.
    assert!(
        common::wait_for(Duration::from_secs(2), || node.failed_handshakes() >= 1),
        "the node saw no failed handshake"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        node.failed_handshakes(),
        1,
        "a TLS error must not be retried"
    );
    assert_eq!(node.handshakes(), 0);
    assert_eq!(node.node().request_count(), 0, "no request got through");
    assert!(!node.node().has_group("tls-untrusted"));

    let metrics = client.cluster_management().connection_pool_metrics();
    let m = metrics.get(&host).expect("metrics of the node");
    assert!(
        m.connections_created_with_error >= 1,
        "a failed handshake is a failed connect: {m:?}"
    );
    assert_eq!(m.connections_created, 0, "{m:?}");
    assert_eq!(m.curr_connections, 0, "{m:?}");
}

#[test]
fn trusted_custom_ca_makes_the_node_usable() {
    let (cert_pem, key_pem) = localhost_cert();
    let node = TlsTestNode::start(&cert_pem, &key_pem).expect("TLS node starts");
    let client = common::fast_builder_for([node.url()])
        .root_certificates_pem(cert_pem.as_bytes())
        .build()
        .expect("client builds");
    let host: HostAddress = node.url().parse().expect("valid host");

    client
        .create_group("tls-trusted")
        .expect("create over TLS works");
    assert!(node.node().has_group("tls-trusted"));
    assert!(client
        .verify_group(&host, "tls-trusted")
        .expect("verify over TLS works"));
    let undeleted = client
        .delete_group("tls-trusted")
        .expect("delete over TLS works");
    assert!(undeleted.is_empty(), "not deleted on {undeleted:?}");
    assert!(!node.node().has_group("tls-trusted"));
    assert!(!client
        .verify_group(&host, "tls-trusted")
        .expect("verify over TLS works"));
    assert!(node.node().count_requests_to("POST", "/v1/group") >= 1);

    let metrics = client.cluster_management().connection_pool_metrics();
    let m = metrics.get(&host).expect("metrics of the node");
    assert!(m.connections_created >= 1, "{m:?}");
    assert_eq!(
        m.connections_created,
        node.handshakes(),
        "every connection the client made is one TLS handshake: {m:?}"
    );
    assert_eq!(m.connections_created_with_error, 0, "{m:?}");
    assert_eq!(node.failed_handshakes(), 0);
}

#[test]
fn certificate_name_is_verified() {
    // Trusted CA, but the certificate is for `localhost`, not `127.0.0.1`.
    let (cert_pem, key_pem) = localhost_cert();
    let node = TlsTestNode::start(&cert_pem, &key_pem).expect("TLS node starts");
    let url = format!("https://127.0.0.1:{}", node.port());
    let client = common::fast_builder_for([node.url()])
        .hosts([url.as_str()])
        .root_certificates_pem(cert_pem.as_bytes())
        .build()
        .expect("client builds");
    let err = client
        .create_group("tls-wrong-name")
        .expect_err("the certificate does not name 127.0.0.1");
    match &err {
        Error::GroupOperation { failures, .. } => {
            assert_eq!(failures.len(), 1, "{err}");
            assert!(
                matches!(failures[0].error, NodeError::Tls(_)),
                "expected NodeError::Tls, got {:?}",
                failures[0].error
            );
        }
        other => panic!("expected Error::GroupOperation, got {other:?}"),
    }
    assert!(
        common::wait_for(Duration::from_secs(2), || node.failed_handshakes() >= 1),
        "the node saw no failed handshake"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        node.failed_handshakes(),
        1,
        "a TLS error must not be retried"
    );
    assert_eq!(node.node().request_count(), 0);
}

#[test]
fn invalid_root_certificate_pem_is_refused_at_build() {
    let bad_inputs: [&[u8]; 3] = [
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        b"this is not PEM",
        b"",
    ];
    for pem in bad_inputs {
        let result = ClusterClient::builder()
            .hosts(["https://localhost:20000"])
            .root_certificates_pem(pem)
            .build();
        match result {
            Err(Error::InvalidConfig(_)) => {}
            Err(other) => panic!("expected Error::InvalidConfig, got {other:?}"),
            Ok(_) => panic!("PEM {:?} was accepted", String::from_utf8_lossy(pem)),
        }
    }
}
