//! A request's method and path as checked values: [`Method`] and
//! [`RequestPath`] are made once, where a caller's text enters (`request`,
//! `request_to`, a `GroupEndpoint` at `build()`), and carried down as they
//! are, so nothing below checks them again. A caller's bad input is the
//! caller's error (`Error::InvalidRequest`), never a node's failure.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;

/// An HTTP method, checked: 1–32 ASCII letters, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Method(Cow<'static, str>);

impl Method {
    /// `GET`.
    pub const GET: Method = Method(Cow::Borrowed("GET"));
    /// `PUT`.
    pub const PUT: Method = Method(Cow::Borrowed("PUT"));

    /// `method` upper-cased, if it is 1–32 ASCII letters; anything else is
    /// `Error::InvalidRequest` naming it.
    pub fn parse(method: &str) -> Result<Method, Error> {
        if method.is_empty()
            || method.len() > 32
            || !method.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(Error::InvalidRequest(format!(
                "invalid HTTP method {:?}",
                shorten(&method.to_ascii_uppercase())
            )));
        }
        Ok(Method(Cow::Owned(method.to_ascii_uppercase())))
    }

    /// The method of a `GroupEndpoint` that `GroupEndpoint::validate`
    /// accepted when the client was built (with [`Method::parse`]): taken
    /// as it is, not checked again.
    pub fn of_endpoint(validated: &str) -> Method {
        Method(Cow::Owned(validated.to_ascii_uppercase()))
    }

    /// The method's name, e.g. `GET`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Applying it twice is harmless (GET, HEAD, PUT, DELETE, OPTIONS): it is
    /// retried after a lost answer.
    pub fn is_idempotent(&self) -> bool {
        matches!(self.as_str(), "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
    }

    /// A read (GET, HEAD, OPTIONS): the only requests ever hedged (sent
    /// twice on purpose).
    pub fn is_read(&self) -> bool {
        matches!(self.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request path (with an optional query), checked to go on the wire as
/// it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestPath(String);

impl RequestPath {
    /// `path` if it starts with `/` and holds only what RFC 3986 allows in
    /// a path and query (letters, digits, `-._~`, `!$&'()*+,;=`, `:@/?`, and
    /// `%` followed by two hex digits). Anything else (a space, `<`, `>`,
    /// `"`, a backtick, `{`, `}`, `|`, `\`, `^`, `#`, a control or non-ASCII
    /// character, a stray `%`) is `Error::InvalidRequest` naming it:
    /// percent-encode it first.
    pub fn parse(path: &str) -> Result<RequestPath, Error> {
        let refuse = |why: String| {
            Err(Error::InvalidRequest(format!(
                "invalid request path {:?}: {why}",
                shorten(path)
            )))
        };
        if !path.starts_with('/') {
            return refuse("it must start with '/'".to_string());
        }
        let bytes = path.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hex = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return refuse(format!("'%' at byte {i} is not followed by two hex digits"));
                }
                i += 3;
                continue;
            }
            if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)) {
                let c = path[i..].chars().next().unwrap_or('?');
                return refuse(format!("{c:?} at byte {i} must be percent-encoded"));
            }
            i += 1;
        }
        Ok(RequestPath(path.to_string()))
    }

    /// The path, for the operation that sends it.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// At most 200 characters of what a caller gave, for an error message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_checked_once_and_upper_cased() {
        let m = Method::parse("get").unwrap();
        assert_eq!(m, Method::GET);
        assert!(m.is_idempotent() && m.is_read());
        let post = Method::parse("Post").unwrap();
        assert_eq!(post.as_str(), "POST");
        assert!(!post.is_idempotent() && !post.is_read());
        assert!(Method::PUT.is_idempotent() && !Method::PUT.is_read());
        for bad in ["", "GE T", "GET\r\n", "G3T", &"A".repeat(33)] {
            match Method::parse(bad) {
                Err(Error::InvalidRequest(m)) => assert!(m.contains("method"), "{m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_path_names_the_first_character_that_cannot_go_on_the_wire() {
        assert_eq!(
            RequestPath::parse("/a/b%2F?x=1&y=~").unwrap().into_string(),
            "/a/b%2F?x=1&y=~"
        );
        for (bad, named) in [
            ("a", "start with '/'"),
            ("/a b", "' ' at byte 2"),
            ("/a<b>", "'<' at byte 2"),
            ("/%zz", "'%' at byte 1"),
            ("/é", "'é' at byte 1"),
        ] {
            match RequestPath::parse(bad) {
                Err(Error::InvalidRequest(m)) => assert!(m.contains(named), "{bad:?}: {m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
