// Tac's only script: what htmx cannot say in attributes.
(function () {
  "use strict";

  function lastSeq(room) {
    var seq = parseInt(room.dataset.lastSeq || "0", 10);
    var shown = room.querySelectorAll("#messages [data-seq]");
    if (shown.length) seq = Math.max(seq, parseInt(shown[shown.length - 1].dataset.seq, 10));
    return seq;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }

  // On every (re)connect, say what we hold: the server sends what we missed, then live.
  document.addEventListener("htmx:wsOpen", function (e) {
    var room = e.target.closest("[data-room]");
    if (!room) return;
    e.detail.socketWrapper.send(JSON.stringify({ hello: true, last_seq: lastSeq(room) }));
  });

  // Two posts can cross on their way here: keep messages in seq order.
  function keepOrder() {
    var list = document.getElementById("messages");
    if (!list) return;
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
