//! Every `pingpong` command the README shows (its `sh` blocks, and
//! `cargo run --release -- …`) is accepted by the command line as written: a
//! renamed flag or a changed value format fails here, not in a reader's shell.

use clap::Parser;

use super::Cli;

const README: &str = include_str!("../../README.md");

/// The words of `line` as a shell splits them (quotes, a trailing `# comment`),
/// without leading `VAR=value` assignments.
fn shell_words(line: &str) -> Vec<String> {
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
    let assignments = words
        .iter()
        .take_while(|w| w.contains('=') && !w.starts_with('-'))
        .count();
    words.split_off(assignments)
}

/// The `pingpong` commands of the README's shell blocks.
fn readme_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    for line in README.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        let mut words = shell_words(line);
        if words.starts_with(&["cargo".into(), "run".into()]) {
            match words.iter().position(|w| w == "--") {
                Some(dashes) => {
                    words.drain(..=dashes);
                    words.insert(0, "pingpong".into());
                }
                None => continue,
            }
        }
        if words.first().map(String::as_str) == Some("pingpong") {
            commands.push(words);
        }
    }
    commands
}

#[test]
fn every_pingpong_command_in_the_readme_parses_as_written() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 30,
        "found only {} commands",
        commands.len()
    );
    for words in &commands {
        if let Err(error) = Cli::try_parse_from(words) {
            panic!(
                "README command `{}` does not parse:\n{error}",
                words.join(" ")
            );
        }
    }
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(
            r#"PINGPONG_DNS=x pingpong server --instance "Living Room" --listen '[::]:0'  # note"#
        ),
        [
            "pingpong",
            "server",
            "--instance",
            "Living Room",
            "--listen",
            "[::]:0"
        ]
    );
    assert!(shell_words("# only a comment").is_empty());
}
