//! Cedar expressions (the JSON EST of `Policy::to_json`) as Rampart expressions.
//!
//! Each translation carries its precedence level (docs/language.md, "Precedence"), so an
//! operand is put in parentheses exactly when Rampart would read it otherwise. A construct
//! without a Rampart form is an error naming it; nothing is approximated.

use serde_json::{Map, Value};

use super::names::{self, field, string_literal};
use super::schema::CedarSchema;
use super::values;

/// Precedence levels, lowest first.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
/// `if … then … else`: its `else` branch takes whatever follows, so it is parenthesised
/// in every operand position.
const IF: u8 = 0;
const NEG: u8 = 7;
const POSTFIX: u8 = 8;
const PRIMARY: u8 = 9;

/// How deep a Cedar expression may nest before it is refused (Rampart's own limit is 64).
const MAX_DEPTH: usize = 64;

/// A translated expression.
pub struct Out {
    pub text: String,
    prec: u8,
}

impl Out {
    fn new(text: String, prec: u8) -> Out {
        Out { text, prec }
    }

    /// The text, in parentheses when its level is below `min`.
    fn at(self, min: u8) -> String {
        if self.prec < min {
            format!("({})", self.text)
        } else {
            self.text
        }
    }
}

/// The guard a `hasTag` leaves, with the `hasTag` node itself as the receiver (no
/// attribute has this name: Cedar's `.` and `has` never reach it).
const TAG_GUARD: &str = "\0hasTag";

/// What the translation of one policy found that changes how it reads in Rampart.
#[derive(Default)]
pub struct Notes {
    /// Something that can fail at evaluation: an attribute read, arithmetic.
    pub can_error: bool,
}

/// Translates the expressions of one policy.
pub struct Translator<'a> {
    pub schema: &'a CedarSchema,
    pub notes: Notes,
    /// The `(receiver, attribute)` pairs that a `has` on the left of the `&&` being
    /// translated has tested: reading them cannot fail.
    guards: Vec<(Value, String)>,
}

impl<'a> Translator<'a> {
    pub fn new(schema: &'a CedarSchema) -> Translator<'a> {
        Translator {
            schema,
            notes: Notes::default(),
            guards: Vec::new(),
        }
    }

    /// A condition (a Boolean expression).
    pub fn condition(&mut self, e: &Value) -> Result<Out, String> {
        self.expr(e, 0)
    }

    fn expr(&mut self, e: &Value, depth: usize) -> Result<Out, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "an expression nested more than {MAX_DEPTH} levels deep"
            ));
        }
        let d = depth + 1;
        let Some((op, arg)) = single_entry(e) else {
            return Err("an expression that is not a one-key JSON object".to_owned());
        };
        match op {
            "Value" => self.value(arg),
            "Var" => match arg.as_str() {
                Some(v @ ("principal" | "resource" | "context")) => {
                    Ok(Out::new(v.to_owned(), PRIMARY))
                }
                Some("action") => Err(
                    "`action` used other than in `action == Action::\"…\"` or `action in …`"
                        .to_owned(),
                ),
                _ => Err("an unknown variable".to_owned()),
            },
            "Slot" => {
                Err("templates are not supported yet (a `?principal`/`?resource` slot)".to_owned())
            }
            "Unknown" => Err("`unknown(…)` (partial evaluation) is not supported".to_owned()),
            "!" => {
                let inner = self.expr(field_of(arg, "arg")?, d)?;
                Ok(Out::new(format!("not {}", inner.at(NOT)), NOT))
            }
            "neg" => {
                self.notes.can_error = true;
                let inner = self.expr(field_of(arg, "arg")?, d)?;
                Ok(Out::new(format!("-{}", inner.at(POSTFIX)), NEG))
            }
            "==" | "!=" | "<" | "<=" | ">" | ">=" => self.comparison(op, arg, d),
            "in" => self.membership(arg, d),
            "&&" | "||" => {
                let (word, prec) = if op == "&&" { ("and", AND) } else { ("or", OR) };
                // One chain of one operator, translated left to right: one level, as in
                // Rampart, and each `has` guards the conjuncts after it.
                let mut operands = Vec::new();
                flatten(op, e, &mut operands);
                let before = self.guards.len();
                let mut parts = Vec::with_capacity(operands.len());
                let mut failed = None;
                for operand in operands {
                    match self.expr(operand, d) {
                        Ok(out) => parts.push(out.at(prec)),
                        Err(err) => {
                            failed = Some(err);
                            break;
                        }
                    }
                    if op == "&&" {
                        has_tests(operand, &mut self.guards);
                    }
                }
                self.guards.truncate(before);
                if let Some(err) = failed {
                    return Err(err);
                }
                Ok(Out::new(parts.join(&format!(" {word} ")), prec))
            }
            "+" | "-" | "*" => {
                self.notes.can_error = true;
                let (prec, right_min) = if op == "*" { (MUL, NEG) } else { (ADD, MUL) };
                let left = self.expr(field_of(arg, "left")?, d)?;
                let right = self.expr(field_of(arg, "right")?, d)?;
                Ok(Out::new(
                    format!("{} {op} {}", left.at(prec), right.at(right_min)),
                    prec,
                ))
            }
            "contains" | "containsAll" | "containsAny" => {
                let method = match op {
                    "contains" => "contains",
                    "containsAll" => "contains_all",
                    _ => "contains_any",
                };
                let left = self.expr(field_of(arg, "left")?, d)?;
                let right = self.expr(field_of(arg, "right")?, d)?;
                Ok(Out::new(
                    format!("{}.{method}({})", left.at(POSTFIX), right.text),
                    POSTFIX,
                ))
            }
            "isEmpty" => {
                let inner = self.expr(field_of(arg, "arg")?, d)?;
                Ok(Out::new(format!("{} == []", inner.at(ADD)), CMP))
            }
            "getTag" | "hasTag" => {
                // A tag read fails when the tag or the entity is absent, unless a `hasTag` of
                // the same entity and key on the left of the `&&` guards it.
                let guarded = self
                    .guards
                    .iter()
                    .any(|(r, a)| a == TAG_GUARD && r.get("hasTag") == Some(arg));
                if op == "getTag" && !guarded {
                    self.notes.can_error = true;
                }
                let method = if op == "getTag" { "get_tag" } else { "has_tag" };
                let left = self.expr(field_of(arg, "left")?, d)?;
                let right = self.expr(field_of(arg, "right")?, d)?;
                Ok(Out::new(
                    format!("{}.{method}({})", left.at(POSTFIX), right.text),
                    POSTFIX,
                ))
            }
            "." => {
                let left_est = field_of(arg, "left")?;
                let attr = str_of(arg, "attr")?;
                if !self.read_cannot_fail(left_est, attr) {
                    self.notes.can_error = true;
                }
                let left = self.expr(left_est, d)?;
                let text = if names::is_identifier(attr) {
                    format!("{}.{attr}", left.at(POSTFIX))
                } else {
                    format!("{}[{}]", left.at(POSTFIX), string_literal(attr))
                };
                Ok(Out::new(text, POSTFIX))
            }
            "has" => self.has(arg, d),
            "like" => {
                let left = self.expr(field_of(arg, "left")?, d)?;
                let pattern = like_pattern(field_of(arg, "pattern")?)?;
                Ok(Out::new(
                    format!("{} like {}", left.at(ADD), string_literal(&pattern)),
                    CMP,
                ))
            }
            "is" => {
                let left_est = field_of(arg, "left")?;
                let left = self.expr(left_est, d)?.at(ADD);
                let ty = self.schema.type_name(str_of(arg, "entity_type")?)?;
                match arg.get("in") {
                    None => Ok(Out::new(format!("{left} is {ty}"), CMP)),
                    Some(group) => {
                        let group = self.expr(group, d)?.at(ADD);
                        Ok(Out::new(
                            format!("{left} is {ty} and {left} in {group}"),
                            AND,
                        ))
                    }
                }
            }
            "if-then-else" => {
                // Rampart's own `if`: only the chosen branch is evaluated, as in Cedar, and
                // `principal is T` in the condition narrows the `then` branch.
                let cond_est = field_of(arg, "if")?;
                let cond = self.expr(cond_est, d)?;
                let before = self.guards.len();
                has_tests(cond_est, &mut self.guards);
                let then = self.expr(field_of(arg, "then")?, d);
                self.guards.truncate(before);
                let then = then?;
                let other = self.expr(field_of(arg, "else")?, d)?;
                Ok(Out::new(
                    format!("if {} then {} else {}", cond.text, then.text, other.text),
                    IF,
                ))
            }
            "Set" => {
                let items = arg
                    .as_array()
                    .ok_or_else(|| "a set that is not a JSON array".to_owned())?;
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(self.expr(item, d)?.text);
                }
                Ok(Out::new(format!("[{}]", parts.join(", ")), PRIMARY))
            }
            "Record" => {
                let fields = arg
                    .as_object()
                    .ok_or_else(|| "a record that is not a JSON object".to_owned())?;
                let mut parts = Vec::with_capacity(fields.len());
                for (k, v) in fields {
                    parts.push(format!("{}: {}", field(k), self.expr(v, d)?.text));
                }
                Ok(Out::new(format!("{{ {} }}", parts.join(", ")), PRIMARY))
            }
            _ => self.extension(op, arg, d),
        }
    }

    fn value(&mut self, v: &Value) -> Result<Out, String> {
        if let Some(uid) = values::entity_ref(v) {
            let (ty, id) = uid?;
            if self.schema.ns.is_action_type(ty) {
                return Err(format!(
                    "the action `{id}` used as a value (Rampart's `action` is the action's name, compared with `==`/`in` only)"
                ));
            }
            return Ok(Out::new(self.schema.entity_literal(ty, id)?, PRIMARY));
        }
        let (text, negative) = values::literal(v, self.schema)?;
        let extension = v.get("__extn").is_some();
        Ok(Out::new(
            text,
            if negative || extension { NEG } else { PRIMARY },
        ))
    }

    fn comparison(&mut self, op: &str, arg: &Value, d: usize) -> Result<Out, String> {
        let left = field_of(arg, "left")?;
        let right = field_of(arg, "right")?;
        if is_action_var(left) || is_action_var(right) {
            let other = if is_action_var(left) { right } else { left };
            if op != "==" && op != "!=" {
                return Err(format!("`action {op} …`"));
            }
            let name = self.action_literal(other)?;
            if !self.schema.is_requestable(&name) {
                return Err(format!(
                    "`action {op} Action::{}`: an action no request can name (it has no `appliesTo`)",
                    string_literal(&name)
                ));
            }
            return Ok(Out::new(
                format!("action {op} {}", string_literal(&name)),
                CMP,
            ));
        }
        let l = self.expr(left, d)?;
        let r = self.expr(right, d)?;
        Ok(Out::new(format!("{} {op} {}", l.at(ADD), r.at(ADD)), CMP))
    }

    fn membership(&mut self, arg: &Value, d: usize) -> Result<Out, String> {
        let left = field_of(arg, "left")?;
        let right = field_of(arg, "right")?;
        if is_action_var(left) {
            let groups = self.action_groups(right)?;
            let actions = self.expand(&groups)?;
            let list: Vec<String> = actions.iter().map(|a| string_literal(a)).collect();
            return Ok(Out::new(format!("action in [{}]", list.join(", ")), CMP));
        }
        let l = self.expr(left, d)?;
        let r = self.expr(right, d)?;
        Ok(Out::new(format!("{} in {}", l.at(ADD), r.at(ADD)), CMP))
    }

    fn has(&mut self, arg: &Value, d: usize) -> Result<Out, String> {
        let left = self.expr(field_of(arg, "left")?, d)?.at(POSTFIX);
        let path: Vec<&str> = match arg.get("attr") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => return Err("a `has` without an attribute".to_owned()),
        };
        // `e has a.b` is `e has a && e.a has b`.
        let mut parts = Vec::with_capacity(path.len());
        let mut receiver = left;
        for (i, attr) in path.iter().enumerate() {
            parts.push(format!("{receiver} has {}", field(attr)));
            if i + 1 < path.len() {
                receiver = if names::is_identifier(attr) {
                    format!("{receiver}.{attr}")
                } else {
                    format!("{receiver}[{}]", string_literal(attr))
                };
            }
        }
        let prec = if parts.len() > 1 { AND } else { CMP };
        Ok(Out::new(parts.join(" and "), prec))
    }

    fn extension(&mut self, name: &str, arg: &Value, d: usize) -> Result<Out, String> {
        let args = arg
            .as_array()
            .ok_or_else(|| format!("an unknown operator `{name}`"))?;
        let one = |i: usize| {
            args.get(i)
                .ok_or_else(|| format!("`{name}` with too few arguments"))
        };
        match name {
            "ip" | "datetime" | "duration" | "decimal" => {
                let text = literal_string(one(0)?).ok_or_else(|| {
                    format!("`{name}(…)` of a computed string: only literals can be translated")
                })?;
                // Below `POSTFIX`: a timestamp or address literal cannot be followed by
                // `.` (`(2024-01-01T00:00:00Z).date`), so a member read parenthesises it.
                let (lit, _) = values::extension_literal(name, text)?;
                Ok(Out::new(lit, NEG))
            }
            // Cedar's address-range test and decimal comparisons are Rampart's `in` and
            // ordering operators.
            "isInRange" | "lessThan" | "lessThanOrEqual" | "greaterThan" | "greaterThanOrEqual" => {
                let op = match name {
                    "isInRange" => "in",
                    "lessThan" => "<",
                    "lessThanOrEqual" => "<=",
                    "greaterThan" => ">",
                    _ => ">=",
                };
                let l = self.expr(one(0)?, d)?;
                let r = self.expr(one(1)?, d)?;
                Ok(Out::new(format!("{} {op} {}", l.at(ADD), r.at(ADD)), CMP))
            }
            "isIpv4" | "isIpv6" | "isLoopback" | "isMulticast" => {
                let nets = match name {
                    "isIpv4" => "0.0.0.0/0",
                    "isIpv6" => "::/0",
                    "isLoopback" => "[127.0.0.0/8, ::1]",
                    _ => "[224.0.0.0/4, ff00::/8]",
                };
                let l = self.expr(one(0)?, d)?;
                Ok(Out::new(format!("{} in {nets}", l.at(ADD)), CMP))
            }
            "offset" | "durationSince" => {
                self.notes.can_error = true;
                let op = if name == "offset" { "+" } else { "-" };
                let l = self.expr(one(0)?, d)?;
                let r = self.expr(one(1)?, d)?;
                Ok(Out::new(format!("{} {op} {}", l.at(ADD), r.at(MUL)), ADD))
            }
            "toDate" | "toTime" | "toDays" | "toHours" | "toMinutes" | "toSeconds"
            | "toMilliseconds" => {
                let part = match name {
                    "toDate" => "date",
                    "toTime" => "time_of_day",
                    "toDays" => "days",
                    "toHours" => "hours",
                    "toMinutes" => "minutes",
                    "toSeconds" => "seconds",
                    _ => "milliseconds",
                };
                let receiver = self.expr(one(0)?, d)?;
                Ok(Out::new(
                    format!("{}.{part}", receiver.at(POSTFIX)),
                    POSTFIX,
                ))
            }
            _ => Err(format!("the function or operator `{name}`")),
        }
    }

    /// Whether reading `attr` of `receiver` cannot fail: a `has` tested it first, or it is
    /// a context field no action declares optional.
    fn read_cannot_fail(&self, receiver: &Value, attr: &str) -> bool {
        let guarded = self.guards.iter().any(|(r, a)| r == receiver && a == attr);
        guarded || (in_context(receiver) && !self.schema.context_field_may_be_absent(attr))
    }

    /// The actions that pass `e` when it is a test of the action (`action ==
    /// Action::"a"`, `action in …`); `None` when it is not one.
    pub fn action_test(&self, e: &Value) -> Option<Result<Vec<String>, String>> {
        let (op, arg) = single_entry(e)?;
        let (left, right) = (arg.get("left")?, arg.get("right")?);
        if !is_action_var(left) {
            return None;
        }
        match op {
            "==" => Some(self.action_literal(right).and_then(|name| {
                if self.schema.is_requestable(&name) {
                    Ok(vec![name])
                } else {
                    Err(format!("the action `{name}`, which no request can name"))
                }
            })),
            "in" => Some(self.action_groups(right).and_then(|g| self.expand(&g))),
            _ => None,
        }
    }

    /// The actions named on the right of `action in`: one literal or a set of them.
    fn action_groups(&self, right: &Value) -> Result<Vec<String>, String> {
        match single_entry(right) {
            Some(("Set", Value::Array(items))) => {
                items.iter().map(|i| self.action_literal(i)).collect()
            }
            Some(("Value", Value::Array(items))) => {
                items.iter().map(|i| self.action_value(i)).collect()
            }
            _ => Ok(vec![self.action_literal(right)?]),
        }
    }

    /// The action named by an `Action::"…"` literal.
    fn action_literal(&self, e: &Value) -> Result<String, String> {
        match single_entry(e) {
            Some(("Value", v)) => self.action_value(v),
            _ => Err("`action` compared with something other than an action literal".to_owned()),
        }
    }

    fn action_value(&self, v: &Value) -> Result<String, String> {
        match values::entity_ref(v) {
            Some(Ok((ty, id))) if self.schema.ns.is_action_type(ty) => Ok(id.to_owned()),
            Some(Ok((ty, _))) => Err(format!("`action` compared with an entity of type `{ty}`")),
            Some(Err(e)) => Err(e),
            None => Err("`action` compared with something other than an action literal".to_owned()),
        }
    }

    /// The actions a request may name that are in one of `groups` (an action is in itself),
    /// in schema order.
    pub fn expand(&self, groups: &[String]) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = Vec::new();
        for group in groups {
            if self.schema.action_named(group).is_none() {
                return Err(format!(
                    "the action `{group}`, which the schema does not declare"
                ));
            }
            for action in self.schema.expand_group(group) {
                if !out.contains(&action) {
                    out.push(action);
                }
            }
        }
        let order = |a: &String| self.schema.actions.iter().position(|x| &x.name == a);
        out.sort_by_key(order);
        if out.is_empty() {
            return Err(format!(
                "the actions {}: none of them, nor any action in them, can be named by a request (no `appliesTo`)",
                groups
                    .iter()
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(out)
    }
}

/// The EST node `{op: {k: v, …}}`, built by moving the values (`json!` would serialize
/// them again: quadratic on long chains).
pub fn node<const N: usize>(op: &str, fields: [(&str, Value); N]) -> Value {
    let inner: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let mut outer = Map::new();
    outer.insert(op.to_owned(), Value::Object(inner));
    Value::Object(outer)
}

/// The one key and value of a JSON object.
pub fn single_entry(e: &Value) -> Option<(&str, &Value)> {
    let obj: &Map<String, Value> = e.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// Adds the `(receiver, attribute)` pairs that `e`, a condition on the left of `&&`,
/// guarantees present when it holds: its `has` tests, through nested `&&`.
fn has_tests(e: &Value, out: &mut Vec<(Value, String)>) {
    match single_entry(e) {
        Some(("&&", arg)) => {
            if let (Some(l), Some(r)) = (arg.get("left"), arg.get("right")) {
                has_tests(l, out);
                has_tests(r, out);
            }
        }
        Some(("hasTag", _)) => out.push((e.clone(), TAG_GUARD.to_owned())),
        Some(("has", arg)) => {
            let Some(mut receiver) = arg.get("left").cloned() else {
                return;
            };
            let path: Vec<&str> = match arg.get("attr") {
                Some(Value::String(a)) => vec![a.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for attr in path {
                out.push((receiver.clone(), attr.to_owned()));
                receiver = node(
                    ".",
                    [("left", receiver), ("attr", Value::String(attr.to_owned()))],
                );
            }
        }
        _ => {}
    }
}

/// The operands of the chain of `op` (`&&` or `||`) at `e`, left to right.
fn flatten<'v>(op: &str, e: &'v Value, out: &mut Vec<&'v Value>) {
    // Iterative along the left spine (Cedar nests `a && b && c` to the left), recursive
    // only into right operands that are chains themselves.
    let mut spine = Vec::new();
    let mut cur = e;
    while let Some((k, arg)) = single_entry(cur) {
        if k != op {
            break;
        }
        let (Some(left), Some(right)) = (arg.get("left"), arg.get("right")) else {
            break;
        };
        spine.push(right);
        cur = left;
    }
    out.push(cur);
    for right in spine.into_iter().rev() {
        if matches!(single_entry(right), Some((k, _)) if k == op) {
            flatten(op, right, out);
        } else {
            out.push(right);
        }
    }
}

/// Whether `e` is `context` or a field of it, at any depth.
fn in_context(e: &Value) -> bool {
    match single_entry(e) {
        Some(("Var", Value::String(v))) => v == "context",
        Some((".", arg)) => arg.get("left").is_some_and(in_context),
        _ => false,
    }
}

fn field_of<'v>(arg: &'v Value, key: &str) -> Result<&'v Value, String> {
    arg.get(key)
        .ok_or_else(|| format!("an expression without its `{key}`"))
}

fn str_of<'v>(arg: &'v Value, key: &str) -> Result<&'v str, String> {
    field_of(arg, key)?
        .as_str()
        .ok_or_else(|| format!("an expression whose `{key}` is not a string"))
}

fn is_action_var(e: &Value) -> bool {
    matches!(single_entry(e), Some(("Var", Value::String(v))) if v == "action")
}

fn literal_string(e: &Value) -> Option<&str> {
    match single_entry(e) {
        Some(("Value", Value::String(s))) => Some(s),
        _ => None,
    }
}

/// A Cedar `like` pattern (literal pieces and wildcards) as the text of a Rampart `like`
/// pattern, where `*` is the wildcard and `\*` a literal star.
fn like_pattern(pattern: &Value) -> Result<String, String> {
    let elems = pattern
        .as_array()
        .ok_or_else(|| "a `like` pattern that is not a list".to_owned())?;
    let mut out = String::new();
    for elem in elems {
        match elem {
            Value::String(w) if w == "Wildcard" => {
                if out.ends_with('\\') {
                    // `\` then a wildcard would read as a literal star in Rampart.
                    return Err(
                        "a `like` pattern with a literal `\\` right before a wildcard".to_owned(),
                    );
                }
                out.push('*');
            }
            Value::Object(o) => {
                let lit = o
                    .get("Literal")
                    .and_then(Value::as_str)
                    .ok_or_else(|| "a `like` pattern element that is not understood".to_owned())?;
                for c in lit.chars() {
                    if c == '*' {
                        out.push_str("\\*");
                    } else {
                        out.push(c);
                    }
                }
            }
            _ => return Err("a `like` pattern element that is not understood".to_owned()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The Rampart text of a Cedar condition (no schema: no entity or action names).
    fn rampart(cond: &str) -> Result<String, String> {
        let text = format!("permit (principal, action, resource) when {{ {cond} }};");
        let policy: cedar_policy::Policy = text.parse().map_err(|e| format!("{e}"))?;
        let est = policy.to_json().map_err(|e| e.to_string())?;
        let body = est
            .get("conditions")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("body"))
            .cloned()
            .ok_or("no body")?;
        let schema = CedarSchema::default();
        Translator::new(&schema).condition(&body).map(|o| o.text)
    }

    #[test]
    fn operands_are_parenthesised_exactly_where_rampart_needs_it() {
        let cases = [
            (
                r#"principal.hasTag("x") && principal.getTag("x") == "y""#,
                r#"principal.has_tag("x") and principal.get_tag("x") == "y""#,
            ),
            (
                "(if true then resource else principal).getTag(context.k).isEmpty()",
                "(if true then resource else principal).get_tag(context.k) == []",
            ),
            ("1 - (2 - 3) == 0", "1 - (2 - 3) == 0"),
            ("(1 - 2) - 3 == 0", "1 - 2 - 3 == 0"),
            ("2 * (3 + 4) > 0", "2 * (3 + 4) > 0"),
            ("-(1 + 2) < 0", "-(1 + 2) < 0"),
            ("!(true || false)", "not (true or false)"),
            ("(true || false) && true", "(true or false) and true"),
            ("true || false && true", "true or false and true"),
            ("!(1 < 2)", "not 1 < 2"),
            ("[1, 2].contains(1)", "[1, 2].contains(1)"),
            ("context.a.containsAll([1])", "context.a.contains_all([1])"),
            (r#""a*b" like "a\*b*""#, r#""a*b" like "a\\*b*""#),
            (
                "true || context has a.b",
                "true or context has a and context.a has b",
            ),
            (
                "!(context has a.b)",
                "not (context has a and context.a has b)",
            ),
            (
                r#"context["x-y"] == {"x-y": 1, a: [2]}"#,
                // Cedar keeps record fields sorted.
                r#"context["x-y"] == { a: [2], "x-y": 1 }"#,
            ),
            (
                r#"ip("10.0.0.1").isInRange(ip("10.0.0.0/8"))"#,
                "10.0.0.1 in 10.0.0.0/8",
            ),
            (
                "if context.a then context.b else false",
                "if context.a then context.b else false",
            ),
            (
                "(if context.a then 1 else 2) > 0 && true",
                "(if context.a then 1 else 2) > 0 and true",
            ),
            ("principal is User", "principal is User"),
            (
                r#"principal is User in Group::"g""#,
                r#"principal is User and principal in Group::"g""#,
            ),
            (
                r#"context.t.toTime() > duration("1h")"#,
                "context.t.time_of_day > 1h",
            ),
            ("context.d.toHours() < 2", "context.d.hours < 2"),
            (
                r#"context.price.lessThanOrEqual(decimal("12.50"))"#,
                "context.price <= 12.5",
            ),
            (
                r#"decimal("-0.5").greaterThan(context.price)"#,
                "-0.5 > context.price",
            ),
        ];
        for (cedar, want) in cases {
            assert_eq!(rampart(cedar).as_deref(), Ok(want), "{cedar}");
        }
    }

    /// An unguarded `getTag` can fail (a forbid then carries the fail-closed note); one
    /// guarded by a `hasTag` of the same entity and key cannot.
    #[test]
    fn tag_reads_that_can_fail() {
        let can_error = |cond: &str| {
            let text = format!("permit (principal, action, resource) when {{ {cond} }};");
            let policy: Result<cedar_policy::Policy, _> = text.parse();
            let body = policy
                .ok()
                .and_then(|p| p.to_json().ok())
                .and_then(|est| est.get("conditions")?.get(0)?.get("body").cloned());
            let schema = CedarSchema::default();
            let mut tr = Translator::new(&schema);
            let ok = body.is_some_and(|b| tr.condition(&b).is_ok());
            assert!(ok, "{cond}");
            tr.notes.can_error
        };
        assert!(can_error(r#"principal.getTag("x") == "y""#));
        assert!(!can_error(
            r#"principal.hasTag("x") && principal.getTag("x") == "y""#
        ));
        assert!(can_error(
            r#"principal.hasTag("x") && principal.getTag("z") == "y""#
        ));
        assert!(!can_error(r#"principal.hasTag("x")"#));
    }

    #[test]
    fn refusals_name_the_construct() {
        let refused = |cedar: &str, part: &str| {
            let err = rampart(cedar).err().unwrap_or_default();
            assert!(err.contains(part), "{cedar}: {err}");
        };
        refused(
            r#"decimal("1.23456") == context.x"#,
            "not a decimal Rampart can read",
        );
        refused(r#"ip(context.s).isIpv4()"#, "of a computed string");
        refused("action == context.a", "other than an action literal");
    }

    #[test]
    fn like_patterns_escape_literal_stars() {
        let p = json!([{"Literal": "a*"}, "Wildcard", {"Literal": "b"}]);
        assert_eq!(like_pattern(&p).as_deref(), Ok("a\\**b"));
        let bad = json!([{"Literal": "a\\"}, "Wildcard"]);
        assert!(like_pattern(&bad).is_err());
    }
}
