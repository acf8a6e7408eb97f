//! [`HostAddress`]: one node's normalised base URL, and the host-list parser.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::Error;

/// The address of one node: scheme, host and port, normalised.
///
/// `HTTP://Node1:8000/` and `http://node1:8000` are the same address; its
/// text form is `http://node1:8000` (lowercase, no trailing slash, the port
/// left out only when it is the scheme's default). Credentials, paths, queries
/// and fragments are refused: credentials go through the builder's
/// `basic_auth`/`bearer_token`, so they never end up in logs or errors.
///
/// ```
/// use cluster_client::HostAddress;
///
/// let a: HostAddress = "HTTP://127.0.0.1:8000/".parse()?;
/// assert_eq!(a.to_string(), "http://127.0.0.1:8000");
/// assert_eq!(a.port(), 8000);
/// # Ok::<(), cluster_client::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostAddress {
    text: String,
    host: String,
    port: u16,
    tls: bool,
}

impl HostAddress {
    /// Parses one host string.
    pub fn parse(input: &str) -> Result<HostAddress, Error> {
        let trimmed = input.trim();
        let invalid = |reason: &str| Error::InvalidHost {
            host: redact(trimmed),
            reason: reason.to_string(),
        };
        if trimmed.is_empty() {
            return Err(invalid("empty host"));
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        let (scheme, rest) = match trimmed.find("://") {
            Some(i) => (trimmed[..i].to_ascii_lowercase(), &trimmed[i + 3..]),
            None => return Err(invalid("missing scheme (expected http:// or https://)")),
        };
        let tls = match scheme.as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(invalid("scheme must be http or https")),
        };
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !(tail.is_empty() || tail == "/") {
            return Err(invalid("a node address takes no path, query or fragment"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "credentials in the host are refused; use basic_auth or bearer_token",
            ));
        }
        let (host, port) = split_host_port(authority).map_err(&invalid)?;
        let default_port = if tls { 443 } else { 80 };
        let port = match port {
            None => default_port,
            Some(p) => parse_port(p).map_err(&invalid)?,
        };
        let host = normalise_host(host).map_err(&invalid)?;
        let text = if port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        Ok(HostAddress {
            text,
            host,
            port,
            tls,
        })
    }

    /// Parses a comma-separated list (the form of the `HOSTS` variable):
    /// whitespace around entries is trimmed and empty entries are dropped.
    /// An empty result is [`Error::NoHosts`]; a repeated node is an
    /// [`Error::InvalidHost`].
    ///
    /// ```
    /// use cluster_client::HostAddress;
    ///
    /// let hosts = HostAddress::parse_list(" http://127.0.0.1:8000, ,http://127.0.0.1:8001 ")?;
    /// assert_eq!(hosts.len(), 2);
    /// # Ok::<(), cluster_client::Error>(())
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<HostAddress>, Error> {
        Self::parse_all(list.split(',').filter(|s| !s.trim().is_empty()))
    }

    /// Parses every host of an iterator; empty lists and duplicates are errors.
    pub(crate) fn parse_all<I, S>(hosts: I) -> Result<Vec<HostAddress>, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<HostAddress> = Vec::new();
        for h in hosts {
            let a = HostAddress::parse(h.as_ref())?;
            if out.contains(&a) {
                return Err(Error::InvalidHost {
                    host: a.to_string(),
                    reason: "listed more than once".to_string(),
                });
            }
            out.push(a);
        }
        if out.is_empty() {
            return Err(Error::NoHosts);
        }
        Ok(out)
    }

    /// The normalised text form, e.g. `http://127.0.0.1:8000`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host part: a lowercase name, an IPv4 address, or an IPv6 address in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (the scheme's default when none was given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True for `https://` nodes.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The IP address when the host is an IP literal (no name resolution needed).
    pub fn ip(&self) -> Option<IpAddr> {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.parse().ok()
    }

    /// The full URL of `path` (which must start with `/`) on this node.
    pub fn url(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.text.len() + path.len());
        s.push_str(&self.text);
        s.push_str(path);
        s
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if authority.is_empty() {
        return Err("missing host");
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed '[' in IPv6 address")?;
        let host = &authority[..end + 2];
        let after = &rest[end + 1..];
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, Some(p))),
                None => Err("unexpected characters after IPv6 address"),
            },
        };
    }
    match authority.rfind(':') {
        Some(i) if authority[..i].contains(':') => {
            Err("IPv6 addresses must be written in brackets, e.g. http://[::1]:8000")
        }
        Some(i) => Ok((&authority[..i], Some(&authority[i + 1..]))),
        None => Ok((authority, None)),
    }
}

fn parse_port(p: &str) -> Result<u16, &'static str> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err("port must be a number from 1 to 65535");
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err("port must be a number from 1 to 65535"),
    }
}

fn normalise_host(host: &str) -> Result<String, &'static str> {
    if host.is_empty() {
        return Err("missing host");
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.trim_end_matches(']');
        let ip: Ipv6Addr = inner.parse().map_err(|_| "invalid IPv6 address")?;
        return Ok(format!("[{ip}]"));
    }
    let lower = host.to_ascii_lowercase();
    let valid = lower.len() <= 253
        && lower
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err("invalid host name");
    }
    Ok(lower)
}

/// Hides any `user:password@` part of a host string before it goes into an error.
fn redact(input: &str) -> String {
    let (prefix, rest) = match input.find("://") {
        Some(i) => (&input[..i + 3], &input[i + 3..]),
        None => ("", input),
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => format!("{prefix}***@{}", &rest[at + 1..]),
        None => input.to_string(),
    }
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The address itself, so host lists print as `[http://a:1, http://b:2]`.
impl fmt::Debug for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for HostAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        HostAddress::parse(s)
    }
}

impl AsRef<str> for HostAddress {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl TryFrom<&str> for HostAddress {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        HostAddress::parse(s)
    }
}

/// Checks a group id before anything is sent: 1 to 255 bytes, no control
/// characters, not `.` or `..`, no `/` or `\` (unless allowed).
pub(crate) fn validate_group_id(id: &str, allow_slash: bool) -> Result<(), Error> {
    let refuse = |reason: &str| {
        let shown: String = id.chars().take(64).collect();
        Err(Error::InvalidGroupId {
            id: shown,
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return refuse("empty");
    }
    if id.len() > 255 {
        return refuse("longer than 255 bytes");
    }
    if id == "." || id == ".." {
        return refuse("'.' and '..' are path segments, not ids");
    }
    if id.chars().any(char::is_control) {
        return refuse("contains control characters");
    }
    if !allow_slash && (id.contains('/') || id.contains('\\')) {
        return refuse("contains '/' or '\\' (servers may decode %2F before routing)");
    }
    Ok(())
}

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment (an id, a database name).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_encoded_segment(&mut out, s);
    out
}

/// Appends `s` percent-encoded as a path segment to `out`.
pub(crate) fn push_encoded_segment(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, SEGMENT));
}

/// Equal when `other` names the same node: it parses as a host address and
/// normalises to this one (`"HTTP://127.0.0.1:8000/"` equals
/// `http://127.0.0.1:8000`). Text that is not a host address equals none.
impl PartialEq<str> for HostAddress {
    fn eq(&self, other: &str) -> bool {
        other == self.text || HostAddress::parse(other).is_ok_and(|o| o == *self)
    }
}

impl PartialEq<&str> for HostAddress {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for HostAddress {
    fn eq(&self, other: &String) -> bool {
        *self == *other.as_str()
    }
}

impl PartialEq<HostAddress> for str {
    fn eq(&self, other: &HostAddress) -> bool {
        *other == *self
    }
}

impl PartialEq<HostAddress> for &str {
    fn eq(&self, other: &HostAddress) -> bool {
        *other == **self
    }
}

impl PartialEq<HostAddress> for String {
    fn eq(&self, other: &HostAddress) -> bool {
        *other == *self.as_str()
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
