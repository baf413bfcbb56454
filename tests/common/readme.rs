//! The README's shell blocks, section by section, for the tests that run them
//! as written.

const README: &str = include_str!("../../README.md");

/// The lines of the ```sh blocks in the README section titled `title` (a
/// `## ` or `### ` heading, up to the next of either), trimmed, comments kept.
pub fn shell_lines(title: &str) -> Vec<String> {
    let start = ["\n## ", "\n### "]
        .iter()
        .find_map(|level| README.find(&format!("{level}{title}\n")))
        .unwrap_or_else(|| panic!("the README has no section {title:?}"));
    let section = &README[start + 1..];
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|level| section.find(level))
        .min();
    let section = &section[..end.unwrap_or(section.len())];
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

/// The commands of those blocks: each line without its `# comment`, comment
/// and empty lines left out.
pub fn commands(title: &str) -> Vec<String> {
    shell_lines(title)
        .iter()
        .map(|line| line.split(" #").next().unwrap().trim().to_string())
        .filter(|command| !command.is_empty() && !command.starts_with('#'))
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
