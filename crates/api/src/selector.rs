//! Label selectors (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) and field selectors
//! (`metadata.name=x,spec.nodeName!=y`), parsed, printed and matched as
//! apimachinery's `labels` and `fields` packages do, with upstream's error text
//! (the API server answers 400 with it).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::Value;

use crate::error::Error;
use crate::naming::{is_qualified_name, is_valid_label_value};
use crate::resource::ResourceInfo;

/// A label requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`: the label exists and has one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `key=a`
    Equals,
    /// `key==a`
    DoubleEquals,
    /// `key!=a`: absent or different.
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (integers only)
    GreaterThan,
    /// `key<5` (integers only)
    LessThan,
}

/// One term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and free of duplicates.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking key, values and their count as upstream's
    /// `NewRequirement` does.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, Error> {
        let mut errs = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(invalid("key", key, &key_errs.join("; ")));
        }
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(invalid_list(
                "values",
                &values,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(invalid_list(
                    "values",
                    &values,
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(invalid_list(
                    "values",
                    &values,
                    "values set must be empty for exists and does not exist",
                ))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid_list(
                        "values",
                        &values,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let v_errs = is_valid_label_value(v);
            if !v_errs.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    v,
                    &v_errs.join("; "),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(Error::LabelSelector(aggregate(errs)));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let got = labels.get(&self.key);
        let has_value = |v: &String| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => got.is_some_and(has_value),
            Operator::NotIn | Operator::NotEquals => !got.is_some_and(has_value),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(Ok(have)), [want]) =
                    (got.map(|g| g.parse::<i64>()), self.values.as_slice())
                else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `field.Invalid(path, value, msg).Error()`.
fn invalid(path: &str, value: &str, msg: &str) -> String {
    format!("{path}: Invalid value: {}: {msg}", quote(value))
}

fn invalid_list(path: &str, values: &[String], msg: &str) -> String {
    format!("{path}: Invalid value: {values:?}: {msg}")
}

/// `utilerrors.NewAggregate(errs).Error()`: one error alone, several in brackets.
fn aggregate(errs: Vec<String>) -> String {
    if errs.len() == 1 {
        errs.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// A label selector: all requirements must hold. The empty selector matches
/// everything; [`Selector::nothing`] (from a null `LabelSelector`) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The selector that matches no object (what a missing `spec.selector` means).
    pub fn nothing() -> Self {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form used in `?labelSelector=` and `kubectl -l`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut requirements = Parser::new(input).parse().map_err(Error::LabelSelector)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// A selector matching exactly these labels (`matchLabels`).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Self, Error> {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, vec![v.clone()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a meta/v1 `LabelSelector` (as in ReplicaSet and Deployment specs).
    /// `None` matches nothing; an empty selector matches everything.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, Error> {
        let Some(ls) = selector else {
            return Ok(Self::nothing());
        };
        let mut requirements = Vec::new();
        for (k, v) in ls.match_labels.iter().flatten() {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in ls.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(Error::LabelSelector(format!(
                        "{} is not a valid label selector operator",
                        quote(other)
                    )));
                }
            };
            requirements.push(Requirement::new(
                &expr.key,
                op,
                expr.values.clone().unwrap_or_default(),
            )?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// Converts back to a meta/v1 `LabelSelector`: single-value equalities become
    /// `matchLabels`, the rest `matchExpressions`. `>`/`<` have no LabelSelector form.
    pub fn to_label_selector(&self) -> Result<LabelSelector, Error> {
        let mut labels = BTreeMap::new();
        let mut exprs = Vec::new();
        for r in &self.requirements {
            let op = match r.operator {
                Operator::Equals | Operator::DoubleEquals if !labels.contains_key(&r.key) => {
                    labels.insert(r.key.clone(), r.values.first().cloned().unwrap_or_default());
                    continue;
                }
                Operator::Equals | Operator::DoubleEquals | Operator::In => "In",
                Operator::NotEquals | Operator::NotIn => "NotIn",
                Operator::Exists => "Exists",
                Operator::DoesNotExist => "DoesNotExist",
                Operator::GreaterThan | Operator::LessThan => {
                    return Err(Error::LabelSelector(format!(
                        "{r}: operators '>' and '<' cannot be expressed in a LabelSelector"
                    )));
                }
            };
            exprs.push(LabelSelectorRequirement {
                key: r.key.clone(),
                operator: op.to_string(),
                values: (!r.values.is_empty()).then(|| r.values.clone()),
            });
        }
        Ok(LabelSelector {
            match_labels: (!labels.is_empty()).then_some(labels),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        })
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True for the selector that matches everything.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether a label set is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an object (its JSON, `metadata.labels`) is selected. Labels that are
    /// not strings are ignored.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(&labels_of(object))
    }
}

/// The `metadata.labels` of an object's JSON as a map (non-string values skipped).
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
    Error,
}

fn literal_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits the input into tokens the way upstream's lexer does.
fn lex(input: &str) -> Vec<(Token, String)> {
    let b = input.as_bytes();
    let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        while pos < b.len() && is_space(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() {
            out.push((Token::End, String::new()));
            return out;
        }
        let start = pos;
        if is_special(b[pos]) {
            let mut last: Option<(Token, usize)> = None;
            while pos < b.len() && is_special(b[pos]) {
                match literal_token(&b[start..=pos]) {
                    Some(t) => last = Some((t, pos + 1)),
                    None if last.is_some() => break,
                    None => {}
                }
                pos += 1;
            }
            match last {
                Some((t, end)) => {
                    out.push((t, text(&b[start..end])));
                    pos = end;
                }
                None => out.push((
                    Token::Error,
                    format!("error expected: keyword found '{}'", text(&b[start..pos])),
                )),
            }
        } else {
            while pos < b.len() && !is_special(b[pos]) && !is_space(b[pos]) {
                pos += 1;
            }
            let s = &b[start..pos];
            out.push((literal_token(s).unwrap_or(Token::Identifier), text(s)));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(input: &str) -> Self {
        Parser {
            items: lex(input),
            position: 0,
        }
    }

    fn peek_at(&self, pos: usize, ctx: Context) -> (Token, String) {
        let (tok, lit) = self
            .items
            .get(pos)
            .cloned()
            .unwrap_or((Token::End, String::new()));
        match tok {
            Token::In | Token::NotIn if ctx == Context::Values => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        self.peek_at(self.position, ctx)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let item = self.peek_at(self.position, ctx);
        if self.position < self.items.len() {
            self.position += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op) = op {
            return Requirement::new(&key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(|e| e.to_string())
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_qualified_name(&lit);
        if !errs.is_empty() {
            return Err(invalid("<nil>", &lit, &errs.join("; ")));
        }
        let (t, _) = self.lookahead(Context::Values);
        if (t == Token::End || t == Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: '=', '!=', '==', 'in', notin'"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    s.push(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        s.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::End || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

/// A field selector's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `=` or `==`
    Equals,
    /// `!=`
    NotEquals,
}

/// One `field=value` / `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The comparison.
    pub op: FieldOp,
    /// The value compared with (unescaped).
    pub value: String,
}

/// A field selector: all terms must hold. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Fields every kind supports.
const META_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];
const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// The fields `kind`'s list accepts in `?fieldSelector=`, beyond which the API
/// server answers `field label not supported`.
pub fn supported_fields(resource: &ResourceInfo) -> Vec<&'static str> {
    let extra: &[&str] = match (resource.group, resource.plural) {
        ("", "pods") => POD_FIELDS,
        ("", "events") => EVENT_FIELDS,
        ("", "nodes") => &["spec.unschedulable"],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    };
    META_FIELDS.iter().chain(extra).copied().collect()
}

/// The values of `resource`'s selectable fields in an object's JSON. Missing
/// fields read as "" (booleans as "false"), as upstream's field sets do.
pub fn field_set(resource: &ResourceInfo, object: &Value) -> BTreeMap<String, String> {
    supported_fields(resource)
        .into_iter()
        .map(|f| {
            let pointer = match f {
                "source" => "/source/component".to_string(),
                other => format!("/{}", other.replace('.', "/")),
            };
            let value = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ if matches!(f, "spec.hostNetwork" | "spec.unschedulable") => "false".to_string(),
                _ if f == "status.replicas" => "0".to_string(),
                _ => String::new(),
            };
            (f.to_string(), value)
        })
        .collect()
}

impl FieldSelector {
    /// Parses `a=b,c!=d,e==f` as upstream's `fields.ParseSelector`: terms split on
    /// unescaped commas, each at its first operator; values may escape `\,` `\=`
    /// `\\` and must not contain a bare `=`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut terms = Vec::new();
        for term in split_unescaped(input, b',') {
            if term.is_empty() {
                continue;
            }
            let not_understood = || {
                Error::FieldSelector(format!(
                    "invalid selector: '{input}'; can't understand '{term}'"
                ))
            };
            let (field, op, value) = split_term(&term).ok_or_else(not_understood)?;
            let value = unescape_value(value)?;
            terms.push(FieldTerm {
                field: field.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The terms in the order given.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// Checks every field is supported by `resource`, with upstream's message.
    pub fn validate_for(&self, resource: &ResourceInfo) -> Result<(), Error> {
        let supported = supported_fields(resource);
        match self
            .terms
            .iter()
            .find(|t| !supported.contains(&t.field.as_str()))
        {
            Some(t) => Err(Error::FieldSelector(format!(
                "field label not supported: {}",
                t.field
            ))),
            None => Ok(()),
        }
    }

    /// The value required by an `=` term on `field`, if any (e.g. `metadata.name`,
    /// which lets a list become a get).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }

    /// Whether a field set (see [`field_set`]) satisfies every term.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|t| {
            let have = fields.get(&t.field).map(String::as_str).unwrap_or("");
            (have == t.value) == (t.op == FieldOp::Equals)
        })
    }

    /// Whether an object's JSON satisfies every term.
    pub fn matches_object(&self, resource: &ResourceInfo, object: &Value) -> bool {
        self.matches(&field_set(resource, object))
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.op == FieldOp::Equals { "=" } else { "!=" };
            write!(f, "{}{op}{}", escape(&t.field), escape(&t.value))?;
        }
        Ok(())
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: u8) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c as u32 == u32::from(sep) {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Finds the first operator (`!=`, `==`, `=`, tried in that order at each position).
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, value));
            }
        }
    }
    None
}

/// Upstream's `UnescapeValue`, with its error text (a bare character is printed
/// as its code point, as Go's `%v` of a rune does).
fn unescape_value(s: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(Error::FieldSelector(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(Error::FieldSelector(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(Error::FieldSelector(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::resolve;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_prints_label_selectors() {
        let cases = [
            ("", ""),
            ("a=b", "a=b"),
            ("a==b", "a==b"),
            (" a = b ", "a=b"),
            ("c!=d,a=b", "a=b,c!=d"),
            ("e in (y,x)", "e in (x,y)"),
            ("f notin (z)", "f notin (z)"),
            ("g", "g"),
            ("!h", "!h"),
            (
                "x in (foo,,baz),y,z notin ()",
                "x in (,baz,foo),y,z notin ()",
            ),
            ("a=", "a="),
            ("a>5,b<3", "a>5,b<3"),
            ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
            ("in in (in)", "in in (in)"),
            (
                "a=b,c!=d,e in (x,y),f notin (z),g,!h",
                "a=b,c!=d,e in (x,y),f notin (z),g,!h",
            ),
        ];
        for (input, want) in cases {
            let s = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(s.to_string(), want, "{input}");
            assert_eq!(Selector::parse(want).unwrap(), s, "{want} round-trips");
        }
    }

    #[test]
    fn label_selector_errors_match_upstream() {
        let cases = [
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                "=b",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            ("a=b,", "found '', expected: identifier after ','"),
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "a in (b c)",
                "unable to parse requirement: found 'c', expected: ',' or ')'",
            ),
            (
                "a in (b,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
            (
                "a in",
                "unable to parse requirement: found '' expected: '('",
            ),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'",
            ),
            (
                "a=!",
                "unable to parse requirement: found '!', expected: identifier",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "app:x",
                "unable to parse requirement: <nil>: Invalid value: \"app:x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            ("a=b c=d", "found 'c', expected: ',' or 'end of string'"),
            (
                "a=-x",
                "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
            (
                "a>x",
                "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Selector::parse(input),
                Err(Error::LabelSelector(want.to_string())),
                "{input}"
            );
        }
    }

    #[test]
    fn label_matching() {
        let l = labels(&[("app", "web"), ("tier", "fe"), ("n", "7")]);
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (db,web)", true),
            ("missing in (x)", false),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("app", true),
            ("missing", false),
            ("!app", false),
            ("!missing", true),
            ("n>5", true),
            ("n<5", false),
            ("app>5", false),
            ("missing<5", false),
            ("app=web,tier=fe", true),
            ("app=web,tier=be", false),
        ];
        for (sel, want) in cases {
            assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
        assert!(!Selector::nothing().matches(&l));
        assert!(Selector::everything().matches(&BTreeMap::new()));
        let obj = json!({"metadata": {"labels": {"app": "web", "bad": 1}}});
        assert!(
            Selector::parse("app=web,!bad")
                .unwrap()
                .matches_object(&obj)
        );
        assert!(
            Selector::parse("app=web")
                .unwrap()
                .matches_object(&json!({"metadata": {"labels": {"app": "web"}}}))
        );
        assert!(!Selector::parse("app").unwrap().matches_object(&json!(null)));
    }

    #[test]
    fn converts_label_selector_objects() {
        let ls: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"}
            ]
        }))
        .unwrap();
        let s = Selector::from_label_selector(Some(&ls)).unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,!canary,env notin (dev),team,tier in (be,fe)"
        );
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe"), ("team", "x")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        let back = serde_json::to_value(s.to_label_selector().unwrap()).unwrap();
        assert_eq!(
            back,
            json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "team", "operator": "Exists"},
                {"key": "tier", "operator": "In", "values": ["be", "fe"]}
            ]})
        );
        assert_eq!(
            Selector::from_label_selector(None).unwrap(),
            Selector::nothing()
        );
        assert!(
            Selector::from_label_selector(Some(&LabelSelector::default()))
                .unwrap()
                .is_everything()
        );

        let bad = |v: serde_json::Value| {
            let ls: LabelSelector = serde_json::from_value(v).unwrap();
            Selector::from_label_selector(Some(&ls))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            "\"Gt\" is not a valid label selector operator"
        );
        assert_eq!(
            bad(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            bad(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        );
        assert!(
            bad(json!({"matchLabels": {"a b": "c"}})).starts_with("key: Invalid value: \"a b\"")
        );
        assert!(Selector::parse("a>1").unwrap().to_label_selector().is_err());
    }

    #[test]
    fn field_selectors() {
        let pods = resolve("pods").unwrap();
        let pod = json!({"metadata": {"name": "web", "namespace": "default"},
                         "spec": {"nodeName": "n1", "restartPolicy": "Always"},
                         "status": {"phase": "Running", "podIP": "10.0.0.5"}});
        let cases = [
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name!=web", false),
            ("spec.nodeName=n1,status.phase=Running", true),
            ("spec.nodeName!=n1", false),
            ("spec.nodeName=", false),
            ("status.nominatedNodeName=", true),
            ("spec.hostNetwork=false", true),
            ("status.podIP=10.0.0.5", true),
            ("metadata.namespace=kube-system", false),
        ];
        for (sel, want) in cases {
            let fs = FieldSelector::parse(sel).unwrap();
            assert_eq!(fs.validate_for(pods), Ok(()), "{sel}");
            assert_eq!(fs.matches_object(pods, &pod), want, "{sel}");
        }
        let fs = FieldSelector::parse("metadata.name=web,spec.nodeName!=n2").unwrap();
        assert_eq!(fs.required_value("metadata.name"), Some("web"));
        assert_eq!(fs.required_value("spec.nodeName"), None);
        assert_eq!(fs.to_string(), "metadata.name=web,spec.nodeName!=n2");

        let events = resolve("events").unwrap();
        let ev = json!({"involvedObject": {"name": "x", "namespace": "ns", "uid": "u1", "kind": "Pod"},
                        "source": {"component": "kubelet"}, "type": "Normal", "reason": "Pulled"});
        let fs = FieldSelector::parse(
            "involvedObject.name=x,involvedObject.namespace=ns,involvedObject.uid=u1",
        )
        .unwrap();
        assert_eq!(fs.validate_for(events), Ok(()));
        assert!(fs.matches_object(events, &ev));
        assert!(
            FieldSelector::parse("source=kubelet,type=Normal,reason=Pulled")
                .unwrap()
                .matches_object(events, &ev)
        );
        let nodes = resolve("nodes").unwrap();
        assert!(
            FieldSelector::parse("spec.unschedulable=false")
                .unwrap()
                .matches_object(nodes, &json!({}))
        );
        assert!(
            FieldSelector::parse("spec.unschedulable=true")
                .unwrap()
                .matches_object(nodes, &json!({"spec": {"unschedulable": true}}))
        );
        assert!(
            FieldSelector::parse("type=Opaque")
                .unwrap()
                .matches_object(resolve("secrets").unwrap(), &json!({"type": "Opaque"}))
        );

        assert_eq!(
            FieldSelector::parse("spec.nodeName=x")
                .unwrap()
                .validate_for(resolve("svc").unwrap()),
            Err(Error::FieldSelector(
                "field label not supported: spec.nodeName".into()
            ))
        );
        assert_eq!(
            FieldSelector::parse("metadata.name")
                .unwrap_err()
                .to_string(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            FieldSelector::parse("a=b,c").unwrap_err().to_string(),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=a=b")
                .unwrap_err()
                .to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            FieldSelector::parse(r"metadata.name=a\x")
                .unwrap_err()
                .to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"metadata.name=a\")
                .unwrap_err()
                .to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        let esc = FieldSelector::parse(r"metadata.name=a\,b\=c").unwrap();
        assert_eq!(esc.terms()[0].value, "a,b=c");
        assert_eq!(esc.to_string(), r"metadata.name=a\,b\=c");
        assert!(FieldSelector::parse(r"metadata.name=a\x").is_err());
        assert!(FieldSelector::parse(r"metadata.name=a\").is_err());
        assert_eq!(
            FieldSelector::parse(",,").unwrap(),
            FieldSelector::default()
        );
    }

    /// Deterministic garbage: selectors must answer Ok or Err, never panic.
    #[test]
    fn garbage_never_panics() {
        let alphabet: Vec<char> = "ab=!(),<> \t\\in notin.é/-_01".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((seed >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            if let Ok(sel) = Selector::parse(&s) {
                assert_eq!(Selector::parse(&sel.to_string()), Ok(sel.clone()), "{s:?}");
                let _ = sel.to_label_selector();
            }
            if let Ok(fs) = FieldSelector::parse(&s)
                && fs
                    .terms()
                    .iter()
                    .all(|t| !t.field.contains('\\') && !t.field.ends_with('!'))
            {
                assert_eq!(
                    FieldSelector::parse(&fs.to_string()),
                    Ok(fs.clone()),
                    "{s:?}"
                );
            }
        }
    }
}
