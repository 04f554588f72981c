//! Runs a chapter binary as a reader would, for the tests of `main.rs`:
//! its flags, its `listening on` line, its graceful stop.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// A chapter binary started with `--addr 127.0.0.1:0`. It is killed if
/// the test drops it still running.
pub struct Server {
    pub child: Child,
    /// The address from its `listening on http://…` line.
    pub addr: SocketAddr,
    /// The rest of its stdout.
    pub stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `exe` (from `env!("CARGO_BIN_EXE_<name>")`) with `args`
    /// and `--addr 127.0.0.1:0`, and reads its first line.
    pub async fn start(exe: &str, args: &[&str]) -> Server {
        Server::start_with_env(exe, args, &[]).await
    }

    /// [`Server::start`], with `env` added to the environment that the
    /// server inherits, such as `("RUST_LOG", "warn")`. The variables
    /// are the child's alone: this process's environment is not
    /// changed, which would be unsound while other threads run.
    pub async fn start_with_env(
        exe: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the server printed nothing in 30 s")
            .expect("read the server's stdout");
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .expect("an address after `listening on http://`");
        Server {
            child,
            addr,
            stdout,
        }
    }

    /// Sends SIGTERM, as `kill` or a service manager would, and waits
    /// (at most `limit`) for the exit. Returns the exit status.
    #[cfg(unix)]
    pub async fn terminate(mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within {limit:?} of SIGTERM"))
            .expect("wait for the server")
    }
}

/// Checks a binary's flags as a reader meets them: `bad` is refused
/// with a message that contains `why`, and `--help` names every flag
/// in `documented`.
pub async fn assert_flags(exe: &str, bad: &[&str], why: &str, documented: &[&str]) {
    let output = Command::new(exe).args(bad).output().await.unwrap();
    assert!(!output.status.success(), "{bad:?} was accepted");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(why), "{bad:?} gave: {stderr}");

    let help = Command::new(exe).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in documented {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}
