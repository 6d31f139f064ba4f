//! The fenced code blocks of a Markdown page, read line by line as mdBook's CommonMark
//! sees the fences the book uses (three backticks, an info string, no nesting).

/// One fenced block: its info string (`yaml`, `sh`), its text, and its first line.
#[derive(Debug)]
pub(crate) struct Block {
    pub info: String,
    pub text: String,
    pub line: usize,
}

/// Every fenced block of `page`, in order.
pub(crate) fn blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in page.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_owned(),
                    text: String::new(),
                    line: index + 2,
                })
            }
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    blocks
}

/// Every Markdown page under `dir`, as (path, text), sorted by path.
pub(crate) fn pages(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut pages = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                let text = std::fs::read_to_string(&path).unwrap();
                pages.push((path, text));
            }
        }
    }
    pages.sort();
    pages
}

/// The targets of the Markdown links (`[text](target)`, and reference definitions
/// `[name]: target`, also in `//!` doc comments) in `text`, without their `#fragment`.
pub(crate) fn links(text: &str) -> Vec<String> {
    let inline = text
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target));
    let definitions = text.lines().filter_map(|line| {
        let line = line.trim_start_matches("//!").trim();
        line.starts_with('[')
            .then(|| line.split_once("]: "))
            .flatten()
            .map(|(_, target)| target)
    });
    inline
        .chain(definitions)
        .filter(|target| !target.is_empty() && !target.starts_with('#'))
        .map(|target| target.split('#').next().unwrap_or(target).to_owned())
        .collect()
}
