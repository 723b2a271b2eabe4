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
    var list = messageList();
    if (!list) return;
    // Separators and runs change heights above the reader: keep what they read in place
    // (unless they are at the newest, where new messages keep them).
    var held = !nearBottom(list) && firstInView(list);
    var heldTop = held && held.getBoundingClientRect().top;
    var prev = null;
    list.querySelectorAll(":scope > .msg").forEach(function (el) {
      var time = el.querySelector("time[datetime]");
      var d = time && localTime(time, clock);
      if (!d) return;
      var newDay = !prev || startOfDay(d) !== startOfDay(prev.d);
      var at = el;  // the day's line goes above the "New messages" line, not between
      var before = el.previousElementSibling;
      if (before && before.classList.contains("unread-divider")) {
        at = before;
        before = before.previousElementSibling;
      }
      var hasSep = before && before.classList.contains("day-sep");
      if (newDay) {
        var label = dayLabel(d);
        if (!hasSep) list.insertBefore(separator(label), at);
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
      if (next && next.classList.contains("unread-divider")) next = next.nextElementSibling;
      if (!next || !next.classList.contains("msg")) sep.remove();
    });
    if (held) list.scrollTop += held.getBoundingClientRect().top - heldTop;
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

  // Only the message list scrolls (the header, the members and the composer stay put).
  function messageList() {
    return document.getElementById("messages");
  }

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  function toNewest(list) {
    list.scrollTop = list.scrollHeight;
    showJump(0);
  }

  // The page's one socket (on the layout: switching rooms swaps the panel inside it):
  // htmx's wrapper, the same across reconnects.
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
    var list = messageList();
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

  function messageCount(list) {
    return list ? list.querySelectorAll(":scope > [data-seq]").length : 0;
  }

  // A reader at the bottom follows new messages; one scrolled up keeps their place, and a
  // button counts what arrived below ("jump to newest").
  var stick = true;
  var countBefore = 0;
  var unseen = 0;
  var justSent = false;
  function showJump(count) {
    var button = document.getElementById("jump-newest");
    unseen = count;
    if (!button) return;
    button.hidden = count === 0;
    button.querySelector(".count").textContent =
      count === 1 ? "1 new message" : count + " new messages";
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var list = messageList();
    stick = !list || nearBottom(list) || justSent;
    countBefore = messageCount(list);
    noteAcknowledgments(e.detail.message);
  });
  document.addEventListener("htmx:wsAfterMessage", function () {
    keepOrder();
    var list = messageList();
    var added = messageCount(list) - countBefore;
    if (added > 0) justSent = false;
    if (!list) return;
    if (stick) toNewest(list);
    else if (added > 0) showJump(unseen + added);
    countComposer();
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest("#jump-newest")) return;
    var list = messageList();
    if (list) toNewest(list);
  });
  // Scroll events do not bubble: listen in the capture phase, for whichever list is shown.
  var atNewest = true;
  document.addEventListener("scroll", function (e) {
    if (e.target.id !== "messages") return;
    atNewest = nearBottom(e.target);
    if (unseen && atNewest) showJump(0);
  }, true);
  // A phone's keyboard shrinks the list from below: a reader at the newest stays there.
  window.addEventListener("resize", function () {
    var list = messageList();
    if (list && atNewest) list.scrollTop = list.scrollHeight;
  });

  // Older messages arrive above what the reader is looking at: keep that message exactly
  // where it was, so the next page loads only when the reader scrolls up again.
  var anchor = null;
  function firstInView(list) {
    var top = list.getBoundingClientRect().top;
    var items = list.querySelectorAll(":scope > [data-seq]");
    for (var i = 0; i < items.length; i++) {
      if (items[i].getBoundingClientRect().bottom > top) return items[i];
    }
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var list = messageList();
    if (!list || !e.detail.elt.classList.contains("history-trigger")) return;
    var el = firstInView(list);
    anchor = el && { el: el, top: el.getBoundingClientRect().top };
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!anchor) return;
    var list = messageList();
    if (list) list.scrollTop += anchor.el.getBoundingClientRect().top - anchor.top;
    anchor = null;
  });

  // A page of history that failed to load (the network, a restart) is asked for again when
  // its trigger is next in view: a fresh copy of the trigger re-arms `intersect once`.
  function rearmHistory(e) {
    var trigger = e.detail.elt;
    if (!trigger || !trigger.classList || !trigger.classList.contains("history-trigger")) return;
    setTimeout(function () {
      if (!trigger.isConnected) return;
      var fresh = trigger.cloneNode(true);
      trigger.replaceWith(fresh);
      htmx.process(fresh);
    }, 1000);
  }
  document.addEventListener("htmx:sendError", rearmHistory);
  document.addEventListener("htmx:responseError", rearmHistory);

  // The socket's state, shown: "Reconnecting…" while it is away, "Connected" once back.
  var RECONNECTS = [1006, 1011, 1012, 1013]; // the codes htmx reconnects after
  var current = null; // the WebSocket it holds now
  var createWebSocket = htmx.createWebSocket || function (url) { return new WebSocket(url, []); };
  htmx.createWebSocket = function (url) {
    current = createWebSocket(url);
    return current;
  };
  var state = "connecting";
  var wasAway = false;
  function showConnection(text, kind) {
    var el = document.getElementById("conn-status");
    if (!el) return;
    el.textContent = text;
    el.dataset.state = kind;
    el.hidden = !text;
  }
  document.addEventListener("htmx:wsConnecting", function () { state = "connecting"; });
  document.addEventListener("htmx:wsOpen", function () {
    state = "open";
    resendUnacknowledged(socket);  // `socket`: set by the first wsOpen listener above
    if (!wasAway) return;
    wasAway = false;
    showConnection("Connected", "ok");
    setTimeout(function () { if (state === "open" && !wasAway) showConnection("", "ok"); }, 2000);
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail.event && e.detail.event.code;
    if (e.detail.event && e.detail.event.target !== current) {
      // A socket this page replaced (on `online`) closing late, often as 1006 when the
      // network under it was gone: it says nothing of the current one, and the try htmx
      // has just scheduled for it would replace the current socket again.
      cancelRetry();
      return;
    }
    if (code === 1005) return; // closed by this page, not by the server
    state = "closed";
    if (RECONNECTS.indexOf(code) >= 0) {
      wasAway = true;
      showConnection("Reconnecting…", "away");
      showPendingPosts();
    } else if (code !== 1008) {
      showConnection("Disconnected. Reload the page to reconnect.", "gone");
    }
  });

  // Reconnect at once (a drop, a 1012 restart), then back off with jitter up to the
  // room's TAC_WS_RECONNECT_MAX_SECONDS, so the page is back soon after its server.
  function reconnectDelay(attempt) {
    var room = document.querySelector("[data-reconnect-max]");
    var max = 1000 * Math.max(0.25, parseFloat(room && room.dataset.reconnectMax) || 1.5);
    if (attempt === 0) return Math.random() * 200;
    return Math.min(max, 250 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
  }
  // htmx-ext-ws 2.0 (vendored, pinned) calls setTimeout right after asking this delay and
  // keeps no handle on it: note that timer, so the browser's `online` event can cancel the
  // wait and reconnect at once.
  var retryTimer = null;
  function cancelRetry() {
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
  }
  htmx.config.wsReconnectDelay = function (attempt) {
    var schedule = window.setTimeout;
    window.setTimeout = function (fn, ms) {
      window.setTimeout = schedule;
      retryTimer = schedule(function () { retryTimer = null; fn(); }, ms);
      return retryTimer;
    };
    return reconnectDelay(attempt);
  };
  // A network that goes away often leaves the socket looking open: say so at once, and
  // hold what is typed as pending until the socket is replaced.
  window.addEventListener("offline", function () {
    if (state !== "open") return;
    state = "offline";
    wasAway = true;
    showConnection("Reconnecting…", "away");
    showPendingPosts();
  });
  window.addEventListener("online", function () {
    if (!socket || state === "connecting") return; // a try is on its way
    cancelRetry();
    socket.reconnect(); // also when "open": after a network change it may be dead
  });

  // Each post carries an id of its own: the server stores a resent post once, and its
  // acknowledgment names the id and the seq it was stored at. Until then a post is
  // unacknowledged: shown as pending while the socket is away, and sent again (marked
  // `retry`, so stored once) when it is back; or marked failed with the server's reason.
  var unacked = {};
  function newId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function clearComposer(form) {
    var area = form && form.querySelector("textarea");
    if (area) area.value = "";
    countComposer();
  }
  document.addEventListener("htmx:wsConfigSend", function (e) {
    if (!("body" in e.detail.parameters)) return;
    var id = newId();
    e.detail.parameters.client_id = id;
    unacked[id] = { body: e.detail.parameters.body, sent: false, queued: state !== "open" };
    justSent = true;
    if (!unacked[id].queued) return;
    // htmx queues it until the socket is open again: show it, free the composer.
    clearComposer(e.target.closest("form"));
    showPending(id);
  });
  document.addEventListener("htmx:wsAfterSend", function (e) {
    var post = null;
    try { post = unacked[JSON.parse(e.detail.message).client_id]; } catch (err) { /* not ours */ }
    if (post) post.sent = true;
    if (!post || !post.queued) clearComposer(e.target.closest("form"));
  });
  function myName() {
    var me = document.querySelector(".whoami b");
    return me ? me.textContent : "You";
  }
  function showPending(id) {
    var post = unacked[id];
    var list = messageList();
    if (!post || post.el || !list) return;
    var el = document.createElement("article");
    el.className = "msg pending";
    el.dataset.clientId = id;
    var head = document.createElement("header");
    var who = document.createElement("b");
    who.className = "author";
    who.textContent = myName();
    var note = document.createElement("span");
    note.className = "state";
    note.textContent = "Pending: sent when reconnected";
    head.append(who, note);
    var body = document.createElement("p");
    body.className = "body";
    body.dir = "auto";
    body.textContent = post.body;
    el.append(head, body);
    list.appendChild(el);
    post.el = el;
    toNewest(list);
  }
  function showPendingPosts() {
    Object.keys(unacked).forEach(showPending);
  }
  function resendUnacknowledged(wrapper) {
    Object.keys(unacked).forEach(function (id) {
      var post = unacked[id];
      if (!post.sent) return; // still in htmx's queue: it goes right after the hello
      wrapper.send(JSON.stringify({ body: post.body, client_id: id, retry: true }));
    });
  }
  // The composer's state names the post it answers: stored (data-seq-acked) or refused.
  function noteAcknowledgments(html) {
    if (typeof html !== "string" || html.indexOf("data-client-id") < 0) return;
    var parsed = document.createElement("template");
    parsed.innerHTML = html;
    parsed.content.querySelectorAll("[data-client-id]").forEach(function (answer) {
      var post = unacked[answer.dataset.clientId];
      if (!post) return;
      delete unacked[answer.dataset.clientId];
      if (!post.el) return;
      if (answer.dataset.seqAcked) {
        post.el.remove();
        return;
      }
      post.el.classList.add("failed");
      post.el.querySelector(".state").textContent = "Not sent: " + answer.textContent;
    });
  }

  // A counter near the limit (code points, as the server counts), instead of a paste cut
  // short without a word.
  function countComposer() {
    var area = document.getElementById("composer-body");
    var counter = document.getElementById("composer-count");
    if (!area || !counter) return;
    var max = parseInt(area.dataset.maxChars || "0", 10);
    var used = Array.from(area.value).length;
    counter.hidden = !max || used < max * 0.9;
    counter.classList.toggle("over", used > max);
    counter.textContent = used > max
      ? (used - max) + " characters over the limit of " + max + ": shorten it to send"
      : used + " / " + max;
  }
  document.addEventListener("input", function (e) {
    if (e.target.id === "composer-body") countComposer();
  });

  // Enter sends, Shift+Enter breaks the line.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.target.id !== "composer-body") return;
    e.preventDefault();
    e.target.form.requestSubmit();
  });

  // Narrow screens: the rooms and the member list are drawers, a button each in the room's
  // header. The open drawer is a class on <body>, so pushes that replace the member list
  // leave it open; a click outside, a room chosen or Escape closes it.
  function openDrawer(name) {
    ["rooms", "members"].forEach(function (n) {
      document.body.classList.toggle("show-" + n, n === name);
    });
    document.querySelectorAll("[data-drawer]").forEach(function (button) {
      button.setAttribute("aria-expanded", String(button.dataset.drawer === name));
    });
  }
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest("[data-drawer]");
    if (toggle) {
      e.preventDefault(); // without JavaScript, the rooms' button is a link to the directory
      var name = toggle.dataset.drawer;
      openDrawer(document.body.classList.contains("show-" + name) ? "" : name);
    } else if (!e.target.closest(".sidebar, .members") || e.target.closest(".sidebar a")) {
      if (/show-/.test(document.body.className)) openDrawer("");
    }
  });

  // Ctrl/Cmd+K: a quick switcher over the rooms of the sidebar; type to filter, arrows to
  // choose, Enter to go (by the sidebar's own link, however it navigates).
  function switcher() {
    var dialog = document.getElementById("room-switcher");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "room-switcher";
    dialog.className = "switcher";
    dialog.setAttribute("aria-label", "Go to a room");
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "Go to a room…";
    input.setAttribute("aria-label", "Room name");
    var list = document.createElement("ul");
    list.setAttribute("role", "listbox");
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "↑ ↓ to choose · Enter to go · Esc to close";
    dialog.append(input, list, hint);
    input.addEventListener("input", function () { fillSwitcher(dialog); });
    input.addEventListener("keydown", function (e) {
      var options = list.querySelectorAll("a");
      var at = Array.prototype.findIndex.call(options, function (a) {
        return a.getAttribute("aria-selected") === "true";
      });
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        selectOption(options, at + (e.key === "ArrowDown" ? 1 : -1));
      } else if (e.key === "Enter" && at >= 0) {
        e.preventDefault();
        goTo(dialog, options[at]);
      }
    });
    list.addEventListener("click", function (e) {
      var option = e.target.closest("a");
      if (!option) return;
      e.preventDefault();
      goTo(dialog, option);
    });
    document.body.appendChild(dialog);
    return dialog;
  }
  function selectOption(options, at) {
    if (!options.length) return;
    at = (at + options.length) % options.length;
    options.forEach(function (a, i) { a.setAttribute("aria-selected", String(i === at)); });
    options[at].scrollIntoView({ block: "nearest" });
  }
  function fillSwitcher(dialog) {
    var wanted = dialog.querySelector("input").value.trim().toLowerCase().replace(/^#/, "");
    var list = dialog.querySelector("ul");
    list.replaceChildren();
    document.querySelectorAll(".sidebar #my-rooms a").forEach(function (link, i) {
      if (link.textContent.toLowerCase().indexOf(wanted) < 0) return;
      var item = document.createElement("li");
      var option = document.createElement("a");
      option.href = link.href;
      option.textContent = link.textContent;
      option.dataset.index = String(i);
      option.setAttribute("role", "option");
      item.appendChild(option);
      list.appendChild(item);
    });
    if (!list.children.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "No room of yours matches.";
      list.appendChild(none);
    }
    selectOption(list.querySelectorAll("a"), 0);
  }
  function goTo(dialog, option) {
    var link = document.querySelectorAll(".sidebar #my-rooms a")[+option.dataset.index];
    dialog.close();
    if (link) link.click();
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && /show-/.test(document.body.className)) openDrawer("");
    if (!(e.ctrlKey || e.metaKey) || (e.key || "").toLowerCase() !== "k" || e.altKey) return;
    if (!document.querySelector(".sidebar #my-rooms")) return;
    e.preventDefault();
    var dialog = switcher();
    dialog.querySelector("input").value = "";
    fillSwitcher(dialog);
    if (!dialog.open) dialog.showModal();
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
    var list = messageList();
    if (divider) divider.scrollIntoView({ block: "center" });
    else if (list) list.scrollTop = list.scrollHeight;
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
  // message, so the history trigger at the top does not meet the first paint (a link to
  // one message, from Mentions, opens at it); on a wide screen the cursor starts in the
  // composer (on a phone that would raise the keyboard).
  var target = /^#msg-[0-9a-f]+$/.test(location.hash) && document.querySelector(location.hash);
  var list = messageList();
  if (target) target.scrollIntoView({ block: "center" });
  else if (list) list.scrollTop = list.scrollHeight;
  var composer = document.getElementById("composer-body");
  if (composer && window.matchMedia("(min-width: 641px)").matches) {
    composer.focus({ preventScroll: true });
  }
  countComposer();
})();
