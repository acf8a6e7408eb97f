//! The connections under a node's slots: ureq's connector wrapped to
//! count every connect and close and to note when a request's first byte
//! left, and the node's own name resolution.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ureq::config::Config;
use ureq::http;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

use super::ConnectionObserver;

/// Resolves a node's host once, not per request: an IP literal is its own
/// address; a name is looked up by ureq's resolver when a connection is
/// made and the answer kept for [`NAME_TTL`] (dropped at once when a
/// connect fails, so a moved node is found again).
pub(super) struct NameLookup {
    /// No proxy: every lookup is of the node's own host.
    pub(super) direct: bool,
    pub(super) ip: Option<std::net::SocketAddr>,
    pub(super) cache: parking_lot::Mutex<Option<(ResolvedSocketAddrs, std::time::Instant)>>,
    pub(super) fallback: DefaultResolver,
}

/// Tests of a name that moves (feature `testkit`): names resolved to a
/// given address before DNS and its cache.
#[cfg(feature = "testkit")]
static MOVED_NAMES: parking_lot::Mutex<Vec<(String, std::net::SocketAddr)>> =
    parking_lot::Mutex::new(Vec::new());

/// Makes `name` resolve to `addr` for every client in this process (or,
/// with `None`, to what DNS says again). For tests of DNS changes only.
#[cfg(feature = "testkit")]
pub(crate) fn resolve_name_to(name: &str, addr: Option<std::net::SocketAddr>) {
    let mut names = MOVED_NAMES.lock();
    names.retain(|(n, _)| n != name);
    if let Some(a) = addr {
        names.push((name.to_string(), a));
    }
}

/// How long a looked-up name is trusted.
const NAME_TTL: Duration = Duration::from_secs(30);

impl NameLookup {
    fn forget(&self) {
        if self.ip.is_none() {
            *self.cache.lock() = None;
        }
    }
}

impl fmt::Debug for NameLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameLookup").field("ip", &self.ip).finish()
    }
}

/// The node's resolver, shared by its slots' agents.
#[derive(Debug)]
pub(super) struct SharedLookup(pub(super) Arc<NameLookup>);

impl Resolver for SharedLookup {
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
        #[cfg(feature = "testkit")]
        {
            let host = uri.host().unwrap_or_default();
            let moved = MOVED_NAMES
                .lock()
                .iter()
                .find(|(n, _)| n == host)
                .map(|(_, a)| *a);
            if let Some(addr) = moved {
                let mut addrs = self.empty();
                addrs.push(addr);
                return Ok(addrs);
            }
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
pub(super) struct CountingConnector {
    pub(super) inner: Arc<DefaultConnector>,
    pub(super) events: Arc<dyn ConnectionObserver>,
    pub(super) sent: Arc<AtomicBool>,
    pub(super) live: Arc<AtomicUsize>,
    pub(super) resolver: Arc<NameLookup>,
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
                    used: false,
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
pub(super) struct CountedTransport {
    inner: Box<dyn Transport>,
    events: Arc<dyn ConnectionObserver>,
    sent: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
    /// I/O happened since ureq last asked whether the connection is open.
    used: bool,
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
        self.used = true;
        self.inner.transmit_output(amount, whole_millis(timeout))
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.used = true;
        self.inner.maybe_await_input(whole_millis(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.used = true;
        self.inner.await_input(whole_millis(timeout))
    }

    /// ureq probes a connection twice between two requests: when the answer
    /// is read and it goes back to the pool, and when it is taken out again.
    /// A probe costs three system calls (a non-blocking read between two
    /// `ioctl`s), 4 % of a one-node call on loopback. The second probe sees
    /// all the first would have (bytes past the body, a close) and whatever
    /// came since, so the first is skipped: a connection answered and not
    /// yet probed counts as open, and the probe before its next request
    /// decides whether it is reused.
    fn is_open(&mut self) -> bool {
        if std::mem::take(&mut self.used) {
            return true;
        }
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
