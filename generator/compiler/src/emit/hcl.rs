//! HCL text laid out exactly as `terraform fmt` leaves it: two-space indents, and the
//! `=` of consecutive one-line attributes aligned (a blank line, a block, a comment or a
//! multi-line value ends the run).

use std::fmt::Write;

/// One line-level item of a body.
#[derive(Clone, Debug)]
pub(super) enum Item {
    /// `name = expression`, on one line.
    Attr(String, String),
    /// `name = {` with one-line entries, then `}`.
    Object(String, Vec<(String, String)>),
    /// `name = <<-EOT`, the indented text, then `EOT`.
    Heredoc(String, String),
    /// A nested block.
    Block(Block),
    /// A `#` comment line.
    Comment(String),
    /// An empty line.
    Blank,
}

/// A block: `kind "label" ... { body }`.
#[derive(Clone, Debug)]
pub(super) struct Block {
    kind: String,
    labels: Vec<String>,
    items: Vec<Item>,
}

impl Block {
    /// An empty block.
    pub(super) fn new(kind: &str, labels: &[&str]) -> Self {
        Self {
            kind: kind.to_owned(),
            labels: labels.iter().map(|label| (*label).to_owned()).collect(),
            items: Vec::new(),
        }
    }

    /// Adds `name = expression`.
    pub(super) fn attr(mut self, name: &str, expression: impl Into<String>) -> Self {
        self.items
            .push(Item::Attr(name.to_owned(), expression.into()));
        self
    }

    /// Adds an item.
    pub(super) fn item(mut self, item: Item) -> Self {
        self.items.push(item);
        self
    }

    /// Adds a nested block, after a blank line unless it opens the body.
    pub(super) fn block(mut self, block: Block) -> Self {
        if self
            .items
            .last()
            .is_some_and(|last| !matches!(last, Item::Blank | Item::Comment(_)))
        {
            self.items.push(Item::Blank);
        }
        self.items.push(Item::Block(block));
        self
    }

    /// The block as text, ending in a newline.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        out.push_str(&pad);
        out.push_str(&self.kind);
        for label in &self.labels {
            write!(out, " {}", string(label)).unwrap();
        }
        if self.items.is_empty() {
            out.push_str(" {}\n");
            return;
        }
        out.push_str(" {\n");
        write_items(out, &self.items, depth + 1);
        out.push_str(&pad);
        out.push_str("}\n");
    }
}

fn write_items(out: &mut String, items: &[Item], depth: usize) {
    let pad = "  ".repeat(depth);
    let mut index = 0;
    while index < items.len() {
        if let Item::Attr(..) = items[index] {
            let run: Vec<(&String, &String)> = items[index..]
                .iter()
                .map_while(|item| match item {
                    Item::Attr(name, value) => Some((name, value)),
                    _ => None,
                })
                .collect();
            index += run.len();
            write_aligned(out, &run, &pad);
            continue;
        }
        match &items[index] {
            Item::Attr(..) => unreachable!("handled above"),
            Item::Object(name, entries) => {
                writeln!(out, "{pad}{name} = {{").unwrap();
                let entries: Vec<(&String, &String)> =
                    entries.iter().map(|(k, v)| (k, v)).collect();
                write_aligned(out, &entries, &format!("{pad}  "));
                writeln!(out, "{pad}}}").unwrap();
            }
            Item::Heredoc(name, text) => {
                writeln!(out, "{pad}{name} = <<-EOT").unwrap();
                for line in text.lines() {
                    writeln!(out, "{pad}  {line}").unwrap();
                }
                writeln!(out, "{pad}EOT").unwrap();
            }
            Item::Block(block) => block.write(out, depth),
            Item::Comment(text) => writeln!(out, "{pad}#{text}").unwrap(),
            Item::Blank => out.push('\n'),
        }
        index += 1;
    }
}

fn write_aligned(out: &mut String, run: &[(&String, &String)], pad: &str) {
    let width = run.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in run {
        writeln!(out, "{pad}{name:<width$} = {value}").unwrap();
    }
}

/// A quoted HCL string with `${` and `%{` escaped, and control characters and Unicode's
/// line and paragraph separators written as escapes, so the text reads back as itself.
pub(super) fn string(text: &str) -> String {
    let mut out = String::from('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of expressions on one line.
pub(super) fn list<I: IntoIterator<Item = String>>(items: I) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// An object key: bare when it is an identifier, quoted otherwise.
pub(super) fn key(name: &str) -> String {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        name.to_owned()
    } else {
        string(name)
    }
}

/// A number as HCL writes it: `0.7`, `500`.
pub(super) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_runs_and_escapes_templates() {
        let block = Block::new("resource", &["a", "b"])
            .attr("name", string("x-${y}"))
            .attr("billing_mode", string("PAY"))
            .block(Block::new("ttl", &[]).attr("enabled", "true"))
            .item(Item::Blank)
            .item(Item::Object(
                "tags".into(),
                vec![
                    (key("cachegen:fingerprint"), string("f")),
                    (key("A"), string("b")),
                ],
            ));
        assert_eq!(
            block.render(),
            "resource \"a\" \"b\" {\n  name         = \"x-$${y}\"\n  billing_mode = \"PAY\"\n\n  ttl {\n    enabled = true\n  }\n\n  tags = {\n    \"cachegen:fingerprint\" = \"f\"\n    A                      = \"b\"\n  }\n}\n"
        );
    }

    #[test]
    fn escapes_what_would_not_read_back() {
        assert_eq!(
            string("a\tb\rc\u{85}d\u{2028}e\u{1b}fé"),
            r#""a\tb\rc\u0085d\u2028e\u001bfé""#
        );
        // HCL (hcl-rs, as Terraform) reads it back as the same text.
        let text = "a\tb\rc\u{85}d\u{2028}e\u{1b}f${g}%{h}é";
        let body: hcl::Body = hcl::from_str(&format!("x = {}\n", string(text))).unwrap();
        let expression = body.attributes().next().unwrap().expr();
        let value = hcl::eval::Evaluate::evaluate(expression, &hcl::eval::Context::new()).unwrap();
        assert_eq!(value, hcl::Value::String(text.into()));
    }
}
