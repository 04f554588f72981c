//! What the numbers were measured on, and the readings from Linux's
//! `/proc` that the harness takes: CPU time and resident memory.

use std::time::Duration;

/// The machine and the software, for the caption under the tables.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    /// `name version` of the libraries that do the work.
    pub libraries: Vec<String>,
    /// The one-minute load average before and after the run.
    pub load_before: String,
    pub load_after: String,
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
}

impl Machine {
    /// Reads everything but `load_after`.
    pub fn read() -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = read("/proc/meminfo");
        let kib = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map_or("rustc (unknown)".to_owned(), |v| v.trim().to_owned());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: kib / (1024.0 * 1024.0),
            kernel,
            rustc,
            libraries: libraries(),
            load_before: load_average(),
            load_after: String::new(),
            date: utc_now(),
        }
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The versions the workspace locked, read from `Cargo.lock` at build
/// time, so the caption names what was really compiled in.
fn libraries() -> Vec<String> {
    const LOCK: &str = include_str!("../../../Cargo.lock");
    let wanted = ["tokio", "warp", "hyper", "tungstenite"];
    let Ok(lock) = LOCK.parse::<cargo_lock::Lockfile>() else {
        return Vec::new();
    };
    let mut found: Vec<String> = lock
        .packages
        .iter()
        .filter(|p| wanted.contains(&p.name.as_str()))
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The one-minute load average: how busy the machine was.
pub fn load_average() -> String {
    let text = read("/proc/loadavg");
    text.split_whitespace().next().unwrap_or("?").to_owned()
}

// ANCHOR: cpu_time
/// The CPU time process `pid` has used so far: the sum, over its
/// threads, of the first field of `/proc/PID/task/TID/schedstat`, the
/// nanoseconds each thread ran (see the kernel's sched-stats.rst).
/// `/proc/PID/stat` counts in ticks of 10 ms, too coarse for a short
/// run. A thread that has ended is no longer counted, but a tokio
/// server's worker threads live as long as the server.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let mut nanos = 0u64;
    for task in tasks.flatten() {
        let text = read(&task.path().join("schedstat").to_string_lossy());
        let ran = text.split_whitespace().next();
        nanos += ran.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    }
    Duration::from_nanos(nanos)
}
// ANCHOR_END: cpu_time

/// The resident memory of process `pid` in bytes (`VmRSS` in
/// `/proc/PID/status`): the pages it really uses, not what it reserved.
pub fn rss(pid: u32) -> u64 {
    let status = read(&format!("/proc/{pid}/status"));
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    kib * 1024
}

/// Raises this process's limit on open files to the hard limit, so
/// that 10,000 connections fit. Children inherit it. Returns the soft
/// limit before and after.
pub fn raise_open_files() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return (0, 0);
        }
        let before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return (before, before);
        }
        (before, limit.rlim_cur)
    }
}

/// Now, as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let (year, month, day) = (now.year(), u8::from(now.month()), now.day());
    let (hour, minute) = (now.hour(), now.minute());
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_caption_names_locked_versions_and_the_minute_in_utc() {
        // `name version`, one per library, in the caption's order.
        let libraries = super::libraries();
        let names: Vec<&str> = libraries
            .iter()
            .map(|l| &l[..l.find(' ').unwrap()])
            .collect();
        assert_eq!(names, ["hyper", "tokio", "tungstenite", "warp"]);
        assert!(libraries.iter().all(|l| l
            .split(' ')
            .nth(1)
            .unwrap()
            .contains('.')));
        // `YYYY-MM-DD HH:MM UTC`: digits where digits belong.
        let date = super::utc_now();
        let shape: String = date
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-dd dd:dd UTC");
    }
}
