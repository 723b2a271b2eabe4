// Tac's only script: what htmx cannot say in attributes.
(function () {
  "use strict";

  // The seq up to which this page holds every message: from the server's last mark (the
  // page's render, or the last catch-up) on, as far as the messages shown have no hole.
  // Never the highest seq shown: a message missing below it would never come back.
  function heldSeq(room) {
    var mark = document.getElementById("room-mark");
    var seq = parseInt((mark && mark.dataset.mark) || room.dataset.lastSeq || "0", 10);
    var have = {};
    room.querySelectorAll("#messages [data-seq]").forEach(function (el) {
      have[el.dataset.seq] = true;
    });
    while (have[seq + 1]) seq++;
    return seq;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }

  // On every (re)connect, say what we hold: the server sends what we missed, then live.
  document.addEventListener("htmx:wsOpen", function (e) {
    var room = e.target.closest("[data-room]");
    if (!room) return;
    e.detail.socketWrapper.send(JSON.stringify({ hello: true, last_seq: heldSeq(room) }));
  });

  // 1008: this browser's session ended (signed out here or elsewhere, or the password
  // changed). htmx does not reconnect after it; the page goes to the sign-in form.
  document.addEventListener("htmx:wsClose", function (e) {
    if (e.detail.event && e.detail.event.code === 1008) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
  });

  // Two posts can cross on their way here: keep messages in seq order, each once (a
  // catch-up may resend what arrived live above a hole).
  function keepOrder() {
    var list = document.getElementById("messages");
    if (!list) return;
    var seen = {};
    list.querySelectorAll(":scope > [data-seq]").forEach(function (el) {
      if (seen[el.dataset.seq]) el.remove();
      seen[el.dataset.seq] = true;
    });
    var items = Array.prototype.slice.call(list.querySelectorAll(":scope > [data-seq]"));
    for (var i = 1; i < items.length; i++) {
      if (+items[i].dataset.seq < +items[i - 1].dataset.seq) {
        items.sort(function (a, b) { return a.dataset.seq - b.dataset.seq; });
        items.forEach(function (el) { list.appendChild(el); });
        return;
      }
    }
  }

  var stick = true;
  document.addEventListener("htmx:wsBeforeMessage", function () { stick = nearBottom(); });
  document.addEventListener("htmx:wsAfterMessage", function () {
    keepOrder();
    if (stick) window.scrollTo(0, document.body.scrollHeight);
  });

  // Each post carries an id of its own: the server stores a resent post once, and its
  // acknowledgment names the id and the seq it was stored at.
  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  document.addEventListener("htmx:wsConfigSend", function (e) {
    if ("body" in e.detail.parameters) e.detail.parameters.client_id = newId();
  });

  document.addEventListener("htmx:wsAfterSend", function (e) {
    var form = e.target.closest("form");
    if (form) form.querySelector("textarea").value = "";
  });

  // Enter sends, Shift+Enter breaks the line.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey || e.target.id !== "composer-body") return;
    e.preventDefault();
    e.target.form.requestSubmit();
  });

  // Deferred scripts run before htmx starts on DOMContentLoaded: open at the newest
  // message, so the history trigger at the top is not "revealed" by the first paint.
  if (document.getElementById("messages")) window.scrollTo(0, document.body.scrollHeight);
})();
