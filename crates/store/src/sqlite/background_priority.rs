//! The checkpointer's place in the queue for a core: behind the threads that answer requests.
//!
//! A PASSIVE checkpoint, every 100 ms, is a burst of copying: pages read from the log and
//! written into the database, nearly all of it kernel time (about 12% of a core at 12,000
//! accruals/s). On a machine of two cores, shared by the writer, the log's syncer, the HTTP
//! workers and the clients, each burst took a core from them, and the requests that arrived
//! meanwhile waited for it. Nothing waits for a checkpoint: it only has to keep up, and it has
//! the time the other threads leave idle. So its thread runs at a lower priority
//! ([`BACKGROUND_NICE`] above the process's nice value), and the threads a request waits on
//! take a core from it when they wake.
//!
//! The RESTART that starts the log again holds the writer's lock, so it does not run on this
//! thread: a thread at the priority of the thread that opened the store does it when the
//! checkpointer asks (see `checkpointer`), so it is not put behind the threads it holds up.
//!
//! Measured (BENCHMARKS.md, 2026-12-07, nineteenth session), accruals at a fixed rate against
//! the same build without it, alternating: before the restarter, at 6,000/s, six pairs, the
//! share of accruals the server answered in over 5 ms went from 2.8–4.6% to 2.3–3.9%, lower in
//! every pair; after it, at 6,500/s, in a noisy hour, eight pairs, the p99 was lower in six and
//! that share in five. Closed-loop throughput showed no change beyond the noise, and the log
//! was fully copied at the end of every run.
//!
//! Linux only: there a nice value belongs to one thread. Elsewhere it belongs to the whole
//! process, so the thread keeps the process's priority.

/// How much lower the checkpointer's priority is than the process's: a nice value 10 higher
/// gives it about a tenth of the weight of a thread at the process's own when they contend for a
/// core, so it is never starved for long, yet gives way at once.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const BACKGROUND_NICE: i32 = 10;

/// Lower the calling thread's priority by [`BACKGROUND_NICE`] (to at most 19, the lowest).
/// A failure changes nothing else: the thread keeps its priority, and it is logged.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    if let Err(error) = linux::renice_this_thread(BACKGROUND_NICE) {
        tracing::warn!(%error, "could not lower the checkpointer's priority; it keeps the process's");
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// The calling thread's nice value.
    pub fn nice_of_this_thread() -> std::io::Result<i32> {
        let thread = this_thread();
        // -1 is both a valid nice value and getpriority's error: errno tells them apart.
        // SAFETY: errno is the calling thread's own, and getpriority reads nothing of ours.
        let nice = unsafe {
            *libc::__errno_location() = 0;
            libc::getpriority(libc::PRIO_PROCESS, thread)
        };
        let error = std::io::Error::last_os_error();
        if nice == -1 && error.raw_os_error().is_some_and(|code| code != 0) {
            return Err(error);
        }
        Ok(nice)
    }

    /// Raise the calling thread's nice value by `by` (its priority lower), up to 19.
    pub fn renice_this_thread(by: i32) -> std::io::Result<()> {
        let target = nice_of_this_thread()?.saturating_add(by).min(19);
        // SAFETY: setpriority changes only the scheduling of the thread named, this one.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, this_thread(), target) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The calling thread's id, as `PRIO_PROCESS` names one thread on Linux.
    fn this_thread() -> libc::id_t {
        // SAFETY: the gettid system call has no preconditions. (Through `syscall`: glibc's
        // wrapper came only with 2.30.)
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        // 0 (should the id not fit) names the calling thread too.
        libc::id_t::try_from(tid).unwrap_or(0)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::nice_of_this_thread;
    use super::*;

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = nice_of_this_thread().expect("this thread's nice value");
        let lowered = std::thread::spawn(|| {
            let before = nice_of_this_thread().expect("the new thread's nice value");
            lower_this_thread();
            (before, nice_of_this_thread().expect("the new thread's nice value"))
        })
        .join()
        .expect("the thread ran");
        assert_eq!(
            lowered.1,
            (lowered.0 + BACKGROUND_NICE).min(19),
            "the thread is lowered"
        );
        assert_eq!(
            nice_of_this_thread().expect("this thread's nice value"),
            before,
            "the caller is not"
        );
    }
}
