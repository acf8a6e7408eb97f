//! The group protocol on the wire: [`GroupApi`] (create, verify, delete)
//! and its [`GroupEndpoint`]s — method, path template, body, and which
//! statuses mean what — checked before anything is sent.

use crate::address::push_encoded_segment;
use crate::error::Error;
use crate::request::Method;

/// One group operation on the wire: method, path, body, and which answers
/// mean what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEndpoint {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path template; `{id}` is replaced by the percent-encoded group id.
    pub path: String,
    /// Send `{"groupId": "<id>"}` as a JSON body.
    pub json_body: bool,
    /// Statuses meaning the operation did its work: created (create),
    /// exists (verify), deleted (delete).
    pub done: Vec<u16>,
    /// Statuses meaning the goal already held without this request: already
    /// there (create), missing (verify), already gone (delete).
    pub unchanged: Vec<u16>,
}

impl GroupEndpoint {
    /// An endpoint with the given method, path template, body choice and statuses.
    pub fn new(method: &str, path: &str, json_body: bool, done: &[u16], unchanged: &[u16]) -> Self {
        GroupEndpoint {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            json_body,
            done: done.to_vec(),
            unchanged: unchanged.to_vec(),
        }
    }

    /// Checks the endpoint before anything is sent: a path starting with
    /// `/` holding `{id}` at most once (and the id reaching the node, in the
    /// path or the JSON body), HTTP statuses only, a non-empty `done` list,
    /// and no status both `done` and `unchanged` (the rollback rule depends
    /// on telling them apart).
    pub fn validate(&self, name: &str) -> Result<(), Error> {
        let refuse = |why: String| Err(Error::InvalidConfig(format!("group_api.{name}: {why}")));
        if Method::parse(&self.method).is_err() {
            return refuse(format!("invalid HTTP method {:?}", self.method));
        }
        if !self.path.starts_with('/') {
            return refuse(format!("path {:?} must start with '/'", self.path));
        }
        if self.path.chars().any(|c| c.is_control() || c == ' ') {
            return refuse(format!(
                "path {:?} holds spaces or control characters",
                self.path
            ));
        }
        match self.path.matches("{id}").count() {
            0 if !self.json_body => {
                return refuse(format!(
                    "path {:?} holds no {{id}} and no JSON body is sent: the id would not reach the node",
                    self.path
                ))
            }
            0 | 1 => {}
            _ => return refuse(format!("path {:?} holds {{id}} more than once", self.path)),
        }
        if self.done.is_empty() {
            return refuse("the done list is empty".to_string());
        }
        if let Some(bad) = self
            .done
            .iter()
            .chain(&self.unchanged)
            .find(|s| !(100..=599).contains(*s))
        {
            return refuse(format!("{bad} is not an HTTP status"));
        }
        if let Some(both) = self.done.iter().find(|s| self.unchanged.contains(s)) {
            return refuse(format!(
                "status {both} is listed as both done and unchanged"
            ));
        }
        Ok(())
    }

    pub(super) fn path_for(&self, id: &str) -> String {
        const MARK: &str = "{id}";
        let mut out = String::with_capacity(self.path.len() + 3 * id.len());
        let mut rest = self.path.as_str();
        // A byte search for '{' (memchr), then a check: cheaper than a substring searcher.
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            if rest[i..].starts_with(MARK) {
                push_encoded_segment(&mut out, id);
                rest = &rest[i + MARK.len()..];
            } else {
                out.push('{');
                rest = &rest[i + 1..];
            }
        }
        out.push_str(rest);
        out
    }

    pub(super) fn body_for(&self, id: &str) -> Option<Vec<u8>> {
        self.json_body.then(|| {
            serde_json::json!({ "groupId": id })
                .to_string()
                .into_bytes()
        })
    }
}

/// How a node's group service is spoken to. The default is the reference
/// service: `POST /v1/group/` (201 created, 409 already there),
/// `GET /v1/group/<id>/` (200 exists, 404 missing), `DELETE /v1/group/`
/// (200 deleted, 404 already gone), JSON bodies `{"groupId": "<id>"}`.
///
/// ```
/// use cluster_client::{GroupApi, GroupEndpoint};
///
/// // A WebDAV store: PUT creates (201 new, 204 already there), DELETE without a body.
/// let dav = GroupApi {
///     create: GroupEndpoint::new("PUT", "/groups/{id}", false, &[201], &[204]),
///     verify: GroupEndpoint::new("GET", "/groups/{id}", false, &[200], &[404]),
///     delete: GroupEndpoint::new("DELETE", "/groups/{id}", false, &[204], &[404]),
///     allow_slash_in_id: false,
/// };
/// assert_ne!(dav, GroupApi::default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupApi {
    /// Creates a group.
    pub create: GroupEndpoint,
    /// Tells whether a group exists.
    pub verify: GroupEndpoint,
    /// Deletes a group.
    pub delete: GroupEndpoint,
    /// Accept `/` and `\` in ids (percent-encoded). Off by default: many
    /// servers decode `%2F` before routing (nginx turns `a%2Fb` into `a/b`).
    pub allow_slash_in_id: bool,
}

impl Default for GroupApi {
    fn default() -> Self {
        GroupApi::reference()
    }
}

impl GroupApi {
    /// The reference service (the default): `POST /v1/group/` (201 created,
    /// 409 already there), `GET /v1/group/<id>/` (200 exists, 404 missing),
    /// `DELETE /v1/group/` (200 deleted, 404 already gone), JSON bodies
    /// `{"groupId": "<id>"}`.
    pub fn reference() -> Self {
        GroupApi {
            create: GroupEndpoint::new("POST", "/v1/group/", true, &[201], &[409]),
            verify: GroupEndpoint::new("GET", "/v1/group/{id}/", false, &[200], &[404]),
            delete: GroupEndpoint::new("DELETE", "/v1/group/", true, &[200], &[404]),
            allow_slash_in_id: false,
        }
    }

    /// A WebDAV store (nginx `dav_methods`): `PUT /groups/<id>` (201 created,
    /// 204 already there), `GET` (200 exists, 404 missing), `DELETE` (204
    /// deleted, 404 already gone), no bodies.
    pub fn webdav() -> Self {
        GroupApi {
            create: GroupEndpoint::new("PUT", "/groups/{id}", false, &[201], &[204]),
            verify: GroupEndpoint::new("GET", "/groups/{id}", false, &[200], &[404]),
            delete: GroupEndpoint::new("DELETE", "/groups/{id}", false, &[204], &[404]),
            allow_slash_in_id: false,
        }
    }

    /// Checks every endpoint (see [`GroupEndpoint::validate`]); the builder
    /// calls it, so a bad API is an [`Error::InvalidConfig`] at `build()`.
    pub fn validate(&self) -> Result<(), Error> {
        self.create.validate("create")?;
        self.verify.validate("verify")?;
        self.delete.validate("delete")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_take_the_encoded_id() {
        let e = |path: &str| GroupEndpoint::new("GET", path, false, &[200], &[404]);
        assert_eq!(e("/v1/group/{id}/").path_for("a b"), "/v1/group/a%20b/");
        assert_eq!(e("/g/{id}/x/{id}").path_for("q"), "/g/q/x/q");
        assert_eq!(e("/v1/group/").path_for("q"), "/v1/group/");
        assert_eq!(e("/{x}/{id}{").path_for("q"), "/{x}/q{");
    }

    #[test]
    fn presets_are_valid_and_differ() {
        GroupApi::reference().validate().unwrap();
        GroupApi::webdav().validate().unwrap();
        assert_eq!(GroupApi::default(), GroupApi::reference());
        assert_ne!(GroupApi::webdav(), GroupApi::reference());
    }
}
