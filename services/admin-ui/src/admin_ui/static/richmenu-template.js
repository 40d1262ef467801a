// テンプレートから作成: shows as many buttons as the chosen template has (and the tab header's fields for a
// tabbed one), and redraws the preview image as staff type: the console draws it from the form's fields
// (GET /richmenus/template-preview?…). Without JavaScript 「プレビューを更新」 does the same.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  var preview = document.getElementById("template-preview");
  if (!form || !preview) { return; }
  var base = form.getAttribute("data-preview-url");
  var timer = null;

  function chosen() { return form.querySelector("input[name=template]:checked"); }

  function layout() {
    var template = chosen();
    if (!template) { return; }
    var count = parseInt(template.getAttribute("data-buttons"), 10) || 6;
    var buttons = form.querySelectorAll("fieldset.button-design");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = parseInt(buttons[i].getAttribute("data-button"), 10) > count;
    }
    var header = form.querySelector("fieldset.tab-labels");
    if (header) { header.hidden = template.getAttribute("data-tabbed") !== "yes"; }
  }

  function redraw() {
    var query = new URLSearchParams();
    var fields = form.querySelectorAll("input, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (!field.name || field.name === "csrf_token" || field.disabled) { continue; }
      if (field.type === "radio" && !field.checked) { continue; }
      if (/^b\d+a_/.test(field.name)) { continue; }  // actions do not change the picture
      query.append(field.name, field.value);
    }
    preview.src = base + "?" + query.toString();
  }

  function later() {
    layout();
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(redraw, 400);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  layout();
}());
