//! Real infrastructure for chapter 7's tests: Debian's `redis-server`
//! and `nginx`, each started on 127.0.0.1 with a free port, in a
//! temporary directory, with a configuration the test writes.
//!
//! Each runs in a process group of its own, and dropping it kills the
//! whole group: nginx's worker processes too, which would otherwise
//! outlive their master.
//!
//! Not installed: outside CI the test says that it skipped and how to
//! install the program; with `CI=true` it fails, as a browser test
//! does (see [`crate::browser::ci_requires_browser`]).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Finds `program` on `PATH` (and in `/usr/sbin`, where Debian puts
/// nginx), or says how to install it: `None` outside CI, a panic
/// under `CI=true`.
pub fn find(program: &str, package: &str) -> Option<PathBuf> {
    let found = which::which(program)
        .ok()
        .or_else(|| which::which_in(program, Some("/usr/sbin"), "/").ok());
    if found.is_some() {
        return found;
    }
    let missing = format!(
        "{program} is not installed; on Debian or Ubuntu: \
         sudo apt-get install {package}"
    );
    if crate::browser::ci_requires_browser(std::env::var_os("CI").as_deref()) {
        panic!("CI=true, so chapter 7's tests must run, but {missing}");
    }
    let line = format!("skipped: {missing}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}

/// A free port on 127.0.0.1: the system picks one, and we let it go.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    listener.local_addr().expect("an address").port()
}

/// A program in its own process group, killed with the group.
struct Group(Child);

impl Group {
    fn pid(&self) -> Option<u32> {
        self.0.id()
    }

    fn spawn(command: &mut Command) -> std::io::Result<Group> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        command.spawn().map(Group)
    }

    fn signal(&self, signal: i32) {
        if let Some(pid) = self.0.id() {
            // A negative pid names the whole process group.
            unsafe { libc::kill(-(pid as i32), signal) };
        }
    }

    /// Sends SIGTERM and waits, at most `limit`, for the exit; then
    /// kills the group.
    async fn stop(mut self, limit: Duration) {
        self.signal(libc::SIGTERM);
        let exited = tokio::time::timeout(limit, self.0.wait()).await;
        if exited.is_err() {
            self.signal(libc::SIGKILL);
            let _ = self.0.wait().await;
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// The process group of `pid`: field 5 of `/proc/PID/stat`, after
/// the command name in parentheses (proc(5)).
fn process_group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// Waits until something accepts connections on `addr`.
async fn wait_listening(addr: SocketAddr, what: &str, log: &Path) {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not listen on {addr} in 5 s; its log:\n{log}");
}

// ANCHOR: redis
/// A `redis-server` of the test's own. It keeps its data in an
/// append-only file, written before each command is answered
/// (`appendfsync always`), so a restart keeps every message: the
/// tests stop and start it as an operator would.
pub struct Redis {
    exe: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    process: Option<Group>,
}

impl Redis {
    /// Starts Redis, or `None` if it is not installed (see [`find`]).
    pub async fn start() -> Option<Redis> {
        let exe = find("redis-server", "redis-server")?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let config = format!(
            "bind 127.0.0.1\n\
             port {port}\n\
             dir {dir}\n\
             logfile {dir}/redis.log\n\
             appendonly yes\n\
             appendfsync always\n\
             save \"\"\n\
             # Small blocks of entries, so that MAXLEN ~ trims soon\n\
             # in a test that posts only a few messages.\n\
             stream-node-max-entries 4\n",
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("redis.conf"), config).expect("write conf");
        let mut redis = Redis {
            exe,
            dir,
            port,
            process: None,
        };
        redis.start_again().await;
        Some(redis)
    }

    /// Starts it again after [`Redis::stop`], on the same port, with
    /// the same data.
    pub async fn start_again(&mut self) {
        assert!(self.process.is_none(), "Redis is running already");
        let conf = self.dir.path().join("redis.conf");
        let group = Group::spawn(Command::new(&self.exe).arg(&conf))
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.exe.display()));
        self.process = Some(group);
        let log = self.dir.path().join("redis.log");
        wait_listening(self.addr(), "redis-server", &log).await;
        // Listening is not ready: Redis answers LOADING while it reads
        // its file. Ready is an answer to PING.
        for _ in 0..200 {
            if self
                .command(&["PING"])
                .await
                .is_ok_and(|a| a == "+PONG\r\n")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server does not answer PING on {}", self.addr());
    }

    /// Stops it as `systemctl stop` would (SIGTERM): it finishes its
    /// file and exits.
    pub async fn stop(&mut self) {
        if let Some(group) = self.process.take() {
            group.stop(Duration::from_secs(10)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process id of the running server, to read its CPU time.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Group::pid)
    }

    /// `redis://127.0.0.1:PORT`, for the chapter's `--redis`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Sends one command in RESP (arrays of bulk strings) and returns
    /// the raw answer, as far as one read gets it.
    pub async fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let mut stream = TcpStream::connect(self.addr()).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = vec![0; 64 * 1024];
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
                .await
                .map_err(|_| std::io::Error::other("no answer in 5 s"))??;
        answer.truncate(read);
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }
}
// ANCHOR_END: redis

// ANCHOR: nginx
/// An `nginx` of the test's own, in the foreground, with its prefix
/// (`-p`) in a temporary directory: a configuration that names its
/// files with relative paths (pid, logs, buffers on disk) writes them
/// there, as chapter 7's `nginx.conf` does.
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    _process: Group,
}

impl Nginx {
    /// Starts nginx with the configuration that `config` writes for
    /// the port nginx must listen on. `None` if nginx is not
    /// installed (see [`find`]).
    pub async fn start(config: impl FnOnce(u16) -> String) -> Option<Nginx> {
        let exe = find("nginx", "nginx")?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        // nginx's workers run as an unprivileged user when the master
        // is root: they must be able to enter the directory.
        let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(dir.path(), open).expect("chmod");
        let port = free_port();
        std::fs::write(dir.path().join("nginx.conf"), config(port))
            .expect("write conf");
        let mut command = Command::new(&exe);
        command
            .arg("-p")
            .arg(dir.path())
            // Its first messages, before it reads `error_log`, too.
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-c", "nginx.conf", "-g", "daemon off;"]);
        let process = Group::spawn(&mut command)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let nginx = Nginx {
            dir,
            port,
            _process: process,
        };
        let log = nginx.dir.path().join("error.log");
        wait_listening(nginx.addr(), "nginx", &log).await;
        Some(nginx)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process id of nginx's master, which is also its group's.
    pub fn pid(&self) -> Option<u32> {
        self._process.pid()
    }

    /// The ids of every process in nginx's group: its master and its
    /// workers, whose CPU time adds up to nginx's.
    pub fn pids(&self) -> Vec<u32> {
        let Some(group) = self.pid() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return vec![group];
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| process_group_of(*pid) == Some(group))
            .collect()
    }

    /// What nginx wrote to its error log so far (for a failing test).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log"))
            .unwrap_or_default()
    }
}
// ANCHOR_END: nginx
