//! The syntax tree of the script subset the built-in engine understands.
//!
//! Every node that can fail at run time carries an [`Extent`] so that error records can report
//! `ScriptLineNumber`, `OffsetInLine`, `Line` and `PositionMessage` the way PowerShell does.

/// A byte range of the script text (`start..end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extent {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

/// A whole script (or script block body): statements run one after the other.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What the statement does.
    pub kind: StatementKind,
    /// Where it is in the script text.
    pub extent: Extent,
}

/// The kinds of statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// A pipeline whose output goes to the enclosing output.
    Pipeline(Pipeline),
    /// `$name = <pipeline>`: the pipeline's output is stored in a variable (nothing is written).
    Assignment {
        /// The variable name, without `$`.
        variable: String,
        /// The value.
        value: Pipeline,
    },
    /// `if (<cond>) { } elseif (<cond>) { } else { }`.
    If {
        /// Each condition with the block it guards, in order.
        clauses: Vec<(Pipeline, Script)>,
        /// The `else` block.
        else_body: Option<Script>,
    },
    /// `while (<cond>) { }`.
    While {
        /// The loop condition.
        condition: Pipeline,
        /// The loop body.
        body: Script,
    },
    /// `foreach ($item in <pipeline>) { }`.
    Foreach {
        /// The loop variable name, without `$`.
        variable: String,
        /// The collection.
        collection: Pipeline,
        /// The loop body.
        body: Script,
    },
    /// `throw [<pipeline>]`: a terminating error.
    Throw(Option<Pipeline>),
}

/// A pipeline: an optional leading expression followed by commands joined with `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The elements; only the first may be an expression.
    pub elements: Vec<PipelineElement>,
    /// Where it is in the script text.
    pub extent: Extent,
}

/// One element of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineElement {
    /// An expression (only as the first element): its value is enumerated into the pipeline.
    Expression(Expr),
    /// A command invocation.
    Command(CommandCall),
}

/// How a command is named.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandName {
    /// A bare name such as `Get-Process` or `\\server\share\script.ps1`.
    Name(String),
    /// `& <expression>`: the call operator on a string or a script block.
    Invoke(Box<Expr>),
}

/// A command with its parameters and arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandCall {
    /// The command.
    pub name: CommandName,
    /// Parameters and arguments in source order.
    pub elements: Vec<CommandElement>,
    /// Where it is in the script text.
    pub extent: Extent,
}

/// One parameter or argument of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandElement {
    /// `-Name` or `-Name:<value>`.
    Parameter {
        /// The parameter name as written, without `-`.
        name: String,
        /// The value given with `:`, if any.
        argument: Option<Expr>,
        /// Where it is in the script text.
        extent: Extent,
    },
    /// A positional argument, or the value following a non-switch parameter.
    Argument(Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Subtract,
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%`
    Remainder,
    /// `..`
    Range,
    /// `-eq`
    Eq,
    /// `-ne`
    Ne,
    /// `-gt`
    Gt,
    /// `-ge`
    Ge,
    /// `-lt`
    Lt,
    /// `-le`
    Le,
    /// `-like`
    Like,
    /// `-notlike`
    NotLike,
    /// `-and`
    And,
    /// `-or`
    Or,
}

impl BinaryOp {
    /// The operator as written in PowerShell.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Remainder => "%",
            BinaryOp::Range => "..",
            BinaryOp::Eq => "-eq",
            BinaryOp::Ne => "-ne",
            BinaryOp::Gt => "-gt",
            BinaryOp::Ge => "-ge",
            BinaryOp::Lt => "-lt",
            BinaryOp::Le => "-le",
            BinaryOp::Like => "-like",
            BinaryOp::NotLike => "-notlike",
            BinaryOp::And => "-and",
            BinaryOp::Or => "-or",
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Negate,
    /// `!x` or `-not x`
    Not,
}

/// A literal constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number that fits `System.Int32`.
    Int(i32),
    /// A number that needs `System.Int64` (or has the `L` suffix).
    Long(i64),
    /// A number with a fraction or exponent, or too big for `Int64`.
    Double(f64),
    /// A single-quoted string or a bare word in argument mode.
    String(String),
}

/// A part of a double-quoted (expandable) string.
#[derive(Debug, Clone, PartialEq)]
pub enum StringPart {
    /// Literal text (escapes already resolved).
    Text(String),
    /// `$name` or `${name}`.
    Variable(String),
    /// `$( ... )`.
    SubExpression(Script),
}

/// A script block literal `{ ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptBlockAst {
    /// The text between the braces, as written.
    pub text: String,
    /// The parsed body.
    pub body: Script,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Literal),
    /// A double-quoted string with variable expansion.
    Expandable(Vec<StringPart>),
    /// `$name` (`$true`, `$false` and `$null` included), without `$`.
    Variable(String),
    /// `<expr>.Name`.
    Member(Box<Expr>, String),
    /// `<expr>[<index>]`.
    Index(Box<Expr>, Box<Expr>),
    /// `a, b, c`.
    Array(Vec<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A unary operation.
    Unary(UnaryOp, Box<Expr>),
    /// `( <pipeline> )`.
    Paren(Box<Pipeline>),
    /// `$( ... )`: the output of the statements.
    SubExpression(Script),
    /// `@( ... )`: the output of the statements, always as an array.
    ArrayExpression(Script),
    /// `@{ key = value; ... }`.
    Hashtable(Vec<(Expr, Pipeline)>),
    /// `[pscustomobject]@{ key = value; ... }`: a PSCustomObject with the entries as note properties, in order.
    CustomObject(Vec<(Expr, Pipeline)>),
    /// `{ ... }`.
    ScriptBlock(ScriptBlockAst),
}
