//! kubectl's JSONPath dialect (client-go `util/jsonpath`): text with `{...}`
//! actions, `range ... end`, string literals (`{"\n"}`), `$`, `.field` (with `\.`
//! escapes), `..field`, `[*]`, `[n]`, `[a:b]`, `['key']`, `.*` and filters
//! `[?(@.type=="Ready")]`. Missing keys print nothing, as `kubectl get -o jsonpath`
//! allows them.

use serde_json::Value;

/// A parse error, worded as kubectl's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonPathError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Recursive(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<Segment>,
    compare: Option<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Path(Vec<Segment>),
    Range(Vec<Segment>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    nodes: Vec<Node>,
}

impl JsonPath {
    /// Parses a template such as `{range .items[*]}{.metadata.name}{"\n"}{end}`.
    pub fn parse(template: &str) -> Result<JsonPath, JsonPathError> {
        let mut stack: Vec<(Vec<Segment>, Vec<Node>)> = Vec::new();
        let mut nodes = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                nodes.push(Node::Text(rest.to_string()));
                break;
            };
            if open > 0 {
                nodes.push(Node::Text(rest[..open].to_string()));
            }
            let close = find_close(&rest[open..]).ok_or_else(|| {
                JsonPathError(format!("unclosed action in template {template:?}"))
            })? + open;
            let action = rest[open + 1..close].trim();
            rest = &rest[close + 1..];
            if let Some(expr) = action.strip_prefix("range ") {
                stack.push((parse_path(expr.trim())?, std::mem::take(&mut nodes)));
            } else if action == "end" {
                let (path, outer) = stack
                    .pop()
                    .ok_or_else(|| JsonPathError("not in range, nothing to end".to_string()))?;
                let body = std::mem::replace(&mut nodes, outer);
                nodes.push(Node::Range(path, body));
            } else if action.starts_with('"') || action.starts_with('\'') {
                nodes.push(Node::Text(unquote(action)?));
            } else if !action.is_empty() {
                nodes.push(Node::Path(parse_path(action)?));
            }
        }
        if !stack.is_empty() {
            return Err(JsonPathError("unclosed range".to_string()));
        }
        Ok(JsonPath { nodes })
    }

    /// Runs the template on `data`.
    pub fn execute(&self, data: &Value) -> String {
        let mut out = String::new();
        execute_nodes(&self.nodes, data, &mut out);
        out
    }

    /// The values of a template that is a single path (custom-columns cells).
    pub fn values(&self, data: &Value) -> Vec<Value> {
        let mut values = Vec::new();
        for node in &self.nodes {
            if let Node::Path(path) = node {
                values.extend(eval(path, data).into_iter().cloned());
            }
        }
        values
    }
}

/// kubectl's `RelaxedJSONPathExpression`: `metadata.name`, `.metadata.name` and
/// `{.metadata.name}` all mean the same.
pub fn relaxed(expr: &str) -> String {
    let expr = expr.trim();
    if expr.starts_with('{') {
        return expr.to_string();
    }
    let body = expr.strip_prefix('.').unwrap_or(expr);
    format!("{{.{body}}}")
}

fn find_close(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (idx, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"') | (None, '\'') => quote = Some(c),
            (None, '}') => return Some(idx),
            _ => {}
        }
    }
    None
}

fn unquote(text: &str) -> Result<String, JsonPathError> {
    let quote = text.chars().next().unwrap_or('"');
    let inner = text
        .strip_prefix(quote)
        .and_then(|t| t.strip_suffix(quote))
        .ok_or_else(|| JsonPathError(format!("unterminated string {text}")))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Ok(out)
}

fn parse_path(expr: &str) -> Result<Vec<Segment>, JsonPathError> {
    let bad = |why: &str| JsonPathError(format!("invalid path {expr:?}: {why}"));
    let chars: Vec<char> = expr.chars().collect();
    let mut pos = 0;
    if chars.first() == Some(&'$') || chars.first() == Some(&'@') {
        pos = 1;
    }
    let mut segments = Vec::new();
    while pos < chars.len() {
        match chars[pos] {
            '.' => {
                let recursive = chars.get(pos + 1) == Some(&'.');
                pos += if recursive { 2 } else { 1 };
                let mut name = String::new();
                while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                    if chars[pos] == '\\' && pos + 1 < chars.len() {
                        pos += 1;
                    }
                    name.push(chars[pos]);
                    pos += 1;
                }
                segments.push(match (recursive, name.as_str()) {
                    (_, "*") => Segment::Wildcard,
                    (true, _) => Segment::Recursive(name),
                    (false, "") => continue,
                    (false, _) => Segment::Field(name),
                });
            }
            '[' => {
                let start = pos + 1;
                let mut depth = 0;
                let mut end = None;
                let mut quote: Option<char> = None;
                for (k, &c) in chars.iter().enumerate().skip(start) {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'') | (None, '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') if depth == 0 => {
                            end = Some(k);
                            break;
                        }
                        (None, ']') => depth -= 1,
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| bad("unterminated ["))?;
                let inner: String = chars[start..end].iter().collect();
                segments.push(parse_bracket(inner.trim()).map_err(|e| bad(&e.0))?);
                pos = end + 1;
            }
            _ => {
                // A bare leading name (`metadata.name`) is a field.
                let mut name = String::new();
                while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                    name.push(chars[pos]);
                    pos += 1;
                }
                segments.push(Segment::Field(name));
            }
        }
    }
    Ok(segments)
}

fn parse_bracket(inner: &str) -> Result<Segment, JsonPathError> {
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(filter.trim());
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        return Ok(Segment::Field(unquote(inner)?));
    }
    let int = |t: &str| -> Result<Option<i64>, JsonPathError> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse()
            .map(Some)
            .map_err(|_| JsonPathError(format!("invalid array index {t:?}")))
    };
    match inner.split_once(':') {
        Some((a, b)) => {
            let b = b.split(':').next().unwrap_or("");
            Ok(Segment::Slice(int(a)?, int(b)?))
        }
        None => Ok(Segment::Index(int(inner)?.unwrap_or(0))),
    }
}

fn parse_filter(text: &str) -> Result<Segment, JsonPathError> {
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some((left, right)) = text.split_once(op) {
            let right = right.trim();
            let literal = if right.starts_with('"') || right.starts_with('\'') {
                Value::String(unquote(right)?)
            } else {
                serde_json::from_str(right).unwrap_or_else(|_| Value::String(right.to_string()))
            };
            return Ok(Segment::Filter(Box::new(Filter {
                path: parse_path(left.trim())?,
                compare: Some((op.to_string(), literal)),
            })));
        }
    }
    Ok(Segment::Filter(Box::new(Filter {
        path: parse_path(text)?,
        compare: None,
    })))
}

fn execute_nodes(nodes: &[Node], data: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Path(path) => {
                let values = eval(path, data);
                let texts: Vec<String> = values.iter().map(|v| display(v)).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(path, body) => {
                for value in eval(path, data) {
                    execute_nodes(body, value, out);
                }
            }
        }
    }
}

/// How a value prints: strings raw, everything else as compact JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => super::go_json_escapes(&other.to_string()),
    }
}

fn eval<'a>(path: &[Segment], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for segment in path {
        let mut next = Vec::new();
        for value in current {
            step(segment, value, &mut next);
        }
        current = next;
    }
    current
}

fn step<'a>(segment: &Segment, value: &'a Value, next: &mut Vec<&'a Value>) {
    match segment {
        Segment::Field(name) => {
            if let Some(v) = value.get(name.as_str()) {
                next.push(v);
            }
        }
        Segment::Recursive(name) => recurse(name, value, next),
        Segment::Wildcard => match value {
            Value::Array(items) => next.extend(items),
            Value::Object(map) => next.extend(map.values()),
            _ => {}
        },
        Segment::Index(index) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let k = if *index < 0 { len + index } else { *index };
                if (0..len).contains(&k) {
                    next.push(&items[k as usize]);
                }
            }
        }
        Segment::Slice(a, b) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let from = norm(a.unwrap_or(0));
                let to = norm(b.unwrap_or(len));
                if from < to {
                    next.extend(&items[from as usize..to as usize]);
                }
            }
        }
        Segment::Filter(filter) => {
            let candidates: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in candidates {
                let found = eval(&filter.path, item);
                let keep = match &filter.compare {
                    None => !found.is_empty(),
                    Some((op, literal)) => found.iter().any(|v| compare(v, op, literal)),
                };
                if keep {
                    next.push(item);
                }
            }
        }
    }
}

fn recurse<'a>(name: &str, value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get(name) {
                out.push(v);
            }
            for v in map.values() {
                recurse(name, v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                recurse(name, v, out);
            }
        }
        _ => {}
    }
}

fn compare(left: &Value, op: &str, right: &Value) -> bool {
    if let (Some(l), Some(r)) = (left.as_f64(), right.as_f64()) {
        return match op {
            "==" => l == r,
            "!=" => l != r,
            "<" => l < r,
            ">" => l > r,
            "<=" => l <= r,
            ">=" => l >= r,
            _ => false,
        };
    }
    let (l, r) = (display(left), display(right));
    match op {
        "==" => l == r,
        "!=" => l != r,
        "<" => l < r,
        ">" => l > r,
        "<=" => l <= r,
        ">=" => l >= r,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: &str, data: &Value) -> String {
        JsonPath::parse(template).unwrap().execute(data)
    }

    fn pods() -> Value {
        json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app": "web"},
              "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
             "spec": {"containers": [{"name": "c1", "image": "nginx"}, {"name": "c2", "image": "redis"}]},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]},
             "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        ]})
    }

    #[test]
    fn fields_wildcards_and_indexes() {
        let data = pods();
        assert_eq!(run("{.items[*].metadata.name}", &data), "a b");
        assert_eq!(run("{.items[0].spec.containers[1].image}", &data), "redis");
        assert_eq!(run("{.items[-1:].metadata.name}", &data), "b");
        assert_eq!(run("{$.kind}", &data), "List");
        assert_eq!(run("{..image}", &data), "nginx redis busybox");
        assert_eq!(
            run("{.items[0].metadata.labels}", &data),
            r#"{"app":"web"}"#
        );
        assert_eq!(run("name: {.items[1].metadata.name}!", &data), "name: b!");
        assert_eq!(run("{.items[0].missing.field}", &data), "");
    }

    #[test]
    fn range_literals_filters_and_escapes() {
        let data = pods();
        assert_eq!(
            run(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].name}{"\n"}{end}"#,
                &data
            ),
            "a\tc1 c2\nb\tc\n"
        );
        assert_eq!(
            run(
                r#"{.items[?(@.status.conditions[0].status=="True")].metadata.name}"#,
                &data
            ),
            "a"
        );
        assert_eq!(
            run("{.items[?(@.metadata.labels.app)].metadata.name}", &data),
            "a"
        );
        assert_eq!(
            run(
                r"{.items[0].metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}",
                &data
            ),
            "{}"
        );
        assert_eq!(run("{.items[0].metadata['labels']['app']}", &data), "web");
    }

    #[test]
    fn bad_templates_are_errors_not_panics() {
        for bad in [
            "{.items[",
            "{range .items[*]}",
            "{end}",
            "{.a",
            "{.x[abc]}",
            "{\"x}",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(relaxed("metadata.name"), "{.metadata.name}");
        assert_eq!(relaxed(".metadata.name"), "{.metadata.name}");
        assert_eq!(relaxed("{.a}"), "{.a}");
    }
}
