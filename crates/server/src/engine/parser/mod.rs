//! A small recursive-descent parser for the PowerShell subset the built-in engine runs.
//!
//! Supported: statements separated by newlines or `;`; pipelines `a | b`; commands with named parameters
//! (`-Name value`, `-Name:value`, switches) and positional arguments in argument mode (bare words, numbers,
//! quoted strings, variables with member access, `(…)`, `@(…)`, `@{…}`, `{…}`, comma arrays); expressions
//! (numbers in decimal, hex `0x…`, with `L`/`kb`/`mb`/`gb`/`tb`/`pb` suffixes; single-quoted strings with `''`;
//! double-quoted strings with backtick escapes, `""`, `$var`, `${var}` and `$(…)` expansion; `$true`, `$false`,
//! `$null`; ranges `1..N`; arrays `a, b`; `+ - * / %`; `-eq -ne -gt -ge -lt -le -like -notlike -and -or -not !`;
//! member access `.Name` and indexing `[i]`); `$x = <pipeline>`; `if`/`elseif`/`else`, `while`,
//! `foreach ($x in …)` and `throw`; the call operator `&`; `#` and `<# #>` comments; backtick line continuation.
//!
//! Everything else (type literals, method calls, redirection, splatting, functions, other operators) is a
//! [`ParseError`] with id `NotSupported` — never a panic. Limits: scripts longer than [`MAX_SCRIPT_LEN`] bytes
//! and nesting deeper than [`MAX_NESTING_DEPTH`] are refused.

pub mod ast;
mod error;

pub use ast::*;
pub use error::ParseError;
pub(crate) use error::{position_message, position_of};

/// The longest script text accepted, in bytes.
pub const MAX_SCRIPT_LEN: usize = 1 << 20;
/// The deepest nesting of blocks, parentheses and unary operators accepted.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Parses a whole script.
pub fn parse_script(source: &str) -> Result<Script, ParseError> {
    if source.len() > MAX_SCRIPT_LEN {
        return Err(ParseError::new(
            source,
            0,
            "ScriptTooLong",
            format!("The script is {} bytes long; the engine accepts at most {MAX_SCRIPT_LEN} bytes.", source.len()),
        ));
    }
    let mut parser = Parser { src: source, pos: 0, depth: 0 };
    let script = parser.statements(None)?;
    Ok(script)
}

/// Parses a number the way PowerShell reads a numeric literal (`42`, `-7`, `0x1F`, `5L`, `1.5`, `2e3`, `4kb`).
///
/// Returns `None` when the text is not entirely a number.
pub fn parse_number(text: &str) -> Option<Literal> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mut multiplier: i128 = 1;
    for (suffix, mult) in [("kb", 1i128 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("tb", 1 << 40), ("pb", 1 << 50)] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r;
            multiplier = mult;
            break;
        }
    }
    let mut force_long = false;
    if let Some(r) = rest.strip_suffix('l') {
        rest = r;
        force_long = true;
    }
    if rest.is_empty() {
        return None;
    }
    if let Some(hex) = rest.strip_prefix("0x") {
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let raw = u64::from_str_radix(hex, 16).ok()?;
        // PowerShell reads hex literals that fit 32 bits as the Int32 bit pattern (0xFFFFFFFF is -1).
        let value: i128 = if raw <= u64::from(u32::MAX) && !force_long {
            i128::from(raw as u32 as i32)
        } else {
            i128::from(raw as i64)
        };
        let value = value.checked_mul(multiplier)?;
        let value = if negative { -value } else { value };
        return Some(integer_literal(value, force_long));
    }
    let first = rest.as_bytes().first().copied()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    let is_float = rest.contains('.') || rest.contains('e');
    if is_float {
        if force_long || !rest.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')) {
            return None;
        }
        let value: f64 = rest.parse().ok()?;
        let value = value * multiplier as f64;
        return Some(Literal::Double(if negative { -value } else { value }));
    }
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match rest.parse::<i128>() {
        Ok(value) => value
            .checked_mul(multiplier)
            .map(|value| integer_literal(if negative { -value } else { value }, force_long)),
        Err(_) => {
            let value: f64 = rest.parse().ok()?;
            let value = value * multiplier as f64;
            Some(Literal::Double(if negative { -value } else { value }))
        }
    }
}

fn integer_literal(value: i128, force_long: bool) -> Literal {
    if !force_long && let Ok(v) = i32::try_from(value) {
        return Literal::Int(v);
    }
    match i64::try_from(value) {
        Ok(v) => Literal::Long(v),
        Err(_) => Literal::Double(value as f64),
    }
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    depth: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that end a bare word in argument mode.
fn ends_generic_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | '|' | '(' | ')' | '{' | '}' | ',' | '"' | '\'' | '>' | '<')
}

impl<'s> Parser<'s> {
    // ----- low-level cursor -----

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn error<T>(&self, offset: usize, id: &'static str, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::new(self.src, offset, id, message.into()))
    }

    fn not_supported<T>(&self, offset: usize, what: &str) -> Result<T, ParseError> {
        self.error(offset, "NotSupported", format!("{what} is not supported by the built-in engine."))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return self.error(
                self.pos,
                "ScriptTooDeeplyNested",
                format!("The script nests deeper than {MAX_NESTING_DEPTH} levels."),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Skips spaces, tabs, comments and backtick line continuations (not newlines).
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c != '\n' && c.is_whitespace() => {
                    self.bump();
                }
                Some('`') if matches!(self.peek_nth(1), Some('\n')) => {
                    self.pos += 2;
                }
                Some('`') if self.rest().starts_with("`\r\n") => {
                    self.pos += 3;
                }
                Some('`') if matches!(self.peek_nth(1), Some('\r')) => {
                    self.pos += 2;
                }
                Some('#') => {
                    let end = self.rest().find('\n').map_or(self.src.len(), |i| self.pos + i);
                    self.pos = end;
                }
                Some('<') if self.rest().starts_with("<#") => {
                    let end = self.rest()[2..].find("#>").map_or(self.src.len(), |i| self.pos + 2 + i + 2);
                    self.pos = end;
                }
                _ => return,
            }
        }
    }

    /// Skips whitespace, comments and newlines.
    fn skip_ws_nl(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some('\n') {
                self.bump();
            } else {
                return;
            }
        }
    }

    /// Whether the text at the cursor is `word` (case-insensitive) followed by a non-word character.
    fn at_keyword(&self, word: &str) -> bool {
        let rest = self.rest();
        rest.len() >= word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && !rest[word.len()..].chars().next().is_some_and(|c| is_word_char(c) || c == '-')
    }

    fn expect_char(&mut self, c: char, id: &'static str, message: &str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            self.error(self.pos, id, message)
        }
    }

    // ----- statements -----

    /// Statements up to `terminator` (not consumed) or the end of input.
    fn statements(&mut self, terminator: Option<char>) -> Result<Script, ParseError> {
        self.enter()?;
        let mut statements = Vec::new();
        loop {
            loop {
                self.skip_ws_nl();
                if self.peek() == Some(';') {
                    self.bump();
                } else {
                    break;
                }
            }
            match self.peek() {
                None => break,
                Some(c) if Some(c) == terminator => break,
                _ => {}
            }
            statements.push(self.statement()?);
            self.skip_ws();
            match self.peek() {
                None | Some('\n') | Some(';') => {}
                Some(c) if Some(c) == terminator => {}
                Some(c) => return self.unexpected_token(c),
            }
        }
        self.leave();
        Ok(Script { statements })
    }

    fn unexpected_token<T>(&self, c: char) -> Result<T, ParseError> {
        let token: String = if is_word_char(c) {
            self.rest().chars().take_while(|c| is_word_char(*c) || *c == '-').collect()
        } else {
            c.to_string()
        };
        self.error(self.pos, "UnexpectedToken", format!("Unexpected token '{token}' in expression or statement."))
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        let start = self.pos;
        let kind = if self.at_keyword("if") {
            self.if_statement()?
        } else if self.at_keyword("while") {
            self.pos += "while".len();
            self.skip_ws();
            let condition = self.condition("while")?;
            let body = self.block("while")?;
            StatementKind::While { condition, body }
        } else if self.at_keyword("foreach") && self.keyword_followed_by_paren("foreach") {
            self.foreach_statement()?
        } else if self.at_keyword("throw") {
            self.pos += "throw".len();
            self.skip_ws();
            match self.peek() {
                None | Some('\n') | Some(';') | Some('}') | Some(')') => StatementKind::Throw(None),
                _ => StatementKind::Throw(Some(self.pipeline()?)),
            }
        } else if let Some(kind) = self.try_assignment()? {
            kind
        } else {
            for keyword in ["function", "filter", "workflow", "class", "enum", "for", "do", "switch", "try", "trap"] {
                if self.at_keyword(keyword) {
                    return self.not_supported(start, &format!("The '{keyword}' keyword"));
                }
            }
            StatementKind::Pipeline(self.pipeline()?)
        };
        Ok(Statement { kind, extent: Extent { start, end: self.pos } })
    }

    fn keyword_followed_by_paren(&self, keyword: &str) -> bool {
        self.rest()[keyword.len()..].trim_start_matches([' ', '\t']).starts_with('(')
    }

    fn condition(&mut self, keyword: &str) -> Result<Pipeline, ParseError> {
        if self.peek() != Some('(') {
            return self.error(
                self.pos,
                "MissingOpenParenthesisInIfStatement",
                format!("Missing '(' after '{keyword}' in {keyword} statement."),
            );
        }
        self.bump();
        self.skip_ws_nl();
        let start = self.pos;
        if self.peek() == Some(')') {
            return self.error(
                start,
                "IfStatementMissingCondition",
                format!("Missing condition in {keyword} statement."),
            );
        }
        let condition = self.pipeline()?;
        self.skip_ws_nl();
        self.expect_char(')', "MissingEndParenthesisAfterStatement", "Missing closing ')' after expression.")?;
        Ok(condition)
    }

    fn block(&mut self, keyword: &str) -> Result<Script, ParseError> {
        self.skip_ws_nl();
        if self.peek() != Some('{') {
            return self.error(
                self.pos,
                "MissingStatementBlock",
                format!("Missing statement block after '{keyword}'."),
            );
        }
        self.bump();
        let body = self.statements(Some('}'))?;
        self.expect_char('}', "MissingEndCurlyBrace", "Missing closing '}' in statement block or type definition.")?;
        Ok(body)
    }

    fn if_statement(&mut self) -> Result<StatementKind, ParseError> {
        self.pos += "if".len();
        self.skip_ws();
        let mut clauses = Vec::new();
        let condition = self.condition("if")?;
        let body = self.block("if")?;
        clauses.push((condition, body));
        let mut else_body = None;
        loop {
            let save = self.pos;
            self.skip_ws_nl();
            if self.at_keyword("elseif") {
                self.pos += "elseif".len();
                self.skip_ws();
                let condition = self.condition("elseif")?;
                let body = self.block("elseif")?;
                clauses.push((condition, body));
            } else if self.at_keyword("else") {
                self.pos += "else".len();
                else_body = Some(self.block("else")?);
                break;
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(StatementKind::If { clauses, else_body })
    }

    fn foreach_statement(&mut self) -> Result<StatementKind, ParseError> {
        self.pos += "foreach".len();
        self.skip_ws();
        self.bump(); // '('
        self.skip_ws_nl();
        if self.peek() != Some('$') {
            return self.error(self.pos, "MissingVariableNameAfterForeach", "Missing variable name after foreach.");
        }
        self.bump();
        let variable = self.variable_name()?;
        self.skip_ws_nl();
        if !self.at_keyword("in") {
            return self.error(self.pos, "MissingInInForeach", "Missing 'in' after variable in foreach loop.");
        }
        self.pos += 2;
        self.skip_ws_nl();
        if self.peek() == Some(')') {
            return self.error(self.pos, "MissingForeachExpression", "Missing expression after 'in' in foreach loop.");
        }
        let collection = self.pipeline()?;
        self.skip_ws_nl();
        self.expect_char(
            ')',
            "MissingEndParenthesisAfterForeach",
            "Missing closing ')' after expression in 'foreach' statement.",
        )?;
        let body = self.block("foreach")?;
        Ok(StatementKind::Foreach { variable, collection, body })
    }

    fn try_assignment(&mut self) -> Result<Option<StatementKind>, ParseError> {
        if self.peek() != Some('$') || matches!(self.peek_nth(1), Some('(') | None) {
            return Ok(None);
        }
        let save = self.pos;
        self.bump();
        let Ok(variable) = self.variable_name() else {
            self.pos = save;
            return Ok(None);
        };
        self.skip_ws();
        if self.peek() == Some('=') && self.peek_nth(1) != Some('=') {
            self.bump();
            self.skip_ws_nl();
            if matches!(self.peek(), None | Some(';') | Some('}') | Some(')')) {
                return self.error(
                    self.pos,
                    "ExpectedValueExpression",
                    "You must provide a value expression on the right-hand side of the '=' operator.",
                );
            }
            let value = self.pipeline()?;
            return Ok(Some(StatementKind::Assignment { variable, value }));
        }
        if let Some(op) = ["+=", "-=", "*=", "/=", "%=", "++", "--"].into_iter().find(|op| self.rest().starts_with(op))
        {
            return self.not_supported(self.pos, &format!("The '{op}' operator"));
        }
        self.pos = save;
        Ok(None)
    }

    // ----- pipelines and commands -----

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let start = self.pos;
        let mut elements = vec![self.pipeline_element(true)?];
        loop {
            self.skip_ws();
            if self.peek() == Some('|') {
                if self.peek_nth(1) == Some('|') {
                    return self.not_supported(self.pos, "The '||' pipeline chain operator");
                }
                self.bump();
                self.skip_ws_nl();
                if matches!(self.peek(), None | Some('|') | Some(';') | Some(')') | Some('}')) {
                    return self.error(self.pos, "EmptyPipeElement", "An empty pipe element is not allowed.");
                }
                elements.push(self.pipeline_element(false)?);
            } else if self.rest().starts_with("&&") {
                return self.not_supported(self.pos, "The '&&' pipeline chain operator");
            } else {
                break;
            }
        }
        Ok(Pipeline { elements, extent: Extent { start, end: self.pos } })
    }

    fn is_expression_start(&self) -> bool {
        match self.peek() {
            Some('$' | '\'' | '"' | '(' | '@' | '{' | '!' | '[' | ',') => true,
            Some(c) if c.is_ascii_digit() => true,
            Some('.') => self.peek_nth(1).is_some_and(|c| c.is_ascii_digit()),
            Some('-') => {
                self.peek_nth(1).is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '$' || c == '(')
                    || (self.rest().len() > 1 && {
                        let save = Parser { src: self.src, pos: self.pos + 1, depth: 0 };
                        save.at_keyword("not")
                    })
            }
            _ => false,
        }
    }

    fn pipeline_element(&mut self, first: bool) -> Result<PipelineElement, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.is_expression_start() {
            if !first {
                return self.error(
                    start,
                    "ExpressionsMustBeFirstInPipeline",
                    "Expressions are only allowed as the first element of a pipeline.",
                );
            }
            return Ok(PipelineElement::Expression(self.expression()?));
        }
        let name = match self.peek() {
            Some('&') => {
                self.bump();
                self.skip_ws();
                if matches!(self.peek(), None | Some('\n') | Some(';') | Some('|')) {
                    return self.error(
                        self.pos,
                        "MissingExpression",
                        "Missing expression after '&' in pipeline element.",
                    );
                }
                CommandName::Invoke(Box::new(self.argument_value()?))
            }
            Some('.') if matches!(self.peek_nth(1), Some(' ' | '\t')) => {
                return self.not_supported(start, "Dot-sourcing");
            }
            Some(c) if !ends_generic_token(c) && c != '#' => {
                let name = self.generic_token()?;
                if name.is_empty() {
                    return self.unexpected_token(c);
                }
                CommandName::Name(name)
            }
            Some(c) => return self.unexpected_token(c),
            None => return self.error(start, "EmptyPipeElement", "An empty pipe element is not allowed."),
        };
        let mut elements = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some('\n' | ';' | '|' | ')' | '}') => break,
                Some('>' | '<') => return self.not_supported(self.pos, "Redirection"),
                Some('&') if self.peek_nth(1) == Some('&') => break,
                Some('-') if self.peek_nth(1).is_some_and(|c| c.is_alphabetic() || c == '_' || c == '?') => {
                    elements.push(self.parameter()?);
                }
                Some('@') if self.peek_nth(1).is_some_and(is_word_char) => {
                    return self.not_supported(self.pos, "Splatting");
                }
                Some(_) => elements.push(CommandElement::Argument(self.argument()?)),
            }
        }
        Ok(PipelineElement::Command(CommandCall { name, elements, extent: Extent { start, end: self.pos } }))
    }

    fn parameter(&mut self) -> Result<CommandElement, ParseError> {
        let start = self.pos;
        self.bump(); // '-'
        let name_start = self.pos;
        while let Some(c) = self.peek() {
            if c == ':' || ends_generic_token(c) {
                break;
            }
            self.bump();
        }
        let name = self.src[name_start..self.pos].to_string();
        let argument = if self.peek() == Some(':') {
            self.bump();
            self.skip_ws();
            if matches!(self.peek(), None | Some('\n' | ';' | '|' | ')' | '}')) {
                return self.error(
                    self.pos,
                    "ParameterRequiresArgument",
                    format!("Missing an argument for parameter '{name}'."),
                );
            }
            Some(self.argument()?)
        } else {
            None
        };
        Ok(CommandElement::Parameter { name, argument, extent: Extent { start, end: self.pos } })
    }

    /// An argument-mode value, with `,` building arrays.
    fn argument(&mut self) -> Result<Expr, ParseError> {
        let first = self.argument_value()?;
        let mut items = vec![first];
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek() == Some(',') {
                self.bump();
                self.skip_ws_nl();
                if matches!(self.peek(), None | Some(';' | '|' | ')' | '}' | ',')) {
                    return self.error(self.pos, "MissingExpressionAfterToken", "Missing expression after ','.");
                }
                items.push(self.argument_value()?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Array(items) })
    }

    /// One argument-mode value.
    fn argument_value(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some('$' | '\'' | '"' | '(' | '@' | '{') => self.postfix(),
            Some(',') => self.error(self.pos, "MissingArgument", "Missing argument in parameter list."),
            Some(c) if ends_generic_token(c) => self.unexpected_token(c),
            None => self.error(self.pos, "MissingArgument", "Missing argument in parameter list."),
            Some(c) => {
                let start = self.pos;
                let text = self.generic_token()?;
                if self.pos == start {
                    return self.unexpected_token(c);
                }
                Ok(Expr::Literal(parse_number(&text).unwrap_or(Literal::String(text))))
            }
        }
    }

    /// A bare word: everything up to whitespace or a special character; backtick escapes the next character.
    fn generic_token(&mut self) -> Result<String, ParseError> {
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if ends_generic_token(c) {
                break;
            }
            if c == '`' {
                match self.peek_nth(1) {
                    None => {
                        self.bump();
                        break;
                    }
                    Some('\n' | '\r') => break,
                    Some(next) => {
                        self.pos += 1 + next.len_utf8();
                        text.push(next);
                        continue;
                    }
                }
            }
            self.bump();
            text.push(c);
        }
        Ok(text)
    }

    // ----- expressions -----

    fn expression(&mut self) -> Result<Expr, ParseError> {
        self.logical()
    }

    /// Reads a `-operator` word at the cursor (without consuming it).
    fn dash_operator(&self) -> Option<&'s str> {
        let rest = self.rest();
        let body = rest.strip_prefix('-')?;
        let len = body.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(body.len());
        if len == 0 {
            return None;
        }
        Some(&rest[..len + 1])
    }

    fn operand_after(&mut self, op: &str, next: fn(&mut Self) -> Result<Expr, ParseError>) -> Result<Expr, ParseError> {
        self.skip_ws_nl();
        let at = self.pos;
        match next(self) {
            Err(e) if e.error_id == "ExpectedValueExpression" && e.offset == at => self.error(
                at,
                "ExpectedValueExpression",
                format!("You must provide a value expression following the '{op}' operator."),
            ),
            other => other,
        }
    }

    fn logical(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            let op = match self.dash_operator().map(str::to_ascii_lowercase).as_deref() {
                Some("-and") => BinaryOp::And,
                Some("-or") => BinaryOp::Or,
                Some("-xor") => return self.not_supported(self.pos, "The '-xor' operator"),
                _ => {
                    self.pos = save;
                    return Ok(left);
                }
            };
            self.pos += op.symbol().len();
            let right = self.operand_after(op.symbol(), Self::comparison)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.additive()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            let Some(word) = self.dash_operator() else {
                self.pos = save;
                return Ok(left);
            };
            let lower = word.to_ascii_lowercase();
            let op = match lower.as_str() {
                "-eq" | "-ieq" => BinaryOp::Eq,
                "-ne" | "-ine" => BinaryOp::Ne,
                "-gt" | "-igt" => BinaryOp::Gt,
                "-ge" | "-ige" => BinaryOp::Ge,
                "-lt" | "-ilt" => BinaryOp::Lt,
                "-le" | "-ile" => BinaryOp::Le,
                "-like" | "-ilike" => BinaryOp::Like,
                "-notlike" | "-inotlike" => BinaryOp::NotLike,
                "-and" | "-or" | "-xor" => {
                    self.pos = save;
                    return Ok(left);
                }
                _ => return self.not_supported(self.pos, &format!("The '{word}' operator")),
            };
            self.pos += word.len();
            let right = self.operand_after(word, Self::additive)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            let op = match self.peek() {
                Some('+') => BinaryOp::Add,
                Some('-') if !self.peek_nth(1).is_some_and(|c| c.is_ascii_alphabetic()) => BinaryOp::Subtract,
                _ => {
                    self.pos = save;
                    return Ok(left);
                }
            };
            self.bump();
            let right = self.operand_after(op.symbol(), Self::multiplicative)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.range()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            let op = match self.peek() {
                Some('*') => BinaryOp::Multiply,
                Some('/') => BinaryOp::Divide,
                Some('%') => BinaryOp::Remainder,
                _ => {
                    self.pos = save;
                    return Ok(left);
                }
            };
            self.bump();
            let right = self.operand_after(op.symbol(), Self::range)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn range(&mut self) -> Result<Expr, ParseError> {
        let left = self.array()?;
        let save = self.pos;
        self.skip_ws();
        if self.rest().starts_with("..") {
            self.pos += 2;
            let right = self.operand_after("..", Self::array)?;
            return Ok(Expr::Binary(BinaryOp::Range, Box::new(left), Box::new(right)));
        }
        self.pos = save;
        Ok(left)
    }

    fn array(&mut self) -> Result<Expr, ParseError> {
        let first = self.unary()?;
        let mut items = vec![first];
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek() == Some(',') {
                self.bump();
                items.push(self.operand_after(",", Self::unary)?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Array(items) })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        self.skip_ws();
        let result = match self.peek() {
            Some('!') => {
                self.bump();
                let operand = self.operand_after("!", Self::unary)?;
                Ok(Expr::Unary(UnaryOp::Not, Box::new(operand)))
            }
            Some(',') => {
                self.bump();
                let operand = self.operand_after(",", Self::unary)?;
                Ok(Expr::Array(vec![operand]))
            }
            Some('-') if self.peek_nth(1).is_some_and(|c| c.is_ascii_digit() || c == '.') => self.postfix(),
            Some('-') if self.dash_operator().is_some_and(|w| w.eq_ignore_ascii_case("-not")) => {
                self.pos += 4;
                let operand = self.operand_after("-not", Self::unary)?;
                Ok(Expr::Unary(UnaryOp::Not, Box::new(operand)))
            }
            Some('-') if !self.peek_nth(1).is_some_and(|c| c.is_ascii_alphabetic()) => {
                self.bump();
                let operand = self.operand_after("-", Self::unary)?;
                Ok(Expr::Unary(UnaryOp::Negate, Box::new(operand)))
            }
            _ => self.postfix(),
        };
        self.leave();
        result
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.primary()?;
        loop {
            match self.peek() {
                Some('.') if self.peek_nth(1).is_some_and(|c| c.is_alphabetic() || c == '_') => {
                    self.bump();
                    let start = self.pos;
                    while self.peek().is_some_and(is_word_char) {
                        self.bump();
                    }
                    let name = self.src[start..self.pos].to_string();
                    if self.peek() == Some('(') {
                        return self.not_supported(start, "Calling methods");
                    }
                    expr = Expr::Member(Box::new(expr), name);
                }
                Some('.') if matches!(self.peek_nth(1), Some('\'' | '"' | '$' | '(')) => {
                    return self.not_supported(self.pos, "Dynamic member access");
                }
                Some('[') => {
                    let open = self.pos;
                    self.bump();
                    self.skip_ws_nl();
                    if self.peek() == Some(']') {
                        return self.error(
                            self.pos,
                            "MissingArrayIndexExpression",
                            "Array index expression is missing or not valid.",
                        );
                    }
                    let index = self.expression()?;
                    self.skip_ws_nl();
                    if self.peek() != Some(']') {
                        return self.error(
                            open,
                            "MissingEndSquareBracket",
                            "Missing ']' after array index expression.",
                        );
                    }
                    self.bump();
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                Some(':') if self.peek_nth(1) == Some(':') => {
                    return self.not_supported(self.pos, "Static member access");
                }
                _ => return Ok(expr),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let result = self.primary_inner();
        self.leave();
        result
    }

    fn primary_inner(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('$') => {
                self.bump();
                match self.peek() {
                    Some('(') => {
                        self.bump();
                        let body = self.statements(Some(')'))?;
                        self.expect_char(
                            ')',
                            "MissingEndParenthesisInSubexpression",
                            "Missing closing ')' in subexpression.",
                        )?;
                        Ok(Expr::SubExpression(body))
                    }
                    _ => Ok(Expr::Variable(self.variable_name()?)),
                }
            }
            Some('\'') => Ok(Expr::Literal(Literal::String(self.single_quoted()?))),
            Some('"') => self.double_quoted(),
            Some('(') => {
                self.bump();
                self.skip_ws_nl();
                if self.peek() == Some(')') {
                    return self.error(self.pos, "ExpectedExpression", "An expression was expected after '('.");
                }
                if self.at_assignment() {
                    return self.not_supported(self.pos, "Assignment inside parentheses");
                }
                let pipeline = self.pipeline()?;
                self.skip_ws_nl();
                self.expect_char(')', "MissingEndParenthesisInExpression", "Missing closing ')' in expression.")?;
                Ok(Expr::Paren(Box::new(pipeline)))
            }
            Some('@') => match self.peek_nth(1) {
                Some('(') => {
                    self.pos += 2;
                    let body = self.statements(Some(')'))?;
                    self.expect_char(
                        ')',
                        "MissingEndParenthesisInSubexpression",
                        "Missing closing ')' in subexpression.",
                    )?;
                    Ok(Expr::ArrayExpression(body))
                }
                Some('{') => {
                    self.pos += 2;
                    self.hashtable(start)
                }
                Some('\'' | '"') => self.not_supported(start, "Here-strings"),
                Some(c) if is_word_char(c) => self.not_supported(start, "Splatting"),
                _ => self.error(start, "UnrecognizedToken", "Unrecognized token in source text."),
            },
            Some('{') => {
                self.bump();
                let body_start = self.pos;
                let body = self.statements(Some('}'))?;
                let text = self.src[body_start..self.pos].to_string();
                self.expect_char(
                    '}',
                    "MissingEndCurlyBrace",
                    "Missing closing '}' in statement block or type definition.",
                )?;
                Ok(Expr::ScriptBlock(ScriptBlockAst { text, body }))
            }
            Some('[') => self.type_literal(start),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => self.number(),
            Some(c) if is_word_char(c) => self.unexpected_token(c),
            _ => self.error(start, "ExpectedValueExpression", "Expected a value expression."),
        }
    }

    /// Whether the cursor is at `$name =` (an assignment).
    fn at_assignment(&mut self) -> bool {
        let save = self.pos;
        if self.peek() != Some('$') || matches!(self.peek_nth(1), Some('(') | None) {
            return false;
        }
        self.bump();
        let is_assignment = self.variable_name().is_ok() && {
            self.skip_ws();
            self.peek() == Some('=') && self.peek_nth(1) != Some('=')
        };
        self.pos = save;
        is_assignment
    }

    fn number(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        if self.rest().starts_with("0x") || self.rest().starts_with("0X") {
            self.pos += 2;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                self.bump();
            }
        } else {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            if self.peek() == Some('.') && self.peek_nth(1).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                let exp_digit = match self.peek_nth(1) {
                    Some('+' | '-') => self.peek_nth(2).is_some_and(|c| c.is_ascii_digit()),
                    Some(c) => c.is_ascii_digit(),
                    None => false,
                };
                if exp_digit {
                    self.pos += 2;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.bump();
                    }
                }
            }
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.bump();
            }
        }
        let text = &self.src[start..self.pos];
        match parse_number(text) {
            Some(literal) => Ok(Expr::Literal(literal)),
            None => self.error(start, "BadNumericConstant", format!("The numeric constant {text} is not valid.")),
        }
    }

    /// A variable name after `$` (the `$` already consumed).
    fn variable_name(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('{') => {
                self.bump();
                let name_start = self.pos;
                let Some(len) = self.rest().find('}') else {
                    return self.error(start, "IncompleteDollarVariableReference", "Incomplete variable reference token.");
                };
                self.pos += len + 1;
                let name = self.src[name_start..name_start + len].to_string();
                if name.is_empty() {
                    return self.error(start, "EmptyVariableReference", "Empty ${} variable reference, there should be a name between the braces.");
                }
                Ok(name)
            }
            Some('?' | '$' | '^') => {
                let c = self.bump().unwrap_or('?');
                Ok(c.to_string())
            }
            Some(c) if is_word_char(c) => {
                while let Some(c) = self.peek() {
                    let scope_colon = c == ':' && self.peek_nth(1).is_some_and(is_word_char) && self.pos > start;
                    if is_word_char(c) || scope_colon {
                        self.bump();
                    } else {
                        break;
                    }
                }
                Ok(self.src[start..self.pos].to_string())
            }
            _ => self.error(
                start.saturating_sub(1),
                "InvalidVariableReference",
                "Variable reference is not valid. '$' was not followed by a valid variable name character. Consider using ${} to delimit the name.",
            ),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    return self.error(
                        start,
                        "TerminatorExpectedAtEndOfString",
                        "The string is missing the terminator: '.",
                    );
                }
                Some('\'') if self.peek() == Some('\'') => {
                    self.bump();
                    text.push('\'');
                }
                Some('\'') => return Ok(text),
                Some(c) => text.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.bump();
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.bump() else {
                return self.error(
                    start,
                    "TerminatorExpectedAtEndOfString",
                    "The string is missing the terminator: \".",
                );
            };
            match c {
                '"' if self.peek() == Some('"') => {
                    self.bump();
                    text.push('"');
                }
                '"' => break,
                '`' => {
                    let Some(escaped) = self.bump() else {
                        return self.error(
                            start,
                            "TerminatorExpectedAtEndOfString",
                            "The string is missing the terminator: \".",
                        );
                    };
                    match escaped {
                        '0' => text.push('\0'),
                        'a' => text.push('\u{07}'),
                        'b' => text.push('\u{08}'),
                        'e' => text.push('\u{1b}'),
                        'f' => text.push('\u{0c}'),
                        'n' => text.push('\n'),
                        'r' => text.push('\r'),
                        't' => text.push('\t'),
                        'v' => text.push('\u{0b}'),
                        'u' if self.peek() == Some('{') => {
                            let esc_start = self.pos;
                            self.bump();
                            let digits_start = self.pos;
                            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                self.bump();
                            }
                            let digits = &self.src[digits_start..self.pos];
                            let ch = (self.peek() == Some('}') && (1..=6).contains(&digits.len()))
                                .then(|| u32::from_str_radix(digits, 16).ok().and_then(char::from_u32))
                                .flatten();
                            match ch {
                                Some(ch) => {
                                    self.bump();
                                    text.push(ch);
                                }
                                None => {
                                    return self.error(
                                        esc_start,
                                        "InvalidUnicodeEscapeSequence",
                                        "The Unicode escape sequence is not valid.",
                                    );
                                }
                            }
                        }
                        other => text.push(other),
                    }
                }
                '$' => match self.peek() {
                    Some('(') => {
                        self.bump();
                        if !text.is_empty() {
                            parts.push(StringPart::Text(std::mem::take(&mut text)));
                        }
                        let body = self.statements(Some(')'))?;
                        self.expect_char(
                            ')',
                            "MissingEndParenthesisInSubexpression",
                            "Missing closing ')' in subexpression.",
                        )?;
                        parts.push(StringPart::SubExpression(body));
                    }
                    Some(n) if is_word_char(n) || matches!(n, '{' | '?' | '$' | '^') => {
                        if !text.is_empty() {
                            parts.push(StringPart::Text(std::mem::take(&mut text)));
                        }
                        parts.push(StringPart::Variable(self.variable_name()?));
                    }
                    _ => text.push('$'),
                },
                other => text.push(other),
            }
        }
        if parts.is_empty() {
            return Ok(Expr::Literal(Literal::String(text)));
        }
        if !text.is_empty() {
            parts.push(StringPart::Text(text));
        }
        Ok(Expr::Expandable(parts))
    }

    /// `[pscustomobject]@{...}`, the one cast the engine knows; any other type literal is refused.
    fn type_literal(&mut self, start: usize) -> Result<Expr, ParseError> {
        self.bump();
        let name_start = self.pos;
        while self.peek().is_some_and(|c| is_word_char(c) || c == '.') {
            self.bump();
        }
        let name = &self.src[name_start..self.pos];
        let is_custom_object = name.eq_ignore_ascii_case("pscustomobject")
            || name.eq_ignore_ascii_case("System.Management.Automation.PSCustomObject");
        if !is_custom_object || self.peek() != Some(']') {
            return self.not_supported(start, "Type literals and casts");
        }
        self.bump();
        self.skip_ws();
        if self.peek() != Some('@') || self.peek_nth(1) != Some('{') {
            return self.not_supported(start, "Casts of anything but a hash literal to [pscustomobject]");
        }
        self.pos += 2;
        match self.hashtable(start)? {
            Expr::Hashtable(entries) => Ok(Expr::CustomObject(entries)),
            other => Ok(other),
        }
    }

    fn hashtable(&mut self, start: usize) -> Result<Expr, ParseError> {
        let mut entries = Vec::new();
        loop {
            loop {
                self.skip_ws_nl();
                if self.peek() == Some(';') {
                    self.bump();
                } else {
                    break;
                }
            }
            match self.peek() {
                None => {
                    return self.error(start, "IncompleteHashLiteral", "The hash literal was incomplete.");
                }
                Some('}') => {
                    self.bump();
                    return Ok(Expr::Hashtable(entries));
                }
                _ => {}
            }
            let key = match self.peek() {
                Some('\'' | '"' | '$' | '(') => self.postfix()?,
                Some(c) if c.is_ascii_digit() => self.number()?,
                Some(c) if is_word_char(c) => {
                    let key_start = self.pos;
                    while self.peek().is_some_and(|c| is_word_char(c) || c == '-') {
                        self.bump();
                    }
                    Expr::Literal(Literal::String(self.src[key_start..self.pos].to_string()))
                }
                _ => return self.error(self.pos, "MissingHashKey", "Missing key before '=' in hash literal."),
            };
            self.skip_ws();
            if self.peek() != Some('=') {
                return self.error(
                    self.pos,
                    "MissingEqualsInHashLiteral",
                    "Missing '=' operator after key in hash literal.",
                );
            }
            self.bump();
            self.skip_ws_nl();
            if matches!(self.peek(), None | Some('}' | ';')) {
                return self.error(
                    self.pos,
                    "MissingStatementInHashLiteral",
                    "Missing statement after '=' in hash literal.",
                );
            }
            let value = self.pipeline()?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                None | Some('\n' | ';' | '}') => {}
                Some(c) => return self.unexpected_token(c),
            }
        }
    }
}
