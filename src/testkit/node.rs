//! [`TestNode`]: one in-process HTTP/1.1 node on 127.0.0.1 — its listener,
//! one thread per connection, the request log, fault rules and lifecycle.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use super::admin::{self, AdminRequest};
use super::fault::{self, Fault, FaultRule};
use super::groups;
use super::http::{self, ReadOutcome, Request, Response};
use super::resources;
use super::view::{self, ClusterView, Member, SharedView};

/// Lowest port a node binds (inclusive).
const PORT_MIN: u16 = 20_000;
/// Highest port a node binds (exclusive); below Linux's ephemeral range.
const PORT_MAX: u16 = 32_000;
/// How long `come_up` keeps retrying to bind its port.
const REBIND_FOR: Duration = Duration::from_secs(2);
/// How long `go_down` waits for the accept thread to close the listener.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// Longest single sleep of a connection thread, so that it notices promptly
/// that its connection was shut down.
const SLEEP_SLICE: Duration = Duration::from_millis(10);
/// Size of one write of a [`Fault::HugeBody`] answer.
const HUGE_CHUNK: usize = 64 * 1024;
/// Body length announced by a [`Fault::Drip`] answer.
const DRIP_LENGTH: usize = 1000;

/// One request as a node received it (fully parsed), kept in the node's
/// request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The raw request-target including any query, as received (not
    /// percent-decoded).
    pub path: String,
    /// Header names and values in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (decoded from chunked transfer coding if it was chunked).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An in-process HTTP/1.1 node on `127.0.0.1` speaking the group service and
/// the ArangoDB-style administration API, with fault injection.
///
/// `TestNode` is a cheap handle (`Clone`); the node stops — listener closed,
/// every connection shut down — when the last handle is dropped, or at once
/// when it belongs to a [`TestCluster`](super::TestCluster) that is dropped.
#[derive(Clone)]
pub struct TestNode {
    handle: Arc<Handle>,
}

/// Owned by the `TestNode` handles only: its drop stops the node. Threads
/// hold the `Inner` directly, so they never keep the node running.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.go_down();
        release_port(self.inner.port);
    }
}

/// The accept thread of one "up" period.
struct Listening {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

struct Inner {
    port: u16,
    server_id: String,
    view: SharedView,
    groups: Mutex<BTreeSet<String>>,
    resources: Mutex<BTreeMap<String, Vec<u8>>>,
    requests: Mutex<Vec<RecordedRequest>>,
    requests_total: Arc<AtomicU64>,
    faults: Mutex<Vec<FaultRule>>,
    latency_nanos: AtomicU64,
    /// Speak the WebDAV group wire protocol instead of the reference one.
    webdav: AtomicBool,
    listening: Mutex<Option<Listening>>,
    /// `try_clone`d handles of open connections, so `go_down` can shut them.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    accepted: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// In-flight count shared by every node of a `TestCluster`.
    cluster_flight: Arc<Flight>,
}

/// A count of requests in flight and its peak, and a gate that holds
/// requests until enough are in flight together.
#[derive(Debug, Default)]
pub(super) struct Flight {
    pub(super) count: AtomicUsize,
    pub(super) peak: AtomicUsize,
    gate: Mutex<Gate>,
    opened: std::sync::Condvar,
}

/// `need == 0`: open.
#[derive(Debug, Default)]
struct Gate {
    need: usize,
    arrived: usize,
}

/// The longest a request waits at the gate: nothing hangs on a test's
/// miscount.
const GATE_LIMIT: Duration = Duration::from_secs(10);

impl Flight {
    /// Holds the next `n` requests until all `n` are in flight together.
    pub(super) fn hold_until(&self, n: usize) {
        let mut g = lock(&self.gate);
        g.need = n;
        g.arrived = 0;
    }

    /// Called by each request: waits at a closed gate until it opens.
    fn pass(&self) {
        let mut g = lock(&self.gate);
        if g.need == 0 {
            return;
        }
        g.arrived += 1;
        let deadline = Instant::now() + GATE_LIMIT;
        while g.need != 0 && g.arrived < g.need {
            let now = Instant::now();
            if now >= deadline {
                log::warn!("test node gate: only {} of {} arrived", g.arrived, g.need);
                break;
            }
            g = self
                .opened
                .wait_timeout(g, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        g.need = 0;
        g.arrived = 0;
        self.opened.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for TestNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestNode")
            .field("url", &self.url())
            .field("server_id", &self.server_id())
            .field("up", &self.is_up())
            .finish()
    }
}

impl TestNode {
    /// Starts a standalone node (with its own cluster view) on a random port
    /// of 127.0.0.1 in 20000..32000.
    pub fn start() -> io::Result<TestNode> {
        TestNode::start_in(&ClusterView::shared(), &Arc::default(), None)
    }

    /// Starts a node that joins the given cluster view, on `port` of
    /// 127.0.0.1 when given, else on a random free port.
    pub(super) fn start_in(
        view: &SharedView,
        flight: &Arc<Flight>,
        port: Option<u16>,
    ) -> io::Result<TestNode> {
        let (listener, port) = match port {
            Some(p) => bind_port(p)?,
            None => bind_random_port()?,
        };
        let server_id = format!("CRDN-{port}");
        let requests_total = Arc::new(AtomicU64::new(0));
        view::lock(view).members.push(Member {
            id: server_id.clone(),
            port,
            role: "COORDINATOR".to_string(),
            up: true,
            requests_total: Arc::clone(&requests_total),
            started: Instant::now(),
        });
        let inner = Arc::new(Inner {
            port,
            server_id,
            view: Arc::clone(view),
            groups: Mutex::new(BTreeSet::new()),
            resources: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
            requests_total,
            faults: Mutex::new(Vec::new()),
            latency_nanos: AtomicU64::new(0),
            webdav: AtomicBool::new(false),
            listening: Mutex::new(None),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            cluster_flight: Arc::clone(flight),
        });
        // From here on, dropping `node` releases the port.
        let node = TestNode {
            handle: Arc::new(Handle {
                inner: Arc::clone(&inner),
            }),
        };
        match spawn_accept_thread(&inner, listener) {
            Ok(listening) => *lock(&inner.listening) = Some(listening),
            Err(e) => {
                inner.set_up_in_view(false);
                return Err(e);
            }
        }
        log::debug!(
            "test node {} listening on 127.0.0.1:{port}",
            inner.server_id
        );
        Ok(node)
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// The node's port (the same across `go_down`/`come_up`).
    pub fn port(&self) -> u16 {
        self.inner().port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// The ids of the groups this node holds.
    pub fn groups(&self) -> BTreeSet<String> {
        lock(&self.inner().groups).clone()
    }

    /// Whether this node holds the group.
    pub fn has_group(&self, id: &str) -> bool {
        lock(&self.inner().groups).contains(id)
    }

    /// Puts a group into this node's store (no request involved).
    pub fn insert_group(&self, id: &str) {
        lock(&self.inner().groups).insert(id.to_string());
    }

    /// The body stored for resource `kind`/`name` (`PUT /v1/resource/<kind>/<name>`).
    pub fn resource(&self, kind: &str, name: &str) -> Option<Vec<u8>> {
        lock(&self.inner().resources)
            .get(&format!("{kind}/{name}"))
            .cloned()
    }

    /// Removes a group from this node's store (no request involved).
    pub fn remove_group(&self, id: &str) {
        lock(&self.inner().groups).remove(id);
    }

    /// Every request fully read since start (or the last
    /// [`clear_requests`](Self::clear_requests)), in arrival order,
    /// including those answered by a fault.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner().requests).clone()
    }

    /// Number of requests in the log.
    pub fn request_count(&self) -> usize {
        lock(&self.inner().requests).len()
    }

    /// Number of requests in the log with this method (ASCII
    /// case-insensitive).
    pub fn count_requests(&self, method: &str) -> usize {
        lock(&self.inner().requests)
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .count()
    }

    /// Number of requests in the log with this method whose raw target
    /// starts with `path_prefix`.
    pub fn count_requests_to(&self, method: &str, path_prefix: &str) -> usize {
        lock(&self.inner().requests)
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.starts_with(path_prefix))
            .count()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.inner().requests).clear();
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, rule: FaultRule) {
        if rule.count > 0 {
            lock(&self.inner().faults).push(rule);
        }
    }

    /// The next `count` requests with this method are answered `status`
    /// (small JSON error body, no `Retry-After`) and not applied.
    pub fn fail_next(&self, method: &str, count: usize, status: u16) {
        self.inject(
            FaultRule::new(Fault::Status {
                status,
                retry_after: None,
            })
            .method(method)
            .times(count),
        );
    }

    /// The fault rules not yet used up, in match order.
    pub fn pending_faults(&self) -> Vec<FaultRule> {
        lock(&self.inner().faults).clone()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.inner().faults).clear();
    }

    /// Delays every answer by `d` (the node sleeps after reading a request,
    /// before handling it). `Duration::ZERO` turns it off.
    pub fn set_latency(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.inner().latency_nanos.store(nanos, Ordering::Relaxed);
    }

    /// Answers the group service in the WebDAV wire protocol that
    /// `GroupApi::webdav()` speaks (`PUT /groups/<id>` 201 created or 204
    /// already there, `GET` 200/404, `DELETE` 204/404, no bodies) instead of
    /// the reference one (`false`, the default). Same store either way.
    pub fn speak_webdav(&self, on: bool) {
        self.inner().webdav.store(on, Ordering::Relaxed);
    }

    /// Stops accepting (the listener is closed, so connecting to the port is
    /// refused) and shuts down every open connection. Returns once the
    /// listener is closed. Idempotent.
    pub fn go_down(&self) {
        self.inner().go_down();
    }

    /// Binds the same port again and serves (retrying the bind for up to
    /// ~2 s). `Ok` at once if the node is already up.
    pub fn come_up(&self) -> io::Result<()> {
        self.inner().come_up()
    }

    /// Whether the node is accepting connections.
    pub fn is_up(&self) -> bool {
        lock(&self.inner().listening).is_some()
    }

    /// Highest number of requests handled at the same time (from fully read
    /// to answer written) since start or [`reset_peak`](Self::reset_peak).
    pub fn peak_in_flight(&self) -> usize {
        self.inner().peak.load(Ordering::SeqCst)
    }

    /// Resets the peak to the number of requests in flight now.
    pub fn reset_peak(&self) {
        let inner = self.inner();
        inner
            .peak
            .store(inner.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// TCP connections accepted since start.
    pub fn accepted_connections(&self) -> u64 {
        self.inner().accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.inner().conns).len()
    }

    /// The server id, `CRDN-<port>`.
    pub fn server_id(&self) -> String {
        self.inner().server_id.clone()
    }

    /// The role `/_admin/server/role` reports (`COORDINATOR` by default).
    pub fn role(&self) -> String {
        let inner = self.inner();
        view::lock(&inner.view)
            .member(&inner.server_id)
            .map(|m| m.role.clone())
            .unwrap_or_default()
    }

    /// Changes the role `/_admin/server/role` and the cluster health report,
    /// e.g. `"PRIMARY"` or `"SINGLE"`.
    pub fn set_role(&self, role: &str) {
        let inner = self.inner();
        if let Some(member) = view::lock(&inner.view).member_mut(&inner.server_id) {
            member.role = role.to_string();
        }
    }

    /// The cluster-wide maintenance mode as this node's cluster view holds it.
    pub fn maintenance(&self) -> bool {
        view::lock(&self.inner().view).maintenance
    }

    /// The unexpired maintenance entry of a server in this node's cluster
    /// view: its mode and timeout in seconds.
    pub fn server_maintenance(&self, server_id: &str) -> Option<(String, u64)> {
        view::lock(&self.inner().view)
            .maintenance_of(server_id)
            .map(|m| (m.mode, m.timeout))
    }
}

impl Inner {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn set_up_in_view(&self, up: bool) {
        if let Some(member) = view::lock(&self.view).member_mut(&self.server_id) {
            member.up = up;
        }
    }

    fn go_down(&self) {
        let mut listening = lock(&self.listening);
        if let Some(Listening { stop, thread }) = listening.take() {
            stop.store(true, Ordering::SeqCst);
            // Wake the blocking accept with a connection of our own.
            let deadline = Instant::now() + STOP_WAIT;
            let mut next_wake = Instant::now();
            while !thread.is_finished() && Instant::now() < deadline {
                if Instant::now() >= next_wake {
                    let _ = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(100));
                    next_wake = Instant::now() + Duration::from_millis(100);
                }
                thread::sleep(Duration::from_millis(1));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                log::warn!(
                    "test node {}: accept thread did not stop in time",
                    self.server_id
                );
            }
            self.set_up_in_view(false);
            log::debug!("test node {} down", self.server_id);
        }
        let open: Vec<TcpStream> = lock(&self.conns).drain().map(|(_, s)| s).collect();
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn come_up(self: &Arc<Self>) -> io::Result<()> {
        let mut listening = lock(&self.listening);
        if listening.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + REBIND_FOR;
        let listener = loop {
            match TcpListener::bind(self.addr()) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        };
        *listening = Some(spawn_accept_thread(self, listener)?);
        self.set_up_in_view(true);
        log::debug!("test node {} up again", self.server_id);
        Ok(())
    }

    /// Registers an accepted connection and starts its thread.
    fn start_connection(self: &Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let tracked = match stream.try_clone() {
            Ok(tracked) => tracked,
            Err(e) => {
                log::warn!("test node {}: cannot track connection: {e}", self.server_id);
                return;
            }
        };
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst);
        lock(&self.conns).insert(id, tracked);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        let inner = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("testkit-{}-conn-{id}", self.port))
            .spawn(move || inner.serve_connection(id, stream));
        if let Err(e) = spawned {
            log::warn!("test node {}: cannot spawn thread: {e}", self.server_id);
            if let Some(tracked) = lock(&self.conns).remove(&id) {
                let _ = tracked.shutdown(Shutdown::Both);
            }
        }
    }

    fn forget_connection(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    fn is_open(&self, id: u64) -> bool {
        lock(&self.conns).contains_key(&id)
    }

    /// Sleeps `d` in short slices; `false` if the connection was shut down
    /// meanwhile.
    fn pause(&self, conn: u64, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            if !self.is_open(conn) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::sleep((deadline - now).min(SLEEP_SLICE));
        }
    }

    fn serve_connection(&self, id: u64, stream: TcpStream) {
        let mut reader = BufReader::with_capacity(16 * 1024, stream);
        loop {
            match http::read_request(&mut reader) {
                ReadOutcome::Closed => break,
                ReadOutcome::Reject { status, message } => {
                    log::debug!("test node {}: rejecting request: {message}", self.server_id);
                    let answer = Response::error(status, u32::from(status), message);
                    let _ = reader.get_mut().write_all(&answer.to_bytes(false, false));
                    linger_close(reader.get_ref());
                    break;
                }
                ReadOutcome::Request(request) => {
                    if !self.handle(id, reader.get_mut(), request) {
                        break;
                    }
                }
            }
        }
        self.forget_connection(id);
        let _ = reader.get_ref().shutdown(Shutdown::Both);
    }

    /// Handles one request; `true` to keep the connection for the next one.
    fn handle(&self, conn: u64, stream: &mut TcpStream, request: Request) -> bool {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        let path = strip_db_prefix(request.path()).to_string();
        lock(&self.requests).push(RecordedRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        let fault = fault::take_fault(
            &mut lock(&self.faults),
            &request.method,
            &request.target,
            &path,
        );
        log::trace!(
            "test node {}: {} {} (fault: {fault:?})",
            self.server_id,
            request.method,
            request.target
        );
        let in_flight = InFlight::enter(&self.in_flight, &self.peak);
        let _cluster_in_flight =
            InFlight::enter(&self.cluster_flight.count, &self.cluster_flight.peak);
        self.cluster_flight.pass();
        let latency = Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed));
        if !latency.is_zero() && !self.pause(conn, latency) {
            return false;
        }
        let keep = request.keep_alive;
        let head_only = request.is_head();
        let send = |stream: &mut TcpStream, answer: Response| {
            stream.write_all(&answer.to_bytes(keep, head_only)).is_ok() && keep
        };
        let Some(fault) = fault else {
            return send(stream, self.route(&request));
        };
        match fault {
            Fault::Status {
                status,
                retry_after,
            } => {
                let mut answer = Response::error(status, u32::from(status), "injected fault");
                if let Some(value) = retry_after {
                    answer = answer.with_header("Retry-After", &value);
                }
                send(stream, answer)
            }
            Fault::ApplyThenStatus(status) => {
                let _ = self.route(&request);
                send(
                    stream,
                    Response::error(status, u32::from(status), "injected fault"),
                )
            }
            Fault::ApplyThenAnswer {
                status,
                retry_after,
            } => {
                let _ = self.route(&request);
                let mut answer = Response::error(status, u32::from(status), "injected fault");
                if let Some(value) = retry_after {
                    answer = answer.with_header("Retry-After", &value);
                }
                send(stream, answer)
            }
            Fault::ApplyThenHugeBody(len) => {
                let normal = self.route(&request);
                write_huge_body(stream, normal.status, len, keep, head_only) && keep
            }
            Fault::Raw(bytes) => {
                let _ = stream.write_all(&bytes);
                linger_close(stream);
                false
            }
            Fault::ApplyThenRaw(bytes) => {
                let _ = self.route(&request);
                let _ = stream.write_all(&bytes);
                linger_close(stream);
                false
            }
            Fault::Drop => false,
            Fault::ApplyThenDrop => {
                let _ = self.route(&request);
                false
            }
            Fault::Delay(d) => self.pause(conn, d) && send(stream, self.route(&request)),
            Fault::HugeBody(len) => write_huge_body(stream, 200, len, keep, head_only) && keep,
            Fault::Drip(interval) => self.drip(conn, stream, interval, keep),
            Fault::Garbage => {
                let _ = stream.write_all(b"\x00\x01garbage\r\n\r\nthis is not HTTP\r\n");
                false
            }
            Fault::CloseMidBody => {
                let mut out = http::head_bytes(200, "application/json", &[], 100, true);
                out.extend_from_slice(b"{\"groupId\"");
                let _ = stream.write_all(&out);
                false
            }
            Fault::WrongContentType => {
                let normal = self.route(&request);
                let answer = Response {
                    status: normal.status,
                    content_type: "text/html; charset=utf-8".to_string(),
                    extra_headers: Vec::new(),
                    body: b"<!DOCTYPE html><html><head><title>Not JSON</title></head>\
                           <body><h1>An HTML page, not JSON</h1></body></html>"
                        .to_vec(),
                };
                send(stream, answer)
            }
            Fault::InvalidJson => {
                let normal = self.route(&request);
                let answer = Response {
                    status: normal.status,
                    content_type: "application/json".to_string(),
                    extra_headers: Vec::new(),
                    body: b"{\"id\": ".to_vec(),
                };
                send(stream, answer)
            }
            Fault::Respond {
                status,
                content_type,
                body,
            } => send(
                stream,
                Response {
                    status,
                    content_type,
                    extra_headers: Vec::new(),
                    body,
                },
            ),
            Fault::NeverAnswer => {
                drop(in_flight);
                hold_until_closed(stream);
                false
            }
        }
    }

    /// Writes 200 headers announcing [`DRIP_LENGTH`] bytes, then one byte per
    /// `interval`.
    fn drip(&self, conn: u64, stream: &mut TcpStream, interval: Duration, keep: bool) -> bool {
        let head = http::head_bytes(200, "application/json", &[], DRIP_LENGTH, keep);
        if stream.write_all(&head).is_err() {
            return false;
        }
        for _ in 0..DRIP_LENGTH {
            if !self.pause(conn, interval) || stream.write_all(b" ").is_err() {
                return false;
            }
        }
        keep
    }

    /// The normal answer to a request.
    fn route(&self, request: &Request) -> Response {
        let method = if request.is_head() {
            "GET"
        } else {
            request.method.as_str()
        };
        let path = strip_db_prefix(request.path());
        let answer = if self.webdav.load(Ordering::Relaxed) {
            groups::handle_webdav(&self.groups, method, path)
        } else {
            groups::handle(&self.groups, method, path, &request.body)
        };
        if let Some(answer) = answer {
            return answer;
        }
        if let Some(answer) = resources::handle(&self.resources, method, path, &request.body) {
            return answer;
        }
        let admin_request = AdminRequest {
            server_id: &self.server_id,
            view: &self.view,
            method,
            path,
            query: request.query(),
            body: &request.body,
        };
        admin::handle(&admin_request).unwrap_or_else(|| Response::error(404, 404, "unknown path"))
    }
}

/// Counts a request as in flight while alive.
struct InFlight<'a> {
    count: &'a AtomicUsize,
}

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize, peak: &AtomicUsize) -> InFlight<'a> {
        let now = count.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        InFlight { count }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes a leading `/_db/<name>` from a path.
fn strip_db_prefix(path: &str) -> &str {
    match path.strip_prefix("/_db/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}

fn spawn_accept_thread(inner: &Arc<Inner>, listener: TcpListener) -> io::Result<Listening> {
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let thread_inner = Arc::clone(inner);
    let thread = thread::Builder::new()
        .name(format!("testkit-{}-accept", inner.port))
        .spawn(move || accept_loop(&thread_inner, &listener, &thread_stop))?;
    Ok(Listening { stop, thread })
}

/// Accepts until `stop` is set; the listener closes when this returns.
fn accept_loop(inner: &Arc<Inner>, listener: &TcpListener, stop: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => inner.start_connection(stream),
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                _ => {
                    log::warn!("test node {}: accept failed: {e}", inner.server_id);
                    thread::sleep(Duration::from_millis(10));
                }
            },
        }
    }
}

/// Writes a 200 answer whose body is `len` bytes (a JSON string when
/// `len >= 2`), in chunks.
fn write_huge_body(
    stream: &mut TcpStream,
    status: u16,
    len: usize,
    keep: bool,
    head_only: bool,
) -> bool {
    let head = http::head_bytes(status, "application/json", &[], len, keep);
    if head_only {
        return stream.write_all(&head).is_ok();
    }
    let byte_at = |i: usize| {
        if len >= 2 && (i == 0 || i == len - 1) {
            b'"'
        } else {
            b'x'
        }
    };
    let first = len.min(HUGE_CHUNK);
    let mut buf = head;
    buf.extend((0..first).map(byte_at));
    if stream.write_all(&buf).is_err() {
        return false;
    }
    let mut written = first;
    while written < len {
        let n = (len - written).min(HUGE_CHUNK);
        let chunk: Vec<u8> = (written..written + n).map(byte_at).collect();
        if stream.write_all(&chunk).is_err() {
            return false;
        }
        written += n;
    }
    true
}

/// Reads and discards until the peer closes or the socket is shut down.
fn hold_until_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Half-closes after an error answer and drains briefly, so the peer reads
/// the answer instead of a reset.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut buf = [0u8; 8192];
    let mut reader = stream;
    let mut drained = 0usize;
    while Instant::now() < deadline && drained < 1024 * 1024 {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// Ports held by live nodes of this process, so that a node that is down
/// keeps its port against other nodes of this process.
static RESERVED_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
static SEED_COUNTER: AtomicU64 = AtomicU64::new(0);

fn reserve_port(port: u16) -> bool {
    lock(&RESERVED_PORTS).insert(port)
}

pub(super) fn release_port(port: u16) {
    lock(&RESERVED_PORTS).remove(&port);
}

/// Binds 127.0.0.1 on `port` (reserved for this node until its handle drops).
pub(super) fn bind_port(port: u16) -> io::Result<(TcpListener, u16)> {
    if !reserve_port(port) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("port {port} is taken by another test node"),
        ));
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(|listener| (listener, port))
        .inspect_err(|_| release_port(port))
}

/// Binds 127.0.0.1 on a random free port in `PORT_MIN..PORT_MAX` (reserved
/// for this node until its handle drops).
pub(super) fn bind_random_port() -> io::Result<(TcpListener, u16)> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = SEED_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut state = nanos
        ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id()).rotate_left(32);
    if state == 0 {
        state = 0x2545_F491_4F6C_DD1D;
    }
    let span = u64::from(PORT_MAX - PORT_MIN);
    let mut last_error = None;
    for _ in 0..1000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let port = PORT_MIN + u16::try_from(state % span).unwrap_or(0);
        if !reserve_port(port) {
            continue;
        }
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => return Ok((listener, port)),
            Err(e) => {
                release_port(port);
                match e.kind() {
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied => {
                        last_error = Some(e)
                    }
                    _ => return Err(e),
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrInUse, "no free port in 20000..32000")
    }))
}
