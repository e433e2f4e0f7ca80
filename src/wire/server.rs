//! The loopback wire server: replays recorded responses to the real clients.
//!
//! Both the conformance tests and replay mode point the AWS SDK and async-openai at
//! this server, so a replayed response goes through exactly the parsing and reasoning
//! separation that a live one does. It binds 127.0.0.1 only, writes each body chunk
//! as its own TCP write (so frames and UTF-8 characters are split where the recording
//! says), and streams with chunked transfer. The main type is [`WireServer`].

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::WireResponse;

/// The largest request body the server reads; past it, a 413 and nothing held.
pub const MAX_REQUEST_BYTES: usize = 32 << 20;

/// How long a client may take to send its request's headers: a connection that opens
/// and never finishes them would otherwise be held forever.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A request as the server saw it, without any header that could carry a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub(crate) method: String,
    /// Path and query, e.g. `/model/openai.gpt-oss-20b-1%3A0/converse`.
    pub path: String,
    /// Only `content-type`, `accept` and InvokeModel's service tier: authorization,
    /// signatures and tokens never leave the connection.
    pub(crate) headers: Vec<(String, String)>,
    /// The `Authorization` scheme alone (`Bearer`, `AWS4-HMAC-SHA256`), never its value.
    pub auth_scheme: Option<String>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// A header the request kept (see `headers`), by its lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What to send back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) status: u16,
    pub headers: Vec<(String, String)>,
    pub(crate) chunks: Vec<Bytes>,
    /// Send as a stream (chunked transfer) rather than with a content length.
    pub(crate) stream: bool,
    /// Wait this long before answering (latency injection for benchmarks).
    pub delay: Duration,
    /// How the body ends once its chunks are sent (fault injection).
    pub ending: Ending,
}

/// How a reply's body ends after its chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ending {
    /// As HTTP says: the declared length, or the last chunk of a chunked body.
    #[default]
    Complete,
    /// It never ends: the connection stays open and silent.
    Stall,
    /// The connection is cut: a chunked body without its last chunk, or fewer bytes
    /// than the declared length.
    Reset,
}

impl Reply {
    /// The reply a recorded response describes.
    pub fn from_wire(response: &WireResponse) -> Result<Reply, super::WireError> {
        Ok(Reply {
            status: response.status,
            headers: response.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            chunks: response.body_chunks()?,
            stream: response.is_stream(),
            delay: Duration::ZERO,
            ending: Ending::Complete,
        })
    }

    /// This reply, ending as `ending` after the first `keep` bytes of its body (fault
    /// injection: a connection cut or stalled mid-answer).
    pub fn cut(mut self, keep: usize, ending: Ending) -> Reply {
        let mut left = keep;
        let mut kept = Vec::new();
        for chunk in self.chunks {
            if left == 0 {
                break;
            }
            let take = chunk.len().min(left);
            kept.push(chunk.slice(..take));
            left -= take;
        }
        self.chunks = kept;
        self.ending = ending;
        self
    }

    /// The length of the body.
    pub fn body_len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// A JSON reply with `status`, sent whole.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![Bytes::from(body.to_string())],
            stream: false,
            delay: Duration::ZERO,
            ending: Ending::Complete,
        }
    }

    /// A plain JSON error reply, for requests nothing was recorded for.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            &serde_json::json!({"message": message, "error": {"message": message, "type": "replay_error"}}),
        )
    }
}

/// Decides the reply to each request.
pub trait Responder: Send + Sync + 'static {
    fn respond(&self, request: &RecordedRequest) -> Reply;

    /// Whether the request's `Authorization` header is accepted, seen here and nowhere
    /// else (the recorded request keeps only its scheme): `Some(reply)` refuses it, as
    /// AWS refuses a key that does not verify. Replay needs no credentials, so by
    /// default every request is served.
    fn authorize(&self, _authorization: Option<&str>) -> Option<Reply> {
        None
    }
}

/// Every request gets the same reply.
impl Responder for Reply {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        self.clone()
    }
}

/// Replies in the order given, one per request: a cassette's interactions, a scripted
/// exchange. Past the last one it answers 500: in replay an extra request means the
/// case changed.
pub(crate) struct InOrder {
    replies: Vec<Reply>,
    served: std::sync::atomic::AtomicUsize,
}

impl InOrder {
    pub(crate) fn new(replies: Vec<Reply>) -> InOrder {
        InOrder { replies, served: 0.into() }
    }
}

impl Responder for InOrder {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        let n = self.served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.replies.get(n) {
            Some(reply) => reply.clone(),
            None => Reply::error(500, "no more recorded responses"),
        }
    }
}

/// Many responders behind one server, each under its own path prefix
/// (`/replay/<id>/...`): a whole run replays through one server, each case's requests
/// reaching its own cassette. A route lives as long as its [`Route`].
#[derive(Default)]
pub(crate) struct Router {
    routes: Mutex<HashMap<u64, Arc<dyn Responder>>>,
    next: AtomicU64,
}

/// A registered responder; dropping it removes the route.
pub(crate) struct Route {
    id: u64,
    router: Arc<Router>,
}

impl Route {
    /// The path prefix its requests carry: `/replay/<id>`.
    pub(crate) fn prefix(&self) -> String {
        format!("/replay/{}", self.id)
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.router.routes.lock() {
            routes.remove(&self.id);
        }
    }
}

impl Router {
    pub(crate) fn add(self: &Arc<Self>, responder: Arc<dyn Responder>) -> Route {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut routes) = self.routes.lock() {
            routes.insert(id, responder);
        }
        Route { id, router: self.clone() }
    }
}

impl Responder for Router {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let routed = request.path.strip_prefix("/replay/").and_then(|rest| {
            let (id, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            Some((id.parse::<u64>().ok()?, path))
        });
        let Some((id, path)) = routed else {
            return Reply::error(404, &format!("{} is not under /replay/<route>/", request.path));
        };
        let responder = self.routes.lock().ok().and_then(|routes| routes.get(&id).cloned());
        match responder {
            Some(responder) => responder.respond(&RecordedRequest { path: path.to_owned(), ..request.clone() }),
            None => Reply::error(404, &format!("no replay route {id}: its case has finished")),
        }
    }
}

/// A running loopback server. Stops when dropped.
pub struct WireServer {
    addr: SocketAddr,
    requests: Option<Arc<Mutex<Vec<RecordedRequest>>>>,
    task: JoinHandle<()>,
}

impl WireServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped, keeping every request
    /// it saw (see [`WireServer::requests`]).
    pub async fn start(responder: Arc<dyn Responder>) -> std::io::Result<WireServer> {
        Self::start_on(0, responder, true).await
    }

    /// Binds 127.0.0.1 on `port` (0: any free port). Never another interface: replayed
    /// traffic is for this machine only. `keep`: hold every request for
    /// [`WireServer::requests`] (tests); a replay or `serve` server keeps none, so its
    /// memory stays flat however many requests it answers.
    pub(crate) async fn start_on(port: u16, responder: Arc<dyn Responder>, keep: bool) -> std::io::Result<WireServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let requests = keep.then(|| Arc::new(Mutex::new(Vec::new())));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors or similar: back off rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                // Each chunk must leave as its own segment, not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let responder = responder.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, responder.clone(), seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(WireServer { addr, requests, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests served so far, in arrival order (none unless it keeps them).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.as_ref().and_then(|r| r.lock().ok().map(|r| r.clone())).unwrap_or_default()
    }
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<Incoming>,
    responder: Arc<dyn Responder>,
    seen: Option<Arc<Mutex<Vec<RecordedRequest>>>>,
) -> Result<Response<Chunks>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "content-type" | "accept" | "x-amzn-bedrock-service-tier"))
        .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let authorization = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let refused = responder.authorize(authorization);
    let auth_scheme = authorization.and_then(|v| v.split_whitespace().next()).map(str::to_owned);
    let body = match http_body_util::Limited::new(req.into_body(), MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let message = format!("the request body is larger than {} MiB", MAX_REQUEST_BYTES >> 20);
            return Ok(small_response(413, &message));
        }
        Err(_) => Bytes::new(),
    };
    let recorded = RecordedRequest { method, path, headers, auth_scheme, body };
    let reply = refused.unwrap_or_else(|| responder.respond(&recorded));
    if let Some(Ok(mut all)) = seen.as_ref().map(|s| s.lock()) {
        all.push(recorded);
    }
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let length: usize = reply.chunks.iter().map(Bytes::len).sum();
    if !reply.stream {
        // A cut or stalled body declares more than it sends.
        let declared = if reply.ending == Ending::Complete { length } else { length + 1 };
        builder = builder.header("content-length", declared);
    }
    let body = Chunks { chunks: reply.chunks.into(), stream: reply.stream, pause: false, ending: reply.ending };
    // Status and headers come from recordings; a value hyper refuses is answered with
    // a 500 that says so rather than taking the server down.
    Ok(builder.body(body).unwrap_or_else(|e| small_response(500, &format!("invalid recorded response: {e}"))))
}

/// A JSON error the server itself gives, `{"message": ...}`.
fn small_response(status: u16, message: &str) -> Response<Chunks> {
    let body = Bytes::from(serde_json::json!({ "message": message }).to_string());
    let chunks = VecDeque::from([body]);
    let mut response = Response::new(Chunks { chunks, stream: false, pause: false, ending: Ending::Complete });
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(json) = http::HeaderValue::from_str("application/json") {
        response.headers_mut().insert(http::header::CONTENT_TYPE, json);
    }
    response
}

/// A body that hands hyper one chunk per poll and pauses in between, so hyper
/// flushes each chunk as a separate write.
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    stream: bool,
    pause: bool,
    ending: Ending,
}

/// The error a [`Ending::Reset`] body ends with: hyper then drops the connection.
#[derive(Debug, thiserror::Error)]
#[error("the connection was cut (fault injection)")]
pub(crate) struct Cut;

impl Body for Chunks {
    type Data = Bytes;
    type Error = Cut;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Cut>>> {
        if self.pause {
            self.pause = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.chunks.pop_front() {
            Some(chunk) => {
                self.pause = self.stream;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None => match self.ending {
                Ending::Complete => Poll::Ready(None),
                // Never woken again: the connection stays open and silent.
                Ending::Stall => Poll::Pending,
                Ending::Reset => Poll::Ready(Some(Err(Cut))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && !self.pause && self.ending == Ending::Complete
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        if self.stream || self.ending != Ending::Complete {
            hyper::body::SizeHint::default()
        } else {
            hyper::body::SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
        }
    }
}
