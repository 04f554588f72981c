//! Real-browser tests: headless Chromium, driven through ChromeDriver.
//!
//! A chapter's test starts its chat server on 127.0.0.1, opens the chat
//! page in two browsers, types into one and waits to see the text appear
//! in the other. This module is the small API for that:
//!
//! ```no_run
//! # async fn demo(url: &str) {
//! use std::time::Duration;
//!
//! // No Chromium on this machine? Then the test passes as skipped.
//! let Some(browser) = wire::browser::chromium().await else { return };
//! let alice = browser.page().await;
//! let bob = browser.page().await;
//! alice.goto(url).await;
//! bob.goto(url).await;
//! alice.fill("#message", "hello").await;
//! alice.press_enter("#message").await;
//! bob.wait_for_text("#log", "hello", Duration::from_secs(10)).await;
//! alice.close().await;
//! bob.close().await;
//! # }
//! ```
//!
//! How it works. [ChromeDriver] is a small HTTP server that speaks the
//! W3C WebDriver protocol: each "new session" request starts a Chromium,
//! and later requests (go to this URL, click that element) drive it. The
//! [`fantoccini`] crate is the Rust client for that protocol. [`Browser`]
//! owns one ChromeDriver process; each [`Page`] is one session, that is
//! one whole Chromium with its own fresh profile, so two pages share no
//! cookies, storage or connections: they are two independent users.
//!
//! Every chapter's chat page has the same form (`#user`, `#text`,
//! `#send button`) and the same `#status` and `#messages`: so
//! [`Page::say`] posts through it, and [`Browser::chatting`] is the
//! opening the chapters' tests share, two people and one message.
//!
//! The helpers panic instead of returning `Result`: they exist for tests,
//! where a panic with a clear message *is* the failure report, and the
//! test reads like the scenario, without an `unwrap` on every line.
//!
//! Everything stops by itself. ChromeDriver runs in a process group of
//! its own, and the Chromiums it starts are in that group too: dropping
//! the [`Browser`] kills the whole group at once, and removes the pages'
//! profile directories, without waiting on anything. [`Page::close`]
//! ends the session politely (Chromium quits) and removes its profile;
//! tests should call it, as the one path that finishes before the test
//! does.
//!
//! Every WebDriver call goes through fantoccini, with a time limit
//! (see `COMMAND_LIMIT`): a wedged Chromium fails the test, it does not
//! hang it. Chromium and ChromeDriver are found with the `which` crate.
//!
//! [ChromeDriver]: https://developer.chrome.com/docs/chromedriver

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The flags every Chromium is started with, and why.
///
/// ChromeDriver adds its own automation flags (`--enable-automation`,
/// `--remote-debugging-port=0`, ...), and Debian's `/usr/bin/chromium`
/// wrapper adds the ones in `/etc/chromium.d/`; these are ours.
pub const CHROMIUM_FLAGS: &[&str] = &[
    // No window: test machines and CI runners have no display.
    "--headless",
    // Chromium's sandbox refuses to start as root, and needs kernel
    // features (user namespaces) that containers often lack. The pages
    // we load are our own, served on 127.0.0.1, so we can do without.
    "--no-sandbox",
    // There is no GPU here; do not probe for one or fall back noisily.
    "--disable-gpu",
    // Speak plain HTTP/1.1 over TCP. Our servers only speak that, and the
    // book records and reads those bytes; no HTTP/3 attempt over UDP.
    "--disable-quic",
    // No welcome page or first-run work in a brand-new profile.
    "--no-first-run",
    // The machine may have no network besides loopback, and the bytes
    // on the wire must be only the test's own. So: no update checks, no
    // safe-browsing lists, no component downloads, no account sync.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long ChromeDriver may take to say it is ready.
const DRIVER_STARTUP: Duration = Duration::from_secs(20);
/// How long `fill`, `click`, `press_enter` and `text` wait for their
/// element to appear. This bounds a failure; it is not a speed test.
const ELEMENT_WAIT: Duration = Duration::from_secs(10);
/// How often `wait_for_text` and the startup look again.
const POLL: Duration = Duration::from_millis(50);
/// The tail of ChromeDriver's output kept for error messages, in lines.
const TAIL_LINES: usize = 40;

/// Where Chromium and ChromeDriver were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The browser: `chromium`, `chromium-browser`, or `$CHROMIUM`.
    pub chromium: PathBuf,
    /// The WebDriver server: `chromedriver`, or `$CHROMEDRIVER`.
    pub chromedriver: PathBuf,
}

/// Why the browser tests cannot run here: what was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// One sentence per missing program.
    pub reasons: Vec<String>,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this test needs Chromium and ChromeDriver ({}); install them with \
             `sudo apt-get install chromium chromium-driver` (Debian/Ubuntu), \
             or set CHROMIUM and CHROMEDRIVER to their paths",
            self.reasons.join("; ")
        )
    }
}

impl std::error::Error for Missing {}

/// Finds Chromium and ChromeDriver.
///
/// Chromium: `$CHROMIUM` if set, else `chromium` or `chromium-browser` on
/// `$PATH`, else in `fallback` (Debian's `/usr/bin` for [`chromium`]).
/// ChromeDriver: `$CHROMEDRIVER`, else `chromedriver` on `$PATH`, else
/// in `fallback`. A variable that is set wins outright: if it names
/// nothing runnable, that is reported rather than quietly replaced by
/// another program. Its value may be a path or a bare name to look up
/// on `$PATH`. The looking up is the `which` crate's, as a shell does it.
///
/// The environment comes in through `env`: environment variables are
/// global to the process and tests run in parallel threads, so a test
/// passes a made-up one here instead of calling `std::env::set_var`.
/// [`chromium`] passes the real one, `std::env::var_os`.
pub fn find_binaries(
    env: impl Fn(&str) -> Option<OsString>,
    fallback: &Path,
) -> Result<Binaries, Missing> {
    let names = ["chromium", "chromium-browser"];
    let chromium = find_one(&env, fallback, "CHROMIUM", &names);
    let chromedriver = find_one(&env, fallback, "CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Ok(chromium), Ok(chromedriver)) => Ok(Binaries {
            chromium,
            chromedriver,
        }),
        (chromium, chromedriver) => Err(Missing {
            reasons: [chromium.err(), chromedriver.err()]
                .into_iter()
                .flatten()
                .collect(),
        }),
    }
}

/// One program: the variable `var`, else `names` on `$PATH`, else
/// the first of `names` in `fallback`.
fn find_one(
    env: &impl Fn(&str) -> Option<OsString>,
    fallback: &Path,
    var: &str,
    names: &[&str],
) -> Result<PathBuf, String> {
    // A relative path in PATH (an empty entry is one) would depend on
    // the directory the test runs in: resolve against the root, where
    // no such program is.
    let path = env("PATH");
    let on_path = |name: &OsString| which::which_in(name, path.as_ref(), "/").ok();
    if let Some(value) = env(var).filter(|v| !v.is_empty()) {
        // `which` takes a name with a slash as a path, and checks it.
        return on_path(&value).ok_or_else(|| {
            format!(
                "{var}={} is not an executable file",
                value.to_string_lossy()
            )
        });
    }
    let last_resort = fallback.join(names[0]);
    names
        .iter()
        .find_map(|name| on_path(&OsString::from(name)))
        .or_else(|| on_path(&last_resort.clone().into_os_string()))
        .ok_or_else(|| {
            let names = names.iter().map(|n| format!("`{n}`"));
            let names = names.collect::<Vec<_>>().join(" or ");
            format!("no {names} on PATH and no {}", last_resort.display())
        })
}

/// Whether a missing browser must fail the test rather than skip it:
/// when `CI` is `true` (as GitHub Actions and most CI services set it)
/// or `1`. On CI a silent skip would hide that no browser test ran.
pub fn ci_requires_browser(ci: Option<&std::ffi::OsStr>) -> bool {
    ci.and_then(std::ffi::OsStr::to_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Starts ChromeDriver, ready for [`Browser::page`]; or `None`, after
/// one line on stderr, if Chromium or ChromeDriver is not installed.
///
/// ```no_run
/// # async fn demo() {
/// let Some(browser) = wire::browser::chromium().await else { return };
/// # }
/// ```
///
/// So `cargo test` passes on a reader's machine without Chromium. On CI
/// (`CI=true`) a missing browser panics instead: see
/// [`ci_requires_browser`]. Panics too if ChromeDriver is found but does
/// not start: that is a real failure, and the message says why.
pub async fn chromium() -> Option<Browser> {
    let found = find_binaries(|name| std::env::var_os(name), Path::new("/usr/bin"));
    match found {
        Ok(binaries) => Some(Browser::start(binaries).await),
        Err(missing) if ci_requires_browser(std::env::var_os("CI").as_deref()) => {
            panic!("CI=true, so browser tests must run, but {missing}")
        }
        Err(missing) => {
            // Straight to the process's stderr, not through `eprintln!`,
            // which the test harness captures and shows only on failure:
            // a reader should see that this test did not really run.
            let line = format!("skipped: {missing}\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            None
        }
    }
}

/// A running ChromeDriver, listening on loopback; it opens [`Page`]s.
///
/// Dropping it kills ChromeDriver's process group: ChromeDriver and
/// every Chromium it started, closed pages or not.
pub struct Browser {
    driver: Arc<Driver>,
    /// ChromeDriver, the leader of its own process group.
    process: Child,
}

/// What a `Browser` shares with its pages.
struct Driver {
    binaries: Binaries,
    port: u16,
    /// The last lines ChromeDriver printed, for error messages.
    output: Arc<Mutex<VecDeque<String>>>,
    /// Sessions not yet closed, with their profile directories. An entry
    /// goes when its session is closed, and the directory with it.
    open: Mutex<HashMap<String, TempDir>>,
}

impl Browser {
    /// Starts ChromeDriver and waits until it is ready for sessions.
    ///
    /// Most tests call [`chromium`] instead, which finds the programs
    /// first. Panics if ChromeDriver does not start within 20 s.
    pub async fn start(binaries: Binaries) -> Browser {
        // `--port=0`: the system picks a free port and ChromeDriver
        // prints it. No race with another test for a port picked here.
        // ChromeDriver listens on loopback only (127.0.0.1 and ::1) and
        // refuses remote clients unless given `--allowed-ips`; we don't.
        // `process_group(0)`: a group of its own, which the Chromiums it
        // starts join, so that one signal to the group stops them all.
        let mut process = Command::new(&binaries.chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e}", binaries.chromedriver.display())
            });
        // Read both pipes all the time, keeping only a tail: the output
        // stays out of the test's output, and a full pipe never blocks
        // ChromeDriver.
        let output = Arc::new(Mutex::new(VecDeque::new()));
        keep_tail(process.stdout.take(), &output);
        keep_tail(process.stderr.take(), &output);

        // ChromeDriver prints its port once it listens; the first
        // session is the real readiness test, and it has its own limit.
        let deadline = Instant::now() + DRIVER_STARTUP;
        let port = loop {
            if let Ok(Some(status)) = process.try_wait() {
                panic!(
                    "chromedriver exited at startup ({status}); its output:\n{}",
                    tail(&output)
                );
            }
            if let Some(port) = announced_port(&output) {
                break port;
            }
            if Instant::now() > deadline {
                panic!(
                    "chromedriver was not ready within {DRIVER_STARTUP:?}; \
                     its output:\n{}",
                    tail(&output)
                );
            }
            tokio::time::sleep(POLL).await;
        };
        tracing::debug!(port, "chromedriver ready");
        let open = Mutex::new(HashMap::new());
        let driver = Driver {
            binaries,
            port,
            output,
            open,
        };
        Browser {
            driver: Arc::new(driver),
            process,
        }
    }

    /// The port ChromeDriver listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.driver.port
    }

    /// Opens a new page: a new WebDriver session, which is a new
    /// Chromium with a fresh profile in a temporary directory.
    ///
    /// Open as many as the test needs; they are independent browsers.
    /// Panics, with ChromeDriver's last output, if Chromium won't start.
    pub async fn page(&self) -> Page {
        self.page_with_flags(&[]).await
    }

    /// Opens a new page as [`Browser::page`] does, with `extra` flags
    /// for Chromium after [`CHROMIUM_FLAGS`]; for example
    /// `--ignore-certificate-errors` for a server's self-signed
    /// certificate on 127.0.0.1.
    pub async fn page_with_flags(&self, extra: &[&str]) -> Page {
        let driver = &self.driver;
        // A fresh profile: nothing carried over from another page or run.
        // Two Chromiums can't share one either: the second would hand
        // its work to the first and exit.
        let profile = tempfile::Builder::new()
            .prefix("wire-chromium-")
            .tempdir()
            .expect("cannot create a temporary profile directory");
        let mut args: Vec<String> =
            CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": driver.binaries.chromium,
                "args": args,
            },
            // Keep the page's console messages, for failure reports.
            "goog:loggingPrefs": { "browser": "ALL" },
            // WebDriver waits up to 300 s for a page load by default.
            "timeouts": { "pageLoad": 30_000, "script": 30_000 },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("json!({{..}}) is an object")
        };
        // Plain HTTP to 127.0.0.1: no TLS, hence fantoccini's default
        // features (native-tls) are off and we give it hyper's plain
        // connector.
        let url = format!("http://127.0.0.1:{}", driver.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let connecting = builder.connect(&url);
        let client = bounded("starting Chromium", connecting)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start Chromium ({}) through chromedriver: {e}\n\
                     chromedriver's last output:\n{}",
                    driver.binaries.chromium.display(),
                    tail(&driver.output)
                )
            });
        let id = bounded("asking the session id", client.session_id()).await;
        let session = match id {
            Ok(Some(id)) => id,
            other => panic!("new session has no id: {other:?}"),
        };
        let profile_dir = profile.path().to_path_buf();
        lock(&driver.open).insert(session.clone(), profile);
        tracing::debug!(%session, "chromium started");
        Page {
            client: Some(client),
            session,
            profile_dir,
            driver: Arc::clone(driver),
        }
    }
}

/// How long [`Browser::chatting`] waits for each page to say it is
/// ready, and for the message to arrive: a bound on a failure.
const CHAT_WAIT: Duration = Duration::from_secs(15);

impl Browser {
    /// Two people chatting, the opening of every chapter's browser
    /// test: opens `url` in two pages, ana's and ben's; waits until each
    /// page's `#status` contains `ready`; ana posts `text` through the
    /// form; waits until ben's `#messages` shows it. Returns both pages
    /// for the rest of the test, which closes them.
    pub async fn chatting(
        &self,
        url: &str,
        ready: &str,
        text: &str,
    ) -> (Page, Page) {
        let ana = self.page().await;
        let ben = self.page().await;
        for page in [&ana, &ben] {
            page.goto(url).await;
        }
        for page in [&ana, &ben] {
            page.wait_for_text("#status", ready, CHAT_WAIT).await;
        }
        ana.say("ana", text).await;
        ben.wait_for_text("#messages", text, CHAT_WAIT).await;
        (ana, ben)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing ChromeDriver alone would leave its Chromiums running,
        // orphans. They are in its process group, and a negative pid
        // names the whole group (kill(2)): one signal, no waiting.
        if let Some(pid) = self.process.id() {
            // SAFETY: kill only sends a signal; the group is ours.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        // The profiles of pages never closed (often a failed test).
        let open: Vec<_> = lock(&self.driver.open).drain().collect();
        drop(open);
    }
}

/// One page in its own Chromium, driven by WebDriver.
///
/// CSS selectors pick elements: `"#out"`, `"form input[name=text]"`.
/// Every method panics with a clear message on failure.
pub struct Page {
    /// `None` once closed.
    client: Option<Client>,
    session: String,
    profile_dir: PathBuf,
    driver: Arc<Driver>,
}

impl Page {
    /// Loads `url` and waits for its `load` event (at most 30 s).
    pub async fn goto(&self, url: &str) {
        if let Err(e) = bounded("loading a page", self.client().goto(url)).await {
            panic!("cannot load {url}: {e}");
        }
    }

    /// Replaces the text of the input matched by `css` with `text`,
    /// typed key by key as a user would: each key fires its events.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        if let Err(e) = bounded("clearing an input", element.clear()).await {
            panic!("cannot clear `{css}`: {e}");
        }
        if let Err(e) = bounded("typing", element.send_keys(text)).await {
            panic!("cannot type into `{css}`: {e}");
        }
    }

    /// Posts `text` as `user` through the chat page's form, as a
    /// person would: types both fields, then clicks the send button.
    pub async fn say(&self, user: &str, text: &str) {
        self.fill("#user", user).await;
        self.fill("#text", text).await;
        self.click("#send button").await;
    }

    /// Clicks the element matched by `css`.
    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        if let Err(e) = bounded("clicking", element.click()).await {
            panic!("cannot click `{css}`: {e}");
        }
    }

    /// Presses Enter in the element matched by `css`: in a form's text
    /// input, that submits the form, as a user would.
    pub async fn press_enter(&self, css: &str) {
        let enter = fantoccini::key::Key::Enter;
        let element = self.element(css).await;
        if let Err(e) = bounded("pressing Enter", element.send_keys(&enter)).await {
            panic!("cannot press Enter in `{css}`: {e}");
        }
    }

    /// The text of the element matched by `css`, as rendered: what a
    /// user sees, without tags, hidden parts left out.
    pub async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        match bounded("reading a text", element.text()).await {
            Ok(text) => text,
            Err(e) => panic!("cannot read the text of `{css}`: {e}"),
        }
    }

    /// Waits until the text of the element matched by `css` contains
    /// `needle`, and returns that text.
    ///
    /// Looks every 50 ms. After `timeout`, panics with the element's
    /// text at that moment and the page's console log. The timeout only
    /// bounds a failure: a passing test returns as soon as the text is
    /// there, so choose it generously.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            // Find the element anew each time: the page may replace it.
            let find = self.client().find(Locator::Css(css));
            let seen = match bounded("finding an element", find).await {
                Ok(element) => {
                    let text = bounded("reading a text", element.text()).await;
                    text.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Ok(text) = &seen {
                if text.contains(needle) {
                    return text.clone();
                }
            }
            if Instant::now() >= deadline {
                let seen = match seen {
                    Ok(text) => format!("its text is {text:?}"),
                    Err(e) => format!("no such element: {e}"),
                };
                let console = match self.console_log().await {
                    Ok(lines) if lines.is_empty() => "(empty)".to_string(),
                    Ok(lines) => lines.join("\n"),
                    Err(e) => format!("(unavailable: {e})"),
                };
                panic!(
                    "`{css}` did not contain {needle:?} within {timeout:?}; \
                     {seen}\nbrowser console:\n{console}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Evaluates the JavaScript expression `js` in the page, and
    /// returns its value as JSON. A promise is awaited.
    ///
    /// ```no_run
    /// # async fn demo(page: &wire::browser::Page) {
    /// let items = page.eval("document.querySelectorAll('li').length").await;
    /// assert_eq!(items, 2);
    /// # }
    /// ```
    pub async fn eval(&self, js: &str) -> Value {
        // WebDriver runs a function body, so the expression is returned.
        // The line break lets `js` end with a `//` comment.
        let body = format!("return (\n{js}\n);");
        let run = self.client().execute(&body, Vec::new());
        match bounded("running JavaScript", run).await {
            Ok(value) => value,
            Err(e) => panic!("JavaScript failed: {e}\nthe script: {js}"),
        }
    }

    /// The browser console messages logged since the last call, one per
    /// line as "LEVEL message": `console.log` calls, uncaught errors,
    /// failed requests.
    ///
    /// Uses ChromeDriver's log command, outside the W3C standard, which
    /// fantoccini sends as a raw command ([`BrowserLog`]); hence
    /// `Result` rather than a panic, as a failure report calls it.
    pub async fn console_log(&self) -> Result<Vec<String>, String> {
        let asking = self.client().issue_cmd(BrowserLog);
        let reply = match tokio::time::timeout(COMMAND_LIMIT, asking).await {
            Ok(reply) => reply.map_err(|e| e.to_string())?,
            Err(_) => return Err(format!("no answer in {COMMAND_LIMIT:?}")),
        };
        let Some(entries) = reply.as_array() else {
            return Err(format!("unexpected reply: {reply}"));
        };
        let line = |e: &Value| {
            let level = e["level"].as_str().unwrap_or("?");
            format!("{level} {}", e["message"].as_str().unwrap_or_default())
        };
        Ok(entries.iter().map(line).collect())
    }

    /// This page's profile directory, removed when the page is closed.
    pub fn profile_dir(&self) -> &Path {
        &self.profile_dir
    }

    /// The fantoccini client, for anything the helpers don't cover.
    pub fn webdriver(&self) -> &Client {
        self.client()
    }

    /// Ends the session: Chromium quits, and its profile directory is
    /// removed. Call it at the end of every test.
    pub async fn close(mut self) {
        let client = self.client.take().expect("a page is closed only once");
        // WebDriver's "delete session"; ChromeDriver answers once
        // Chromium has exited, so the directory is no longer in use.
        let closed = bounded("closing Chromium", client.close()).await;
        // Forget the session even if closing failed: there is nothing
        // more to try, and the directory should go anyway.
        self.driver.forget(&self.session);
        if let Err(e) = closed {
            panic!("cannot close the browser session: {e}");
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the page is closed")
    }

    /// The element matched by `css`, waiting up to 10 s for it to exist.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        let waiting = self
            .client()
            .wait()
            .at_most(ELEMENT_WAIT)
            .every(POLL)
            .for_element(Locator::Css(css));
        let found = bounded("waiting for an element", waiting).await;
        match found {
            Ok(element) => element,
            Err(e) => {
                panic!("no element matches `{css}` within {ELEMENT_WAIT:?}: {e}")
            }
        }
    }
}

/// The longest one WebDriver command may take. ChromeDriver has its
/// own timeouts, but a wedged ChromeDriver or Chromium would leave a
/// test waiting forever: this turns that into a clear failure.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// Runs one WebDriver command, failing the test if it hangs.
async fn bounded<F: std::future::Future>(what: &str, command: F) -> F::Output {
    match tokio::time::timeout(COMMAND_LIMIT, command).await {
        Ok(output) => output,
        Err(_) => panic!("Chromium did not finish {what} within {COMMAND_LIMIT:?}"),
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return; // closed already
        };
        // Drop cannot wait, so end the session in a background task, if
        // there is a runtime to run one. If the runtime stops first (the
        // test is over), `Browser`'s drop kills this Chromium instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let driver = Arc::clone(&self.driver);
            let session = self.session.clone();
            runtime.spawn(async move {
                let _ = tokio::time::timeout(COMMAND_LIMIT, client.close()).await;
                driver.forget(&session);
            });
        }
    }
}

impl Driver {
    /// The session is over: drop its entry, which removes its profile.
    fn forget(&self, session: &str) {
        let profile = lock(&self.open).remove(session);
        drop(profile); // outside the lock: removing files takes a while
    }
}

/// Locks a mutex, even one poisoned by a panicking test thread: the data
/// here (a list of lines or sessions) stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `pipe` line by line in a task, keeping the last lines.
fn keep_tail(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
    tail: &Arc<Mutex<VecDeque<String>>>,
) {
    let Some(pipe) = pipe else { return };
    let tail = Arc::clone(tail);
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut tail = lock(&tail);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}

fn tail(output: &Mutex<VecDeque<String>>) -> String {
    let lines = lock(output);
    if lines.is_empty() {
        return "(nothing)".to_string();
    }
    lines.iter().map(|l| format!("  {l}\n")).collect()
}

/// The port in ChromeDriver's line "ChromeDriver was started
/// successfully on port 41501."
fn announced_port(output: &Mutex<VecDeque<String>>) -> Option<u16> {
    const MARK: &str = "started successfully on port ";
    lock(output).iter().find_map(|line| {
        let (_, rest) = line.split_once(MARK)?;
        rest.trim_end_matches('.').trim().parse().ok()
    })
}

/// ChromeDriver's "get log" command for the browser's console,
/// `POST /session/{id}/se/log` with `{"type": "browser"}`: Selenium's
/// old JSON Wire command, which ChromeDriver still keeps (the log
/// needs `goog:loggingPrefs` in the capabilities, as
/// [`Browser::page_with_flags`] asks). The reply's `value` is a list
/// of `{level, message, timestamp}`.
#[derive(Debug)]
pub struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/se/log"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "type": "browser" }).to_string();
        (http::Method::POST, Some(body))
    }
}
