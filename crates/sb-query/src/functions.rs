//! Filter functions (spec §4.9): `geoDistance` and `strftime`.

use sb_filter::Operand as Token;
use sb_sql::{Expr, Ty, Typed};

use crate::QueryError;
use crate::context::{Ctx, Frame, err};
use crate::operand::{Fallback, MultiMatch, Operand, merged_shape};

/// Maximum number of `strftime` arguments.
const MAX_STRFTIME_ARGS: usize = 10;

pub(crate) fn resolve(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    name: &str,
    args: &[Token],
) -> Result<Operand, QueryError> {
    match name {
        "geoDistance" => geo_distance(ctx, frame, args),
        "strftime" => strftime(ctx, frame, args),
        _ => Err(err(format!("unknown function {name:?}"))),
    }
}

fn typed(op: &Operand) -> Box<Typed> {
    Box::new(Typed::new(op.expr.clone(), op.ty))
}

/// Great-circle distance in km between (lonA, latA) and (lonB, latB). Multi-valued arguments
/// are not constrained to ALL (as in PocketBase).
fn geo_distance(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    args: &[Token],
) -> Result<Operand, QueryError> {
    let [a, b, c, d] = args else {
        return Err(err(format!("[geoDistance] expected 4 arguments, got {}", args.len())));
    };
    let mut ops = Vec::with_capacity(4);
    for (i, arg) in [a, b, c, d].into_iter().enumerate() {
        if !matches!(arg, Token::Ident { .. } | Token::Number { .. }) {
            return Err(err(format!("[geoDistance] argument {i} must be an identifier or number")));
        }
        ops.push(crate::resolve::resolve_operand(ctx, frame, arg)?);
    }
    let [lon_a, lat_a, lon_b, lat_b] = ops.as_slice() else {
        return Err(err("[geoDistance] expected 4 arguments"));
    };
    let expr = Expr::GeoDistance {
        lon_a: typed(lon_a),
        lat_a: typed(lat_a),
        lon_b: typed(lon_b),
        lat_b: typed(lat_b),
    };
    let refs: Vec<&Operand> = ops.iter().collect();
    let mut op = Operand::new(expr, Ty::Number, merged_shape(&refs));
    op.fallback = Fallback::Disabled;
    op.uses_joins = ops.iter().any(|o| o.uses_joins);
    Ok(op)
}

/// SQLite's `strftime(format, time, modifiers...)`. The result takes part in `=` with the
/// NULL fallback enforced (a NULL result equals `''`).
fn strftime(ctx: &mut Ctx<'_, '_>, frame: &Frame, args: &[Token]) -> Result<Operand, QueryError> {
    if args.is_empty() || args.len() > MAX_STRFTIME_ARGS {
        return Err(err(format!(
            "[strftime] expected 1 to {MAX_STRFTIME_ARGS} arguments, got {}",
            args.len()
        )));
    }
    let (format_arg, rest) = args.split_first().ok_or_else(|| err("[strftime] missing format"))?;
    if !matches!(format_arg, Token::Text { .. }) {
        return Err(err("[strftime] expects the first argument to be a format string"));
    }
    let format = crate::resolve::resolve_operand(ctx, frame, format_arg)?;
    let Some((time_arg, modifier_args)) = rest.split_first() else {
        let mut op = Operand::new(
            Expr::Strftime { format: Box::new(format.expr.clone()), time: None, modifiers: vec![] },
            Ty::Text,
            format.shape,
        );
        op.fallback = Fallback::Enforced;
        return Ok(op);
    };
    if matches!(time_arg, Token::Func { .. }) {
        return Err(err("[strftime] expects the second argument to be of a valid time-value type"));
    }
    let time = crate::resolve::resolve_operand(ctx, frame, time_arg)?;
    let mut modifiers = Vec::with_capacity(modifier_args.len());
    for (i, m) in modifier_args.iter().enumerate() {
        if !matches!(m, Token::Text { .. }) {
            return Err(err(format!(
                "[strftime] invalid modifier argument {i} - can be only string"
            )));
        }
        modifiers.push(crate::resolve::resolve_operand(ctx, frame, m)?);
    }

    let build = |time_expr: Expr| Expr::Strftime {
        format: Box::new(format.expr.clone()),
        time: Some(Box::new(Typed::new(time_expr, time.ty))),
        modifiers: modifiers.iter().map(|m| m.expr.clone()).collect(),
    };
    let mut refs = vec![&format, &time];
    refs.extend(modifiers.iter());
    let mut op = Operand::new(build(time.expr.clone()), Ty::Text, merged_shape(&refs));
    op.fallback = Fallback::Enforced;
    op.uses_joins = time.uses_joins;
    if let Some(mm) = &time.multi {
        op.multi = Some(MultiMatch { joins: mm.joins.clone(), value: build(mm.value.clone()) });
    }
    Ok(op)
}
