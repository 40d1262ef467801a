// 配信の詳細: while a delivery is sending (or paused), asks the console for its progress every 2 seconds
// and updates the figures in place. Without JavaScript a reload shows the same.
(function () {
  "use strict";
  var section = document.getElementById("delivery-progress");
  if (!section || !window.fetch || section.getAttribute("data-live") !== "yes") { return; }
  var url = section.getAttribute("data-url");
  var text = document.getElementById("progress-text");
  var status = document.getElementById("progress-status");
  var bar = document.getElementById("progress-bar");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var p = answer && answer.progress;
        if (p) {
          if (status) { status.textContent = p.statusLabel; }
          if (text && typeof p.text === "string") { text.textContent = p.text; }
          if (bar) { bar.value = p.percent; bar.textContent = p.percent + "%"; }
        }
        if (answer && answer.sending) { setTimeout(poll, 2000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }

  setTimeout(poll, 2000);
}());
