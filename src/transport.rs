//! The only file that knows ureq: a [`Request`] goes in, a [`Response`] or a
//! classified [`NodeError`] comes out. Connections are made by a counting
//! connector, so the node's metrics see every real connect and close.

use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::config::Config;
use ureq::http;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};
use ureq::Agent;

use crate::error::{Cause, Error, NodeError};

/// Settings every connection of the client shares.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    pub proxy_from_env: bool,
    /// PEM text of root certificates that replace the default (WebPKI) roots.
    pub root_certs_pem: Option<Vec<u8>>,
    /// Headers sent with every request (authorization among them).
    pub headers: Headers,
}

/// Told of every real connect, failed connect and close, where they
/// happen (the node's metrics implement it; the transport knows no metrics).
pub(crate) trait ConnectionObserver: Send + Sync {
    /// A TCP connection (TLS handshake included) was made.
    fn connected(&self);
    /// A connect failed (refused, timeout, DNS, TLS handshake).
    fn connect_failed(&self);
    /// A connection was closed.
    fn closed(&self);
}

/// The headers every request of the client carries, checked once when the
/// client is built. Each slot makes its own copy, so attempts on different
/// threads share no reference counts. (No `Debug`: they may hold credentials.)
#[derive(Clone, Default)]
pub(crate) struct Headers(Vec<(&'static str, HeaderText)>);

#[derive(Clone)]
enum HeaderText {
    Static(&'static str),
    Owned { text: String, secret: bool },
}

/// How the client authenticates: one `Authorization` header on every request.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// HTTP basic authentication.
    Basic { user: String, password: String },
    /// A bearer token.
    Bearer(String),
}

impl Headers {
    /// The headers of every request: `Accept: application/json` and the
    /// credentials, if any (marked sensitive).
    pub fn for_client(credentials: Option<&Credentials>) -> Result<Headers, Error> {
        use base64::Engine as _;
        let mut headers = Headers::default();
        headers.push_static("accept", "application/json");
        match credentials {
            Some(Credentials::Basic { user, password }) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push("authorization", &format!("Basic {encoded}"), true)?;
            }
            Some(Credentials::Bearer(token)) => {
                headers.push("authorization", &format!("Bearer {token}"), true)?;
            }
            None => {}
        }
        Ok(headers)
    }

    /// Adds a header with a fixed value.
    pub fn push_static(&mut self, name: &'static str, value: &'static str) {
        self.0.push((name, HeaderText::Static(value)));
    }

    /// Adds a header; `secret` values are marked sensitive.
    pub fn push(&mut self, name: &'static str, value: &str, secret: bool) -> Result<(), Error> {
        http::HeaderValue::from_str(value).map_err(|_| {
            Error::InvalidConfig(format!(
                "the {name} header holds characters HTTP does not allow"
            ))
        })?;
        self.0.push((
            name,
            HeaderText::Owned {
                text: value.to_string(),
                secret,
            },
        ));
        Ok(())
    }

    /// A slot's own parsed copy.
    fn parsed(&self) -> Vec<(http::HeaderName, http::HeaderValue)> {
        self.0
            .iter()
            .filter_map(|(name, text)| {
                let value = match text {
                    HeaderText::Static(v) => http::HeaderValue::from_static(v),
                    HeaderText::Owned { text, secret } => {
                        let mut v = http::HeaderValue::from_str(text).ok()?;
                        v.set_sensitive(*secret);
                        v
                    }
                };
                Some((http::HeaderName::from_static(name), value))
            })
            .collect()
    }
}

/// One request: method, full URL, an optional request id and body (the
/// client's own headers are the slot's).
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub request_id: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

/// An answer, its body read to the end or to the size limit.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The body, at most `max_response_bytes` of it.
    pub body: Vec<u8>,
    /// The body was longer than `max_response_bytes`: `body` holds its
    /// start, and the connection was closed instead of reused. The status
    /// line still tells what the node did.
    pub oversized: bool,
}

/// A failed send: what went wrong, and whether a timeout ended it.
#[derive(Debug, Clone)]
pub(crate) struct SendFailure {
    pub error: NodeError,
    /// A timeout (connect or the attempt's own) ended the attempt.
    pub timed_out: bool,
}

/// What a node's connections are made from: the agent configuration and a
/// connector shared by every slot of the node.
pub(crate) struct NodeTransport {
    config: Config,
    inner: Arc<DefaultConnector>,
    events: Arc<dyn ConnectionObserver>,
    max_response_bytes: usize,
    request_timeout: Duration,
    resolver: Arc<NodeResolver>,
    headers: Headers,
}

impl NodeTransport {
    /// `ip` is the node's address when its host is an IP literal.
    pub fn new(
        cfg: &TransportConfig,
        events: Arc<dyn ConnectionObserver>,
        ip: Option<std::net::SocketAddr>,
    ) -> Result<Self, Error> {
        let proxy = if cfg.proxy_from_env {
            ureq::Proxy::try_from_env()
        } else {
            None
        };
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &cfg.root_certs_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::InvalidConfig(format!(
                            "root certificate PEM could not be read: {e}"
                        )))
                    }
                }
            }
            if certs.is_empty() {
                return Err(Error::InvalidConfig(
                    "root certificate PEM holds no certificate".to_string(),
                ));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let direct = proxy.is_none();
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .proxy(proxy)
            .max_redirects(0)
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            // The node's pool decides when idle connections go.
            .max_idle_age(Duration::from_secs(24 * 3600))
            .timeout_connect(Some(cfg.connect_timeout))
            .timeout_per_call(Some(cfg.request_timeout))
            .no_delay(true)
            .tls_config(tls.build())
            .user_agent(concat!("cluster-client/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(NodeTransport {
            config,
            inner: Arc::new(DefaultConnector::new()),
            events,
            max_response_bytes: cfg.max_response_bytes,
            request_timeout: cfg.request_timeout,
            resolver: Arc::new(NodeResolver {
                // Through a proxy ureq resolves the proxy's host too: then
                // nothing is fixed or cached here.
                direct,
                ip: ip.filter(|_| direct),
                cache: parking_lot::Mutex::new(None),
                fallback: DefaultResolver::default(),
            }),
            headers: cfg.headers.clone(),
        })
    }

    /// A new connection slot: an agent that keeps at most one idle connection.
    pub fn new_slot(&self) -> SlotConnection {
        let sent = Arc::new(AtomicBool::new(false));
        let live = Arc::new(AtomicUsize::new(0));
        let connector = CountingConnector {
            inner: self.inner.clone(),
            events: self.events.clone(),
            sent: sent.clone(),
            live: live.clone(),
            resolver: self.resolver.clone(),
        };
        let agent = Agent::with_parts(
            self.config.clone(),
            connector,
            SharedResolver(self.resolver.clone()),
        );
        SlotConnection {
            agent,
            sent,
            live,
            max_response_bytes: self.max_response_bytes,
            request_timeout: self.request_timeout,
            headers: self.headers.parsed(),
        }
    }
}

/// A slot's agent and what it knows of its own connection.
pub(crate) struct SlotConnection {
    agent: Agent,
    sent: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    max_response_bytes: usize,
    request_timeout: Duration,
    /// This slot's own copy of the client's headers.
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl fmt::Debug for SlotConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotConnection")
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish()
    }
}

/// Interrupts the I/O of a slot in use from another thread.
#[derive(Clone)]
pub(crate) struct Interrupt(Agent);

impl Interrupt {
    pub fn interrupt(self) {
        self.0.shutdown();
    }
}

impl SlotConnection {
    /// Open connections this slot holds (0 or 1).
    pub fn live_connections(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub fn interrupt_handle(&self) -> Interrupt {
        Interrupt(self.agent.clone())
    }

    /// Sends one request and reads the whole answer, within `timeout`
    /// (never more than the configured request timeout).
    pub fn send(&self, req: &Request<'_>, timeout: Duration) -> Result<Response, SendFailure> {
        self.sent.store(false, Ordering::Relaxed);
        let timeout = timeout.min(self.request_timeout);
        let result = self.send_inner(req, timeout);
        result.map_err(|e| SendFailure {
            timed_out: matches!(e, ureq::Error::Timeout(_)),
            error: classify(
                e,
                self.sent.load(Ordering::Relaxed),
                self.max_response_bytes,
            ),
        })
    }

    fn send_inner(&self, req: &Request<'_>, timeout: Duration) -> Result<Response, ureq::Error> {
        let body: Vec<u8> = req.body.map(<[u8]>::to_vec).unwrap_or_default();
        let mut request = http::Request::new(body);
        *request.method_mut() =
            http::Method::from_bytes(req.method.as_bytes()).map_err(http::Error::from)?;
        *request.uri_mut() = http::Uri::try_from(req.url).map_err(http::Error::from)?;
        let headers = request.headers_mut();
        headers.reserve(self.headers.len() + 1);
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(id) = req
            .request_id
            .and_then(|id| http::HeaderValue::from_str(id).ok())
        {
            headers.append(http::HeaderName::from_static("x-request-id"), id);
        }
        if req.body.is_some_and(|b| !b.is_empty()) {
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        // Methods that carry a body get an explicit (possibly empty) one, so
        // servers see a Content-Length (nginx answers 411 without it).
        let has_body = req.body.is_some() || matches!(req.method, "POST" | "PUT" | "PATCH");
        // The agent's own per-call timeout is the request timeout: only a
        // shorter remaining deadline needs a request-level setting.
        let request = if timeout < self.request_timeout {
            self.agent
                .configure_request(request)
                .timeout_per_call(Some(timeout))
                .build()
        } else {
            request
        };
        let mut response = if has_body {
            self.agent.run(request)?
        } else {
            let (parts, _) = request.into_parts();
            self.agent.run(http::Request::from_parts(parts, ()))?
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Read one byte past the limit to tell "exactly the limit" from
        // "over it". An oversized body is not drained: dropping the reader
        // before the end closes the connection instead of reusing it.
        let limit = self.max_response_bytes;
        let mut body = Vec::with_capacity(limit.min(8 * 1024));
        response
            .body_mut()
            .as_reader()
            .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
            .read_to_end(&mut body)
            .map_err(ureq::Error::from)?;
        let oversized = body.len() > limit;
        if oversized {
            body.truncate(limit);
        }
        Ok(Response {
            status,
            retry_after,
            body,
            oversized,
        })
    }
}

fn classify(err: ureq::Error, sent: bool, limit: usize) -> NodeError {
    use ureq::Error as U;
    let kind = match &err {
        U::Io(e) => Some(e.kind()),
        U::Timeout(_) => Some(io::ErrorKind::TimedOut),
        _ => None,
    };
    let timed_out = matches!(err, U::Timeout(_));
    let tls = match &err {
        U::Tls(_) | U::Pem(_) | U::Rustls(_) | U::TlsRequired => true,
        U::Io(e) => is_tls_io(e),
        _ => false,
    };
    let class = match err {
        U::BodyExceedsLimit(_) => return NodeError::BodyTooLarge { limit },
        _ if tls => NodeError::Tls,
        U::HostNotFound | U::ConnectionFailed => NodeError::Connect,
        U::Io(_) | U::Timeout(_) if !sent => NodeError::Connect,
        U::Io(_) | U::Timeout(_) => NodeError::NoAnswer,
        U::Protocol(_) | U::LargeResponseHeader(..) | U::BodyStalled => NodeError::Protocol,
        _ if !sent => NodeError::Connect,
        _ => NodeError::Protocol,
    };
    class(Cause::from_error(err, kind, timed_out))
}

/// ureq reports a failed handshake as an I/O error wrapping rustls's error.
fn is_tls_io(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// Resolves a node's host once, not per request: an IP literal is its own
/// address; a name is looked up by ureq's resolver when a connection is
/// made and the answer kept for [`NAME_TTL`] (dropped at once when a
/// connect fails, so a moved node is found again).
pub(crate) struct NodeResolver {
    /// No proxy: every lookup is of the node's own host.
    direct: bool,
    ip: Option<std::net::SocketAddr>,
    cache: parking_lot::Mutex<Option<(ResolvedSocketAddrs, std::time::Instant)>>,
    fallback: DefaultResolver,
}

/// How long a looked-up name is trusted.
const NAME_TTL: Duration = Duration::from_secs(30);

impl NodeResolver {
    fn forget(&self) {
        if self.ip.is_none() {
            *self.cache.lock() = None;
        }
    }
}

impl fmt::Debug for NodeResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeResolver")
            .field("ip", &self.ip)
            .finish()
    }
}

/// The node's resolver, shared by its slots' agents.
#[derive(Debug)]
struct SharedResolver(Arc<NodeResolver>);

impl Resolver for SharedResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let r = &self.0;
        if let Some(addr) = r.ip {
            let mut addrs = self.empty();
            addrs.push(addr);
            return Ok(addrs);
        }
        if !r.direct {
            return r.fallback.resolve(uri, config, timeout);
        }
        if let Some((addrs, at)) = &*r.cache.lock() {
            if at.elapsed() < NAME_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs = r.fallback.resolve(uri, config, timeout)?;
        *r.cache.lock() = Some((addrs.clone(), std::time::Instant::now()));
        Ok(addrs)
    }
}

/// Wraps ureq's default connector and counts what it does.
struct CountingConnector {
    inner: Arc<DefaultConnector>,
    events: Arc<dyn ConnectionObserver>,
    sent: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    resolver: Arc<NodeResolver>,
}

impl fmt::Debug for CountingConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CountingConnector")
    }
}

impl Connector<()> for CountingConnector {
    type Out = CountedTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        match self.inner.connect(details, chained) {
            Ok(Some(inner)) => {
                self.events.connected();
                self.live.fetch_add(1, Ordering::Relaxed);
                Ok(Some(CountedTransport {
                    inner,
                    events: self.events.clone(),
                    sent: self.sent.clone(),
                    live: self.live.clone(),
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.events.connect_failed();
                self.resolver.forget();
                Err(e)
            }
        }
    }
}

/// A live connection; its drop is the close.
struct CountedTransport {
    inner: Box<dyn Transport>,
    events: Arc<dyn ConnectionObserver>,
    sent: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
}

impl fmt::Debug for CountedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CountedTransport")
    }
}

impl Transport for CountedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if amount > 0 {
            self.sent.store(true, Ordering::Relaxed);
        }
        self.inner.transmit_output(amount, whole_millis(timeout))
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.maybe_await_input(whole_millis(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(whole_millis(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Drop for CountedTransport {
    fn drop(&mut self) {
        self.events.closed();
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Rounds a timeout up to whole milliseconds. ureq sets a socket's timeout
/// again (a syscall) whenever the value differs from the last one; each
/// call's remaining time differs by microseconds, so without rounding every
/// request paid a `setsockopt`. A timeout now fires at most 1 ms late.
fn whole_millis(mut t: NextTimeout) -> NextTimeout {
    use ureq::unversioned::transport::time::Duration as D;
    if let D::Exact(d) = t.after {
        let ms = d.as_micros().div_ceil(1000);
        t.after = D::Exact(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)));
    }
    t
}

#[cfg(test)]
mod tests {
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
}
