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

/// The names among `known` that look like `name` (a typo, another case,
/// a missing or extra part), closest first, at most three.
pub fn similar<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let mut close: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let kl = k.to_lowercase();
            let d = edit_distance(&lower, &kl);
            let near = d <= (lower.chars().count() / 3).max(2);
            let part = !lower.is_empty() && (kl.contains(&lower) || lower.contains(&kl));
            (near || part).then_some((d, k))
        })
        .collect();
    close.sort();
    close.dedup();
    close.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if ca == *cb {
                diag
            } else {
                1 + diag.min(up).min(row[j])
            };
            diag = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{check_name, edit_distance, similar};

    #[test]
    fn similar_names() {
        assert_eq!(edit_distance("web1", "web-1"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        let known = ["web-1", "web-2", "db-1", "edge-1"];
        assert_eq!(similar("web1", known), ["web-1", "web-2"]);
        assert_eq!(similar("WEB-1", known), ["web-1", "web-2", "db-1"]);
        assert_eq!(similar("edge", known), ["edge-1"]);
        assert!(similar("mail-9000", known).is_empty());
    }

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
