//! `classify`: which failures left the request unsent, table-tested.
use super::*;

fn io(kind: io::ErrorKind) -> ureq::Error {
    ureq::Error::Io(io::Error::new(kind, "x"))
}

#[test]
fn classify_tells_whether_the_request_left() {
    use ureq::Error as U;
    let limit = 10;
    let class = |e: ureq::Error, sent: bool| match classify(e, sent, limit) {
        NodeError::Connect(_) => "connect",
        NodeError::NoAnswer(_) => "no answer",
        NodeError::Protocol(_) => "protocol",
        NodeError::Tls(_) => "tls",
        NodeError::BodyTooLarge { .. } => "too large",
        _ => "other",
    };
    let table: Vec<(ureq::Error, bool, &str)> = vec![
        (U::HostNotFound, false, "connect"),
        (U::ConnectionFailed, false, "connect"),
        (io(io::ErrorKind::ConnectionRefused), false, "connect"),
        (io(io::ErrorKind::ConnectionReset), false, "connect"),
        (io(io::ErrorKind::ConnectionReset), true, "no answer"),
        (U::Timeout(ureq::Timeout::Connect), false, "connect"),
        (U::Timeout(ureq::Timeout::RecvResponse), true, "no answer"),
        (U::BodyStalled, true, "protocol"),
        (U::TlsRequired, false, "tls"),
        (U::BodyExceedsLimit(limit as u64), true, "too large"),
    ];
    for (err, sent, want) in table {
        let shown = format!("{err:?}");
        assert_eq!(class(err, sent), want, "{shown} sent={sent}");
    }
}

#[test]
fn a_classified_error_keeps_its_cause() {
    match classify(ureq::Error::Timeout(ureq::Timeout::RecvResponse), true, 1) {
        NodeError::NoAnswer(c) => {
            assert!(c.is_timeout());
            assert_eq!(c.io_kind(), Some(io::ErrorKind::TimedOut));
            assert!(std::error::Error::source(&c).is_some());
        }
        other => panic!("{other:?}"),
    }
}
