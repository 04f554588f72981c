// Chapter 1: ask the server "anything after my cursor?" again and
// again, every interval.
"use strict";

const interval = Number(document.currentScript.dataset.intervalMs);
let timer = null;
let polling = false;
let again = false; // a poll was asked for while one was in flight

// ANCHOR: poll
async function poll() {
  clearTimeout(timer);
  if (polling) {
    again = true; // one request at a time; poll once more after it
    return;
  }
  polling = true;
  try {
    // The cursor makes every poll cheap and safe: the server sends
    // only what we have not seen, and nothing is lost between polls.
    // The run says which server's cursor it is.
    const response = await fetch(`/messages?${chat.query}`);
    if (response.status === 409) {
      // Not "nothing new": the server cannot continue from our
      // cursor (it restarted, say). Take its cursor; ask again now.
      chat.reset(await response.json());
      again = true;
      return;
    }
    if (!response.ok) throw new Error(await chat.errorOf(response));
    chat.show(await response.json());
    chat.setStatus(`polling every ${interval / 1000} s`);
  } catch (e) {
    chat.setStatus(`poll failed (${e.message}); trying again`, true);
  } finally {
    polling = false;
    // setTimeout after the answer, not setInterval: a slow answer
    // never piles up requests behind it. A hidden tab schedules no
    // next poll: see "visibilitychange" below.
    if (document.visibilityState !== "hidden") {
      timer = setTimeout(poll, again ? 0 : interval);
    }
    again = false;
  }
}
// ANCHOR_END: poll

// ANCHOR: visibility
// Nobody reads a hidden tab (another tab is in front, or the window is
// minimised), so it stops polling. When it is shown again, it polls at
// once: what came meanwhile appears without waiting an interval.
// (HTML, "Page visibility": `document.visibilityState`.)
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    clearTimeout(timer);
  } else {
    poll();
  }
});
// ANCHOR_END: visibility

// After our own post, poll at once instead of waiting.
chat.onPosted(poll);
poll();
