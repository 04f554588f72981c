// Chapter 3: one long response carries every new message. The browser
// parses the event stream, and reconnects by itself when it drops.
"use strict";

// ANCHOR: connect
// `after` matters only for the first connect. On a reconnect, the
// browser asks the same URL again, and adds the header
// `Last-Event-ID` with the id of the last event it got: the server
// lets that header win.
const source = new EventSource(`/events?after=${chat.cursor}`);
let opened = 0;

source.onopen = () => {
  opened += 1;
  const again = opened > 1 ? ` (reconnected ${opened - 1}×)` : "";
  chat.setStatus(`connected: messages arrive as they are posted${again}`);
};
// ANCHOR_END: connect

// ANCHOR: receive
// `onmessage` gets the events of type `message` only: ours carry a
// chat message as JSON. chat.show skips an id it has already shown.
source.onmessage = (event) => {
  chat.show([JSON.parse(event.data)]);
};

// Any other type needs addEventListener. `reset` says that messages
// were lost for good: its data is two lines of text.
source.addEventListener("reset", (event) => {
  chat.showError(event.data);
});
// ANCHOR_END: receive

// ANCHOR: error
// `error` fires for a drop (the browser will try again: CONNECTING)
// and for a refusal such as 204 (it will not: CLOSED).
source.onerror = () => {
  if (source.readyState === EventSource.CONNECTING) {
    chat.setStatus("connection lost; the browser reconnects…", true);
  } else {
    chat.setStatus("the server closed the stream for good", true);
  }
};
// ANCHOR_END: error
