//! The compiled policy set: the engine's intermediate representation.
//!
//! A [`Bundle`] is what `rampart-lang` produces and what every door of the engine loads.
//! Everything that does not depend on a request is already done: names are resolved to
//! indexes into the bundle's tables (entity types, enums, actions, symbols), constants are
//! folded, glob patterns are split into pieces and regexes are validated (they are compiled
//! once when the bundle is loaded, since compiled automata are not serializable).
//!
//! The bundle is plain data with `serde` derives; [`Bundle::to_json`] and
//! [`Bundle::from_json`] are its file format (`rampart build -o FILE`). The format carries
//! [`BUNDLE_FORMAT`] and [`BUNDLE_VERSION`]; a loader refuses any other version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::value::{EntityUid, Value};

/// The `format` field of every bundle file.
pub const BUNDLE_FORMAT: &str = "rampart-bundle";
/// Bumped on every incompatible change of the IR.
pub const BUNDLE_VERSION: u32 = 1;

/// Index into [`Schema::entity_types`]. Index 0 is always the builtin `Anonymous` type.
pub type TypeId = u32;
/// Index into [`Schema::enums`].
pub type EnumId = u32;
/// Index into [`Schema::actions`].
pub type ActionId = u32;
/// Index into [`Bundle::symbols`]: an interned attribute or field name.
pub type Sym = u32;
/// Index into [`Bundle::packages`].
pub type PackageId = u32;

/// The name of the builtin principal type of requests no `principal` mapping matched.
pub const ANONYMOUS_TYPE: &str = "Anonymous";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Always [`BUNDLE_VERSION`] for bundles this engine can load.
    pub version: u32,
    /// A content hash of the policy sources, in hex; identifies what is deployed.
    pub revision: String,
    /// Interned attribute and field names; [`Sym`] indexes this table.
    pub symbols: Vec<String>,
    pub schema: Schema,
    pub packages: Vec<Package>,
    pub rules: Vec<Rule>,
    pub obligations: Vec<Obligation>,
    pub routes: Vec<Route>,
    /// `principal` mappings, in declaration order (first match wins).
    pub principals: Vec<PrincipalMapping>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// Dotted name: `payments`, `std.zerotrust`.
    pub name: String,
    /// Packages this one imports, directly.
    pub imports: Vec<PackageId>,
}

// ---------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Entity types; `entity_types[0]` is `Anonymous` (no attributes, no parents).
    pub entity_types: Vec<EntityType>,
    pub enums: Vec<EnumType>,
    pub actions: Vec<ActionType>,
    /// The full type of `context`: builtin fields plus the schema's `context { }` extensions
    /// (action-specific fields are in [`ActionType::context`]).
    pub context: RecordType,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityType {
    pub name: String,
    pub attrs: RecordType,
    /// Types an entity of this type may have as parents.
    pub parents: Vec<TypeId>,
    /// The type of every tag value (`entity User tags String`); `None`: the type has no
    /// tags. Tags are string-keyed, chosen by the data, apart from the attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Ty>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: String,
    pub variants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionType {
    /// `payments:write`
    pub name: String,
    /// `None`: any resource type.
    pub resources: Option<Vec<TypeId>>,
    /// `None`: any principal type.
    pub principals: Option<Vec<TypeId>>,
    /// Extra context fields this action carries.
    pub context: RecordType,
}

/// A record type: fields sorted by symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordType {
    pub fields: Vec<FieldType>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldType {
    pub name: Sym,
    pub ty: Ty,
    /// Absent values are allowed (reading one is an evaluation error unless guarded by `has`).
    pub optional: bool,
    /// Used when the field is absent from request data (builtin context only, e.g.
    /// `auth.method = none`, `auth.scopes = []`, `tls.mtls = false`).
    pub default: Option<Value>,
}

/// A value type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Bool,
    Int,
    String,
    Ip,
    Duration,
    Timestamp,
    /// Fixed-point, four digits after the point ([`crate::decimal`]).
    Decimal,
    Tls,
    Enum(EnumId),
    Entity(TypeId),
    /// An entity of any type (the type of `principal` when a rule covers several).
    AnyEntity,
    Set(Box<Ty>),
    Record(Box<RecordType>),
    /// String keys chosen by the data: `headers`, `claims`.
    Map(Box<Ty>),
    /// Anything JSON can say (claim values); checked at run time.
    Any,
}

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Allow,
    Deny,
    /// `require C for SCOPE [when W] [unless U]` = deny SCOPE when W unless (U or C).
    Require,
}

/// Which requests a rule or obligation is about. `None` = any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub actions: Option<Vec<ActionId>>,
    pub resources: Option<Vec<TypeId>>,
    /// For `allow` rules, `None` matches every principal type *except* `Anonymous`; for
    /// deny/require/obligations it matches every type. `Some` lists exactly the types.
    pub principals: Option<Vec<TypeId>>,
    /// `on Doc in Folder::"f"`, `on Doc::"d"`: the resource must also be that entity (or,
    /// for `in`, one of its descendants). Checked before any condition; never fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_head: Option<Head>,
    /// `for User in Group::"g"`, `for User::"alice"`: the same for the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_head: Option<Head>,
}

impl Scope {
    /// Whether the scope names entities, not only types.
    pub fn has_head(&self) -> bool {
        self.resource_head.is_some() || self.principal_head.is_some()
    }
}

/// The entity part of a scope (Cedar's `principal == E`, `principal in E`): the rule
/// covers a request only if its principal (or resource) is one of `entities`, or, for
/// [`HeadOp::In`], a descendant of one. The rule index files rules under these entities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub op: HeadOp,
    /// At least one entity (the loader refuses none).
    pub entities: Vec<EntityUid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadOp {
    /// `for User::"alice"`: the entity itself.
    Eq,
    /// `for User in Group::"g"`: the entity or any descendant of it.
    In,
}

/// A condition: a list of conjuncts (the top-level `and`s of what was written), each with
/// its source text so `--explain` can say which one decided.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub conjuncts: Vec<Conjunct>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conjunct {
    pub expr: Expr,
    /// The formatted source of this conjunct.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// From `@id`, else generated and stable: `{package}.{kind}-{hash}`.
    pub id: String,
    pub kind: RuleKind,
    pub package: PackageId,
    pub scope: Scope,
    /// All must hold for the rule to be considered (empty = true).
    pub when: Condition,
    /// If all of these hold, the rule does not apply (`None` = no `unless`).
    pub unless: Option<Condition>,
    /// The required condition of a `require` rule; the rule applies when it does NOT hold.
    pub require: Option<Condition>,
    pub reason: Option<String>,
    /// `@control(...)` ids, in order, deduplicated.
    pub controls: Vec<String>,
    /// Every other annotation, kept as metadata (`@severity("high")`).
    pub annotations: BTreeMap<String, Vec<String>>,
    pub source: Option<SourceLoc>,
}

/// Where a rule was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoc {
    pub file: String,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Obligation {
    pub id: String,
    pub package: PackageId,
    pub scope: Scope,
    pub when: Condition,
    pub unless: Option<Condition>,
    pub kind: ObligationKind,
    pub controls: Vec<String>,
    pub annotations: BTreeMap<String, Vec<String>>,
    pub source: Option<SourceLoc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObligationKind {
    Mask { fields: Vec<String> },
    RateLimit { limit: u64, per_ms: i64, key: Expr },
    RequestHeader { name: String, value: Expr },
    ResponseHeader { name: String, value: Expr },
    RemoveHeader { name: String },
}

// ---------------------------------------------------------------------------------------
// Routes and principal mappings
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Upper-case HTTP method; `None` = any method.
    pub method: Option<String>,
    pub segments: Vec<Segment>,
    pub action: ActionId,
    /// Evaluated with [`Expr::Param`] bound to the path parameters (in `params` order).
    pub resource: Expr,
    pub params: Vec<String>,
    pub package: PackageId,
    /// The path template as written, for messages.
    pub template: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// A literal path segment.
    Literal(String),
    /// `{name}`: one segment, bound to parameter `index`.
    Param(u32),
    /// `{name*}`: the rest of the path (one or more segments), bound to parameter `index`.
    Rest(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrincipalMapping {
    pub entity_type: TypeId,
    /// A String-valued expression giving the entity id.
    pub id: Expr,
    pub when: Condition,
    pub package: PackageId,
}

// ---------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------

/// A compiled expression. Names are resolved; constants are folded into [`Expr::Const`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Const(Value),
    Principal,
    /// The action name, a String.
    Action,
    Resource,
    Context,
    /// The request's time (`context.time`); an error when the request has none.
    Now,
    /// A route path parameter (only inside [`Route::resource`]).
    Param(u32),
    /// `e.name` on a record or entity.
    Attr(Box<Expr>, Sym),
    /// `e["key"]` on a map, a record or an entity.
    Index(Box<Expr>, String),
    /// `e has name`.
    Has(Box<Expr>, String),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A part of a timestamp or duration: `now.time_of_day`, `d.hours`.
    TimePart(Box<Expr>, TimePart),
    /// `e is Type`: whether the entity `e` is of the entity type.
    Is(Box<Expr>, TypeId),
    /// `e.has_tag(k)`: whether the entity `e` has the tag named by the string `k` (false
    /// for an entity missing from the data).
    HasTag(Box<Expr>, Box<Expr>),
    /// `e.get_tag(k)`: the value of the entity's tag `k`; an evaluation error when the tag
    /// is absent or the entity is missing from the data.
    GetTag(Box<Expr>, Box<Expr>),
    /// `Type::{e}`
    EntityCtor(TypeId, Box<Expr>),
    /// A set with at least one non-constant element.
    Set(Vec<Expr>),
    /// A record with at least one non-constant field; fields sorted by symbol.
    Record(Vec<(Sym, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Like(Box<Expr>, Glob),
    /// The pattern is compiled when the bundle is loaded.
    Matches(Box<Expr>, String),
}

/// What `.name` reads from a timestamp or a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePart {
    /// Timestamp → Duration since midnight UTC (Cedar's `toTime()`).
    TimeOfDay,
    /// Timestamp → the Timestamp of that day's midnight UTC (Cedar's `toDate()`).
    Date,
    /// Timestamp → Int, the ISO weekday in UTC: 1 Monday … 7 Sunday.
    Weekday,
    /// Duration → Int, whole days, hours, minutes, seconds or milliseconds, truncated
    /// toward zero (Cedar's `toDays()` … `toMilliseconds()`).
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

impl TimePart {
    /// The part named `name` of a timestamp (`timestamp: true`) or a duration.
    pub fn named(name: &str, timestamp: bool) -> Option<TimePart> {
        Some(match (name, timestamp) {
            ("time_of_day", true) => TimePart::TimeOfDay,
            ("date", true) => TimePart::Date,
            ("weekday", true) => TimePart::Weekday,
            ("days", false) => TimePart::Days,
            ("hours", false) => TimePart::Hours,
            ("minutes", false) => TimePart::Minutes,
            ("seconds", false) => TimePart::Seconds,
            ("milliseconds", false) => TimePart::Milliseconds,
            _ => return None,
        })
    }

    /// The name written after the `.`.
    pub fn name(self) -> &'static str {
        match self {
            TimePart::TimeOfDay => "time_of_day",
            TimePart::Date => "date",
            TimePart::Weekday => "weekday",
            TimePart::Days => "days",
            TimePart::Hours => "hours",
            TimePart::Minutes => "minutes",
            TimePart::Seconds => "seconds",
            TimePart::Milliseconds => "milliseconds",
        }
    }

    /// The parts of a timestamp or of a duration, for messages.
    pub fn names(timestamp: bool) -> &'static [&'static str] {
        if timestamp {
            &["time_of_day", "date", "weekday"]
        } else {
            &["days", "hours", "minutes", "seconds", "milliseconds"]
        }
    }

    /// The part of `value`; `None` when it is not of the part's kind.
    pub fn of(self, value: &crate::Value) -> Option<crate::Value> {
        use crate::Value;
        const DAY: i64 = 86_400_000;
        match (self, value) {
            (TimePart::TimeOfDay, Value::Timestamp(ms)) => {
                Some(Value::Duration(ms.rem_euclid(DAY)))
            }
            (TimePart::Date, Value::Timestamp(ms)) => {
                Some(Value::Timestamp(ms.div_euclid(DAY).saturating_mul(DAY)))
            }
            // 1970-01-01 was a Thursday (ISO weekday 4).
            (TimePart::Weekday, Value::Timestamp(ms)) => Some(Value::Int(
                ms.div_euclid(DAY)
                    .saturating_add(3)
                    .rem_euclid(7)
                    .saturating_add(1),
            )),
            (TimePart::Days, Value::Duration(ms)) => Some(Value::Int(ms / DAY)),
            (TimePart::Hours, Value::Duration(ms)) => Some(Value::Int(ms / 3_600_000)),
            (TimePart::Minutes, Value::Duration(ms)) => Some(Value::Int(ms / 60_000)),
            (TimePart::Seconds, Value::Duration(ms)) => Some(Value::Int(ms / 1_000)),
            (TimePart::Milliseconds, Value::Duration(ms)) => Some(Value::Int(*ms)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Set membership, CIDR containment or entity hierarchy, by the operands' values.
    In,
    Contains,
    ContainsAny,
    ContainsAll,
    HasScope,
    Add,
    Sub,
    Mul,
}

/// A compiled `like` pattern: literal pieces separated by `*` wildcards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Glob {
    /// The text between wildcards; `pieces.len() == stars + 1`.
    pub pieces: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::TimePart;
    use crate::Value;

    #[test]
    fn time_parts_at_the_edges() {
        let day = 86_400_000;
        // Before the epoch: 1969-12-31T23:00:00Z, a Wednesday.
        let t = Value::Timestamp(-3_600_000);
        assert_eq!(
            TimePart::TimeOfDay.of(&t),
            Some(Value::Duration(23 * 3_600_000))
        );
        assert_eq!(TimePart::Date.of(&t), Some(Value::Timestamp(-day)));
        assert_eq!(TimePart::Weekday.of(&t), Some(Value::Int(3)));
        assert_eq!(
            TimePart::Weekday.of(&Value::Timestamp(0)),
            Some(Value::Int(4))
        );
        // Truncated toward zero, as Cedar's toHours().
        let d = Value::Duration(-90 * 60_000);
        assert_eq!(TimePart::Hours.of(&d), Some(Value::Int(-1)));
        assert_eq!(TimePart::Minutes.of(&d), Some(Value::Int(-90)));
        assert_eq!(
            TimePart::Days.of(&Value::Duration(i64::MIN)),
            Some(Value::Int(i64::MIN / day))
        );
        // Extremes never overflow.
        assert!(TimePart::Date.of(&Value::Timestamp(i64::MIN)).is_some());
        assert!(TimePart::Weekday.of(&Value::Timestamp(i64::MAX)).is_some());
        // The wrong kind is no part.
        assert_eq!(TimePart::Hours.of(&t), None);
        assert_eq!(TimePart::Date.of(&Value::Int(1)), None);
        for timestamp in [true, false] {
            for name in TimePart::names(timestamp) {
                let part = TimePart::named(name, timestamp);
                assert_eq!(part.map(TimePart::name), Some(*name));
            }
        }
    }
}
