//! Shell completion scripts (bash, zsh, fish) from a binary's clap
//! definition, printed so that a closed pipe (`| head -1`) ends quietly.

use clap_complete::Shell;

/// Prints the completion script of `cmd` for `shell` on stdout.
pub fn print(shell: Shell, cmd: clap::Command) -> std::io::Result<()> {
    crate::cli::output::print_bytes(script(shell, cmd).as_bytes())
}

/// The completion script of `cmd` for `shell`.
pub fn script(shell: Shell, mut cmd: clap::Command) -> String {
    let name = cmd.get_name().to_string();
    // clap_complete panics when its writer fails: build the script in
    // memory, then write it as any other output.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name.clone(), &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    if shell == Shell::Bash {
        bash_below_the_first_word(&name, script)
    } else {
        script
    }
}

/// clap_complete 4.6 names the bash cases of subcommands of a binary with
/// a `-` in its name (`monit-cli`) differently from the state it walks to
/// (`monit__subcmd__cli__subcmd__query` against `monit__cli__subcmd__query`),
/// so nothing completes after the first word. Spell them the same.
fn bash_below_the_first_word(bin: &str, script: String) -> String {
    const SEP: &str = "__subcmd__";
    let wrong = format!("{}{SEP}", bin.replace('-', SEP));
    let right = format!("{}{SEP}", bin.replace('-', "__"));
    script.replace(&wrong, &right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn bash_cases_match_the_walk() {
        let s = script(Shell::Bash, crate::cli::args::Cli::command());
        assert!(s.contains("cmd=\"monit__cli__subcmd__query\""), "{s:.300}");
        assert!(s.contains("\n        monit__cli__subcmd__query)"));
        assert!(!s.contains("monit__subcmd__cli"));
    }
}
