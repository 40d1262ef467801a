// 災害時モード: while a mass change of the residents' menus runs, asks the console for its progress every
// 2 seconds and updates the figures in place; reloads once it has finished. Without JavaScript a reload
// shows the same.
(function () {
  "use strict";
  var section = document.getElementById("richmenu-change");
  if (!section || !window.fetch || section.getAttribute("data-live") !== "yes") { return; }
  var url = section.getAttribute("data-url");
  var text = document.getElementById("change-text");
  var status = document.getElementById("change-status");
  var bar = document.getElementById("change-bar");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var change = answer && answer.change;
        if (change) {
          if (status) { status.textContent = change.statusLabel; }
          if (text && typeof change.text === "string") { text.textContent = change.text; }
          if (bar) { bar.value = change.percent; bar.textContent = change.percent + "%"; }
        }
        if (change && !change.finished) { setTimeout(poll, 2000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  setTimeout(poll, 2000);
}());
