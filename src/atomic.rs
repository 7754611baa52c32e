//! Replacing a file atomically and durably (SPEC §4, §10): a temporary file
//! in the same folder (named `.<name>.<random>.tmp`, so neither a state
//! reader nor node_exporter's `*.prom` collector ever picks it up), written,
//! given its permission bits, fsynced, renamed over the old file, and the
//! folder fsynced. A reader sees the old content or the new, never a mix,
//! whatever moment the process dies at. Used for the state, the last good
//! config and the metrics file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The permission bits of a file written for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewMode {
    /// 0600: it holds output tails, approvals, report text.
    Private,
    /// 0644: another user's process reads it (node_exporter).
    WorldReadable,
}

/// Replace `path` with `bytes`. An existing file keeps its permission bits
/// (a user's 0644 state stays 0644); a new one gets `new_mode`. Temporary
/// files a killed run left beside `path` are removed first: only the lock
/// holder writes these files, so every such file is stray.
pub fn write(path: &Path, bytes: &[u8], new_mode: NewMode) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ops-monitor".into());
    let prefix = format!(".{name}.");
    remove_stray(&dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    let mode = match (fs::metadata(path), new_mode) {
        (Ok(old), _) => old.permissions(),
        (Err(_), NewMode::Private) => fs::Permissions::from_mode(0o600),
        (Err(_), NewMode::WorldReadable) => fs::Permissions::from_mode(0o644),
    };
    tmp.as_file().set_permissions(mode)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(&dir)?.sync_all()?;
    Ok(())
}

fn remove_stray(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let n = entry.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(prefix) && n.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_get_their_mode_old_ones_keep_theirs_and_strays_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.prom");
        let stray = dir.path().join(".x.prom.abc.tmp");
        fs::write(&stray, "half").unwrap();
        write(&p, b"one\n", NewMode::WorldReadable).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one\n");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o644);
        assert!(!stray.exists());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write(&p, b"two\n", NewMode::Private).unwrap();
        assert_eq!(mode(&p), 0o640);
        let q = dir.path().join("state.json");
        write(&q, b"{}", NewMode::Private).unwrap();
        assert_eq!(mode(&q), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "no temp file left");
    }
}
