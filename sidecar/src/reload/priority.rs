//! The priority of the reload's threads: compiling a large policy set (10,000 rules) keeps
//! a core busy for a while, and on a sidecar given one core that core also answers
//! requests. At the default priority the scheduler shares it evenly, and the requests that
//! wait behind the compile see their latency jump for as long as it runs. At nice 19 the
//! compile gets the time deciding leaves idle (about 1.5% of a core when both want it, by
//! the kernel's weights), which at the rates a sidecar is run at is most of it.

/// Lowers the calling thread's scheduling priority to the lowest (nice 19). Only Linux sets
/// one thread's nice value (`setpriority(PRIO_PROCESS, tid)`); elsewhere, and when the
/// system refuses, the thread keeps its priority. Threads it starts inherit the value.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        /// The lowest priority a nice value gives.
        const LOWEST: i32 = 19;
        // Refused only by a sandbox that forbids the call: the reload still works.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOWEST);
    }
}

/// Starts a named thread that runs `work` at the lowest priority. `Err` when the system
/// cannot start a thread; `work` is then dropped unrun.
pub fn spawn_lowest(name: &str, work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_this_thread();
            work();
        })
        .map(drop)
}
