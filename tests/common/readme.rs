//! The README's shell blocks, section by section, for the tests that run them
//! as written.

const README: &str = include_str!("../../README.md");

/// The lines of the ```sh blocks in the README section titled `title` (a
/// `## ` or `### ` heading, up to the next of either), trimmed, comments kept.
pub fn shell_lines(title: &str) -> Vec<String> {
    super::readme_blocks::sh_lines(README, Some(title))
}

/// The commands of those blocks, as a shell reads each line (quotes removed,
/// the `# comment` left out), their words joined by single spaces; comment
/// and empty lines left out.
pub fn commands(title: &str) -> Vec<String> {
    shell_lines(title)
        .iter()
        .map(|line| super::readme_blocks::shell_words(line).join(" "))
        .filter(|command| !command.is_empty())
        .collect()
}

/// Runs `process`, the README line `command`: it must exit 0. Its stdout.
pub fn succeeds(command: &str, mut process: std::process::Command) -> String {
    let out = process.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "`{command}`: {}",
        super::describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The run's summary says all `count` pings were answered, none lost.
pub fn assert_all_answered(command: &str, stdout: &str, count: u64) {
    let expected = format!("{count} pings transmitted, {count} received, 0% loss");
    assert!(stdout.contains(&expected), "`{command}`: {stdout}");
}
