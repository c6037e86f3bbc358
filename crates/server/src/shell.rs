//! Shells: the registry, each shell's connection state (MS-WSMV 3.1.4.15–17, protocol.md §3.5), its commands and
//! their output buffers, and the idle timer of a disconnected shell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pssession_wsman::duration::XsDuration;
use pssession_wsman::enumeration::CommandItem;
use pssession_wsman::shell::{BufferMode, ShellProperties, ShellState};
use tokio::time::Instant;
use uuid::Uuid;

use crate::output::{BufferPolicy, OutputBuffer, lock};
use crate::plugin::PluginShell;

/// Upper-case text form of a GUID, as WinRM writes ShellId and CommandId.
pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string().to_uppercase()
}

/// A user as shells are keyed: case-insensitive.
pub(crate) fn user_key(user: &str) -> String {
    user.to_lowercase()
}

/// One command (pipeline) of a shell.
#[derive(Debug)]
pub(crate) struct Command {
    pub output: Arc<OutputBuffer>,
    pub command_line: String,
}

/// The mutable part of a shell.
#[derive(Debug)]
pub(crate) struct ShellStatus {
    /// A client session is connected (`Connected`), or none (`Disconnected`).
    pub connected: bool,
    /// The WS-Man SessionId of the connected (or last connected) client.
    pub session_id: Option<String>,
    pub idle_timeout: Duration,
    pub buffer_mode: BufferMode,
    /// Bumped on every change between Connected and Disconnected, so that the idle timer of an earlier
    /// disconnection and the client watch of an earlier connection do nothing.
    pub generation: u64,
    pub last_activity: Instant,
    /// Receives of this shell waiting for output right now (the client is there while one waits).
    pub receiving: usize,
    pub commands: HashMap<Uuid, Command>,
    /// Set once the shell is removed; later operations see it as unknown.
    pub deleted: bool,
}

/// A shell.
pub(crate) struct Shell {
    pub id: Uuid,
    pub name: Option<String>,
    pub resource_uri: String,
    /// `DOMAIN\user` for display.
    pub owner: String,
    /// [`user_key`] of the owner.
    pub owner_key: String,
    pub client_ip: String,
    pub locale: String,
    pub data_locale: String,
    pub input_streams: String,
    pub output_streams: String,
    pub created: Instant,
    pub plugin: Arc<dyn PluginShell>,
    pub policy: Arc<BufferPolicy>,
    pub pool_output: Arc<OutputBuffer>,
    pub status: Mutex<ShellStatus>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").field("id", &self.id).field("owner", &self.owner).finish_non_exhaustive()
    }
}

fn dhms(d: Duration) -> XsDuration {
    XsDuration::from_secs(d.as_secs())
}

impl Shell {
    /// A new output buffer for a command of this shell.
    pub(crate) fn command_buffer(&self, command: Uuid, capacity: usize) -> Arc<OutputBuffer> {
        OutputBuffer::new(Some(command), capacity, self.policy.clone())
    }

    /// Wakes every buffer's waiters (after a state change).
    pub(crate) fn wake_all(&self, status: &ShellStatus) {
        self.pool_output.wake();
        for c in status.commands.values() {
            c.output.wake();
        }
    }

    /// The shell's properties; `full` adds MemoryUsed and ChildProcesses (Get and Enumerate).
    pub(crate) fn properties(&self, max_idle_timeout: Duration, full: bool) -> ShellProperties {
        let status = lock(&self.status);
        let now = Instant::now();
        ShellProperties {
            shell_id: id_text(self.id),
            name: self.name.clone(),
            resource_uri: Some(self.resource_uri.clone()),
            owner: Some(self.owner.clone()),
            client_ip: Some(self.client_ip.clone()),
            process_id: Some(std::process::id()),
            idle_timeout: Some(XsDuration::from_millis(status.idle_timeout.as_millis() as u64)),
            input_streams: Some(self.input_streams.clone()),
            output_streams: Some(self.output_streams.clone()),
            max_idle_timeout: Some(XsDuration::from_millis(max_idle_timeout.as_millis() as u64)),
            locale: Some(self.locale.clone()),
            data_locale: Some(self.data_locale.clone()),
            compression_mode: Some("NoCompression".to_owned()),
            profile_loaded: Some("Yes".to_owned()),
            encoding: Some("UTF8".to_owned()),
            buffer_mode: Some(status.buffer_mode),
            state: Some(if status.connected { ShellState::Connected } else { ShellState::Disconnected }),
            shell_run_time: Some(dhms(now.saturating_duration_since(self.created))),
            shell_inactivity: Some(dhms(now.saturating_duration_since(status.last_activity))),
            memory_used: full.then(|| "0MB".to_owned()),
            child_processes: full.then_some(0),
            ..ShellProperties::default()
        }
    }

    /// The shell's commands as enumeration items.
    pub(crate) fn command_items(&self) -> Vec<CommandItem> {
        let status = lock(&self.status);
        let mut items: Vec<CommandItem> = status
            .commands
            .iter()
            .map(|(id, c)| CommandItem {
                command_id: id_text(*id),
                command_line: Some(c.command_line.clone()),
                // Windows reports a command Running until a client has received its output and Done state.
                state: Some(
                    if c.output.is_done() && c.output.buffered_bytes() == 0 { "Done" } else { "Running" }.to_owned(),
                ),
            })
            .collect();
        items.sort_by(|a, b| a.command_id.cmp(&b.command_id));
        items
    }

    /// Closes the plugin shell and every buffer.
    pub(crate) fn close(&self) {
        let commands: Vec<Arc<OutputBuffer>> = {
            let mut status = lock(&self.status);
            status.deleted = true;
            status.commands.drain().map(|(_, c)| c.output).collect()
        };
        self.pool_output.close();
        for c in commands {
            c.close();
        }
        self.plugin.close();
    }
}

/// All shells of the server.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    shells: Mutex<HashMap<Uuid, Arc<Shell>>>,
}

impl Registry {
    /// The shell `id` if it exists and belongs to `user_key`.
    pub(crate) fn get(&self, id: Uuid, user_key: &str) -> Option<Arc<Shell>> {
        lock(&self.shells).get(&id).filter(|s| s.owner_key == user_key).cloned()
    }

    pub(crate) fn contains(&self, id: Uuid) -> bool {
        lock(&self.shells).contains_key(&id)
    }

    pub(crate) fn count_of(&self, user_key: &str) -> usize {
        lock(&self.shells).values().filter(|s| s.owner_key == user_key).count()
    }

    /// Inserts unless the id is taken; returns whether it was inserted.
    pub(crate) fn insert(&self, shell: Arc<Shell>) -> bool {
        let mut shells = lock(&self.shells);
        if shells.contains_key(&shell.id) {
            return false;
        }
        shells.insert(shell.id, shell);
        true
    }

    /// Removes and closes the shell.
    pub(crate) fn remove(&self, id: Uuid) -> Option<Arc<Shell>> {
        let removed = lock(&self.shells).remove(&id);
        if let Some(s) = &removed {
            s.close();
        }
        removed
    }

    /// The shells of `user_key`, ordered by creation.
    pub(crate) fn of_user(&self, user_key: &str) -> Vec<Arc<Shell>> {
        let mut list: Vec<Arc<Shell>> =
            lock(&self.shells).values().filter(|s| s.owner_key == user_key).cloned().collect();
        list.sort_by_key(|s| (s.created, s.id));
        list
    }

    /// Removes and closes every shell.
    pub(crate) fn clear(&self) {
        let all: Vec<Arc<Shell>> = lock(&self.shells).drain().map(|(_, s)| s).collect();
        for s in all {
            s.close();
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.shells).len()
    }
}
