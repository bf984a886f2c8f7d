//! The documentation of every `E0xx` code, printed by `rampart explain E0xx`.

/// `(code, text)` for every error code, in code order; the text starts with its title.
pub const ERROR_DOCS: &[(&str, &str)] = &[
    ("E001", "syntax error\n\nThe text does not follow the grammar of the language. The label shows where parsing stopped and what was expected there.\n\nExample:\n\n    allow \"docs:read\" when   // missing condition after `when`"),
    ("E002", "unknown package\n\nAn `import` names a package that is neither declared by a file of the policy folder nor part of the stdlib (`std.*`).\n\nExample:\n\n    import std.zerotrst      // did you mean `std.zerotrust`?"),
    ("E003", "unknown name\n\nAn expression uses a name that is not a variable (`principal`, `resource`, `action`, `context`, `now`), a const of the package, `alias.const` of an imported package, or an enum variant.\n\nExample:\n\n    allow \"docs:read\" when principl.active   // did you mean `principal`?"),
    ("E004", "unknown type\n\nA type name is neither builtin (`Bool Int String Ip Decimal Duration Timestamp TlsVersion Set<T> Map<T>`) nor declared in a schema (`entity`, `enum`), or an enum is used where an entity type is needed.\n\nExample:\n\n    schema { entity User { age: Integer } }   // did you mean `Int`?"),
    ("E005", "unknown attribute\n\nAn attribute or field is read that the schema does not declare on that type. When `principal` or `resource` may be of several types (from the rule's scope), the attribute must exist on every one of them; narrow the scope with `for TYPE` or `on TYPE`. Tags are the same: `e.has_tag(k)` and `e.get_tag(k)` need every type `e` may have to declare `tags TYPE`.\n\nExample:\n\n    allow \"docs:read\" on Doc when resource.ownr == principal   // did you mean `owner`?"),
    ("E006", "type mismatch\n\nA value has a type that the operator or place does not accept. The message says which type was expected and which was found, in the language's words (`Set<String>`, `TlsVersion`, `Account`).\n\nExample:\n\n    require context.tls.version >= \"1.2\" for *   // expected TlsVersion, found String: write `tls1.2`"),
    ("E007", "unknown action\n\nA rule, route, test or `action == \"…\"` comparison names an action that no schema declares.\n\nExample:\n\n    allow \"payments:wirte\" on Account   // did you mean `payments:write`?"),
    ("E008", "impossible scope\n\nA rule names a resource type (`on`) or principal type (`for`) that none of its actions is declared with, so it could never apply.\n\nExample:\n\n    schema { action \"payments:write\" on Account for User }\n    allow \"payments:write\" on User      // `payments:write` is declared on `Account`"),
    ("E009", "duplicate or invalid rule id\n\nRule and obligation ids must be unique across the policy set, imported packages included. `@id` takes exactly one non-empty string.\n\nExample:\n\n    @id(\"pay\") allow \"payments:read\"\n    @id(\"pay\") allow \"payments:write\"   // `pay` is already used"),
    ("E010", "duplicate declaration\n\nA type, enum, variant, action, attribute, field, const, context field or import name is declared twice, or a builtin name is redeclared.\n\nExample:\n\n    schema { entity User  entity User }"),
    ("E011", "unknown enum variant\n\nA bare name is resolved against the enum type expected at that place (for example the other side of `==` or `in`) and that enum has no such variant.\n\nExample:\n\n    deny * on Account when resource.classification in [pci, phii]   // did you mean `phi`?"),
    ("E012", "invalid regex\n\nThe pattern of `matches` is not a valid Rust regex. Patterns are validated at build time; a match is not anchored (use `^…$`).\n\nExample:\n\n    deny * when context.request.path matches \"^/admin(\"   // unclosed group"),
    ("E013", "invalid literal\n\nA literal cannot be represented: an IP address or network, a duration, a timestamp, or an integer out of the 64-bit range (also for constant arithmetic that overflows).\n\nExample:\n\n    const big = 9223372036854775807 + 1"),
    ("E014", "invalid const\n\nA const uses something known only at request time (`principal`, `context`, …), or consts refer to each other in a cycle.\n\nExample:\n\n    const a = b\n    const b = a   // cycle: a → b → a"),
    ("E015", "invalid route\n\nA route's path template is malformed (must start with `/`, parameters are whole segments `{name}`, a rest parameter `{name*}` comes last, names are unique), its method is unknown, its resource uses a name that is not a parameter, its action is not declared, or the action is not declared on the resource type. Two routes with the same method and path shape are also an error.\n\nExample:\n\n    route GET \"/v1/accounts/{id}\" => \"payments:read\" on Account::{idd}   // did you mean `id`?"),
    ("E016", "invalid obligation\n\nAn obligation has a value the enforcer cannot carry out: a rate-limit period that is not a whole number of seconds or a limit of zero, a header name that is not a valid HTTP token, a key or header value that is not a single value, an empty mask field.\n\nExample:\n\n    obligation rate_limit 10 per 500ms   // periods are whole seconds"),
    ("E017", "unreadable file\n\nA `.rampart` file is not valid UTF-8 or is larger than 4 MiB."),
    ("E018", "nesting too deep\n\nAn expression or JSON value is nested more than 64 levels deep. Split it into consts or smaller conditions; a long `or` chain of comparisons reads better as `x in [a, b, c]`."),
    ("E019", "package line\n\nEvery file starts with `package NAME`; a stdlib file must declare the package it is registered as.\n\nExample:\n\n    import std.zerotrust   // a file cannot start with an import\n    package payments"),
    ("E020", "invalid test\n\nA `test` block cannot run: an `entities` file that does not exist, `expect … by [...]` naming a rule id that does not exist, test data that is not constant, an inline entity lacking a required attribute, or a test name used twice in a file.\n\nExample:\n\n    test \"x\" { request … expect allow by [\"pay-wirte\"] }   // no rule has id `pay-wirte`"),
    ("E021", "unknown lint code\n\nAn `@allow_lint(...)` annotation names something that is not a lint code, or names nothing. `@allow_lint(\"L001\", ...)` on a rule, obligation, `principal` mapping, route or const silences those lints for that item; errors (`E0xx`) cannot be silenced.\n\nExample:\n\n    @allow_lint(\"L0012\")   // did you mean `L001`?\n    allow \"health:read\" on Health"),
    ("E022", "unknown control\n\nA `@control(\"framework/id\")` reference, a `frameworks` entry or a waiver of `rampart.toml` names a compliance framework or a control that the builtin catalogs (`stdlib/controls/`) do not know, or is not of the form `framework/id`. Frameworks are named by slug or alias (`pci-dss-4.0`, `pci-dss`); control ids are written as the framework publishes them (`8.3.1`, `164.312(e)(1)`, `Art. 32(1)(a)`, `A.8.24`, `API1`) or by an alias (`art32`, `8.24`, `tenet-2`); case and white space do not matter. `rampart compliance --list` prints every framework and id.\n\nExample:\n\n    @control(\"pci-dss-4.0/8.3.10\")   // `8.3.10` is not a control of `pci-dss-4.0`\n    @control(\"pcidss4/8.3.1\")       // unknown compliance framework"),
    ("E023", "invalid project file\n\n`rampart.toml` at the root of the policy folder does not parse, has a key it does not take, or has a waiver without a reason. It takes one table, `[compliance]`, with `frameworks = [\"…\"]` (the frameworks the policies answer to) and `[[compliance.waiver]]` entries, each with `control = \"framework/id\"` and a non-empty `reason` (reports show the control as not applicable, with this reason).\n\nExample:\n\n    [[compliance.waiver]]\n    control = \"pci-dss-4.0/3.5.1\"   // no `reason`: why does the control not apply?"),
    ("E024", "invalid import parameter\n\n`import PACKAGE with { name: value }` sets a `const` of the imported package for the whole policy set (a package is compiled once per set, so every rule of the package sees the new value). Each name must be a const the package declares, given once; the value must be constant (literals, operators and consts, no request or entity data) and of the const's type (the type of its default value); two imports of the same package must not give one const different values.\n\nExample:\n\n    import std.zerotrust with { max_token_lifetim: 1h }   // did you mean `max_token_lifetime`?\n    import std.zerotrust with { min_tls: \"1.3\" }         // `min_tls` is TlsVersion: write `tls1.3`"),
    ("E025", "entity data does not load\n\n`entities.json` beside the policies is the entity data `rampart eval`, `rampart serve` and `rampart build --target wasm` use for the folder; `rampart check` reads it against the compiled schema exactly as they do. It must be a JSON array of Cedar-format entities (`{\"uid\", \"attrs\", \"parents\"}`) whose types, attributes and parents the schema declares, with no entity twice and no cycle among parents. The message names the entity and the field; the label points at the entity (or at the JSON syntax error).\n\nExample:\n\n    [{\"uid\": {\"type\": \"User\", \"id\": \"ana\"}, \"attrs\": {\"mfa\": \"yes\"}, \"parents\": []}]\n    // attrs.mfa: expected a boolean, found `\"yes\"`"),
];

/// The documentation of an error code (`E005`): its title, then what it means.
pub fn error_docs(code: &str) -> Option<&'static str> {
    ERROR_DOCS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_spec_is_documented_once() {
        for n in 1..=25 {
            let code = format!("E{n:03}");
            assert_eq!(
                ERROR_DOCS.iter().filter(|(c, _)| *c == code).count(),
                1,
                "{code}"
            );
            assert!(error_docs(&code).is_some_and(|d| d.len() > 20));
        }
        assert!(error_docs("E999").is_none());
    }
}
