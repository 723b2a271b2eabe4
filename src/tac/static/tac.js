// Tac's only script: what htmx cannot say in attributes.
(function () {
  "use strict";

  // -- How messages read: the reader's own times, days, runs by one author ----------------
  // Each message fragment is rendered once for every reader (and pushed live as it is), so
  // what differs by reader is done here: times in the reader's zone and language, a day
  // separator between messages of different days, one header per run of messages by one
  // author within GROUP_MS, and the reader's own messages marked.
  var GROUP_MS = 5 * 60 * 1000;
  var clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  var dayName = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
  var dayNameYear = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
  var meTag = document.querySelector('meta[name="tac-me"]');
  var me = meTag ? meTag.content : "";

  function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); }

  function dayLabel(d) {
    var today = startOfDay(new Date());
    var day = startOfDay(d);
    if (day === today) return "Today";
    // A calendar day back, whatever the length of the day (DST).
    var y = new Date(today); y.setDate(y.getDate() - 1);
    if (day === y.getTime()) return "Yesterday";
    return (d.getFullYear() === new Date().getFullYear() ? dayName : dayNameYear).format(d);
  }

  function localTime(el, format) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return null;
    if (el.dataset.local !== "1") {
      el.textContent = format.format(d);
      el.title = fullDate.format(d);
      el.dataset.local = "1";
    }
    return d;
  }

  function separator(label) {
    var sep = document.createElement("div");
    sep.className = "day-sep";
    sep.setAttribute("role", "separator");
    sep.textContent = label;
    return sep;
  }

  function decorate() {
    document.querySelectorAll("time[datetime]:not(.msg time)").forEach(function (el) {
      localTime(el, fullDate);
    });
    var list = document.getElementById("messages");
    if (!list) return;
    var prev = null;
    list.querySelectorAll(":scope > .msg").forEach(function (el) {
      var time = el.querySelector("time[datetime]");
      var d = time && localTime(time, clock);
      if (!d) return;
      var newDay = !prev || startOfDay(d) !== startOfDay(prev.d);
      var before = el.previousElementSibling;
      var hasSep = before && before.classList.contains("day-sep");
      if (newDay) {
        var label = dayLabel(d);
        if (!hasSep) list.insertBefore(separator(label), el);
        else if (before.textContent !== label) before.textContent = label;
      } else if (hasSep) {
        before.remove();
      }
      var run = !newDay && prev.author === el.dataset.author && d - prev.d < GROUP_MS;
      el.classList.toggle("cont", run);
      el.classList.toggle("mine", !!me && el.dataset.author === me);
      prev = { d: d, author: el.dataset.author };
    });
    // A separator left with no message after it (the messages it stood before moved).
    list.querySelectorAll(":scope > .day-sep").forEach(function (sep) {
      var next = sep.nextElementSibling;
      if (!next || !next.classList.contains("msg")) sep.remove();
    });
  }
  // After every other listener (keepOrder below may move messages), before the next paint.
  function decorateSoon() { queueMicrotask(decorate); }
  document.addEventListener("htmx:afterSettle", decorateSoon);
  document.addEventListener("htmx:wsAfterMessage", decorateSoon);
  decorate();  // deferred: the page is parsed, and nothing has scrolled yet

  // A form with data-confirm asks before it is sent (Revoke a token).
  document.addEventListener("submit", function (e) {
    var question = e.target.dataset && e.target.dataset.confirm;
    if (question && !window.confirm(question)) e.preventDefault();
  }, true);

  // A button with data-copy copies the text of the element with that id.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var done = function () { button.textContent = "Copied"; };
    var selectIt = function () {  // no clipboard (plain http on another host): select it
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = document.execCommand("copy") ? "Copied" : "Press Ctrl+C";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(done, selectIt);
    } else {
      selectIt();
    }
  });

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
