// Chapter 2: ask "anything after my cursor?", and let the server
// hold the question open until it has an answer.
"use strict";

// Seconds the server may hold one request. Stay well below the idle
// timeout of the proxies on the way: a proxy that cuts a quiet
// request first answers with an error instead of our 204.
const WAIT_SECONDS = 25;
// After an error: wait about 0.5 s, then 1 s, 2 s, … at most 30 s.
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30000;

// ANCHOR: loop
async function longPoll() {
  let failures = 0;
  for (;;) {
    try {
      chat.setStatus(`waiting for news (long poll, ${WAIT_SECONDS} s)`);
      const url = `/messages?${chat.query}&wait=${WAIT_SECONDS}`;
      // "no-store": leave the browser's HTTP cache out of it (Fetch
      // standard, request cache mode). Else Chromium holds a second
      // request for the same URL (another tab, same cursor) until the
      // first is answered, in case it can reuse that answer.
      const response = await fetch(url, { cache: "no-store" });
      if (response.status === 200) {
        chat.show(await response.json());
      } else if (response.status === 409) {
        // The server cannot continue from our cursor (it restarted,
        // say): take its cursor and ask again at once (chapter 1).
        chat.reset(await response.json());
      } else if (response.status !== 204) {
        const why = await chat.errorOf(response);
        throw new PollError(why, retryAfterMs(response));
      }
      // 200 (news) or 204 (no news in time): ask again at once. No
      // timer: the server's wait is the only pause. The cursor says
      // where to resume, so nothing posted meanwhile is lost.
      failures = 0;
    } catch (e) {
      failures += 1;
      const delay = backOff(failures, e.retryAfterMs || 0);
      const seconds = (delay / 1000).toFixed(1);
      const what = `poll failed (${e.message}); trying again in ${seconds} s`;
      chat.setStatus(what, true);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
// ANCHOR_END: loop

// ANCHOR: backoff
// Wait longer after each failure, and a random part of it ("full
// jitter"). When a server restarts, every page fails at the same
// moment; random delays spread their return over time instead of
// sending them all back in the same instant.
function backOff(failures, atLeastMs) {
  const cap = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (failures - 1));
  return atLeastMs + Math.random() * cap;
}

// A 503 says when to come back: `Retry-After: <seconds>` (RFC 9110
// §10.2.3). The header may also hold a date; we then use only the
// back-off.
function retryAfterMs(response) {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}
// ANCHOR_END: backoff

class PollError extends Error {
  constructor(message, retryAfterMs) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

longPoll();
