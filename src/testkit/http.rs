//! A minimal HTTP/1.1 request reader and response writer, just enough for the
//! test nodes: request line + headers, `Content-Length` and chunked request
//! bodies, keep-alive, `Expect: 100-continue`. Nothing here panics on input.

use std::io::{self, BufRead, BufReader, Read, Write};

/// Cap on the request line plus all header lines, in bytes.
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// Cap on a request body, in bytes.
pub(super) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Cap on one chunk-size line or trailer section of a chunked body.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// One fully read request.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    /// Raw request-target as received (path and query).
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// Whether the connection stays open after the answer.
    pub(super) keep_alive: bool,
}

impl Request {
    /// The request-target without its query.
    pub(super) fn path(&self) -> &str {
        split_target(&self.target).0
    }

    /// The query (after `?`), if any.
    pub(super) fn query(&self) -> Option<&str> {
        split_target(&self.target).1
    }

    /// Whether the answer must be sent without a body.
    pub(super) fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Splits a request-target into path and query.
pub(super) fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// What reading the next request on a connection produced.
#[derive(Debug)]
pub(super) enum ReadOutcome {
    /// A complete request.
    Request(Request),
    /// The peer closed the connection (or it failed) before a full request.
    Closed,
    /// The request is malformed or too large: answer `status` and close.
    Reject { status: u16, message: &'static str },
}

fn reject(status: u16, message: &'static str) -> ReadOutcome {
    ReadOutcome::Reject { status, message }
}

enum Line {
    /// A line without its line ending.
    Complete(Vec<u8>),
    /// End of stream (possibly after a partial line).
    Eof,
    /// The line did not end within the budget.
    TooLong,
}

/// Reads one line (ending in `\n`, optional `\r` stripped), spending at most
/// `budget` bytes.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX);
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Ok(if n >= *budget {
            Line::TooLong
        } else {
            Line::Eof
        });
    }
    *budget -= n;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Line::Complete(line))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Reads the next request from `reader`. Writes `100 Continue` to the
/// underlying stream when the client asks for it.
pub(super) fn read_request<S: Read + Write>(reader: &mut BufReader<S>) -> ReadOutcome {
    match read_request_inner(reader) {
        Ok(outcome) => outcome,
        Err(_) => ReadOutcome::Closed,
    }
}

fn read_request_inner<S: Read + Write>(reader: &mut BufReader<S>) -> io::Result<ReadOutcome> {
    let mut budget = MAX_HEAD;
    // Request line (empty lines before it are ignored, RFC 9112 2.2).
    let request_line = loop {
        match read_line(reader, &mut budget)? {
            Line::Complete(line) if line.is_empty() => continue,
            Line::Complete(line) => break line,
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(reject(400, "request head too large")),
        }
    };
    let Ok(request_line) = String::from_utf8(request_line) else {
        return Ok(reject(400, "request line is not UTF-8"));
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(reject(400, "malformed request line"));
    };
    if !is_token(method) {
        return Ok(reject(400, "malformed method"));
    }
    if target.is_empty() || target.bytes().any(|b| b.is_ascii_control()) {
        return Ok(reject(400, "malformed request target"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Ok(reject(400, "unsupported HTTP version")),
    };

    // Header lines.
    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader, &mut budget)? {
            Line::Complete(line) => line,
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(reject(400, "request head too large")),
        };
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Ok(reject(400, "obsolete header folding"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Ok(reject(400, "header line without colon"));
        };
        let name = String::from_utf8_lossy(&line[..colon]).into_owned();
        if !is_token(&name) {
            return Ok(reject(400, "malformed header name"));
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim_matches(|c| c == ' ' || c == '\t')
            .to_string();
        headers.push((name, value));
    }

    let header_values = |name: &'static str| header_values(&headers, name);
    let has_token = |name: &'static str, token: &str| {
        header_values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if http10 {
        has_token("connection", "keep-alive")
    } else {
        !has_token("connection", "close")
    };

    // Body framing.
    let transfer_encoding: Vec<String> = header_values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let chunked = match transfer_encoding.last() {
        None => false,
        Some(last) if last == "chunked" => true,
        Some(_) => return Ok(reject(501, "unsupported transfer-encoding")),
    };
    let content_length = if chunked {
        None
    } else {
        let mut length: Option<usize> = None;
        for value in header_values("content-length") {
            for item in value.split(',') {
                let item = item.trim();
                if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                    return Ok(reject(400, "malformed content-length"));
                }
                let Ok(n) = item.parse::<usize>() else {
                    return Ok(reject(413, "request body too large"));
                };
                if length.is_some_and(|l| l != n) {
                    return Ok(reject(400, "conflicting content-length"));
                }
                length = Some(n);
            }
        }
        length
    };
    if content_length.is_some_and(|n| n > MAX_BODY) {
        return Ok(reject(413, "request body too large"));
    }

    let wants_body = chunked || content_length.is_some_and(|n| n > 0);
    if wants_body && has_token("expect", "100-continue") && !http10 {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    let body = if chunked {
        match read_chunked(reader)? {
            Ok(body) => body,
            Err(outcome) => return Ok(outcome),
        }
    } else {
        let n = content_length.unwrap_or(0);
        let mut body = Vec::with_capacity(n.min(1024 * 1024));
        let wanted = u64::try_from(n).unwrap_or(u64::MAX);
        reader.by_ref().take(wanted).read_to_end(&mut body)?;
        if body.len() != n {
            return Ok(ReadOutcome::Closed);
        }
        body
    };

    Ok(ReadOutcome::Request(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
        keep_alive,
    }))
}

/// The values of every header called `name` (ASCII case-insensitive).
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads a chunked body and its trailers. The inner `Err` is the outcome to
/// report instead of a body.
fn read_chunked<R: BufRead>(reader: &mut R) -> io::Result<Result<Vec<u8>, ReadOutcome>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_CHUNK_LINE;
        let line = match read_line(reader, &mut budget)? {
            Line::Complete(line) => line,
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            Line::TooLong => return Ok(Err(reject(400, "chunk size line too long"))),
        };
        let line = String::from_utf8_lossy(&line);
        let size_text = line.split(';').next().unwrap_or("").trim();
        if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err(reject(400, "malformed chunk size")));
        }
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Ok(Err(reject(413, "request body too large")));
        };
        if size == 0 {
            break;
        }
        if size > MAX_BODY - body.len() {
            return Ok(Err(reject(413, "request body too large")));
        }
        let before = body.len();
        let wanted = u64::try_from(size).unwrap_or(u64::MAX);
        reader.by_ref().take(wanted).read_to_end(&mut body)?;
        if body.len() - before != size {
            return Ok(Err(ReadOutcome::Closed));
        }
        let mut budget = 2;
        match read_line(reader, &mut budget)? {
            Line::Complete(rest) if rest.is_empty() => {}
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            _ => return Ok(Err(reject(400, "chunk not followed by CRLF"))),
        }
    }
    // Trailer section, ignored.
    let mut budget = MAX_CHUNK_LINE;
    loop {
        match read_line(reader, &mut budget)? {
            Line::Complete(line) if line.is_empty() => return Ok(Ok(body)),
            Line::Complete(_) => continue,
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            Line::TooLong => return Ok(Err(reject(400, "trailer section too large"))),
        }
    }
}

/// An answer to write.
#[derive(Debug, Clone)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) extra_headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub(super) fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json".to_string(),
            extra_headers: Vec::new(),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// An ArangoDB-style error answer:
    /// `{"error": true, "code": status, "errorNum": n, "errorMessage": text}`.
    pub(super) fn error(status: u16, error_num: u32, message: &str) -> Response {
        Response::json(
            status,
            &serde_json::json!({
                "error": true,
                "code": status,
                "errorNum": error_num,
                "errorMessage": message,
            }),
        )
    }

    /// Adds a header.
    pub(super) fn with_header(mut self, name: &str, value: &str) -> Response {
        self.extra_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// Status line and headers (ending in the empty line) for a body of
    /// `content_length` bytes.
    pub(super) fn head_bytes(&self, content_length: usize, keep_alive: bool) -> Vec<u8> {
        head_bytes(
            self.status,
            &self.content_type,
            &self.extra_headers,
            content_length,
            keep_alive,
        )
    }

    /// The whole answer as one buffer (no body for a `HEAD` request).
    pub(super) fn to_bytes(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = self.head_bytes(self.body.len(), keep_alive);
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Status line and headers for an answer.
pub(super) fn head_bytes(
    status: u16,
    content_type: &str,
    extra_headers: &[(String, String)],
    content_length: usize,
    keep_alive: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {content_length}\r\n",
        reason(status)
    );
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in extra_headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The reason phrase of a status code.
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`). `None`
/// when an escape is malformed or the result is not UTF-8.
pub(super) fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The decoded value of the first query parameter called `name`.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true)? == name).then(|| percent_decode(value, true))
        })
        .next()
        .flatten()
}
