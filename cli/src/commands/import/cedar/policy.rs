//! One Cedar policy (its JSON EST) as one Rampart rule.
//!
//! `permit`/`forbid` become `allow`/`deny`. The principal and resource scopes become
//! `for`/`on` heads: `principal == User::"u"` is `for User::"u"`, `principal in Group::"g"`
//! is `for * in Group::"g"`, `principal is User in Group::"g"` is `for User in Group::"g"`
//! (Rampart's index selects rules by them, as Cedar's scopes). `action in Action::"group"`
//! lists the group's member actions. `when` clauses are joined with `and`, `unless` clauses with `or`;
//! when an `unless` comes before a `when`, everything becomes one `when` (with `not`) so that
//! the conditions are evaluated in Cedar's order.

use serde_json::Value;

use super::expr::Translator;
use super::names::string_literal;
use super::schema::CedarSchema;
use super::values;

/// Annotations that mean something else in Rampart.
const RESERVED_ANNOTATIONS: &[&str] = &["control", "allow_lint"];

/// Translates one policy. `id` is the rule id (the `@id` annotation or the Cedar policy
/// id); errors name the construct.
pub fn translate(est: &Value, id: &str, schema: &CedarSchema) -> Result<String, String> {
    let mut tr = Translator::new(schema);
    let effect = match est.get("effect").and_then(Value::as_str) {
        Some("permit") => "allow",
        Some("forbid") => "deny",
        _ => return Err("a policy whose effect is neither `permit` nor `forbid`".to_owned()),
    };
    let mut when_parts: Vec<String> = Vec::new();
    let for_target = scope_var(est.get("principal"), "principal", schema)?;
    let mut actions = action_scope(est.get("action"), &tr)?;
    let on_target = scope_var(est.get("resource"), "resource", schema)?;

    let mut clauses: Vec<(bool, Value)> = Vec::new();
    for cond in est
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let is_when = match cond.get("kind").and_then(Value::as_str) {
            Some("when") => true,
            Some("unless") => false,
            _ => return Err("a condition that is neither `when` nor `unless`".to_owned()),
        };
        let body = cond
            .get("body")
            .ok_or_else(|| "a condition without a body".to_owned())?;
        clauses.push((is_when, body.clone()));
    }
    narrow_actions(&mut actions, &mut clauses, &tr);
    let mut conditions: Vec<(bool, String)> = Vec::new();
    for (is_when, body) in &clauses {
        conditions.push((*is_when, tr.condition(body)?.text));
    }
    let unless_first = conditions
        .iter()
        .skip_while(|(is_when, _)| *is_when)
        .any(|(is_when, _)| *is_when);
    let mut unless_parts: Vec<String> = Vec::new();
    for (is_when, text) in conditions {
        if is_when {
            when_parts.push(text);
        } else if unless_first {
            when_parts.push(format!("not ({text})"));
        } else {
            unless_parts.push(text);
        }
    }

    let mut out = String::new();
    if effect == "deny" && tr.notes.can_error {
        out.push_str(
            "// cedar: Cedar skips this forbid when its condition errors (a missing attribute, an overflow);\n\
             // cedar: Rampart fails closed: the error makes this deny apply\n",
        );
    }
    out.push_str(&annotations(est, id)?);
    out.push_str(effect);
    out.push(' ');
    match &actions {
        None => out.push('*'),
        Some(list) => {
            let list: Vec<String> = list.iter().map(|a| string_literal(a)).collect();
            out.push_str(&list.join(", "));
        }
    }
    if let Some(target) = on_target {
        out.push_str(&format!(" on {target}"));
    }
    if let Some(target) = for_target {
        out.push_str(&format!(" for {target}"));
    }
    if !when_parts.is_empty() {
        let parts: Vec<String> = when_parts.iter().map(|p| paren_or(p)).collect();
        out.push_str(&format!("\n  when {}", parts.join(" and ")));
    }
    if !unless_parts.is_empty() {
        let parts: Vec<String> = if unless_parts.len() > 1 {
            unless_parts.iter().map(|p| format!("({p})")).collect()
        } else {
            unless_parts
        };
        out.push_str(&format!("\n  unless {}", parts.join(" or ")));
    }
    out.push('\n');
    Ok(out)
}

/// Moves a test of the action that opens the first `when` (`when { action == Action::"a"
/// && … }`, `action in …`) into the rule's action list, where Rampart's index selects by it.
/// Exact: the test is evaluated first and cannot fail, so leaving it out of the condition
/// and narrowing the scope to the actions that pass it decides the same requests. Nothing
/// changes when no action would be left.
fn narrow_actions(
    actions: &mut Option<Vec<String>>,
    clauses: &mut Vec<(bool, Value)>,
    tr: &Translator<'_>,
) {
    let Some((true, body)) = clauses.first() else {
        return;
    };
    let Some(Ok(passing)) = tr.action_test(leftmost(body)) else {
        return;
    };
    let (_, rest) = split_leftmost(body);
    let narrowed: Vec<String> = match actions.as_ref() {
        None => passing,
        Some(list) => list
            .iter()
            .filter(|a| passing.contains(a))
            .cloned()
            .collect(),
    };
    if narrowed.is_empty() {
        return;
    }
    *actions = Some(narrowed);
    match rest {
        Some(rest) => {
            if let Some(first) = clauses.first_mut() {
                first.1 = rest;
            }
        }
        None => {
            clauses.remove(0);
        }
    }
}

/// The leftmost conjunct of an `&&` tree.
fn leftmost(mut body: &Value) -> &Value {
    while let Some(("&&", arg)) = super::expr::single_entry(body) {
        match arg.get("left") {
            Some(left) => body = left,
            None => break,
        }
    }
    body
}

/// The leftmost conjunct of an `&&` tree, and the tree without it (`None`: it was all).
fn split_leftmost(body: &Value) -> (&Value, Option<Value>) {
    let Some(("&&", arg)) = super::expr::single_entry(body) else {
        return (body, None);
    };
    let (Some(left), Some(right)) = (arg.get("left"), arg.get("right")) else {
        return (body, None);
    };
    let (leaf, rest) = split_leftmost(left);
    let rest = match rest {
        None => right.clone(),
        Some(rest) => super::expr::node("&&", [("left", rest), ("right", right.clone())]),
    };
    (leaf, Some(rest))
}

/// A conjunct, in parentheses when it is an `or` at the top (a conservative test: any ` or `
/// outside parentheses, brackets and strings).
fn paren_or(text: &str) -> String {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b' ' if depth == 0 && text.get(i..i + 4) == Some(" or ") => {
                return format!("({text})");
            }
            _ => {}
        }
    }
    text.to_owned()
}

/// `@id("…")` and the other annotations.
fn annotations(est: &Value, id: &str) -> Result<String, String> {
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the id `{}`: Rampart rule ids are non-empty and have no whitespace",
            id.escape_debug()
        ));
    }
    let mut out = format!("@id({})\n", string_literal(id));
    if let Some(annotations) = est.get("annotations").and_then(Value::as_object) {
        for (name, value) in annotations {
            if name == "id" {
                continue;
            }
            if RESERVED_ANNOTATIONS.contains(&name.as_str()) {
                return Err(format!(
                    "the annotation `@{name}`, which means something else in Rampart"
                ));
            }
            if !super::names::is_identifier(name) {
                return Err(format!("the annotation `@{name}`"));
            }
            match value.as_str() {
                Some(v) if !v.is_empty() => {
                    out.push_str(&format!("@{name}({})\n", string_literal(v)));
                }
                _ => out.push_str(&format!("@{name}\n")),
            }
        }
    }
    Ok(out)
}

/// What follows `for`/`on` for the principal or resource scope: `User`, `User::"u"`,
/// `User in Group::"g"`, `* in Group::"g"`; `None` for any.
fn scope_var(
    scope: Option<&Value>,
    var: &str,
    schema: &CedarSchema,
) -> Result<Option<String>, String> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let op = scope.get("op").and_then(Value::as_str).unwrap_or("All");
    if scope.get("slot").is_some() {
        return Err(format!(
            "templates are not supported yet (`{var} {op} ?{var}`)"
        ));
    }
    let entity = |key: &str| -> Result<String, String> {
        let v = scope
            .get(key)
            .ok_or_else(|| format!("a `{var}` scope without its entity"))?;
        // The scope's entity is `{"type", "id"}` (or the `__entity` form).
        let (ty, id) = match values::entity_ref(v) {
            Some(r) => r?,
            None => match (
                v.get("type").and_then(Value::as_str),
                v.get("id").and_then(Value::as_str),
            ) {
                (Some(t), Some(i)) => (t, i),
                _ => return Err(format!("a `{var}` scope whose entity is not understood")),
            },
        };
        schema.entity_literal(ty, id)
    };
    match op {
        "All" | "all" => Ok(None),
        "==" => Ok(Some(entity("entity")?)),
        "in" => {
            if scope.get("entities").is_some() {
                return Err(format!("a `{var} in [...]` scope"));
            }
            Ok(Some(format!("* in {}", entity("entity")?)))
        }
        "is" => {
            let ty = scope
                .get("entity_type")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a `{var} is` scope without a type"))?;
            let ty = schema.type_name(ty)?;
            let cond = match scope.get("in") {
                None | Some(Value::Null) => None,
                Some(inner) => {
                    if inner.get("slot").is_some() {
                        return Err(format!(
                            "templates are not supported yet (`{var} is … in ?{var}`)"
                        ));
                    }
                    let v = inner
                        .get("entity")
                        .ok_or_else(|| format!("a `{var} is … in` scope without its entity"))?;
                    let (t, i) = match (
                        v.get("type").and_then(Value::as_str),
                        v.get("id").and_then(Value::as_str),
                    ) {
                        (Some(t), Some(i)) => (t, i),
                        _ => match values::entity_ref(v) {
                            Some(r) => r?,
                            None => {
                                return Err(format!(
                                    "a `{var} is … in` scope whose entity is not understood"
                                ))
                            }
                        },
                    };
                    Some(schema.entity_literal(t, i)?)
                }
            };
            Ok(Some(match cond {
                Some(group) => format!("{ty} in {group}"),
                None => ty,
            }))
        }
        other => Err(format!("a `{var} {other}` scope")),
    }
}

/// The actions of the rule (groups expanded); `None` for every action (`*`).
fn action_scope(scope: Option<&Value>, tr: &Translator<'_>) -> Result<Option<Vec<String>>, String> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let op = scope.get("op").and_then(Value::as_str).unwrap_or("All");
    let name = |v: &Value| -> Result<(String, bool), String> {
        let (ty, id) = match (
            v.get("type").and_then(Value::as_str),
            v.get("id").and_then(Value::as_str),
        ) {
            (Some(t), Some(i)) => (t, i),
            _ => match values::entity_ref(v) {
                Some(r) => r?,
                None => return Err("an action scope whose entity is not understood".to_owned()),
            },
        };
        Ok((id.to_owned(), tr.schema.ns.is_action_type(ty)))
    };
    let mut groups = Vec::new();
    let mut exact = false;
    match op {
        "All" | "all" => return Ok(None),
        "==" => {
            exact = true;
            groups.push(
                scope
                    .get("entity")
                    .ok_or("an action scope without its entity")?,
            );
        }
        "in" => {
            if let Some(e) = scope.get("entity") {
                groups.push(e);
            }
            if let Some(list) = scope.get("entities").and_then(Value::as_array) {
                groups.extend(list.iter());
            }
        }
        other => return Err(format!("an `action {other}` scope")),
    }
    let mut names = Vec::new();
    for g in groups {
        let (id, is_action) = name(g)?;
        if !is_action {
            return Err(format!(
                "an action scope naming `{id}`, which is not an `Action`"
            ));
        }
        names.push(id);
    }
    let actions = if exact {
        let id = names.first().cloned().unwrap_or_default();
        if !tr.schema.is_requestable(&id) {
            return Err(format!(
                "`action == Action::{}`: an action no request can name (no `appliesTo`)",
                string_literal(&id)
            ));
        }
        vec![id]
    } else {
        tr.expand(&names)?
    };
    Ok(Some(actions))
}
