//! Starting the database file's writeback early, for the checkpointer: after each checkpoint
//! the pages it copied into the database file are sent on to the device at once
//! (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), without waiting for them and without a cache
//! flush, so SQLite's own sync of the file, when a checkpoint has copied the whole log, finds
//! little left to write. It makes nothing durable, and a failure loses nothing: a write error
//! is still reported to SQLite's own sync, on SQLite's descriptor (Linux keeps one error state
//! per open file and reports it to each).
//!
//! The descriptor is the process's own, beside SQLite's, and is **never closed**. Closing any
//! descriptor of a file drops every POSIX lock the process holds on it, SQLite's included
//! (<https://sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_>):
//! another process could then take the write lock, or delete the log, under this one's
//! connections. SQLite defers closing its own descriptors for the same reason. So each
//! database file (by device and inode) is opened once, on its first store, and its descriptor
//! kept for the life of the process; a store opened on the same file again reuses it. The cost:
//! one descriptor per database file the process ever opened (one in a server, one per test's
//! file in a test binary), and a deleted file's blocks stay allocated until the process exits.

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;
    use std::sync::{Mutex, OnceLock, PoisonError};

    /// The database file's descriptor, open for the life of the process (see the module).
    #[derive(Debug, Clone, Copy)]
    pub struct DatabaseWriteback {
        file: &'static File,
    }

    impl DatabaseWriteback {
        /// The descriptor of the database file at `path`, opened read-only on first use.
        pub fn open(path: &Path) -> std::io::Result<Self> {
            static FILES: OnceLock<Mutex<HashMap<(u64, u64), &'static File>>> = OnceLock::new();
            let metadata = std::fs::metadata(path)?;
            let key = (metadata.dev(), metadata.ino());
            let mut files = FILES
                .get_or_init(Mutex::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(file) = files.get(&key) {
                return Ok(Self { file });
            }
            let file: &'static File = Box::leak(Box::new(File::open(path)?));
            // Filed under the inode it really opened: had the file been replaced since it was
            // looked up, the old key would later name a file this descriptor is not.
            let opened = file.metadata()?;
            files.entry((opened.dev(), opened.ino())).or_insert(file);
            Ok(Self { file })
        }

        /// The raw descriptor, for tests.
        #[cfg(test)]
        pub fn descriptor(&self) -> i32 {
            self.file.as_raw_fd()
        }

        /// Start writing the file's dirty pages to the device; return at once.
        pub fn start(&self) -> std::io::Result<()> {
            // SAFETY: the descriptor is never closed (it is leaked, see the module), and the
            // call touches no memory of this process.
            let rc = unsafe { libc::sync_file_range(self.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }
}

#[cfg(target_os = "linux")]
pub use linux::DatabaseWriteback;

/// Elsewhere there is no such call: SQLite's sync writes all the pages.
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, Copy)]
pub struct DatabaseWriteback;

#[cfg(not(target_os = "linux"))]
impl DatabaseWriteback {
    pub fn open(_path: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self)
    }

    pub fn start(&self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::DatabaseWriteback;

    /// The descriptor is read-only; the kernel must accept it, or every checkpoint would only
    /// log a warning. A second open of the same file reuses the first descriptor.
    #[test]
    fn writeback_starts_on_a_dirty_file_through_one_descriptor_per_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("db");
        let mut writer = std::fs::File::create(&path).expect("the file");
        writer.write_all(&[7u8; 1 << 16]).expect("dirty pages");
        let first = DatabaseWriteback::open(&path).expect("a descriptor");
        first.start().expect("writeback started");
        let second = DatabaseWriteback::open(&path).expect("the same descriptor");
        #[cfg(target_os = "linux")]
        assert_eq!(first.descriptor(), second.descriptor());
        second.start().expect("writeback started again");
    }
}
