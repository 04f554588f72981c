// The live panel of a chapter page: the chapter's chat, and beside it
// every byte that this browser exchanges with the chapter's server,
// decoded by the book server as they cross its tap
// (chapters/book/src/live.rs).
//
// The page's markup is the panel without a book server: one line on how
// to run the book, and the transcript that the chapter's tests recorded.
// This script replaces it only when a book server answers.
"use strict";

(() => {
  // The book server keeps as many lines (live.rs, KEPT).
  const MAX_LINES = 500;
  const panels = [...document.querySelectorAll(".live-panel")];
  // The book server runs on the reader's own computer, over plain
  // http. A page read over https or from a file has no book server to
  // ask, so it does not ask: no failed request, no error in the
  // console. The print page holds every chapter at once: it stays
  // static.
  const served = location.protocol === "http:";
  const print = location.pathname.endsWith("/print.html");
  if (panels.length === 0 || !served || print) {
    return;
  }

  fetch("/live/chapters.json")
    .then((answer) => (answer.ok ? answer.json() : null))
    .then((list) => {
      if (list === null) {
        return; // a plain web server: the static panel stays
      }
      for (const panel of panels) {
        start(panel, list.chapters);
      }
    })
    .catch(() => {}); // no book server: the static panel stays

  // Makes an element with a class and, optionally, a text. Text only,
  // never HTML: every line comes from the network.
  function element(tag, className, text) {
    const made = document.createElement(tag);
    made.className = className;
    if (text !== undefined) {
      made.textContent = text;
    }
    return made;
  }

  function start(panel, chapters) {
    const named = panel.dataset.chapter.split(/\s+/);
    const found = named
      .map((name) => chapters.find((chapter) => chapter.name === name))
      .filter((chapter) => chapter !== undefined);
    if (found.length === 0) {
      return;
    }
    const ui = build(panel, found);
    // CSS hides the static parts of a live panel.
    panel.classList.add("live");
    ui.choose.addEventListener("change", () => {
      show(ui, found[ui.choose.selectedIndex]);
    });
    ui.pause.addEventListener("click", () => togglePause(ui));
    show(ui, found[0]);
  }

  function build(panel, chapters) {
    const bar = element("div", "live-bar");
    // One chapter at a time: a page that names several (chapter 6) lets
    // the reader choose, and a choice starts the panel again.
    const choose = element("select", "live-choose");
    for (const chapter of chapters) {
      const text = `Chapter ${chapter.number}: ${chapter.title}`;
      choose.append(element("option", "", text));
    }
    choose.disabled = chapters.length === 1;
    const open = element("a", "live-open", "open this chat in a new tab");
    open.target = "_blank";
    open.rel = "noopener";
    const pause = element("button", "live-pause", "Pause");
    pause.type = "button";
    const status = element("span", "live-status", "connecting…");
    status.setAttribute("role", "status");
    bar.append(choose, " ", open, " ", pause, " ", status);

    const columns = element("div", "live-columns");
    const chat = element("iframe", "live-chat");
    const lines = element("div", "live-wire");
    columns.append(chat, lines);
    const footer = element("div", "live-footer");
    panel.append(bar, columns, footer);
    return {
      choose,
      open,
      pause,
      status,
      chat,
      lines,
      footer,
      source: null,
      paused: false,
      connection: "connecting…",
      // Lines that came while paused, shown on resume (bounded too).
      waiting: [],
    };
  }

  function show(ui, chapter) {
    if (ui.source !== null) {
      ui.source.close();
    }
    ui.lines.replaceChildren();
    ui.waiting = [];
    ui.footer.textContent = "";
    ui.chat.src = chapter.url;
    ui.chat.title = `The chat of chapter ${chapter.number}`;
    ui.open.href = chapter.url;
    ui.lines.dataset.chapter = chapter.name;

    // Chapter 3's technique: an EventSource, which reconnects by itself
    // and says where it stopped (Last-Event-ID).
    const source = new EventSource(chapter.wire);
    ui.source = source;
    status(ui, "connecting…");
    source.addEventListener("open", () => status(ui, "live"));
    source.addEventListener("error", () => {
      status(ui, "the book server does not answer; trying again");
    });
    source.addEventListener("line", (event) => add(ui, event.data, ""));
    source.addEventListener("footer", (event) => {
      ui.footer.textContent = event.data;
    });
    source.addEventListener("skipped", (event) => {
      add(ui, `(${event.data} earlier lines were not kept)`, "live-note");
    });
    source.addEventListener("reset", (event) => {
      ui.lines.replaceChildren();
      ui.waiting = [];
      add(ui, `(${event.data})`, "live-note");
    });
  }

  // The status line: the connection's state (`text`, when it changes),
  // after what a pause holds back.
  function status(ui, text) {
    if (text !== undefined) {
      ui.connection = text;
    }
    const held = `paused, ${ui.waiting.length} new lines wait; `;
    ui.status.textContent = (ui.paused ? held : "") + ui.connection;
  }

  // The direction of a line, for its colour: `C1 →` goes to the
  // server, `C1 ←` comes back.
  function direction(text) {
    const arrow = /^C\d+ (→|←)/.exec(text);
    if (arrow === null) {
      return "";
    }
    return arrow[1] === "→" ? "to-server" : "to-client";
  }

  function add(ui, text, className) {
    if (ui.paused) {
      ui.waiting.push([text, className]);
      if (ui.waiting.length > MAX_LINES) {
        ui.waiting.shift();
      }
      status(ui);
      return;
    }
    append(ui, text, className);
  }

  function append(ui, text, className) {
    const box = ui.lines;
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 20;
    box.append(element("div", className || direction(text), text));
    while (box.childElementCount > MAX_LINES) {
      box.firstElementChild.remove();
    }
    // Follow the newest line, unless the reader scrolled up to read.
    if (atEnd) {
      box.scrollTop = box.scrollHeight;
    }
  }

  function togglePause(ui) {
    ui.paused = !ui.paused;
    ui.pause.textContent = ui.paused ? "Resume" : "Pause";
    ui.pause.setAttribute("aria-pressed", String(ui.paused));
    if (!ui.paused) {
      for (const [text, className] of ui.waiting) {
        append(ui, text, className);
      }
      ui.waiting = [];
    }
    status(ui);
  }
})();
