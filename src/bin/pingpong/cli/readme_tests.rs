//! Every `pingpong` command the README shows (its `sh` blocks, and
//! `cargo run --release -- …`) is accepted by the command line as written: a
//! renamed flag or a changed value format fails here, not in a reader's shell.

use clap::Parser;

use super::Cli;

const README: &str = include_str!("../../../../README.md");

/// The README's one parser, shared with the integration tests.
#[path = "../../../../tests/common/readme_blocks.rs"]
mod readme_blocks;

use readme_blocks::{sh_lines, shell_words};

/// The `pingpong` commands of the README's shell blocks, as their words
/// (leading `VAR=value` assignments left out; `cargo run --release -- ARGS`
/// read as `pingpong ARGS`).
fn readme_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for line in sh_lines(README, None) {
        let mut words = shell_words(&line);
        let assignments = words
            .iter()
            .take_while(|w| w.contains('=') && !w.starts_with('-'))
            .count();
        words.drain(..assignments);
        // `sudo [-u USER] pingpong ...` is the same command, run as someone else.
        if words.first().map(String::as_str) == Some("sudo") {
            let user = usize::from(words.get(1).map(String::as_str) == Some("-u")) * 2;
            words.drain(..1 + user);
        }
        // Output redirected or piped: the command ends there.
        if let Some(end) = words.iter().position(|w| w.starts_with('>') || w == "|") {
            words.truncate(end);
        }
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
            "PINGPONG_DNS=x",
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
