//! Blank lines between items, which prettyplease leaves out: rustfmt keeps the ones a
//! person writes, so generated code reads like written code.

/// `code`, as prettyplease prints it, with a blank line before each item that follows
/// another item at its level: a doc comment, an attribute or a `fn`, `impl`, `mod`,
/// `struct`, `enum` or `use` opening a line right after a line that closes an item.
pub(super) fn space_items(code: &str) -> String {
    let mut spaced = String::with_capacity(code.len() + code.len() / 16);
    let mut previous: Option<&str> = None;
    for line in code.lines() {
        if let Some(previous) = previous
            && closes_item(previous)
            && opens_item(line)
            && indent(previous) == indent(line)
            && !(is_use(previous) && is_use(line))
        {
            spaced.push('\n');
        }
        spaced.push_str(line);
        spaced.push('\n');
        previous = Some(line);
    }
    spaced
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn closes_item(line: &str) -> bool {
    let line = line.trim();
    !line.starts_with("//")
        && !line.starts_with("#[")
        && (line.ends_with('}') || line.ends_with(';'))
}

/// Whether `line` starts an item: a doc comment, an attribute, anything `pub`, or a
/// private `fn`, `impl`, `mod`, `struct`, `enum` or `use` (not an associated `type` or
/// `const`, which stay grouped).
fn opens_item(line: &str) -> bool {
    const PRIVATE_ITEMS: &[&str] = &[
        "fn ",
        "async fn ",
        "impl ",
        "impl<",
        "mod ",
        "struct ",
        "enum ",
        "use ",
    ];
    let line = line.trim_start();
    line.starts_with("///")
        || line.starts_with("#[")
        || line.starts_with("pub ")
        || PRIVATE_ITEMS.iter().any(|item| line.starts_with(item))
}

fn is_use(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("use ") || line.starts_with("pub use ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_get_a_blank_line_and_statements_do_not() {
        let code = "use a::b;\nuse a::c;\n/// A.\npub const A: u8 = 1;\n/// B.\npub const B: u8 = 2;\n\
                    impl X for Y {\n    type K = u8;\n    const N: u8 = 1;\n    fn f() {\n        let a = 1;\n        g(a);\n    }\n    fn h() {}\n}\n";
        assert_eq!(
            space_items(code),
            "use a::b;\nuse a::c;\n\n/// A.\npub const A: u8 = 1;\n\n/// B.\npub const B: u8 = 2;\n\n\
             impl X for Y {\n    type K = u8;\n    const N: u8 = 1;\n\n    fn f() {\n        let a = 1;\n        g(a);\n    }\n\n    fn h() {}\n}\n"
        );
    }
}
