//! A request a caller gives (`request`, `request_to`): its method and
//! path, checked once before anything is sent. A caller's bad input is the
//! caller's error, never a node's failure.

use crate::error::Error;

/// A request method as the caller gave it, checked: 1–32 ASCII letters
/// (upper-cased). Anything else is `Error::InvalidRequest`, and nothing is sent.
pub(crate) fn checked_method(method: &str) -> Result<String, Error> {
    let method = method.to_ascii_uppercase();
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::InvalidRequest(format!(
            "invalid HTTP method {:?}",
            shorten(&method)
        )));
    }
    Ok(method)
}

/// A request path (with an optional query) as the caller gave it, checked
/// to go on the wire as it is: it starts with `/` and holds only what
/// RFC 3986 allows in a path and query (letters, digits, `-._~`,
/// `!$&'()*+,;=`, `:@/?`, and `%` followed by two hex digits). Anything
/// else (a space, `<`, `>`, `"`, a backtick, `{`, `}`, `|`, `\`, `^`, `#`,
/// a control or non-ASCII character, a stray `%`) is `Error::InvalidRequest`
/// naming it, before anything is sent: percent-encode it first.
pub(crate) fn checked_path(path: &str) -> Result<(), Error> {
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
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        if b == b'%' {
            let hex = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return refuse(format!("'%' at byte {i} is not followed by two hex digits"));
            }
            i += 3;
            continue;
        }
        if !allowed {
            let c = path[i..].chars().next().unwrap_or('?');
            return refuse(format!("{c:?} at byte {i} must be percent-encoded"));
        }
        i += 1;
    }
    Ok(())
}

/// At most 200 characters of what a caller gave, for an error message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// A caller's method and path, checked: the upper-cased method and whether
/// applying it twice is harmless (GET, HEAD, PUT, DELETE, OPTIONS: retried
/// after a lost answer).
pub(crate) fn checked(method: &str, path: &str) -> Result<(String, bool), Error> {
    let method = checked_method(method)?;
    checked_path(path)?;
    let idempotent = matches!(
        method.as_str(),
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
    );
    Ok((method, idempotent))
}
