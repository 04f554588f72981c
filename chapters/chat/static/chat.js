// The chat every chapter's page shares: the message list, the form
// that posts, and the error line. A chapter's own script only
// receives messages and hands them to `chat.show`.
"use strict";

const chat = (() => {
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const error = document.getElementById("error");
  const form = document.getElementById("send");
  const user = document.getElementById("user");
  const text = document.getElementById("text");
  // The cursor: the id of the newest message shown. Ids only grow,
  // so a message with an id at or below it is already on the page.
  let cursor = 0;
  // The run of the server that gave us the cursor: the server writes
  // its name into this script's tag. A cursor is the server's token:
  // "after 5" means something only to the run that sent id 5.
  let run = document.currentScript.dataset.run;
  const posted = [];

  // ANCHOR: show
  function show(messages) {
    for (const message of messages) {
      if (message.id <= cursor) continue; // seen before: never twice
      const item = document.createElement("li");
      item.dataset.id = message.id;
      const name = document.createElement("span");
      name.className = "user";
      // textContent, never innerHTML: a message is text, and text
      // such as "<img onerror=...>" must not become a page element.
      name.textContent = message.user;
      const body = document.createElement("span");
      body.className = "text";
      body.textContent = message.text;
      item.append(name, body);
      list.append(item);
      cursor = message.id;
    }
    list.scrollTop = list.scrollHeight;
  }
  // ANCHOR_END: show

  // ANCHOR: reset
  // The server cannot continue from our cursor (it restarted, or the
  // messages after our cursor are gone) and says so. Take its cursor
  // and run, and mark the place: what follows is its history.
  function reset(answer) {
    cursor = answer.after;
    run = answer.run;
    const item = document.createElement("li");
    item.className = "reset";
    item.textContent = `history reset: ${answer.reset}`;
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }
  // ANCHOR_END: reset

  function setStatus(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("error", isError);
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  // ANCHOR: notice
  // The server's word about itself, such as "the log is unavailable"
  // (chapter 7). It stays until the server clears it with null. It is
  // text, like every message: textContent, never HTML.
  let notices = null;
  function notice(message) {
    if (!notices) {
      notices = document.createElement("p");
      notices.id = "notice";
      notices.setAttribute("role", "status");
      error.before(notices);
    }
    notices.textContent = message || "";
    notices.hidden = !message;
  }
  // ANCHOR_END: notice

  // The server explains every failure as {"error": "..."}.
  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (_) {
      // not JSON: fall through to the status line
    }
    return `${response.status} ${response.statusText}`;
  }

  // ANCHOR: post
  async function post(event) {
    event.preventDefault();
    localStorage.setItem("chat.user", user.value);
    let response;
    try {
      response = await fetch("/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: user.value, text: text.value }),
      });
    } catch (e) {
      showError(`could not reach the server: ${e.message}`);
      return;
    }
    if (!response.ok) {
      showError(await errorOf(response));
      return;
    }
    showError("");
    text.value = "";
    // Do not show our own message here: messages from others with
    // smaller ids may still be on their way. The chapter's way of
    // receiving shows it, in order, like every other message.
    for (const listener of posted) listener(await response.json());
  }
  // ANCHOR_END: post

  user.value = localStorage.getItem("chat.user") || "";
  form.addEventListener("submit", post);

  return {
    show,
    reset,
    setStatus,
    showError,
    notice,
    errorOf,
    get cursor() {
      return cursor;
    },
    get run() {
      return run;
    },
    // The query every request that resumes sends: `after=5&run=k3x9qa`.
    get query() {
      return `after=${cursor}&run=${encodeURIComponent(run)}`;
    },
    onPosted(listener) {
      posted.push(listener);
    },
  };
})();
