//! Confinement of transferred files to a node's `transfer_dir`: which
//! relative paths are accepted, and where they land once symbolic links
//! are resolved. A transfer names a file by a plain relative path (normal
//! components only); its directory, resolved, must lie inside the
//! canonical `transfer_dir`, and the file itself is opened with
//! `O_NOFOLLOW`, so no link leads a read or a write outside.

use std::path::{Path, PathBuf};

/// Longest path accepted, in bytes.
const MAX_PATH: usize = 1024;
/// Longest component accepted, in bytes (Linux's NAME_MAX).
const MAX_NAME: usize = 255;
/// Temporary files of writes in progress start with this, in the top of
/// `transfer_dir`; noded removes leftovers at start.
pub const PART_PREFIX: &str = ".monit-part-";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty path")]
    Empty,
    #[error("path `{0}` holds a NUL byte")]
    Nul(String),
    #[error("path `{0}` is absolute: name it relative to transfer_dir")]
    Absolute(String),
    #[error("path `{0}` has an empty, `.` or `..` component: only plain names separated by `/` are allowed")]
    NotPlain(String),
    #[error("path `{0}` is too long (at most {MAX_PATH} bytes, {MAX_NAME} per component)")]
    TooLong(String),
    #[error("path `{0}` names a temporary file of a transfer ({PART_PREFIX}*)")]
    Reserved(String),
    #[error("the directory of `{path}` does not exist in transfer_dir: {reason}")]
    NoParent { path: String, reason: String },
    #[error("path `{0}` leads outside transfer_dir (through a symbolic link)")]
    Escapes(String),
}

/// Checks `path` is a plain relative path: non-empty, no NUL, not
/// absolute, every component a normal name (no empty, `.` or `..`).
pub fn check_relative(path: &str) -> Result<&Path, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    let shown = || path.escape_debug().to_string();
    if path.contains('\0') {
        return Err(PathError::Nul(shown()));
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute(shown()));
    }
    if path.len() > MAX_PATH {
        return Err(PathError::TooLong(shown()));
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(PathError::NotPlain(shown()));
        }
        if part.len() > MAX_NAME {
            return Err(PathError::TooLong(shown()));
        }
    }
    if path
        .split('/')
        .next_back()
        .is_some_and(|n| n.starts_with(PART_PREFIX))
    {
        return Err(PathError::Reserved(shown()));
    }
    Ok(Path::new(path))
}

/// Where `path` lands: the canonical directory holding it (checked to lie
/// inside `root`, which must be canonical) joined with its file name. The
/// file itself is not resolved: open it with `O_NOFOLLOW`.
pub fn locate(root: &Path, path: &str) -> Result<PathBuf, PathError> {
    let rel = check_relative(path)?;
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(PathError::NotPlain(path.escape_debug().to_string()));
    };
    let dir = root.join(parent);
    let dir = std::fs::canonicalize(&dir).map_err(|e| PathError::NoParent {
        path: path.escape_debug().to_string(),
        reason: e.to_string(),
    })?;
    if !dir.starts_with(root) {
        return Err(PathError::Escapes(path.escape_debug().to_string()));
    }
    if !dir.is_dir() {
        return Err(PathError::NoParent {
            path: path.escape_debug().to_string(),
            reason: "not a directory".into(),
        });
    }
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_only() {
        for ok in [
            "a",
            "zone-101.tar.gz",
            "in/zone 7.tgz",
            "a/b/c",
            "..a",
            "a..",
        ] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        assert_eq!(check_relative(""), Err(PathError::Empty));
        assert!(matches!(check_relative("a\0b"), Err(PathError::Nul(_))));
        assert!(matches!(
            check_relative("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        for bad in [
            "../x", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", ".", "..",
        ] {
            assert!(
                matches!(check_relative(bad), Err(PathError::NotPlain(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_relative(&"a".repeat(256)),
            Err(PathError::TooLong(_))
        ));
        assert!(matches!(
            check_relative(&"a/".repeat(600)),
            Err(PathError::TooLong(_))
        ));
        assert!(matches!(
            check_relative("d/.monit-part-1"),
            Err(PathError::Reserved(_))
        ));
        // Messages are one line, whatever the path holds.
        let e = check_relative("/a\nb").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn links_out_of_the_root_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("xfer");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("sub"), root.join("in")).unwrap();
        assert_eq!(locate(&root, "f").unwrap(), root.join("f"));
        assert_eq!(locate(&root, "sub/f").unwrap(), root.join("sub/f"));
        // A link that stays inside is followed for the directory.
        assert_eq!(locate(&root, "in/f").unwrap(), root.join("sub/f"));
        assert!(matches!(locate(&root, "out/f"), Err(PathError::Escapes(_))));
        assert!(matches!(
            locate(&root, "missing/f"),
            Err(PathError::NoParent { .. })
        ));
        assert!(matches!(locate(&root, "../f"), Err(PathError::NotPlain(_))));
    }
}
