// Chapter 5: eight EventSources, one per room, on one page. Over
// HTTP/1.1 a browser opens at most 6 connections to one host, and an
// open stream keeps its connection: streams 7 and 8 wait. Over HTTP/2
// all eight are streams on one connection.
"use strict";

// ANCHOR: open
const ROOMS = 8;
const sources = [];
let opened = 0;
const list = document.querySelector("#streams");
const status = document.querySelector("#status");

for (let room = 1; room <= ROOMS; room++) {
  const item = document.createElement("li");
  item.textContent = `room ${room}: waiting for a connection`;
  list.append(item);
  const source = new EventSource(`/rooms/${room}/events`);
  source.onopen = () => {
    opened += 1;
    item.textContent = `room ${room}: open`;
    item.dataset.open = "true";
    status.textContent = `${opened} of ${ROOMS} streams open`;
  };
  sources.push(source);
}
// ANCHOR_END: open

// For the test: how many are open, and closing one frees its slot.
window.limit = {
  opened: () => opened,
  states: () => sources.map((s) => s.readyState),
  close: (room) => sources[room - 1].close(),
};
