// セグメント作成/編集: shows the recipient count as staff edit. Without JavaScript the 「人数を確認」
// button does the same with a page load. Posts the form (its CSRF token included) to the console's
// JSON count route; the answer's text is already in the member's language.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var output = document.getElementById("segment-count");
  if (!form || !output || !window.fetch) { return; }
  var url = form.getAttribute("data-count-url");
  var timer = null;
  var asked = 0;

  function count() {
    var mine = ++asked;
    fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                 headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (mine === asked && answer && typeof answer.text === "string") { output.textContent = answer.text; }
      })
      .catch(function () { /* the button still works */ });
  }

  function soon() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(count, 300);
  }

  form.addEventListener("change", soon);
  form.addEventListener("input", soon);
  count();
}());
