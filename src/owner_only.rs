//! Files only their owner may read: databases (the event log, token hashes, operators' PIN
//! verifiers) and files that hold a token.
//!
//! On unix a file is created with mode 0600 and a folder with 0700 before anything is written to
//! it, so there is no moment at which another user could open it; the process umask is left alone
//! (it is shared with every other thread). SQLite gives a database's `-wal` and `-shm` the mode of
//! the database file, so creating the database file right is enough for those. A file found with
//! wider permissions is tightened and a warning logged: someone may have read it already, and the
//! admin should know. Elsewhere these are plain file operations.

use std::io;
use std::path::{Path, PathBuf};

/// The mode of every file this module creates or tightens.
#[cfg(unix)]
pub const FILE_MODE: u32 = 0o600;

/// The mode of every folder this module creates.
#[cfg(unix)]
pub const DIR_MODE: u32 = 0o700;

/// Makes sure the SQLite database at `path` exists and only its owner can read it, before SQLite
/// opens it read-write: creates it empty (SQLite takes an empty file as a new database), or
/// tightens it and its `-wal` / `-shm` when they are open to others.
pub fn prepare_database(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
        {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => tighten(path)?,
            Err(error) => return Err(error),
        }
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            match tighten(&side) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `contents` to `path` (replacing what it held) as a file only its owner can read.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let mut file = options.open(path)?;
    // The mode above only applies to a new file; an old one keeps its own until tightened, which
    // happens before the secret is written into it.
    #[cfg(unix)]
    tighten(path)?;
    file.write_all(contents.as_ref())?;
    file.sync_all()
}

/// Creates `path` and any missing parents as folders only their owner can enter. Folders that
/// already exist are left as they are: they may be shared on purpose (a home, /var/lib).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Takes group and other permissions off the file at `path`, saying so when there were any.
#[cfg(unix)]
fn tighten(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
        tracing::warn!(
            path = %path.display(),
            was = %format!("{mode:04o}"),
            now = %format!("{FILE_MODE:04o}"),
            "file was readable by other users; tightened to owner-only"
        );
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|meta| meta.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn written_files_and_created_folders_are_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("a").join("b");
        create_dir_all(&folder).expect("folders");
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&folder), 0o700);

        let file = folder.join("L1-S1.toml");
        write(&file, "token = \"secret\"").expect("write");
        assert_eq!(mode(&file), 0o600);
        // An old file open to others is tightened before the new secret goes in.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write(&file, "token = \"new\"").expect("rewrite");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "token = \"new\""
        );
    }

    #[test]
    fn a_database_and_its_side_files_are_created_or_tightened() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("x.db");
        prepare_database(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::metadata(&db).map(|m| m.len()).ok(), Some(0));
        let wal = dir.path().join("x.db-wal");
        std::fs::write(&wal, b"").expect("wal");
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        prepare_database(&db).expect("tighten");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
        // A folder that is missing is an error, not created behind the caller's back.
        assert!(prepare_database(&dir.path().join("no").join("x.db")).is_err());
    }
}
