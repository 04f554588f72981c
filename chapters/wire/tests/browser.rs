//! Tests of `wire::browser`: two real headless Chromiums on a tiny page,
//! and the finder that decides whether they can run at all.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use wire::browser::{ci_requires_browser, find_binaries, Binaries, Page};

/// A text box, a button, and a list: a click adds the box's text to the
/// list. The empty icon link spares a request for /favicon.ico.
const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>wire browser test</title>
</head>
<body>
<input id="t">
<button id="b">Add</button>
<ul id="out"></ul>
<script>
document.getElementById("b").addEventListener("click", () => {
  const item = document.createElement("li");
  item.textContent = document.getElementById("t").value;
  document.getElementById("out").append(item);
  console.log("added", item.textContent);
});
</script>
</body>
</html>
"#;

/// Serves `PAGE` for every request on 127.0.0.1 and returns its URL.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // Read the request head: up to the blank line. A GET has
                // no body, so that is the whole request.
                let mut request = Vec::new();
                let mut buf = [0; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\n\
                     Content-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    PAGE.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(PAGE.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_pages_are_two_independent_browsers() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let url = serve().await;
    let alice = browser.page().await;
    let bob = browser.page().await;
    alice.goto(&url).await;
    bob.goto(&url).await;

    alice.fill("#t", "hello from alice").await;
    alice.click("#b").await;
    let seen = alice.wait_for_text("#out", "hello from alice", WAIT).await;
    assert_eq!(seen, "hello from alice");
    // `fill` replaces what was typed before.
    alice.fill("#t", "again").await;
    alice.click("#b").await;
    alice.wait_for_text("#out", "again", WAIT).await;
    assert_eq!(alice.text("#out").await, "hello from alice\nagain");
    assert_eq!(
        alice
            .eval("document.querySelectorAll('#out li').length")
            .await,
        2
    );
    assert_eq!(alice.eval("document.title").await, "wire browser test");
    let logged = alice.console_log().await.unwrap();
    assert!(
        logged.iter().any(|l| l.contains(r#""added" "again""#)),
        "{logged:?}"
    );

    // Bob's page saw none of it.
    assert_eq!(bob.text("#out").await, "");
    // And bob is another Chromium, not a tab of alice's: same origin, yet
    // no shared storage, and each has its own profile directory.
    alice.eval("localStorage.setItem('who', 'alice')").await;
    assert_eq!(alice.eval("localStorage.getItem('who')").await, "alice");
    assert_eq!(bob.eval("localStorage.getItem('who')").await, Value::Null);
    assert_ne!(alice.profile_dir(), bob.profile_dir());
    let pid = |page: &Page| {
        let capabilities = page.webdriver().capabilities().unwrap();
        capabilities["goog:processID"].clone()
    };
    assert_ne!(pid(&alice), pid(&bob));

    // `close` quits Chromium and removes its profile.
    let profiles = [alice.profile_dir().to_owned(), bob.profile_dir().to_owned()];
    assert!(profiles.iter().all(|p| p.is_dir()));
    alice.close().await;
    bob.close().await;
    assert!(profiles.iter().all(|p| !p.exists()), "{profiles:?}");
}

#[tokio::test]
async fn a_timeout_reports_the_text_and_the_console() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let url = serve().await;
    let page = browser.page().await;
    page.goto(&url).await;
    page.eval("console.warn('about to fail')").await;
    let profile = page.profile_dir().to_owned();
    let capabilities = page.webdriver().capabilities().unwrap();
    let chromium = capabilities["goog:processID"].as_u64().unwrap();
    // The page moves into a task that panics: that is the page being
    // dropped without `close`, as in a failing test.
    let task = tokio::spawn(async move {
        page.fill("#t", "something else").await;
        page.click("#b").await;
        let short = Duration::from_millis(300);
        page.wait_for_text("#out", "never", short).await;
    });
    let panic = task.await.unwrap_err().into_panic();
    let message = panic.downcast::<String>().unwrap();
    assert!(
        message.contains(r#"its text is "something else""#),
        "{message}"
    );
    assert!(message.contains("about to fail"), "{message}");
    // Dropping the browser ends the session and removes the profile,
    // even though the page was never closed.
    drop(browser);
    assert!(!profile.exists(), "{profile:?}");
    // And Chromium is gone with ChromeDriver's process group: at once,
    // though the kernel may take a moment to finish it.
    let gone = || {
        let stat = std::fs::read_to_string(format!("/proc/{chromium}/stat"));
        // A zombie (state Z) has exited and waits for its parent.
        stat.map_or(true, |s| {
            s.rsplit(')').next().unwrap().trim().starts_with('Z')
        })
    };
    for _ in 0..100 {
        if gone() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(), "Chromium {chromium} outlived its browser");
}

/// A made-up disk: `programs` (paths relative to a fresh temporary
/// directory) as executable files, and `others` as files that are not.
fn disk(programs: &[&str], others: &[&str]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    for (name, mode) in programs
        .iter()
        .map(|p| (p, 0o755))
        .chain(others.iter().map(|p| (p, 0o644)))
    {
        let path = root.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .unwrap();
    }
    root
}

/// `find_binaries` with a made-up environment, whose `$ROOT` stands for
/// the directory of `disk`, and `root/usr/bin` as the fallback: no
/// `set_var`, which would race with tests running in parallel threads.
fn find(
    root: &Path,
    env: &[(&str, &str)],
) -> Result<Binaries, wire::browser::Missing> {
    let root_text = root.to_str().unwrap();
    let env: HashMap<String, OsString> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.replace("$ROOT", root_text).into()))
        .collect();
    find_binaries(|name| env.get(name).cloned(), &root.join("usr/bin"))
}

fn found(
    root: &Path,
    chromium: &str,
    chromedriver: &str,
) -> Result<Binaries, wire::browser::Missing> {
    Ok(Binaries {
        chromium: root.join(chromium),
        chromedriver: root.join(chromedriver),
    })
}

#[test]
fn overrides_pointing_nowhere_mean_skip() {
    let root = disk(&["usr/bin/chromium", "usr/bin/chromedriver"], &[]);
    let root = root.path();
    let env = [
        ("CHROMIUM", "$ROOT/nonexistent/chromium"),
        ("CHROMEDRIVER", "$ROOT/nonexistent/chromedriver"),
        ("PATH", "$ROOT/usr/bin"),
    ];
    // A variable that is set wins, even over installed programs.
    let missing = find(root, &env).unwrap_err();
    let r = root.display();
    assert_eq!(
        missing.reasons,
        [
            format!("CHROMIUM={r}/nonexistent/chromium is not an executable file"),
            format!(
                "CHROMEDRIVER={r}/nonexistent/chromedriver is not an executable file"
            ),
        ]
    );
    let message = missing.to_string();
    assert!(message.starts_with("this test needs Chromium and ChromeDriver"));
    assert!(message.contains("sudo apt-get install chromium chromium-driver"));
}

#[test]
fn nothing_installed_names_what_is_missing() {
    // A file that is not executable is not a program.
    let root = disk(&[], &["bin/chromium", "usr/bin/chromedriver"]);
    let root = root.path();
    let r = root.display();
    let missing = find(root, &[("PATH", "$ROOT/bin:$ROOT/usr/bin")]).unwrap_err();
    assert_eq!(
        missing.reasons,
        [
            format!(
                "no `chromium` or `chromium-browser` on PATH \
                 and no {r}/usr/bin/chromium"
            ),
            format!("no `chromedriver` on PATH and no {r}/usr/bin/chromedriver"),
        ]
    );
    // Only the missing one is named.
    let root = disk(&["usr/bin/chromium"], &[]);
    let root = root.path();
    let r = root.display();
    let missing = find(root, &[]).unwrap_err();
    assert_eq!(
        missing.reasons,
        [format!(
            "no `chromedriver` on PATH and no {r}/usr/bin/chromedriver"
        )]
    );
}

#[test]
fn search_order() {
    // PATH, in order, before the fallback.
    let on_path = ["opt/b/chromium", "opt/a/chromedriver", "opt/b/chromedriver"];
    let fallback = ["usr/bin/chromium", "usr/bin/chromedriver"];
    let root = disk(&[&on_path[..], &fallback].concat(), &[]);
    let root = root.path();
    assert_eq!(
        find(root, &[("PATH", "$ROOT/opt/a::$ROOT/opt/b")]),
        found(root, "opt/b/chromium", "opt/a/chromedriver")
    );
    // No PATH at all: the fallback.
    assert_eq!(
        find(root, &[]),
        found(root, "usr/bin/chromium", "usr/bin/chromedriver")
    );
    // `chromium-browser` (Ubuntu's old name) when there is no `chromium`.
    let ubuntu = disk(&["usr/bin/chromium-browser", "usr/bin/chromedriver"], &[]);
    let ubuntu = ubuntu.path();
    assert_eq!(
        find(ubuntu, &[("PATH", "$ROOT/usr/bin")]),
        found(ubuntu, "usr/bin/chromium-browser", "usr/bin/chromedriver")
    );
    // Overrides: a path, or a bare name looked up on PATH. Empty is unset.
    let mine = disk(&["opt/c/chromium-browser", "usr/bin/chromedriver"], &[]);
    let mine = mine.path();
    let env = [
        ("CHROMIUM", "chromium-browser"),
        ("CHROMEDRIVER", ""),
        ("PATH", "$ROOT/opt/c"),
    ];
    assert_eq!(
        find(mine, &env),
        found(mine, "opt/c/chromium-browser", "usr/bin/chromedriver")
    );
    let env = [("CHROMIUM", "$ROOT/opt/c/chromium-browser")];
    assert_eq!(
        find(mine, &env),
        found(mine, "opt/c/chromium-browser", "usr/bin/chromedriver")
    );
}

#[test]
fn ci_fails_instead_of_skipping() {
    assert!(ci_requires_browser(Some(OsStr::new("true"))));
    assert!(ci_requires_browser(Some(OsStr::new("1"))));
    assert!(!ci_requires_browser(None));
    assert!(!ci_requires_browser(Some(OsStr::new("false"))));
    assert!(!ci_requires_browser(Some(OsStr::new(""))));
}

#[test]
fn the_real_finder_finds_programs() {
    // On this machine, whatever it has: each path found is a file.
    let env = |k: &str| std::env::var_os(k);
    if let Ok(found) = find_binaries(env, Path::new("/usr/bin")) {
        assert!(found.chromium.is_file(), "{found:?}");
        assert!(found.chromedriver.is_file(), "{found:?}");
    }
}
