//! `principal` mappings: who the caller is when the request does not say.

use rampart_engine::bundle::{self as ir, Expr};
use rampart_engine::Value;

use super::session::Session;
use crate::ast::{self, Item};
use crate::check::expr::Env;
use crate::check::types::Type;
use crate::check::FileId;

/// Compiles every principal mapping, in file and source order.
pub(crate) fn compile_all(session: &mut Session<'_>) -> Vec<ir::PrincipalMapping> {
    let program = session.program;
    let mut out = Vec::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for item in &file.ast.items {
            if let Item::Principal(mapping) = item {
                if let Some(m) = compile_one(session, file_id, file.package, mapping) {
                    out.push(m);
                }
            }
        }
    }
    out
}

fn compile_one(
    session: &mut Session<'_>,
    file: FileId,
    package: u32,
    mapping: &ast::PrincipalMap,
) -> Option<ir::PrincipalMapping> {
    let env = Env::mapping(Type::Record(session.schema.context.clone()));
    let typed = session.cx(file, &env).check(&mapping.entity, None);
    let when = mapping
        .when
        .as_ref()
        .map(|e| session.condition(file, &env, e))
        .unwrap_or_default();
    let (entity_type, id) = match (typed.ty, typed.ir) {
        (Type::Entity(ids), Expr::EntityCtor(ty, id)) if ids.len() == 1 => (ty, *id),
        (Type::Entity(_), Expr::Const(Value::Entity(uid))) => {
            (uid.ty, Expr::Const(Value::String(uid.id)))
        }
        (Type::Error, _) => return None,
        (other, _) => {
            let mut cx = session.cx(file, &env);
            cx.mismatch(
                mapping.entity.span,
                "an entity, like `User::{context.auth.subject}`",
                &other,
                None,
            );
            return None;
        }
    };
    Some(ir::PrincipalMapping {
        entity_type,
        id,
        when,
        package,
    })
}
