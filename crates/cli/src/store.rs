//! The per-user session store: what `--session`, `--name`, `--id` and a local `--instance-id` refer to.
//!
//! PowerShell keeps PSSession objects in the memory of one PowerShell process; a CLI needs them across
//! invocations. The store is a small JSON file in the XDG state directory (`$XDG_STATE_HOME/pssession/sessions.json`,
//! else `~/.local/state/pssession/sessions.json`), readable by its owner only, holding **no secrets**: no password,
//! no token, no key — only what identifies a session and where it lives.
//!
//! * Local Ids are assigned like PowerShell's: a counter that only grows (1, 2, 3, …), so an Id never names two
//!   sessions during the store's life, even after a session was removed.
//! * Changes are read-modify-write under an exclusive lock on a sibling lock file, and the file is replaced
//!   atomically (written to a temporary file, synced, renamed), so concurrent `pssession` processes neither lose
//!   updates nor leave a torn file.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use pssession_connect::{Availability, SessionState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Format version written in the file; a file with another version is refused rather than misread.
pub const STORE_VERSION: u32 = 1;

/// One remembered session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Local Id, unique for the store's life.
    pub id: u32,
    /// The session's name (the shell's `Name`).
    pub name: String,
    /// The session's InstanceId (the shell's `ShellId`, equal to the RunspacePool id).
    pub instance_id: Uuid,
    /// The computer it runs on, as the user named it.
    pub computer_name: String,
    /// The endpoint URI used to reach it.
    pub connection_uri: String,
    /// The configuration name (`Microsoft.PowerShell` by default).
    pub configuration_name: String,
    /// The user name it was created or found with (no password).
    pub user: Option<String>,
    /// State relative to this client when last seen.
    pub state: SessionState,
    /// Availability when last seen.
    pub availability: Availability,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    next_id: u32,
    sessions: Vec<SessionRecord>,
}

/// The session store. Every mutation goes through [`SessionStore::update`], which holds the lock, reloads, applies
/// the change and replaces the file.
#[derive(Debug, Clone)]
pub struct SessionStore {
    path: PathBuf,
}

/// The sessions, while the store is locked for a change.
#[derive(Debug)]
pub struct Sessions<'a> {
    file: &'a mut StoreFile,
}

impl Sessions<'_> {
    /// All sessions, by ascending Id.
    pub fn all(&self) -> &[SessionRecord] {
        &self.file.sessions
    }

    /// Records `session` (its `id` is ignored), or updates the record with the same InstanceId and computer;
    /// returns the local Id it has in the store.
    pub fn upsert(&mut self, mut session: SessionRecord) -> u32 {
        if let Some(existing) = self.file.sessions.iter_mut().find(|r| {
            r.instance_id == session.instance_id && r.computer_name.eq_ignore_ascii_case(&session.computer_name)
        }) {
            session.id = existing.id;
            *existing = session;
            return existing.id;
        }
        let id = self.file.next_id.max(1);
        self.file.next_id = id + 1;
        session.id = id;
        self.file.sessions.push(session);
        id
    }

    /// Sets the state and availability of the session with local Id `id`; false when there is none.
    pub fn set_state(&mut self, id: u32, state: SessionState, availability: Availability) -> bool {
        match self.file.sessions.iter_mut().find(|r| r.id == id) {
            Some(record) => {
                record.state = state;
                record.availability = availability;
                true
            }
            None => false,
        }
    }

    /// Marks every record of `instance_id` Broken (Availability None): the server no longer has the session
    /// (removed, idle timeout expired, server restarted). Returns how many records changed.
    pub fn mark_broken(&mut self, instance_id: Uuid) -> usize {
        let mut changed = 0;
        for record in self.file.sessions.iter_mut().filter(|r| r.instance_id == instance_id) {
            record.state = SessionState::Broken;
            record.availability = Availability::None;
            changed += 1;
        }
        changed
    }

    /// Marks every record of `instance_id` Disconnected (Availability None): the network failed for longer than the
    /// client retried, and the server keeps the session for a later connect. Returns how many records changed.
    pub fn mark_disconnected(&mut self, instance_id: Uuid) -> usize {
        let mut changed = 0;
        for record in self.file.sessions.iter_mut().filter(|r| r.instance_id == instance_id) {
            record.state = SessionState::Disconnected;
            record.availability = Availability::None;
            changed += 1;
        }
        changed
    }

    /// Forgets the session with local Id `id` (Remove-PSSession); its Id is not reused.
    pub fn remove(&mut self, id: u32) -> Option<SessionRecord> {
        let index = self.file.sessions.iter().position(|r| r.id == id)?;
        Some(self.file.sessions.remove(index))
    }
}

impl SessionStore {
    /// The store in the default location for this user (see the module documentation).
    pub fn default_location() -> Result<Self, StoreError> {
        let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or(StoreError::NoHome)?;
                PathBuf::from(home).join(".local/state")
            }
        };
        Ok(Self::at(base.join("pssession/sessions.json")))
    }

    /// A store in a given file.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        SessionStore { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every remembered session, by ascending local Id (an absent file is an empty store).
    pub fn list(&self) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.read()?.sessions)
    }

    /// Applies `change` under the lock and writes the result atomically.
    pub fn update<T>(&self, change: impl FnOnce(&mut Sessions<'_>) -> T) -> Result<T, StoreError> {
        let dir = self.path.parent().ok_or_else(|| StoreError::Io(format!("{}: no parent", self.path.display())))?;
        create_private_dir(dir)?;
        let lock = self.path.with_extension("lock");
        let lock_file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(|e| io_error(&lock, &e))?;
        lock_file.lock().map_err(|e| io_error(&lock, &e))?;
        let mut file = self.read()?;
        let result = change(&mut Sessions { file: &mut file });
        file.version = STORE_VERSION;
        self.write(&file)?;
        // Dropping the handle releases the lock.
        drop(lock_file);
        Ok(result)
    }

    fn read(&self) -> Result<StoreFile, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StoreFile { version: STORE_VERSION, next_id: 1, sessions: Vec::new() });
            }
            Err(e) => return Err(io_error(&self.path, &e)),
        };
        let mut file: StoreFile = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt { path: self.path.display().to_string(), reason: e.to_string() })?;
        if file.version != STORE_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: self.path.display().to_string(),
                version: file.version,
            });
        }
        file.sessions.sort_by_key(|r| r.id);
        let highest = file.sessions.iter().map(|r| r.id).max().unwrap_or(0);
        file.next_id = file.next_id.max(highest + 1);
        Ok(file)
    }

    fn write(&self, file: &StoreFile) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(file).map_err(|e| StoreError::Io(e.to_string()))?;
        let temporary = self.path.with_extension(format!("tmp.{}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out: File = options.open(&temporary).map_err(|e| io_error(&temporary, &e))?;
        out.write_all(&json).and_then(|()| out.sync_all()).map_err(|e| io_error(&temporary, &e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| io_error(&self.path, &e))
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| io_error(dir, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

/// Why the session store could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// Neither `XDG_STATE_HOME` nor `HOME` is set.
    NoHome,
    /// Reading, writing or locking failed.
    Io(String),
    /// The file is not a session store.
    Corrupt {
        /// The file.
        path: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The file was written by an incompatible version.
    UnsupportedVersion {
        /// The file.
        path: String,
        /// Its version.
        version: u32,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NoHome => {
                f.write_str("cannot locate the session store: neither XDG_STATE_HOME nor HOME is set")
            }
            StoreError::Io(e) => write!(f, "session store: {e}"),
            StoreError::Corrupt { path, reason } => write!(f, "session store {path} is damaged: {reason}"),
            StoreError::UnsupportedVersion { path, version } => {
                write!(f, "session store {path} has format version {version}; this pssession reads {STORE_VERSION}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> SessionStore {
        let dir = std::env::temp_dir().join(format!("pssession-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        SessionStore::at(dir.join("state/sessions.json"))
    }

    fn session(name: &str, n: u128) -> SessionRecord {
        SessionRecord {
            id: 0,
            name: name.into(),
            instance_id: Uuid::from_u128(n),
            computer_name: "Server01".into(),
            connection_uri: "http://Server01:5985/wsman".into(),
            configuration_name: "Microsoft.PowerShell".into(),
            user: Some("CORP\\admin".into()),
            state: SessionState::Opened,
            availability: Availability::Available,
        }
    }

    #[test]
    fn a_session_the_server_lost_is_marked_broken() {
        let store = scratch("broken");
        store.update(|s| s.upsert(session("Lost", 1))).unwrap();
        store.update(|s| s.upsert(session("Kept", 2))).unwrap();
        assert_eq!(store.update(|s| s.mark_broken(Uuid::from_u128(1))).unwrap(), 1);
        assert_eq!(store.update(|s| s.mark_broken(Uuid::from_u128(9))).unwrap(), 0);
        let states: Vec<(String, SessionState, Availability)> =
            store.list().unwrap().into_iter().map(|r| (r.name, r.state, r.availability)).collect();
        assert_eq!(
            states,
            vec![
                ("Lost".to_owned(), SessionState::Broken, Availability::None),
                ("Kept".to_owned(), SessionState::Opened, Availability::Available),
            ]
        );
    }

    #[test]
    fn ids_grow_and_are_never_reused() {
        let store = scratch("ids");
        assert_eq!(store.update(|s| s.upsert(session("ITTask", 1))).unwrap(), 1);
        assert_eq!(store.update(|s| s.upsert(session("Other", 2))).unwrap(), 2);
        assert!(store.update(|s| s.remove(2)).unwrap().is_some());
        assert_eq!(store.update(|s| s.upsert(session("Third", 3))).unwrap(), 3);
        // The same session seen again keeps its Id and takes the new details.
        let mut again = session("ITTask", 1);
        again.state = SessionState::Disconnected;
        again.availability = Availability::None;
        assert_eq!(store.update(|s| s.upsert(again)).unwrap(), 1);
        let all = store.list().unwrap();
        assert_eq!(all.iter().map(|r| (r.id, r.name.as_str())).collect::<Vec<_>>(), [(1, "ITTask"), (3, "Third")]);
        assert_eq!(all[0].state, SessionState::Disconnected);
        std::fs::remove_dir_all(store.path().parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn the_file_is_private_and_holds_no_secret_fields() {
        let store = scratch("private");
        store.update(|s| s.upsert(session("ITTask", 7))).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        for word in ["password", "token", "key\"", "secret"] {
            assert!(!text.to_lowercase().contains(word), "{word} in {text}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "store readable by others: {mode:o}");
        }
        std::fs::remove_dir_all(store.path().parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn concurrent_writers_lose_no_update() {
        let store = scratch("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        store.update(|s| s.upsert(session("s", (t * 100 + i) as u128))).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let all = store.list().unwrap();
        assert_eq!(all.len(), 80);
        let mut ids: Vec<_> = all.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids, (1..=80).collect::<Vec<_>>());
        std::fs::remove_dir_all(store.path().parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn damaged_or_foreign_files_are_refused() {
        let store = scratch("damaged");
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        std::fs::write(store.path(), "{not json").unwrap();
        assert!(matches!(store.list(), Err(StoreError::Corrupt { .. })));
        std::fs::write(store.path(), r#"{"version": 99, "next_id": 1, "sessions": []}"#).unwrap();
        assert!(matches!(store.list(), Err(StoreError::UnsupportedVersion { version: 99, .. })));
        std::fs::remove_dir_all(store.path().parent().unwrap().parent().unwrap()).unwrap();
    }
}
