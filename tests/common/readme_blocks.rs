//! The README's `sh` blocks, read the way a shell reads them: the one parser
//! of the README's commands, shared by the integration tests that run them
//! (`tests/common/readme.rs`) and by the binary's unit test that parses every
//! `pingpong` line with the real command line (`src/bin/pingpong/cli/readme_tests.rs`).
//! Pure: text in, lines and words out.

/// The lines of the ```sh blocks in `readme`, trimmed: all of them, or those of
/// the section titled `title` (a `## ` or `### ` heading, up to the next of
/// either).
pub fn sh_lines(readme: &str, title: Option<&str>) -> Vec<String> {
    let section = match title {
        None => readme,
        Some(title) => {
            let start = ["\n## ", "\n### "]
                .iter()
                .find_map(|level| readme.find(&format!("{level}{title}\n")))
                .unwrap_or_else(|| panic!("the README has no section {title:?}"));
            let section = &readme[start + 1..];
            let end = ["\n## ", "\n### "]
                .iter()
                .filter_map(|level| section.find(level))
                .min();
            &section[..end.unwrap_or(section.len())]
        }
    };
    let mut lines = Vec::new();
    let mut in_shell = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
        } else if in_shell {
            lines.push(line.trim().to_string());
        }
    }
    lines
}

/// The words of `line` as a shell splits them: quotes removed, a trailing
/// `# comment` left out.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
