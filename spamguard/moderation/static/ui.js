/* SpamGuard queue: in-place decisions with inline undo, select-all, keyboard shortcuts.
   Progressive enhancement only: without this script every form still posts and redirects.
   Loaded from 'self' (the CSP allows no inline script); all text is set with textContent. */
(function () {
  "use strict";
  var bulk = document.getElementById("bulk");
  if (!bulk) { return; }
  var messages = document.getElementById("messages");
  var undoStack = [];  // [{feedbackIds, rows}]
  var current = null;

  function rows() {
    return Array.prototype.filter.call(bulk.querySelectorAll("tr[data-check-id]"), function (r) { return !r.hidden; });
  }
  function token() { return bulk.querySelector("input[name=csrf_token]").value; }

  function say(text, category, undoIds, doneRows) {
    messages.textContent = "";
    var p = document.createElement("p");
    p.className = "flash flash-" + (category || "info");
    p.setAttribute("role", "status");
    p.textContent = text + " ";
    if (undoIds && undoIds.length) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "link"; b.id = "undo-inline"; b.textContent = "Undo";
      b.addEventListener("click", function () { undo(undoIds, doneRows); });
      p.appendChild(b);
    }
    messages.appendChild(p);
  }

  function setCounts(counts) {
    if (!counts) { return; }
    Object.keys(counts).forEach(function (tab) {
      var el = document.querySelector("[data-count-tab='" + tab + "']");
      if (el) { el.textContent = counts[tab].toLocaleString("en"); }
    });
  }

  function post(url, data) {
    return fetch(url, {method: "POST", body: data, credentials: "same-origin",
                       headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (!r.ok) { throw new Error(r.status === 400 ? "the page is out of date; reload it" : "error " + r.status); }
        return r.json();
      });
  }

  function extra(data) {
    ["site", "tests"].forEach(function (n) {
      var el = bulk.querySelector("input[type=hidden][name=" + n + "]");
      if (el) { data.append(n, el.value); }
    });
  }

  function decide(url, data) {
    extra(data);
    return post(url, data).then(function (res) {
      var done = res.checks.map(function (id) { return document.getElementById("check-" + id); })
                           .filter(Boolean);
      var next = null;
      if (current && done.indexOf(current) >= 0) {
        var all = rows(); var i = all.indexOf(current);
        next = all.slice(i + 1).filter(function (r) { return done.indexOf(r) < 0; })[0] ||
               all.slice(0, i).reverse().filter(function (r) { return done.indexOf(r) < 0; })[0] || null;
      }
      done.forEach(function (r) { r.hidden = true; var box = r.querySelector("input[name=ids]"); if (box) { box.checked = false; } });
      if (res.feedback_ids.length) { undoStack.push({feedbackIds: res.feedback_ids, rows: done}); }
      say(res.message, res.category, res.feedback_ids, done);
      setCounts(res.counts);
      if (done.length) { focusRow(next); }
      updateSelected();
    }).catch(function (e) { say("That did not work: " + e.message + ".", "error"); });
  }

  function undo(feedbackIds, doneRows) {
    var data = new FormData();
    data.append("csrf_token", token());
    feedbackIds.forEach(function (id) { data.append("feedback_ids", id); });
    extra(data);
    undoStack = undoStack.filter(function (u) { return u.feedbackIds !== feedbackIds; });
    return post(bulk.dataset.undoUrl, data).then(function (res) {
      (doneRows || []).forEach(function (r) { r.hidden = false; });
      say(res.message, res.category);
      setCounts(res.counts);
      if (doneRows && doneRows.length) { focusRow(doneRows[0]); }
    }).catch(function (e) { say("Could not undo: " + e.message + ".", "error"); });
  }

  bulk.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !window.fetch) { return; }
    event.preventDefault();
    var data = new FormData();
    data.append("csrf_token", token());
    data.append("label", button.value);
    var url = button.getAttribute("formaction");
    if (!url) {
      url = bulk.action;
      bulk.querySelectorAll("input[name=ids]:checked").forEach(function (b) { data.append("ids", b.value); });
    }
    decide(url, data);
  });

  // Select all (shown only with script: without it the checkbox would do nothing).
  var all = document.getElementById("select-all");
  var selected = document.getElementById("selected-count");
  function updateSelected() {
    var n = bulk.querySelectorAll("tr[data-check-id]:not([hidden]) input[name=ids]:checked").length;
    selected.textContent = n ? n + " selected:" : "Selected:";
    if (all) {
      var total = rows().length;
      all.checked = n > 0 && n === total; all.indeterminate = n > 0 && n < total;
    }
  }
  if (all) {
    document.getElementById("select-all-label").hidden = false;
    all.addEventListener("change", function () {
      rows().forEach(function (r) { r.querySelector("input[name=ids]").checked = all.checked; });
      updateSelected();
    });
  }
  bulk.addEventListener("change", function (e) { if (e.target.name === "ids") { updateSelected(); } });

  // Keyboard: j/k move, s spam, h not spam, u undo, x select, o/Enter open, ? help.
  function focusRow(row) {
    if (current) { current.classList.remove("current"); }
    current = row || null;
    if (current) {
      current.classList.add("current");
      current.setAttribute("tabindex", "-1");
      current.focus({preventScroll: true});
      current.scrollIntoView({block: "nearest"});
    }
  }
  function move(step) {
    var list = rows(); if (!list.length) { return; }
    var i = list.indexOf(current);
    focusRow(list[i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step))]);
  }
  var help = document.getElementById("kbd-help");
  var helpOpen = document.getElementById("kbd-open");
  function toggleHelp(show) { help.hidden = show === undefined ? !help.hidden : !show; }
  helpOpen.hidden = false;
  helpOpen.addEventListener("click", function () { toggleHelp(true); });
  document.getElementById("kbd-close").addEventListener("click", function () { toggleHelp(false); });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) { return; }
    var key = e.key;
    if (key === "?") { toggleHelp(); e.preventDefault(); return; }
    if (key === "Escape") { toggleHelp(false); return; }
    if (key === "j") { move(1); } else if (key === "k") { move(-1); }
    else if ((key === "s" || key === "h") && current) {
      current.querySelector("button." + (key === "s" ? "spam" : "ham")).click();
    } else if (key === "u") {
      var last = undoStack[undoStack.length - 1];
      var form = document.getElementById("undo-last");
      if (last) { undo(last.feedbackIds, last.rows); } else if (form) { form.click(); } else { return; }
    } else if (key === "x" && current) {
      var box = current.querySelector("input[name=ids]"); box.checked = !box.checked; updateSelected();
    } else if ((key === "o" || key === "Enter") && current && t === current) {
      window.location.href = current.querySelector("a.details").href;
    } else { return; }
    e.preventDefault();
  });
  updateSelected();
})();
