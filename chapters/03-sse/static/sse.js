// Chapter 3: one long response carries every new message. The browser
// parses the event stream, and reconnects by itself when it drops.
"use strict";

let source = null;
let opened = 0;
let refusals = 0; // streams in a row that the server refused

// ANCHOR: connect
// The query matters only when the page opens a stream. On a
// reconnect, the browser asks the same URL again, and adds the header
// `Last-Event-ID` with the id of the last event it got: the server
// lets that header win.
function connect() {
  source = new EventSource(`/events?${chat.query}`);
  source.onopen = () => {
    opened += 1;
    refusals = 0;
    const again = opened > 1 ? ` (reconnected ${opened - 1}×)` : "";
    chat.setStatus(`connected: messages arrive as they are posted${again}`);
  };
  source.onmessage = receive;
  source.addEventListener("reset", reset);
  // The server's word about itself (chapter 7: its shared log is
  // down, or back): `{"notice": "…"}`, or `{"notice": null}`.
  source.addEventListener("notice", (event) => {
    chat.notice(JSON.parse(event.data).notice);
  });
  source.onerror = error;
}
// ANCHOR_END: connect

// ANCHOR: receive
// `onmessage` gets the events of type `message` only: ours carry a
// chat message as JSON. chat.show skips an id it has already shown.
function receive(event) {
  chat.show([JSON.parse(event.data)]);
}

// Any other type needs addEventListener. `reset` says that the
// server cannot continue from our cursor (it restarted, or messages
// are gone): its data is JSON, with the cursor to go on from. The
// stream goes on; its next events are the server's history.
function reset(event) {
  chat.reset(JSON.parse(event.data));
}
// ANCHOR_END: receive

// ANCHOR: error
// `error` fires for a drop (the browser will try again: CONNECTING)
// and for a refusal such as 204 or 503 (it will not: CLOSED). After a
// refusal the page itself tries again, later and later: the server
// may be full, or stopping for a restart.
function error() {
  if (source.readyState === EventSource.CONNECTING) {
    chat.setStatus("connection lost; the browser reconnects…", true);
    return;
  }
  // 5 s, then 10 s, 20 s, … at most 60 s, and a random half of it:
  // after a restart, every page does not come back in the same moment.
  refusals += 1;
  const ceiling = Math.min(60, 5 * 2 ** (refusals - 1));
  const seconds = ceiling * (0.5 + Math.random() / 2);
  const again = `trying again in ${seconds.toFixed(1)} s`;
  chat.setStatus(`the server closed the stream for good; ${again}`, true);
  setTimeout(connect, seconds * 1000);
}
// ANCHOR_END: error

connect();
