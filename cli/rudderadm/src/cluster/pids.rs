//! Pid files under `<dir>/run/`: the `rudderadm up` that owns a cluster, and each
//! component it started, so `down` can stop a cluster from another shell and clean up
//! after an `up` that was killed.

use std::fs;
use std::path::Path;

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// The pid in `path`, if the file exists and holds one.
pub fn read(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live process whose command line mentions `name`. The name check
/// keeps a stale pid file from pointing `down` at an unrelated process that reused it.
pub fn is_running(pid: i32, name: &str) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let cmdline = String::from_utf8_lossy(&cmdline);
            // A zombie has an empty command line: it is gone for our purposes.
            !cmdline.is_empty() && cmdline.contains(name)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_under_its_own_name_only() {
        let me = std::process::id() as i32;
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_str().unwrap();
        assert!(is_running(me, name));
        assert!(!is_running(me, "rudder-store-that-is-not-this"));
    }

    #[test]
    fn a_missing_or_garbled_pid_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read(&path), None);
        fs::write(&path, "not a pid").unwrap();
        assert_eq!(read(&path), None);
        fs::write(&path, "42\n").unwrap();
        assert_eq!(read(&path), Some(42));
    }
}
