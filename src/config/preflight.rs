//! What `check-config` checks beyond the file itself: that the programs it
//! names (check plugins, ops commands, notifiers) exist and are
//! executable, and that noded's token file is private and holds a token.
//! Each problem is one phrase that says what to do.

use std::path::{Path, PathBuf};

use super::{ConfigdConfig, NodedConfig};

/// Where `program` (an argv[0]) runs from: itself when it has a `/`,
/// else the first match on `$PATH`; or why it cannot run.
pub fn executable(program: &str) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("an empty program name".into());
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return runnable(&path).map(|()| path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| runnable(p).is_ok())
        .ok_or_else(|| format!("`{program}` is not on $PATH; give its full path"))
}

fn runnable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} does not exist", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK)
        .map_err(|_| format!("{} is not executable: chmod +x it", path.display()))
}

/// The problems of a noded configuration check-config reports.
pub fn noded_problems(c: &NodedConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for check in c.checks.iter().filter(|c| !c.is_passive()) {
        if let Err(why) = executable(&check.command[0]) {
            let hint = if check.command[0].starts_with("/usr/lib/nagios/plugins/") {
                " (apt-get install monitoring-plugins-basic)"
            } else {
                ""
            };
            problems.push(format!("[[check]] `{}`: {why}{hint}", check.name));
        }
    }
    for command in &c.commands {
        if let Some(program) = command.spec.argv.first() {
            if let Err(why) = executable(program) {
                problems.push(format!("[[command]] `{}`: {why}", command.spec.name));
            }
        }
    }
    match crate::auth::read_private(&c.token_file) {
        Ok(text) => {
            if let Err(e) = crate::auth::Token::parse(&text) {
                problems.push(format!("token_file {}: {e}", c.token_file.display()));
            }
        }
        Err(e) => problems.push(format!("token_file: {e}")),
    }
    problems
}

/// The problems of a configd configuration check-config reports.
pub fn configd_problems(c: &ConfigdConfig) -> Vec<String> {
    c.notify
        .iter()
        .filter_map(|n| {
            let program = n.command.first()?;
            let why = executable(program).err()?;
            Some(format!("[[notify]] `{}`: {why}", n.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn executables() {
        assert!(executable("sh").is_ok());
        assert!(executable("/bin/sh").is_ok());
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("x.sh");
        let missing = executable(script.to_str().unwrap()).unwrap_err();
        assert!(missing.contains("does not exist"), "{missing}");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        // root may execute any file with an x bit; with none, nobody may.
        let plain = executable(script.to_str().unwrap()).unwrap_err();
        assert!(plain.contains("chmod +x"), "{plain}");
        assert!(executable(dir.path().to_str().unwrap()).is_err());
        assert!(executable("no-such-program-anywhere")
            .unwrap_err()
            .contains("$PATH"));
    }
}
