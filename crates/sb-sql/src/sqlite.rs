//! sqlite rendering.

use crate::{Rendered, Stmt};

pub(crate) fn render(stmt: &Stmt) -> Rendered {
    let _ = stmt;
    unimplemented!("sqlite rendering")
}
