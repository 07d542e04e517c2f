//! What a node or token name may be: short, printable, safe in paths,
//! logs and shell prompts.

pub const MAX_NAME_LEN: usize = 64;

/// `Ok` when `name` is 1-64 characters of letters, digits, `.`, `_`, `-`,
/// not starting with `.` or `-`; otherwise the reason, for one-line errors.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "name is {} bytes; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(format!("name `{name}` cannot start with `.` or `-`"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "name `{}` has `{}`; use letters, digits, `.`, `_` and `-`",
            name.escape_debug(),
            c.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        for ok in ["web-1", "db_2.example", "A"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
