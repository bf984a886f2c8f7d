//! pest errors → `E001` diagnostics that say, in words, what was expected.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use crate::ast::Span;
use crate::diagnostics::Diagnostic;

/// Converts a pest error into a syntax error (or `E019` when the `package` line is missing).
pub(super) fn syntax_error(text: &str, error: &Error<Rule>) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(name) = friendly(*rule) {
                push(name.to_owned());
            }
        }
    }
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            if let Some(name) = friendly_token(&token.to_string()) {
                push(name);
            }
        }
    }
    if let ErrorVariant::CustomError { message } = &error.variant {
        if message.contains("limit") {
            return super::lexical::too_deep(Span::new(pos, pos));
        }
    }
    let expected = tidy(expected);
    let found = found_at(text, pos);
    let span = if found.is_empty() {
        // At the end of the file: point at the last character written.
        let end = text.get(..pos).map_or(0, |t| t.trim_end().len());
        let start = text
            .get(..end)
            .and_then(|t| t.char_indices().next_back())
            .map_or(0, |(i, _)| i);
        Span::new(start, end)
    } else {
        Span::new(pos, (pos + found.len()).min(text.len()))
    };
    if found.starts_with('"') && super::lexical::unterminated_string(text, pos) {
        return Diagnostic::error("E001", "unterminated string")
            .with_label(Span::new(pos, pos + 1), "this string has no closing quote")
            .with_help("add the closing `\"`");
    }
    if expected.iter().any(|e| e == "`package`") && text.get(..pos).is_some_and(only_comments) {
        return Diagnostic::error("E019", "missing `package` line")
            .with_label(span, "expected `package`")
            .with_help("every file starts with `package NAME`, for example `package payments`");
    }
    let found_text = if found.is_empty() {
        "end of file".to_owned()
    } else {
        format!("`{found}`")
    };
    let expected_text = if expected.is_empty() {
        "something else".to_owned()
    } else {
        one_of(&expected)
    };
    let label = if found.is_empty() {
        format!("expected {expected_text} after this")
    } else {
        format!("expected {expected_text}")
    };
    let mut diagnostic =
        Diagnostic::error("E001", format!("unexpected {found_text}")).with_label(span, label);
    if let Some(help) = cedar_habit(text, pos, &found).or_else(|| help_for(&expected, &found)) {
        diagnostic = diagnostic.with_help(help);
    }
    diagnostic
}

fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with("//")
    })
}

/// The token at `pos`, for the message: a word, a string start, or one character.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let mut chars = rest.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    if first.is_alphanumeric() || first == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .take(40)
            .collect()
    } else if first == '"' {
        let body: String = rest
            .chars()
            .skip(1)
            .take_while(|c| *c != '"' && *c != '\n')
            .take(40)
            .collect();
        format!("\"{body}\"")
    } else {
        let two: String = rest.chars().take(2).collect();
        if ["==", "!=", "<=", ">=", "=>", "::", "//"].contains(&two.as_str()) {
            two
        } else {
            first.to_string()
        }
    }
}

/// Drops expectations that only add noise next to better ones: the ways an expression
/// could continue (`.name`, `[`…) and the tokens of items when "an item" is listed.
fn tidy(expected: Vec<String>) -> Vec<String> {
    const CONTINUATIONS: [&str; 7] = [
        "a method",
        "an attribute",
        "`[`",
        "`.`",
        "`::`",
        "`<`",
        "`>`",
    ];
    const ITEM_TOKENS: [&str; 4] = ["`schema`", "`test`", "`@`", "end of file"];
    const EXPRESSION_TOKENS: [&str; 5] = ["`(`", "`{`", "`[`", "`:`", "`-`"];
    let has_item = expected.iter().any(|e| e == "an item");
    let has_expression = expected.iter().any(|e| e == "an expression");
    let mut out: Vec<String> = expected
        .iter()
        .filter(|e| !(has_item && ITEM_TOKENS.contains(&e.as_str())))
        .filter(|e| !CONTINUATIONS.contains(&e.as_str()))
        .filter(|e| !(has_expression && EXPRESSION_TOKENS.contains(&e.as_str())))
        .cloned()
        .collect();
    if out.iter().any(|e| e == "an operator") {
        out.retain(|e| e != "`:`");
    }
    if out.iter().any(|e| e == "`const`") {
        out.retain(|e| e != "an item");
    }
    if out.is_empty() {
        out = expected;
    }
    // The general ones read best last: `expected `unless`, an item or an operator`.
    for general in ["an item", "an operator"] {
        if let Some(i) = out.iter().position(|e| e == general) {
            let moved = out.remove(i);
            out.push(moved);
        }
    }
    out
}

/// "a, b or c".
fn one_of(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The word (identifier characters) that ends at `end`, after skipping white space back.
fn word_before(text: &str, end: usize) -> (&str, usize) {
    let head = text.get(..end).unwrap_or("").trim_end();
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map_or(head.len(), |(i, _)| i);
    (head.get(start..).unwrap_or(""), start)
}

/// Help for a Cedar form written in Rampart, pointing at the Rampart form: Cedar users'
/// habits are the commonest syntax errors of teams moving over.
fn cedar_habit(text: &str, pos: usize, found: &str) -> Option<String> {
    match found {
        "permit" | "forbid" => {
            return Some(format!(
                "Cedar's `{found}(principal, action, resource) when {{ … }};` is written `{} \"ACTION\" on RESOURCE_TYPE for PRINCIPAL_TYPE when …` here",
                if found == "permit" { "allow" } else { "deny" }
            ));
        }
        _ => {}
    }
    if found == "(" {
        let (function, _) = word_before(text, pos);
        let help = match function {
            "duration" => "durations are literals: write `1h30m`, not `duration(\"1h30m\")`",
            "datetime" => "timestamps are literals: write `2026-01-01T00:00:00Z`, not `datetime(\"…\")`",
            "ip" => "IP addresses and ranges are literals: write `10.0.0.0/8`, not `ip(\"10.0.0.0/8\")`",
            "decimal" => "decimals are literals: write `12.5`, not `decimal(\"12.5\")`",
            "containsAll" => "write `SET contains_all [a, b]` (or `.contains_all([a, b])`)",
            "containsAny" => "write `SET contains_any [a, b]` (or `.contains_any([a, b])`)",
            "isInRange" => "write `ADDRESS in RANGE`: `context.source.ip in 10.0.0.0/8`",
            "isIpv4" | "isIpv6" | "isLoopback" | "isMulticast" => {
                "test an address against a range literal: `context.source.ip in 127.0.0.0/8`"
            }
            "lessThan" | "lessThanOrEqual" | "greaterThan" | "greaterThanOrEqual" => {
                "compare with `<`, `<=`, `>` and `>=`"
            }
            "toDate" | "toTime" => "write the field: `now.date`, `now.time_of_day`",
            "toDays" | "toHours" | "toMinutes" | "toSeconds" | "toMilliseconds" => {
                "write the field: `d.days`, `d.hours`, `d.minutes`, `d.seconds`, `d.milliseconds`"
            }
            "offset" | "durationSince" => {
                "timestamps and durations are compared and subtracted with operators: `now - context.auth.issued_at <= 1h`"
            }
            "isEmpty" => "compare with the empty set: `SET == []`",
            "hasTag" => "write `ENTITY.has_tag(KEY)`: tag methods are snake_case here",
            "getTag" => "write `ENTITY.get_tag(KEY)`: tag methods are snake_case here",
            _ => return None,
        };
        return Some(help.to_owned());
    }
    // `App::User::"x"`: the word before is a type name followed by `::`.
    let before = text.get(..pos).unwrap_or("").trim_end();
    if let Some(head) = before.strip_suffix("::") {
        let (namespace, _) = word_before(text, head.len());
        if !namespace.is_empty() && found.chars().next().is_some_and(char::is_alphabetic) {
            return Some(format!(
                "entity types have no namespace prefix: write `{found}::\"…\"` (types are those of the policy's own schema; Cedar's `{namespace}::` namespace is the package)"
            ));
        }
    }
    None
}

fn help_for(expected: &[String], found: &str) -> Option<String> {
    let has = |s: &str| expected.iter().any(|e| e == s);
    if found == "=" {
        return Some("compare with `==`".to_owned());
    }
    if found == "&&" || found == "&" {
        return Some("write `and` instead of `&&`".to_owned());
    }
    if found == "|" {
        return Some("write `or` instead of `||`".to_owned());
    }
    if found == "!" {
        return Some("write `not` instead of `!`".to_owned());
    }
    if found == "'" {
        return Some("strings use double quotes: `\"text\"`".to_owned());
    }
    if has("an item") {
        return Some(
            "items are `schema`, `const`, `route`, `principal`, `allow`, `deny`, `require`, `obligation` and `test`".to_owned(),
        );
    }
    if has("an expression") && matches!(found, "}" | ")" | "]" | "") {
        return Some("an expression is missing here".to_owned());
    }
    if has("an action list") {
        return Some(
            "actions are written as strings: `\"payments:read\"`, `[\"a\", \"b\"]` or `*`"
                .to_owned(),
        );
    }
    None
}

/// A literal token pest expected, in words; `None` for tokens inside literals.
fn friendly_token(token: &str) -> Option<String> {
    match token {
        "{" | "}" | "(" | ")" | "[" | "]" | "," | ":" | "=" | "=>" | "::" | "<" | ">" | "?"
        | "." | "@" => Some(format!("`{token}`")),
        _ => None,
    }
}

/// A rule pest expected, in words. Rules that only appear inside others map to `None`.
fn friendly(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "end of file",
        package_decl | kw_package => "`package`",
        import_decl | kw_import => "`import`",
        import_params | kw_with => "`with`",
        import_param => "a const name",
        qual_name => "a package name",
        annotated_item | annotation | annotation_name | schema_block | test_block | const_decl
        | route_decl | principal_decl | allow_rule | deny_rule | require_rule | obligation => {
            "an item"
        }
        string_list => "a string",
        entity_decl | enum_decl | action_decl | context_decl | type_decl | kw_type => {
            "a schema declaration"
        }
        entity_tags | kw_tags => "`tags`",
        action_names => "action names",
        action_groups => "action group names",
        action_context => "`context`",
        type_names | type_list | principal_only => "a type name",
        scope_target | scope_target_head | entity_list | entity_lit => "a type or an entity",
        head_in => "`in`",
        attr_block => "`{`",
        attr_decl => "an attribute",
        optional_mark => "`?`",
        type_expr | set_type | map_type => "a type",
        route_method | http_method => "an HTTP method",
        rule_scope | action_list => "an action list",
        on_types | obligation_actions | kw_on => "`on`",
        for_types | kw_for => "`for`",
        any_star => "`*`",
        when_clause | kw_when | condition_clause => "`when`",
        if_expr | kw_if => "an expression",
        kw_then => "`then`",
        kw_else => "`else`",
        unless_clause | kw_unless => "`unless`",
        reason_clause | kw_reason => "`reason`",
        mask_kind | rate_limit_kind | request_header_kind | response_header_kind
        | remove_header_kind => "an obligation kind",
        obligation_scope => "a scope",
        test_request | kw_request => "`request`",
        parts_request => "`action`",
        http_request => "an HTTP method",
        test_principal => "`principal`",
        test_headers | kw_headers => "`headers`",
        test_context => "`context`",
        entities_file | kw_entities => "`entities`",
        inline_entity | kw_entity => "`entity`",
        entity_attrs => "attributes",
        entity_parents => "`in`",
        expect_clause | kw_expect => "`expect`",
        expect_rules | kw_by => "`by`",
        expr | term | postfix_expr | named | entity_id | paren | set_lit | record_lit
        | timestamp | bad_timestamp | ipv6 | ipv4 | duration | decimal | tls | int | bad_number
        | bool_lit => "an expression",
        binary_tail | has_tail | is_tail | like_tail | matches_tail => "an operator",
        method_call | method_name => "a method",
        method_arg => "`(`",
        attr_access => "an attribute",
        index_access => "`[`",
        record_entry => "a field",
        string | string_inner => "a string",
        ident | ident_any | keyword => "a name",
        kw_var => "an expression",
        kw_as => "`as`",
        kw_schema => "`schema`",
        kw_enum => "`enum`",
        kw_action => "`action`",
        kw_context => "`context`",
        kw_const => "`const`",
        kw_route => "`route`",
        kw_principal => "`principal`",
        kw_allow => "`allow`",
        kw_deny => "`deny`",
        kw_require => "`require`",
        kw_obligation => "`obligation`",
        kw_test => "`test`",
        kw_in | op_in => "`in`",
        kw_resource => "`resource`",
        kw_per => "`per`",
        kw_mask => "`mask`",
        kw_rate_limit => "`rate_limit`",
        kw_request_header => "`request_header`",
        kw_response_header => "`response_header`",
        kw_remove_header => "`remove_header`",
        kw_set => "`Set`",
        kw_map => "`Map`",
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_contains
        | op_contains_any | op_contains_all | op_has_scope | op_add | op_sub | op_mul | op_has
        | op_like | op_matches | op_is => "an operator",
        op_not | op_neg => "an expression",
        file | file_head | file_item | WHITESPACE | COMMENT | item | binary_op | primary
        | literal | date | ipv6_addr | ipv4_addr | ident_char => return None,
    })
}
