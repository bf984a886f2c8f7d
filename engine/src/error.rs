//! Errors of loading a bundle, reading entity data and reading requests.
//!
//! Each error enum wraps structs with private fields; messages are lowercase, one line,
//! name the field path and put user input in backticks.

use thiserror::Error;

use crate::bundle::BUNDLE_VERSION;

/// Why a bundle could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    #[error(transparent)]
    Json(#[from] BundleJsonError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Invalid(#[from] InvalidBundleError),
}

/// The bundle text is not JSON of the bundle's shape.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bundle is not valid: {message}")]
pub struct BundleJsonError {
    message: String,
}

impl BundleJsonError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The `format` field is not `rampart-bundle`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a rampart bundle: format is `{found}`")]
pub struct FormatError {
    found: String,
}

impl FormatError {
    pub(crate) fn new(found: impl Into<String>) -> Self {
        Self {
            found: found.into(),
        }
    }
}

/// The bundle was built for another version of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bundle version {found} is not supported: this engine reads version {BUNDLE_VERSION}; rebuild the bundle with `rampart build`")]
pub struct VersionError {
    found: u32,
}

impl VersionError {
    pub(crate) fn new(found: u32) -> Self {
        Self { found }
    }

    /// The version the bundle carries.
    pub fn found(&self) -> u32 {
        self.found
    }
}

/// The bundle has the right shape but is inconsistent (an index out of range, a bad regex…).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid bundle: {location}: {message}")]
pub struct InvalidBundleError {
    location: String,
    message: String,
}

impl InvalidBundleError {
    pub(crate) fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Why a request could not be read. The decision for such a request is a deny listing it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error(transparent)]
    TooLarge(#[from] TooLargeError),
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error(transparent)]
    Invalid(#[from] DataError),
    #[error(transparent)]
    NoRoute(#[from] NoRouteError),
}

/// Why entity data could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntityError {
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error(transparent)]
    Invalid(#[from] DataError),
    #[error(transparent)]
    Duplicate(#[from] DuplicateEntityError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
}

/// The input is larger than the engine reads.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("request is too large: {size} bytes, the limit is {limit} bytes")]
pub struct TooLargeError {
    size: usize,
    limit: usize,
}

impl TooLargeError {
    pub(crate) fn new(size: usize, limit: usize) -> Self {
        Self { size, limit }
    }
}

/// The input is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what} is not valid JSON: {message}")]
pub struct SyntaxError {
    what: &'static str,
    message: String,
}

impl SyntaxError {
    pub(crate) fn new(what: &'static str, message: impl Into<String>) -> Self {
        Self {
            what,
            message: message.into(),
        }
    }
}

/// A value in request or entity data does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{location}: {message}")]
pub struct DataError {
    location: String,
    message: String,
}

impl DataError {
    pub(crate) fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }

    /// Where the bad value is: a field path like `context.tls.version`, or for entity data
    /// the entity and the path inside it (``entity `User::"alice"` attrs.mfa``).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A raw HTTP request that no route of the bundle matches.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("no route matches {method} {path}")]
pub struct NoRouteError {
    method: String,
    path: String,
}

impl NoRouteError {
    pub(crate) fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
        }
    }
}

/// Two entities with the same uid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("duplicate entity `{uid}`")]
pub struct DuplicateEntityError {
    uid: String,
}

impl DuplicateEntityError {
    pub(crate) fn new(uid: impl Into<String>) -> Self {
        Self { uid: uid.into() }
    }
}

/// Entity parents that lead back to where they started.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cycle in entity parents: {}", .path.iter().map(|uid| format!("`{uid}`")).collect::<Vec<_>>().join(" -> "))]
pub struct CycleError {
    path: Vec<String>,
}

impl CycleError {
    pub(crate) fn new(path: Vec<String>) -> Self {
        Self { path }
    }
}
