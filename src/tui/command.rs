//! The `:` command line: parsing, and completion of verbs and command names.
//!
//! `run COMMAND [ARG]... [--target SEL]` runs an ops command (one SEL, as in
//! `monit-cli run`: `node=NAME`, `label.K=V`, `zone=218`, `all`; without
//! one, a command bound to an inventory item runs on the item's node);
//! `runbook NAME ARG...` plans a runbook of configd.toml and asks before
//! running it; `quit` leaves; `help` shows the keys.

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Run {
        command: String,
        args: Vec<String>,
        targets: Vec<String>,
    },
    /// `runbook NAME ARG...`: plan, confirm, run.
    Runbook {
        name: String,
        args: Vec<String>,
    },
    Quit,
    Help,
}

pub const VERBS: &[&str] = &["run", "runbook", "quit", "help"];

/// Parses what follows `:`. Errors are one line saying what to type.
pub fn parse(line: &str) -> Result<CommandLine, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&verb, rest)) = words.split_first() else {
        return Err("empty command: try `run COMMAND ARG... --target SEL` or `quit`".into());
    };
    match verb {
        "q" | "quit" => no_args(verb, rest, CommandLine::Quit),
        "help" => no_args(verb, rest, CommandLine::Help),
        "run" => parse_run(rest),
        "runbook" => match rest.split_first() {
            Some((name, args)) if !name.starts_with('-') => Ok(CommandLine::Runbook {
                name: name.to_string(),
                args: args.iter().map(|a| a.to_string()).collect(),
            }),
            _ => Err(
                "runbook needs a name: `runbook NAME ARG...` (e.g. runbook move-zone 301 web-2)"
                    .into(),
            ),
        },
        other => Err(format!(
            "unknown command `{other}`: try {}",
            VERBS.join(", ")
        )),
    }
}

fn no_args(verb: &str, rest: &[&str], cmd: CommandLine) -> Result<CommandLine, String> {
    if rest.is_empty() {
        Ok(cmd)
    } else {
        Err(format!("`{verb}` takes no arguments"))
    }
}

fn parse_run(rest: &[&str]) -> Result<CommandLine, String> {
    let mut command = None;
    let mut args = Vec::new();
    let mut targets = Vec::new();
    let mut it = rest.iter();
    while let Some(&w) = it.next() {
        let sel = match w.strip_prefix("--target=") {
            None if w == "--target" || w == "-t" => Some(
                *it.next()
                    .ok_or("--target needs a selector: node=NAME, label.K=V, zone=KEY or all")?,
            ),
            sel => sel,
        };
        if let Some(sel) = sel {
            check_selector(sel)?;
            // One `--target` per run, as in `monit-cli run`.
            if !targets.is_empty() {
                return Err(
                    "one --target per run (as in monit-cli run): node=NAME, label.K=V, zone=KEY or all"
                        .into(),
                );
            }
            targets.push(sel.to_string());
        } else if command.is_none() {
            if w.starts_with('-') {
                return Err(format!(
                    "unexpected option `{w}`: write `run COMMAND ARG... --target SEL`"
                ));
            }
            command = Some(w.to_string());
        } else {
            args.push(w.to_string());
        }
    }
    let Some(command) = command else {
        return Err("run needs a command: `run COMMAND ARG... --target SEL`".into());
    };
    Ok(CommandLine::Run {
        command,
        args,
        targets,
    })
}

/// The signatures of the command being typed after `run` (`open-zone
/// <zone:int 1..99999> <date:date %Y%m%d>`), once its name is complete.
pub fn signatures(line: &str, commands: &[crate::net::proto::CommandOffer]) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let name = match (words.as_slice(), line.ends_with(' ')) {
        (["run", cmd], true) => *cmd,
        (["run", cmd, ..], _) if words.len() > 2 => *cmd,
        _ => return Vec::new(),
    };
    let mut sigs: Vec<String> = commands
        .iter()
        .filter(|c| c.spec.name == name)
        .map(|c| c.spec.signature())
        .collect();
    sigs.dedup();
    sigs
}

/// Checks `args` against the command's argument specs, as configd will:
/// Ok when some node's definition takes them (or none is known yet).
pub fn check_run(
    command: &str,
    args: &[String],
    commands: &[crate::net::proto::CommandOffer],
) -> Result<(), String> {
    if commands.is_empty() {
        return Ok(());
    }
    let mut first_error = None;
    for offer in commands.iter().filter(|c| c.spec.name == command) {
        match offer.spec.check_args(args) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| format!("no node offers `{command}`: Tab lists the commands there are")))
}

fn check_selector(sel: &str) -> Result<(), String> {
    if sel == "all" {
        return Ok(());
    }
    match sel.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(()),
        _ => Err(format!(
            "bad target `{sel}`: write node=NAME, label.K=V, zone=KEY or all"
        )),
    }
}

/// Completes the word under the cursor (the last word of `line`): verbs
/// first, then command names after `run`. Returns the new line when there
/// is exactly one candidate or a longer common prefix, else `None`.
pub fn complete(line: &str, command_names: &[String]) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ends_in_space = line.ends_with(' ');
    let (prefix, candidates): (&str, Vec<&str>) = match (words.as_slice(), ends_in_space) {
        ([], _) => ("", VERBS.to_vec()),
        ([verb], false) => (*verb, VERBS.to_vec()),
        (["run"], true) => ("", command_names.iter().map(String::as_str).collect()),
        (["run", cmd], false) => (*cmd, command_names.iter().map(String::as_str).collect()),
        _ => return None,
    };
    let matching: Vec<&str> = candidates
        .into_iter()
        .filter(|c| c.starts_with(prefix))
        .collect();
    let first = matching.first()?;
    let common = matching.iter().fold(first.to_string(), |acc, c| {
        acc.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let head = &line[..line.len() - if ends_in_space { 0 } else { prefix.len() }];
    if matching.len() == 1 {
        Some(format!("{head}{common} "))
    } else if common.len() > prefix.len() {
        Some(format!("{head}{common}"))
    } else {
        None
    }
}

/// The candidates for the word being typed, for the hint under the line.
pub fn candidates(line: &str, command_names: &[String]) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ends_in_space = line.ends_with(' ');
    match (words.as_slice(), ends_in_space) {
        ([], _) => VERBS.iter().map(|s| s.to_string()).collect(),
        ([verb], false) => VERBS
            .iter()
            .filter(|v| v.starts_with(verb))
            .map(|s| s.to_string())
            .collect(),
        (["run"], true) => command_names.to_vec(),
        (["run", cmd], false) => command_names
            .iter()
            .filter(|c| c.starts_with(cmd))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_run_with_targets() {
        assert_eq!(
            parse("run open-zone 218 20151011 --target zone=218"),
            Ok(CommandLine::Run {
                command: "open-zone".into(),
                args: vec!["218".into(), "20151011".into()],
                targets: vec!["zone=218".into()],
            })
        );
        assert_eq!(
            parse("run uptime --target=all"),
            Ok(CommandLine::Run {
                command: "uptime".into(),
                args: vec![],
                targets: vec!["all".into()],
            })
        );
        // One target syntax with monit-cli run: one selector.
        assert!(parse("run uptime --target=all -t node=a")
            .unwrap_err()
            .contains("one --target"));
        // No target: configd runs a bound command on its item's node.
        assert_eq!(
            parse("run open-zone 218 20151011"),
            Ok(CommandLine::Run {
                command: "open-zone".into(),
                args: vec!["218".into(), "20151011".into()],
                targets: vec![],
            })
        );
        assert_eq!(parse("quit"), Ok(CommandLine::Quit));
        assert_eq!(
            parse("runbook move-zone 301 web-2"),
            Ok(CommandLine::Runbook {
                name: "move-zone".into(),
                args: vec!["301".into(), "web-2".into()],
            })
        );
        assert!(parse("runbook").unwrap_err().contains("needs a name"));
        assert_eq!(parse(" q "), Ok(CommandLine::Quit));
    }

    #[test]
    fn errors_say_what_to_type() {
        assert!(parse("").unwrap_err().contains("run COMMAND"));
        assert!(parse("run --target all")
            .unwrap_err()
            .contains("needs a command"));
        assert!(parse("run x --target").unwrap_err().contains("selector"));
        assert!(parse("run x --target zone")
            .unwrap_err()
            .contains("bad target"));
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
        assert!(parse("quit now").unwrap_err().contains("no arguments"));
    }

    #[test]
    fn completes_verbs_and_command_names() {
        let names = vec!["open-zone".to_string(), "open-port".into(), "uptime".into()];
        assert_eq!(complete("r", &names).as_deref(), Some("run"));
        assert_eq!(complete("runb", &names).as_deref(), Some("runbook "));
        assert_eq!(complete("run u", &names).as_deref(), Some("run uptime "));
        assert_eq!(complete("run o", &names).as_deref(), Some("run open-"));
        assert_eq!(complete("run open-", &names), None);
        assert_eq!(complete("run x", &names), None);
        assert_eq!(candidates("run open-", &names), ["open-zone", "open-port"]);
        assert_eq!(candidates("", &names), ["run", "runbook", "quit", "help"]);
    }
}
