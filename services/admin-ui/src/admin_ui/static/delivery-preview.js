// 配信作成/編集: shows only the fields of each message's kind, counts characters as LINE does (UTF-16),
// redraws the phone-style preview as staff type, and asks the console for the recipient count when the
// target changes. Without JavaScript every field shows and 「プレビューを更新」 re-renders the page.
(function () {
  "use strict";
  var form = document.getElementById("delivery-form");
  var screen = document.getElementById("phone-screen");
  if (!form || !screen) { return; }
  var slots = form.querySelectorAll("fieldset.message");
  var assetUrl = form.getAttribute("data-asset-url") || "";
  var zero = "00000000-0000-0000-0000-000000000000";

  function utf16(text) { return text.length; } // JavaScript strings are UTF-16 already

  function bubble(text, extra) {
    var p = document.createElement("p");
    p.className = "bubble" + (extra ? " " + extra : "");
    p.textContent = text;
    return p;
  }

  function showKinds(slot) {
    var kind = slot.querySelector(".message-type").value;
    var parts = slot.querySelectorAll(".kind");
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = !kind || !parts[i].classList.contains("kind-" + kind);
    }
  }

  function draw() {
    while (screen.firstChild) { screen.removeChild(screen.firstChild); }
    for (var i = 0; i < slots.length; i++) {
      var slot = slots[i];
      var kind = slot.querySelector(".message-type").value;
      var text = slot.querySelector(".message-text");
      var counter = slot.querySelector(".counter");
      if (counter && text) {
        counter.textContent = counter.textContent.replace(/^\d+/, String(utf16(text.value)));
      }
      if (kind === "text") {
        screen.appendChild(bubble(text.value));
      } else if (kind === "sticker") {
        screen.appendChild(bubble("［" + slot.querySelector("[name$=_package]").value + "/" +
                                  slot.querySelector("[name$=_sticker]").value + "］", "sticker"));
      } else if (kind === "image") {
        var asset = slot.querySelector(".message-asset").value;
        if (asset && /^[0-9a-f-]{36}$/i.test(asset)) {
          var img = document.createElement("img");
          img.src = assetUrl.replace(zero, asset);
          img.alt = "";
          var p = bubble("", "picture");
          p.appendChild(img);
          screen.appendChild(p);
        } else {
          screen.appendChild(bubble("［画像］"));
        }
      } else if (kind === "flex" || kind === "template") {
        var alt = "";
        try { alt = JSON.parse(slot.querySelector("[name$=_json]").value).altText || ""; } catch (e) { alt = "（JSONを確認してください）"; }
        screen.appendChild(bubble("［" + kind + "］" + alt, "rich"));
      }
    }
  }

  var output = document.getElementById("delivery-count");
  var countUrl = form.getAttribute("data-count-url");
  var asked = 0;
  var timer = null;
  function count() {
    if (!output || !countUrl || !window.fetch) { return; }
    var mine = ++asked;
    fetch(countUrl, { method: "POST", body: new FormData(form), credentials: "same-origin",
                      headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (mine === asked && answer && typeof answer.text === "string") { output.textContent = answer.text; }
      })
      .catch(function () { /* the detail page shows the count after saving */ });
  }

  for (var i = 0; i < slots.length; i++) { showKinds(slots[i]); }
  form.addEventListener("input", draw);
  form.addEventListener("change", function (event) {
    var slot = event.target.closest ? event.target.closest("fieldset.message") : null;
    if (slot && event.target.classList.contains("message-type")) { showKinds(slot); }
    draw();
    if (/^(target|segment_id|unanswered|expression)$/.test(event.target.name)) {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(count, 300);
    }
  });
  draw();
  count();
}());
