//! With `connector.rs` beside it, the only code that knows ureq: a
//! [`Request`] goes in, a [`Response`] or a
//! classified [`NodeError`] comes out. Connections are made by a counting
//! connector, so the node's metrics see every real connect and close.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::config::Config;
use ureq::http;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::DefaultConnector;
use ureq::Agent;

use crate::address::HostAddress;
use crate::error::{Cause, Error, NodeError};

mod connector;
#[cfg(feature = "tls")]
mod tls;
#[cfg(not(feature = "tls"))]
#[path = "no_tls.rs"]
mod tls;

#[cfg(feature = "testkit")]
pub(crate) use self::connector::resolve_name_to;

pub(crate) use self::tls::check_root_certs_pem;

use self::connector::{CountingConnector, NameLookup, SharedLookup};

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
    /// The body (empty when it was over `max_response_bytes`).
    pub body: Vec<u8>,
    /// The body was longer than `max_response_bytes`: `body` is empty,
    /// and the connection was closed instead of reused. The status
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
    resolver: Arc<NameLookup>,
    headers: Headers,
}

impl NodeTransport {
    /// The connections to `host`; an `https://` host needs feature `tls`
    /// (without it, [`Error::InvalidConfig`]).
    pub fn new(
        cfg: &TransportConfig,
        events: Arc<dyn ConnectionObserver>,
        host: &HostAddress,
    ) -> Result<Self, Error> {
        tls::check_scheme(host)?;
        // An IP literal is its own address: no lookup.
        let ip = host
            .ip()
            .map(|ip| std::net::SocketAddr::new(ip, host.port()));
        let proxy = if cfg.proxy_from_env {
            ureq::Proxy::try_from_env()
        } else {
            None
        };
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
            .user_agent(concat!("cluster-client/", env!("CARGO_PKG_VERSION")));
        let config = tls::configure(config, cfg)?.build();
        Ok(NodeTransport {
            config,
            inner: Arc::new(DefaultConnector::new()),
            events,
            max_response_bytes: cfg.max_response_bytes,
            request_timeout: cfg.request_timeout,
            resolver: Arc::new(NameLookup {
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
            SharedLookup(self.resolver.clone()),
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
        // Over the limit, ureq stops reading and the body is not drained:
        // the connection is closed instead of reused. The status stands.
        let (body, oversized) = match response
            .body_mut()
            .with_config()
            .limit(u64::try_from(self.max_response_bytes).unwrap_or(u64::MAX))
            .read_to_vec()
        {
            Ok(body) => (body, false),
            Err(ureq::Error::BodyExceedsLimit(_)) => (Vec::new(), true),
            Err(e) => return Err(e),
        };
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
    let tls = tls::is_tls_failure(&err);
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

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
