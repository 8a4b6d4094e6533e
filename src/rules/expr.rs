//! Filter expressions of merchandising rules: `brand = "Acme"`, `attr.material = "leather"`,
//! `price < 20`, `tags has "clearance"`, `in_stock = false`, joined with `and`.
//!
//! A small hand-written parser (the grammar is five lines; a parser generator would be more
//! code than the parser) whose errors name the character where reading stopped, and a
//! compiler to a tantivy query over the keyword and fast fields the request filters use.

use std::fmt;
use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Facet, IndexRecordOption};

use crate::index::Fields;
use crate::index::schema::attr_key;
use crate::text;

/// A parsed expression: every comparison must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The comparisons, all required.
    pub all: Vec<Comparison>,
}

/// One comparison of a product field with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The field compared.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The value.
    pub value: Value,
}

/// A field an expression can read.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// The brand (case-insensitive).
    Brand,
    /// The category path, `"A > B"`, matching products at or below it.
    Category,
    /// The price.
    Price,
    /// The stock flag.
    InStock,
    /// The tags.
    Tags,
    /// An attribute, by name.
    Attr(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `has` (a list field holds the value)
    Has,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted string.
    Text(String),
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
}

/// Why an expression could not be read: the message and the character (0-based) where the
/// problem starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// Character offset in the expression.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

const FIELDS_HELP: &str = "brand, category, price, in_stock, tags or attr.<name>";

impl Expr {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut lexer = Lexer::new(text);
        let mut all = vec![comparison(&mut lexer)?];
        loop {
            match lexer.next()? {
                None => break,
                Some((_, Token::Word(w))) if w.eq_ignore_ascii_case("and") => {
                    all.push(comparison(&mut lexer)?);
                }
                Some((at, token)) => {
                    return Err(ExprError {
                        at,
                        message: format!("expected `and` or the end, found {token}"),
                    });
                }
            }
        }
        Ok(Expr { all })
    }

    /// The tantivy query of the products the expression holds for (unscored).
    pub fn query(&self, fields: &Fields) -> Box<dyn Query> {
        if let [one] = self.all.as_slice() {
            return one.query(fields);
        }
        let clauses = self.all.iter().map(|c| (Occur::Must, c.query(fields)));
        Box::new(BooleanQuery::new(clauses.collect()))
    }
}

impl Comparison {
    fn query(&self, f: &Fields) -> Box<dyn Query> {
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        let positive = match (&self.field, &self.value) {
            (Field::Brand, Value::Text(v)) => {
                term(Term::from_field_text(f.brand_key, &text::keyword(v)))
            }
            (Field::Category, Value::Text(v)) => {
                let path: Vec<String> = category_path(v).iter().map(|l| text::keyword(l)).collect();
                term(Term::from_facet(
                    f.category_key,
                    &Facet::from_path(path.iter()),
                ))
            }
            (Field::Attr(name), Value::Text(v)) => {
                term(Term::from_field_text(f.attr_key, &attr_key(name, v)))
            }
            (Field::Tags, Value::Text(v)) => {
                term(Term::from_field_text(f.attr_key, &attr_key("tags", v)))
            }
            (Field::InStock, Value::Bool(b)) => term(Term::from_field_bool(f.in_stock, *b)),
            (Field::Price, Value::Number(x)) => return price_query(f, self.op, *x),
            // The parser only builds the pairs above.
            _ => Box::new(BooleanQuery::new(Vec::new())),
        };
        match self.op {
            Op::Ne => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, positive),
            ])),
            _ => positive,
        }
    }
}

/// `"A > B"` as its levels.
fn category_path(value: &str) -> Vec<String> {
    value
        .split('>')
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn price_query(f: &Fields, op: Op, x: f64) -> Box<dyn Query> {
    let at = || Term::from_field_f64(f.price, x);
    let (lo, hi) = match op {
        Op::Lt => (Bound::Unbounded, Bound::Excluded(at())),
        Op::Le => (Bound::Unbounded, Bound::Included(at())),
        Op::Gt => (Bound::Excluded(at()), Bound::Unbounded),
        Op::Ge => (Bound::Included(at()), Bound::Unbounded),
        Op::Eq => (Bound::Included(at()), Bound::Included(at())),
        Op::Ne | Op::Has => {
            let eq = Box::new(RangeQuery::new(
                Bound::Included(at()),
                Bound::Included(at()),
            ));
            return Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, eq),
            ]));
        }
    };
    Box::new(RangeQuery::new(lo, hi))
}

fn comparison(lexer: &mut Lexer) -> Result<Comparison, ExprError> {
    let (at, token) = lexer.expect("a field")?;
    let field = match &token {
        Token::Word(w) => field(w).ok_or_else(|| ExprError {
            at,
            message: format!("unknown field {w:?}: use {FIELDS_HELP}"),
        })?,
        other => {
            return Err(ExprError {
                at,
                message: format!("expected a field ({FIELDS_HELP}), found {other}"),
            });
        }
    };
    let (op_at, token) = lexer.expect("an operator")?;
    let op = match token {
        Token::Op(op) => op,
        Token::Word(w) if w.eq_ignore_ascii_case("has") => Op::Has,
        other => {
            return Err(ExprError {
                at: op_at,
                message: format!("expected an operator (=, !=, <, <=, >, >=, has), found {other}"),
            });
        }
    };
    let (value_at, token) = lexer.expect("a value")?;
    let value = match token {
        Token::Text(s) => Value::Text(s),
        Token::Number(x) => Value::Number(x),
        Token::Word(w) if w == "true" => Value::Bool(true),
        Token::Word(w) if w == "false" => Value::Bool(false),
        other => {
            return Err(ExprError {
                at: value_at,
                message: format!(
                    "expected a value (\"text\", a number, true or false), found {other}"
                ),
            });
        }
    };
    check(&field, op, &value).map_err(|message| ExprError { at: op_at, message })?;
    Ok(Comparison { field, op, value })
}

fn field(word: &str) -> Option<Field> {
    Some(match word {
        "brand" => Field::Brand,
        "category" => Field::Category,
        "price" => Field::Price,
        "in_stock" => Field::InStock,
        "tags" | "tag" => Field::Tags,
        _ => match word.strip_prefix("attr.") {
            Some(name) if !name.is_empty() => Field::Attr(name.to_string()),
            _ => return None,
        },
    })
}

/// Which operators and values each field takes.
fn check(field: &Field, op: Op, value: &Value) -> Result<(), String> {
    let ok = match field {
        Field::Brand | Field::Category | Field::Attr(_) => {
            matches!(op, Op::Eq | Op::Ne) && matches!(value, Value::Text(_))
        }
        Field::Tags => matches!(op, Op::Has | Op::Eq) && matches!(value, Value::Text(_)),
        Field::Price => op != Op::Has && matches!(value, Value::Number(x) if x.is_finite()),
        Field::InStock => matches!(op, Op::Eq | Op::Ne) && matches!(value, Value::Bool(_)),
    };
    if ok {
        return Ok(());
    }
    Err(match field {
        Field::Brand | Field::Category | Field::Attr(_) => {
            "brand, category and attr.<name> compare with = or != and a quoted text"
        }
        Field::Tags => "tags takes `has` and a quoted text",
        Field::Price => "price compares with =, !=, <, <=, >, >= and a number",
        Field::InStock => "in_stock compares with = or != and true or false",
    }
    .to_string())
}

/// A token of an expression.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Op(Op),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Text(s) => write!(f, "the text {s:?}"),
            Token::Number(x) => write!(f, "the number {x}"),
            Token::Op(op) => write!(f, "the operator {op:?}"),
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::iter::Enumerate<std::str::Chars<'a>>>,
    len: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            chars: text.chars().enumerate().peekable(),
            len: text.chars().count(),
        }
    }

    /// The next token, or an error naming what was expected at the end.
    fn expect(&mut self, what: &str) -> Result<(usize, Token), ExprError> {
        let len = self.len;
        self.next()?.ok_or_else(|| ExprError {
            at: len,
            message: format!("expected {what}, found the end"),
        })
    }

    fn next(&mut self) -> Result<Option<(usize, Token)>, ExprError> {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some((at, c)) = self.chars.next() else {
            return Ok(None);
        };
        let token = match c {
            '"' | '\'' => Token::Text(self.quoted(at, c)?),
            '=' => {
                // `==` is read as `=`.
                self.chars.next_if(|(_, c)| *c == '=');
                Token::Op(Op::Eq)
            }
            '!' if self.chars.next_if(|(_, c)| *c == '=').is_some() => Token::Op(Op::Ne),
            '<' | '>' => {
                let eq = self.chars.next_if(|(_, c)| *c == '=').is_some();
                Token::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                })
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let mut s = c.to_string();
                while let Some((_, d)) =
                    self.chars.next_if(|(_, d)| d.is_ascii_digit() || *d == '.')
                {
                    s.push(d);
                }
                let x = s.parse::<f64>().map_err(|_| ExprError {
                    at,
                    message: format!("{s:?} is not a number"),
                })?;
                Token::Number(x)
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = c.to_string();
                while let Some((_, d)) = self
                    .chars
                    .next_if(|(_, d)| d.is_alphanumeric() || matches!(d, '_' | '.' | '-'))
                {
                    s.push(d);
                }
                Token::Word(s)
            }
            other => {
                return Err(ExprError {
                    at,
                    message: format!("unexpected character {other:?}"),
                });
            }
        };
        Ok(Some((at, token)))
    }

    fn quoted(&mut self, at: usize, quote: char) -> Result<String, ExprError> {
        let mut s = String::new();
        loop {
            match self.chars.next() {
                Some((_, c)) if c == quote => return Ok(s),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => s.push(c),
                    None => break,
                },
                Some((_, c)) => s.push(c),
                None => break,
            }
        }
        Err(ExprError {
            at,
            message: "unterminated text: a closing quote is missing".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Comparison {
        let mut e = Expr::parse(text).unwrap();
        assert_eq!(e.all.len(), 1, "{text}");
        e.all.remove(0)
    }

    fn err(text: &str) -> ExprError {
        Expr::parse(text).unwrap_err()
    }

    #[test]
    fn every_field_of_the_issue_reads() {
        assert_eq!(one(r#"brand = "Acme""#).field, Field::Brand);
        let attr = one(r#"attr.material = "leather""#);
        assert_eq!(attr.field, Field::Attr("material".into()));
        assert_eq!(attr.value, Value::Text("leather".into()));
        let price = one("price < 20");
        assert_eq!((price.op, price.value), (Op::Lt, Value::Number(20.0)));
        let tags = one(r#"tags has "clearance""#);
        assert_eq!((tags.field, tags.op), (Field::Tags, Op::Has));
        let stock = one("in_stock = false");
        assert_eq!(stock.value, Value::Bool(false));
        assert_eq!(one("category = 'Shoes > Running'").field, Field::Category);
    }

    #[test]
    fn comparisons_join_with_and() {
        let e = Expr::parse(r#"brand != "Acme" and price >= 10.5 AND in_stock == true"#).unwrap();
        let ops: Vec<Op> = e.all.iter().map(|c| c.op).collect();
        assert_eq!(ops, [Op::Ne, Op::Ge, Op::Eq]);
        assert_eq!(e.all[1].value, Value::Number(10.5));
    }

    #[test]
    fn an_unknown_field_is_named_with_the_fields_there_are() {
        let e = err(r#"colour = "red""#);
        assert_eq!(e.at, 0);
        assert!(e.message.contains("unknown field \"colour\""), "{e}");
        assert!(e.message.contains("attr.<name>"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_rejected_at_the_operator() {
        let e = err(r#"price < "cheap""#);
        assert_eq!(e.at, 6);
        assert_eq!(
            e.message,
            "price compares with =, !=, <, <=, >, >= and a number"
        );
        assert!(err("brand = 3").message.starts_with("brand, category"));
        assert!(err(r#"in_stock = "no""#).message.starts_with("in_stock"));
        assert!(err(r#"tags < "x""#).message.starts_with("tags takes"));
    }

    #[test]
    fn incomplete_expressions_say_what_was_expected() {
        assert_eq!(err("").message, "expected a field, found the end");
        assert_eq!(err("price <").message, "expected a value, found the end");
        assert_eq!(err("price").message, "expected an operator, found the end");
        let e = err(r#"brand = "Acme" or price < 3"#);
        assert_eq!(e.at, 15);
        assert!(e.message.starts_with("expected `and` or the end"), "{e}");
        assert!(
            err(r#"brand = "Acme"#)
                .message
                .starts_with("unterminated text")
        );
        assert!(err("price ~ 3").message.starts_with("unexpected character"));
    }

    #[test]
    fn the_error_text_counts_characters_from_one() {
        assert_eq!(
            err("price < x").to_string(),
            "expected a value (\"text\", a number, true or false), found \"x\" (at character 9)"
        );
    }
}
