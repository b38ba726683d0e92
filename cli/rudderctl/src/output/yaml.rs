//! YAML as kubectl writes it (sigs.k8s.io/yaml over go-yaml v2): block style, keys
//! sorted, sequences not indented under their key, strings plain when YAML 1.1
//! would read them back as strings, `"double-quoted"` when they would read as
//! something else (`"5"`, `""`, `"true"`, timestamps), `'single-quoted'` when only
//! the syntax forbids plain (`'*'`, `'a: b'`), and `|` blocks for multi-line text.
//! serde_norway quotes differently (`''`, `'5'`), which a kubectl user would notice.

use serde_json::Value;

/// The YAML document of `value`.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => write_seq(items, 0, &mut out),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(map: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    let mut first = true;
    for (key, value) in map {
        // The first key of a map inside a sequence item follows the "- ".
        if !first || !out.ends_with("- ") {
            indent(out, level);
        }
        first = false;
        out.push_str(&string(key, level));
        out.push(':');
        write_value(value, level, out);
    }
}

fn write_seq(items: &[Value], level: usize, out: &mut String) {
    for item in items {
        if !out.ends_with("- ") {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(map, level + 2, out),
            Value::Array(inner) if !inner.is_empty() => write_seq(inner, level + 2, out),
            other => {
                out.push_str(&scalar(other, level + 2));
                out.push('\n');
            }
        }
    }
}

/// Writes what follows `key:`.
fn write_value(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(map, level + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(items, level, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, level + 2));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value, block_indent: usize) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, block_indent),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

/// One string scalar in go-yaml v2's style.
fn string(s: &str, block_indent: usize) -> String {
    if s.contains('\n') {
        if let Some(block) = literal_block(s, block_indent) {
            return block;
        }
        return double_quoted(s);
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    if s.chars().any(|c| c.is_control()) {
        return double_quoted(s);
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// `|`, `|-` or `|+` with the text indented under the key; None when a block
/// cannot hold it (leading space, control characters).
fn literal_block(s: &str, block_indent: usize) -> Option<String> {
    if s.starts_with(' ') || s.starts_with('\n') || s.chars().any(|c| c.is_control() && c != '\n') {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, block_indent);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    Some(out)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether YAML 1.1 (go-yaml v2's resolver) reads the plain text as a bool, null,
/// number or timestamp.
pub fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    is_int(s) || is_float(s) || is_timestamp(s)
}

fn is_int(s: &str) -> bool {
    let plain = s.replace('_', "");
    let digits = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if digits.is_empty() {
        return false;
    }
    if let Some(hex) = digits.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = digits.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c));
    }
    digits.chars().all(|c| c.is_ascii_digit())
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.chars().all(|c| c.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// `2006-1-2`, optionally followed by `T`/`t`/space and a time.
fn is_timestamp(s: &str) -> bool {
    let bytes = s.as_bytes();
    // Digits at `*i`, at least `min` and at most `max` of them.
    let part = |i: &mut usize, min: usize, max: usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        (min..=max).contains(&(*i - start))
    };
    let mut i = 0;
    if !part(&mut i, 4, 4) {
        return false;
    }
    for _ in 0..2 {
        if bytes.get(i) != Some(&b'-') {
            return false;
        }
        i += 1;
        if !part(&mut i, 1, 2) {
            return false;
        }
    }
    match bytes.get(i) {
        None => true,
        Some(b'T' | b't' | b' ') => {
            bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && s[i + 1..].contains(':')
        }
        _ => false,
    }
}

/// libyaml's analysis of whether a block-context plain scalar can hold `s`.
fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.contains('\t') {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && chars.get(1).is_none_or(|c| *c == ' ') {
        return false;
    }
    for (idx, c) in chars.iter().enumerate() {
        let next = chars.get(idx + 1);
        if *c == ':' && next.is_none_or(|n| *n == ' ') {
            return false;
        }
        if *c == '#' && idx > 0 && chars[idx - 1] == ' ' {
            return false;
        }
        if c.is_control() || *c == '\u{feff}' {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_look_like_kubectls() {
        let doc = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "resourceVersion": "5", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "labels": {"app": "web", "on": "yes"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"a\":1}\n", "star": "*", "colon": "a: b", "quote": "it's"}},
            "spec": {"containers": [{"name": "c", "args": ["--port", "8080", ""], "ports": [{"containerPort": 80}]}],
                     "tolerations": [], "nodeSelector": {}, "priority": 0, "enableServiceLinks": true,
                     "nested": [["a"], []]},
            "status": null
        });
        assert_eq!(
            to_string(&doc),
            r#"apiVersion: v1
kind: Pod
metadata:
  annotations:
    colon: 'a: b'
    kubectl.kubernetes.io/last-applied-configuration: |
      {"a":1}
    quote: it's
    star: '*'
  creationTimestamp: "2024-01-01T00:00:00Z"
  labels:
    app: web
    "on": "yes"
  name: web
  resourceVersion: "5"
spec:
  containers:
  - args:
    - --port
    - "8080"
    - ""
    name: c
    ports:
    - containerPort: 80
  enableServiceLinks: true
  nested:
  - - a
  - []
  nodeSelector: {}
  priority: 0
  tolerations: []
status: null
"#
        );
    }

    #[test]
    fn scalars_resolve_as_yaml_1_1() {
        for quoted in [
            "1",
            "-1",
            "0x1F",
            "1.5",
            ".5",
            "1e3",
            "true",
            "no",
            "~",
            "2024-01-01",
            "2024-1-2T3:04:05Z",
        ] {
            assert!(resolves_to_non_string(quoted), "{quoted}");
        }
        for plain in [
            "web",
            "1.2.3",
            "v1.33.0",
            "10.0.0.1",
            "nginx:1.25",
            "-",
            "2024",
            "a-1",
        ] {
            if plain == "2024" {
                assert!(resolves_to_non_string(plain));
                continue;
            }
            assert!(!resolves_to_non_string(plain), "{plain}");
        }
        assert_eq!(string("a\nb", 2), "|-\n  a\n  b");
        assert_eq!(string(" lead\n", 2), "\" lead\\n\"");
        assert_eq!(string("tab\there", 0), "\"tab\\there\"");
    }
}
