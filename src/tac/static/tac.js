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

  // The page's one socket (on the layout: switching rooms swaps the panel inside it).
  var socket = null;
  function panel() { return document.getElementById("room-panel"); }

  // On every (re)connect, say which room is on screen and what we hold of it: the server
  // sends what we missed, every sidebar badge as counted, then live.
  document.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper;
    var room = panel();
    if (!room) return;
    opened = room.dataset.room;
    socket.send(JSON.stringify({ hello: true, room: opened, last_seq: heldSeq(room) }));
    markRead();
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

  // -- one socket for every room: switching, badges, read marks, typing ----------------
  var opened = null;  // the room the socket was last told is on screen

  // A sidebar click swapped the panel (or back/forward restored one): tell the socket
  // which room is on screen and what we hold of it; no new socket.
  function panelOpened() {
    var room = panel();
    if (!room || room.dataset.room === opened) return;
    opened = room.dataset.room;
    if (socket) socket.send(JSON.stringify({ open: opened, last_seq: heldSeq(room) }));
    document.querySelectorAll("#my-rooms a").forEach(function (a) {
      if (a.dataset.room === opened) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    var badge = document.getElementById("unread-" + opened);
    if (badge) badge.textContent = "";
    var divider = document.getElementById("unread-divider");
    if (divider) divider.scrollIntoView({ block: "center" });
    else window.scrollTo(0, document.body.scrollHeight);
    updateTitle();
    markRead();
  }
  document.addEventListener("htmx:afterSettle", panelOpened);
  document.addEventListener("htmx:historyRestore", panelOpened);

  // The title counts what is unread in the other rooms: "(3) #general · Tac".
  function updateTitle() {
    var total = 0;
    document.querySelectorAll("#my-rooms .unread").forEach(function (el) {
      total += parseInt(el.textContent, 10) || 0;
    });
    var room = panel();
    var base = room ? room.dataset.title : document.title.replace(/^\(\d+\+?\) /, "");
    document.title = (total ? "(" + total + ") " : "") + base;
  }

  // What is on screen while the tab is visible and focused is read: the read mark moves
  // (once per burst) and the badge clears in every tab and device of this user.
  var readSent = {};
  var readTimer = null;
  var readAgain = false;
  function markRead() {  // at once, then at most once per 300 ms while messages pour in
    if (readTimer) { readAgain = true; return; }
    sendRead();
    readTimer = setTimeout(function () {
      readTimer = null;
      if (readAgain) { readAgain = false; markRead(); }
    }, 300);
  }
  function sendRead() {
    var room = panel();
    if (!socket || !room || !document.getElementById("composer")) return;
    if (document.visibilityState !== "visible" || !document.hasFocus()) return;
    var top = 0;
    room.querySelectorAll("#messages [data-seq]").forEach(function (el) {
      top = Math.max(top, +el.dataset.seq);
    });
    var id = room.dataset.room;
    if (!top || top <= (readSent[id] || 0)) return;
    readSent[id] = top;
    socket.send(JSON.stringify({ read: id, seq: top }));
  }
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
  document.addEventListener("htmx:wsAfterMessage", function () {
    updateTitle();
    markRead();
  });

  // "… is typing": at most one frame per few seconds while typing (the server throttles too).
  var typedAt = 0;
  document.addEventListener("input", function (e) {
    if (e.target.id !== "composer-body" || !socket || !e.target.value) return;
    var now = Date.now();
    if (now - typedAt < 3000) return;
    typedAt = now;
    socket.send(JSON.stringify({ typing: panel().dataset.room }));
  });

  // -- "@" in the composer offers the room's members: a list the server renders (htmx) ----
  function mentionQuery(area) {
    var before = area.value.slice(0, area.selectionStart);
    var found = /(^|[^\w.@\/-])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
    return found ? { start: before.length - found[2].length - 1, prefix: found[2] } : null;
  }
  function suggestions() { return document.getElementById("mention-suggestions"); }
  document.addEventListener("input", function (e) {
    var list = suggestions();
    if (e.target.id !== "composer-body" || !list || !window.htmx) return;
    var query = mentionQuery(e.target);
    if (!query) { list.innerHTML = ""; return; }
    htmx.ajax("GET", list.dataset.url + "?q=" + encodeURIComponent(query.prefix),
      { target: "#mention-suggestions", swap: "innerHTML" });
  });
  function mention(username) {
    var area = document.getElementById("composer-body");
    var query = area && mentionQuery(area);
    if (!query) return;
    var after = area.value.slice(area.selectionStart);
    area.value = area.value.slice(0, query.start) + "@" + username + " " + after;
    var caret = query.start + username.length + 2;
    area.setSelectionRange(caret, caret);
    area.focus();
    suggestions().innerHTML = "";
  }
  document.addEventListener("click", function (e) {
    var choice = e.target.closest && e.target.closest("#mention-suggestions button");
    if (choice) mention(choice.dataset.username);
  });
  // Tab or Enter takes the first offer (before Enter would send), Escape closes the list.
  document.addEventListener("keydown", function (e) {
    var list = suggestions();
    if (e.target.id !== "composer-body" || !list) return;
    var first = list.querySelector("button");
    if (!first) return;
    if (e.key === "Escape") list.innerHTML = "";
    if ((e.key === "Tab" || e.key === "Enter") && !e.shiftKey) {
      e.preventDefault();
      e.stopImmediatePropagation();
      mention(first.dataset.username);
    }
  }, true);
  document.addEventListener("htmx:wsAfterSend", function () {
    var list = suggestions();
    if (list) list.innerHTML = "";
    typedAt = 0;  // sent: the next keystroke starts a new "is typing"
  });

  // -- mentions and notifications --------------------------------------------------------
  // A message naming me (or @room) is highlighted; while the tab is hidden, a mention (here
  // or in another room's badge) shows a browser notification if allowed and not muted.
  function layout() { return document.querySelector(".layout[data-me]"); }
  var mentionsSeen = {};  // room id -> mention count its badge showed
  function checkMentions(live) {
    var me = layout();
    if (!me) return;
    document.querySelectorAll("#messages .body[data-mentions]:not(.checked)").forEach(function (el) {
      el.classList.add("checked");
      var names = el.dataset.mentions.split(" ");
      if (el.dataset.author === me.dataset.meId) return;
      if (names.indexOf(me.dataset.me) < 0 && names.indexOf("room") < 0) return;
      el.classList.add("mentions-me");
      var room = panel();
      if (live && !(room && room.dataset.muted)) {
        var author = el.closest("article").querySelector(".author");
        notify((author ? author.textContent : "Someone") + " mentioned you", el.textContent);
      }
    });
    document.querySelectorAll("#my-rooms .unread").forEach(function (el) {
      var room = el.id.slice("unread-".length);
      var count = parseInt(el.dataset.mentions || "0", 10);
      if (live && count > (mentionsSeen[room] || 0) && !el.classList.contains("muted")) {
        var link = el.closest("a");
        notify("You were mentioned in " + (link ? link.firstChild.textContent.trim() : "a room"), "");
      }
      mentionsSeen[room] = count;
    });
  }
  function notify(title, body) {
    if (!document.hidden || !("Notification" in window)) return;
    if (Notification.permission !== "granted") return;
    new Notification(title, { body: body.slice(0, 200), tag: "tac-mention" });
  }
  document.addEventListener("htmx:wsAfterMessage", function () { checkMentions(true); });
  document.addEventListener("htmx:afterSettle", function () { checkMentions(false); });
  document.addEventListener("DOMContentLoaded", function () {
    checkMentions(false);
    var offer = document.getElementById("notify-offer");
    if (offer && layout() && "Notification" in window && Notification.permission === "default") {
      offer.hidden = false;
      document.getElementById("notify-enable").addEventListener("click", function () {
        Notification.requestPermission().then(function () { offer.hidden = true; });
      });
    }
  });

  // Deferred scripts run before htmx starts on DOMContentLoaded: open at the newest
  // message, so the history trigger at the top is not "revealed" by the first paint.
  // A link to one message (from Mentions) opens at it; else at the newest message.
  var target = /^#msg-[0-9a-f]+$/.test(location.hash) && document.querySelector(location.hash);
  if (target) target.scrollIntoView({ block: "center" });
  else if (document.getElementById("messages")) window.scrollTo(0, document.body.scrollHeight);
})();
