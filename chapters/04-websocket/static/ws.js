// Chapter 4: one WebSocket carries messages both ways. The page
// sends a post as a text frame and shows each text frame it gets.
"use strict";

const frames = document.getElementById("frames");
const form = document.getElementById("send");
const user = document.getElementById("user");
const text = document.getElementById("text");
let socket = null;
let failures = 0; // reconnects in a row that did not open

// The frame log: what crossed, as far as a page can see it.
function log(line) {
  const item = document.createElement("li");
  item.textContent = line;
  frames.append(item);
  while (frames.children.length > 100) frames.firstChild.remove();
  frames.scrollTop = frames.scrollHeight;
}

// A text frame's payload is UTF-8: its size in bytes, not characters.
const size = (data) => new TextEncoder().encode(data).length;

// ANCHOR: connect
function connect() {
  // Same host and port as the page; wss: when the page came by https:.
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // The cursor and its run make a reconnect lose nothing: the server
  // first sends every message after the cursor, then the new ones. A
  // cursor it cannot continue gets a reset frame first.
  const url = `${scheme}//${location.host}/ws?${chat.query}`;
  socket = new WebSocket(url, ["chat.v1"]);
  socket.onopen = () => {
    failures = 0;
    log(`open (subprotocol ${socket.protocol || "none"})`);
    chat.setStatus("connected");
  };
  socket.onmessage = (event) => {
    log(`← text, ${size(event.data)} bytes`);
    const data = JSON.parse(event.data);
    // A reset: the server's own cursor and run replace ours, and the
    // messages after it follow on this same socket.
    if (typeof data.reset === "string") chat.reset(data);
    else if (typeof data.error === "string") chat.showError(data.error);
    // A notice: the server's word about itself (chapter 7: its shared
    // log is down, or back); `null` when all is well again.
    else if ("notice" in data) chat.notice(data.notice);
    else chat.show([data]);
  };
  socket.onclose = (event) => {
    log(`close, code ${event.code} ${event.reason}`.trim());
    reconnect(event.code);
  };
}
// ANCHOR_END: connect

// ANCHOR: reconnect
function reconnect(code) {
  failures += 1;
  // Exponential backoff with jitter: after a restart, a thousand
  // pages do not all come back in the same millisecond.
  const ceiling = Math.min(30000, 500 * 2 ** Math.min(failures, 6));
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  const seconds = (delay / 1000).toFixed(1);
  chat.setStatus(`closed (code ${code}); reconnecting in ${seconds} s`, true);
  setTimeout(connect, delay);
}
// ANCHOR_END: reconnect

// ANCHOR: send
// The shared chat.js posts the form with fetch. Here the post goes
// through the socket instead: this listener runs first (capture on
// the document) and keeps the event from reaching chat.js.
document.addEventListener(
  "submit",
  (event) => {
    if (event.target !== form) return;
    event.preventDefault();
    event.stopPropagation();
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      chat.showError("not connected; the message was not sent");
      return;
    }
    localStorage.setItem("chat.user", user.value);
    const json = JSON.stringify({ user: user.value, text: text.value });
    socket.send(json);
    log(`→ text, ${size(json)} bytes`);
    chat.showError("");
    text.value = "";
  },
  true,
);
// ANCHOR_END: send

connect();
