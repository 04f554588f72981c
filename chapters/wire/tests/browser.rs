//! Tests of `wire::browser`: two real headless Chromiums on a tiny page,
//! and the finder that decides whether they can run at all.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
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
}

/// Made-up environment and disk for `find_binaries`: no `set_var`, which
/// would race with tests running in parallel threads.
fn find(
    env: &[(&str, &str)],
    executables: &[&str],
) -> Result<Binaries, wire::browser::Missing> {
    let env: HashMap<String, OsString> =
        env.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let executables: HashSet<PathBuf> =
        executables.iter().map(PathBuf::from).collect();
    find_binaries(
        |name| env.get(name).cloned(),
        |p: &Path| executables.contains(p),
    )
}

fn found(
    chromium: &str,
    chromedriver: &str,
) -> Result<Binaries, wire::browser::Missing> {
    Ok(Binaries {
        chromium: chromium.into(),
        chromedriver: chromedriver.into(),
    })
}

#[test]
fn overrides_pointing_nowhere_mean_skip() {
    let installed = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
    let env = [
        ("CHROMIUM", "/nonexistent/chromium"),
        ("CHROMEDRIVER", "/nonexistent/chromedriver"),
        ("PATH", "/usr/bin"),
    ];
    // A variable that is set wins, even over installed programs.
    let missing = find(&env, &installed).unwrap_err();
    assert_eq!(
        missing.reasons,
        [
            "CHROMIUM=/nonexistent/chromium is not an executable file",
            "CHROMEDRIVER=/nonexistent/chromedriver is not an executable file",
        ]
    );
    let message = missing.to_string();
    assert!(message.starts_with("this test needs Chromium and ChromeDriver"));
    assert!(message.contains("sudo apt-get install chromium chromium-driver"));
}

#[test]
fn nothing_installed_names_what_is_missing() {
    let missing = find(&[("PATH", "/bin:/usr/bin")], &[]).unwrap_err();
    assert_eq!(
        missing.reasons,
        [
            "no `chromium` or `chromium-browser` on PATH and no /usr/bin/chromium",
            "no `chromedriver` on PATH and no /usr/bin/chromedriver",
        ]
    );
    // Only the missing one is named.
    let missing = find(&[], &["/usr/bin/chromium"]).unwrap_err();
    assert_eq!(
        missing.reasons,
        ["no `chromedriver` on PATH and no /usr/bin/chromedriver"]
    );
}

#[test]
fn search_order() {
    // PATH, in order, before the Debian paths.
    let on_path = [
        "/opt/b/chromium",
        "/opt/a/chromedriver",
        "/opt/b/chromedriver",
    ];
    let env = [("PATH", "/opt/a::/opt/b")];
    let both = [
        &on_path[..],
        &["/usr/bin/chromium", "/usr/bin/chromedriver"],
    ];
    assert_eq!(
        find(&env, &both.concat()),
        found("/opt/b/chromium", "/opt/a/chromedriver")
    );
    // `chromium-browser` (Ubuntu's old name) when there is no `chromium`.
    let ubuntu = ["/usr/bin/chromium-browser", "/usr/bin/chromedriver"];
    assert_eq!(
        find(&[("PATH", "/usr/bin")], &ubuntu),
        found("/usr/bin/chromium-browser", "/usr/bin/chromedriver")
    );
    // No PATH at all: the Debian paths.
    let debian = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
    assert_eq!(
        find(&[], &debian),
        found("/usr/bin/chromium", "/usr/bin/chromedriver")
    );
    // Overrides: a path, or a bare name looked up on PATH. Empty is unset.
    let env = [
        ("CHROMIUM", "chromium-browser"),
        ("CHROMEDRIVER", ""),
        ("PATH", "/opt/c"),
    ];
    let mine = ["/opt/c/chromium-browser", "/usr/bin/chromedriver"];
    assert_eq!(
        find(&env, &mine),
        found("/opt/c/chromium-browser", "/usr/bin/chromedriver")
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
fn the_real_finder_agrees_with_the_disk() {
    // On this machine, whatever it has: each path found is runnable.
    if let Ok(found) =
        find_binaries(|k| std::env::var_os(k), wire::browser::is_executable)
    {
        assert!(wire::browser::is_executable(&found.chromium));
        assert!(wire::browser::is_executable(&found.chromedriver));
    }
    assert!(!wire::browser::is_executable(Path::new("/nonexistent")));
    assert!(!wire::browser::is_executable(Path::new("/")));
}
