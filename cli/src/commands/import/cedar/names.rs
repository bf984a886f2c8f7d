//! Names and literals as Rampart writes them: the namespace that is stripped, identifiers,
//! entity type names that Rampart can declare, string literals.

/// Rampart's reserved words.
use rampart_lang::KEYWORDS;

/// The one Cedar namespace of an import: names in it lose their prefix.
#[derive(Debug, Default, Clone)]
pub struct Namespace {
    /// `PhotoApp` for `PhotoApp::User`; empty for the empty namespace.
    name: String,
}

impl Namespace {
    pub fn new(name: &str) -> Namespace {
        Namespace {
            name: name.to_owned(),
        }
    }

    /// The package name: the namespace in lower case, `::` as `.`, or `cedar`.
    pub fn package(&self) -> String {
        if self.name.is_empty() {
            return "cedar".to_owned();
        }
        let segments: Vec<String> = self
            .name
            .split("::")
            .map(|segment| {
                let mut s: String = segment
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    || KEYWORDS.contains(&s.as_str())
                {
                    s.insert(0, '_');
                }
                s
            })
            .collect();
        segments.join(".")
    }

    /// `name` without this namespace's prefix; an error for a name of another namespace.
    pub fn strip<'a>(&self, name: &'a str) -> Result<&'a str, String> {
        match name.rsplit_once("::") {
            None => Ok(name),
            Some((prefix, local)) if prefix == self.name => Ok(local),
            Some((prefix, _)) => Err(format!(
                "`{name}` is in namespace `{prefix}`, not in the one namespace imported ({})",
                if self.name.is_empty() {
                    "the empty namespace".to_owned()
                } else {
                    format!("`{}`", self.name)
                }
            )),
        }
    }

    /// Whether `ty` is this namespace's action entity type (`Action` or `NS::Action`).
    pub fn is_action_type(&self, ty: &str) -> bool {
        self.strip(ty).is_ok_and(|local| local == "Action")
    }
}

/// A Rampart identifier (ASCII letters, digits and `_`, not starting with a digit).
pub use rampart_lang::fmt::is_identifier;

/// Checks that `local` (the name of `cedar` without its namespace) can name a Rampart entity
/// type.
pub fn entity_type_name(cedar: &str, local: &str) -> Result<String, String> {
    if !is_identifier(local) || KEYWORDS.contains(&local) {
        return Err(format!(
            "entity type `{cedar}`: `{local}` cannot name a Rampart type (not an identifier, or a keyword)"
        ));
    }
    if rampart_lang::check::builtins::is_builtin_type_name(local) {
        return Err(format!(
            "entity type `{cedar}`: `{local}` is a builtin Rampart type"
        ));
    }
    Ok(local.to_owned())
}

/// `s` as a Rampart string literal, escaped as `rampart fmt` writes it.
pub use rampart_lang::fmt::string_literal;

/// An attribute after `.`, `has` or as a record key: the name when it is an identifier,
/// else a string literal (for `has` and record keys) — the caller decides the form.
pub fn field(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        string_literal(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_sanitised_namespaces() {
        assert_eq!(Namespace::new("").package(), "cedar");
        assert_eq!(Namespace::new("PhotoApp").package(), "photoapp");
        assert_eq!(Namespace::new("Acme::Docs").package(), "acme.docs");
        assert_eq!(Namespace::new("in").package(), "_in");
    }

    #[test]
    fn stripping_refuses_other_namespaces() {
        let ns = Namespace::new("App");
        assert_eq!(ns.strip("App::User"), Ok("User"));
        assert_eq!(ns.strip("User"), Ok("User"));
        assert!(ns.strip("Other::User").is_err());
        assert!(ns.is_action_type("App::Action"));
        assert!(!ns.is_action_type("Other::Action"));
    }

    #[test]
    fn string_literals_escape() {
        assert_eq!(string_literal("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u{1}\"");
        assert_eq!(field("Role-A"), "\"Role-A\"");
        assert_eq!(field("when"), "when");
    }
}
