//! Syntax tree of a filter expression.

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// A parse error with the position it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}..{}", self.message, self.span.start, self.span.end)
    }
}

impl std::error::Error for ParseError {}

/// A boolean expression. `&&` binds tighter than `||`; parentheses only shape the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more operands joined with `||`.
    Or(Vec<Expr>),
    /// Two or more operands joined with `&&`.
    And(Vec<Expr>),
    Cmp(Comparison),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Operand,
    pub op: Op,
    pub right: Operand,
    pub span: Span,
}

/// Comparison operators. The `Any*` forms are the `?`-prefixed "at least one" variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    Like,
    NotLike,
    Lt,
    Lte,
    Gt,
    Gte,
    AnyEq,
    AnyNeq,
    AnyLike,
    AnyNotLike,
    AnyLt,
    AnyLte,
    AnyGt,
    AnyGte,
}

impl Op {
    /// True for the `?`-prefixed forms.
    pub fn is_any(self) -> bool {
        matches!(
            self,
            Op::AnyEq
                | Op::AnyNeq
                | Op::AnyLike
                | Op::AnyNotLike
                | Op::AnyLt
                | Op::AnyLte
                | Op::AnyGt
                | Op::AnyGte
        )
    }

    /// The operator without its `?` prefix.
    pub fn base(self) -> Op {
        match self {
            Op::AnyEq => Op::Eq,
            Op::AnyNeq => Op::Neq,
            Op::AnyLike => Op::Like,
            Op::AnyNotLike => Op::NotLike,
            Op::AnyLt => Op::Lt,
            Op::AnyLte => Op::Lte,
            Op::AnyGt => Op::Gt,
            Op::AnyGte => Op::Gte,
            other => other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "!=",
            Op::Like => "~",
            Op::NotLike => "!~",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::AnyEq => "?=",
            Op::AnyNeq => "?!=",
            Op::AnyLike => "?~",
            Op::AnyNotLike => "?!~",
            Op::AnyLt => "?<",
            Op::AnyLte => "?<=",
            Op::AnyGt => "?>",
            Op::AnyGte => "?>=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An identifier as written: `title`, `author.name`, `@request.auth.id`, `tags:length`,
    /// `@collection.users:u.email`, `@now`. Interpretation belongs to the resolver.
    Ident { name: String, span: Span },
    /// A number literal; `raw` is the source text (`-1.5`).
    Number { value: f64, raw: String, span: Span },
    /// A quoted text literal with its escapes resolved.
    Text { value: String, span: Span },
    /// `name(arg, ...)`.
    Func { name: String, args: Vec<Operand>, span: Span },
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Ident { span, .. }
            | Operand::Number { span, .. }
            | Operand::Text { span, .. }
            | Operand::Func { span, .. } => *span,
        }
    }
}
