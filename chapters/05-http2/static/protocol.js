// Chapter 5: the page is chapter 3's. This line only says which
// protocol carried it: "http/1.1" over http://, "h2" over https://.
"use strict";

// ANCHOR: protocol
// Navigation Timing gives the protocol of the page's own response:
// the ALPN id the browser agreed on ("h2", "http/1.1").
const [navigation] = performance.getEntriesByType("navigation");
document.querySelector("#protocol").textContent =
  `this page came over ${navigation.nextHopProtocol}`;
// ANCHOR_END: protocol
