// リッチメニューの編集: shows only the fields of each button's action type, and lets staff draw a new button
// by dragging on the tab's image: the drag fills the 新しいボタン fields (x, y, 幅, 高さ, in the image's
// pixels), which keyboard users type instead. Boxes follow the fields as they change. Without JavaScript
// every field shows and the typed numbers are saved the same way.
(function () {
  "use strict";
  var form = document.getElementById("menu-form") || document.getElementById("template-form");
  if (!form) { return; }

  function showKinds(fields) {
    var kind = fields.querySelector(".action-type").value;
    var parts = fields.querySelectorAll(".kind");
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = !kind || !parts[i].classList.contains("kind-" + kind);
    }
  }

  var actions = form.querySelectorAll(".action-fields");
  for (var i = 0; i < actions.length; i++) {
    (function (fields) {
      showKinds(fields);
      fields.querySelector(".action-type").addEventListener("change", function () { showKinds(fields); });
    }(actions[i]));
  }

  function number(input) {
    var value = parseInt(input.value, 10);
    return isNaN(value) ? 0 : value;
  }

  function place(rect, x, y, w, h) {
    rect.setAttribute("x", String(x));
    rect.setAttribute("y", String(y));
    rect.setAttribute("width", String(Math.max(0, w)));
    rect.setAttribute("height", String(Math.max(0, h)));
  }

  function bounds(fieldset) {
    return ["x", "y", "w", "h"].map(function (key) { return fieldset.querySelector(".bound-" + key); });
  }

  var canvases = form.querySelectorAll("svg.menu-canvas");  // the editor's only
  for (var c = 0; c < canvases.length; c++) {
    (function (svg) {
      var tab = svg.getAttribute("data-tab");
      var drawing = svg.querySelector("rect.drawing");
      var box = svg.viewBox.baseVal;
      var fresh = document.getElementById("tab-" + tab + "-area-" + (svg.querySelectorAll("g.area").length + 1));

      // Existing buttons: their boxes follow their fields.
      var groups = svg.querySelectorAll("g.area");
      for (var g = 0; g < groups.length; g++) {
        (function (group) {
          var fieldset = document.getElementById("tab-" + tab + "-area-" + group.getAttribute("data-area"));
          if (!fieldset) { return; }
          var inputs = bounds(fieldset);
          var rects = group.querySelectorAll("rect");
          var label = group.querySelector("text");
          inputs.forEach(function (input) {
            input.addEventListener("input", function () {
              var x = number(inputs[0]), y = number(inputs[1]);
              place(rects[0], x, y, number(inputs[2]), number(inputs[3]));
              rects[1].setAttribute("x", String(x)); rects[1].setAttribute("y", String(y));
              label.setAttribute("x", String(x + 12)); label.setAttribute("y", String(y + 62));
            });
          });
        }(groups[g]));
      }
      if (!fresh || !fresh.classList.contains("new-area") || !drawing) { return; }
      var inputs = bounds(fresh);
      function fromFields() {
        place(drawing, number(inputs[0]), number(inputs[1]), number(inputs[2]), number(inputs[3]));
      }
      inputs.forEach(function (input) { input.addEventListener("input", fromFields); });
      fromFields();

      function point(event) {
        var matrix = svg.getScreenCTM();
        var p = svg.createSVGPoint();
        p.x = event.clientX; p.y = event.clientY;
        p = p.matrixTransform(matrix.inverse());
        return { x: Math.round(Math.min(Math.max(p.x, 0), box.width)),
                 y: Math.round(Math.min(Math.max(p.y, 0), box.height)) };
      }
      var start = null;
      function drawTo(event) {
        var end = point(event);
        var x = Math.min(start.x, end.x), y = Math.min(start.y, end.y);
        var w = Math.abs(end.x - start.x), h = Math.abs(end.y - start.y);
        place(drawing, x, y, w, h);
        inputs[0].value = String(x); inputs[1].value = String(y);
        inputs[2].value = String(w); inputs[3].value = String(h);
      }
      svg.addEventListener("mousedown", function (event) {
        if (event.button !== 0) { return; }
        event.preventDefault();
        start = point(event);
        svg.classList.add("is-drawing");
        drawTo(event);
      });
      svg.addEventListener("mousemove", function (event) { if (start) { drawTo(event); } });
      document.addEventListener("mouseup", function (event) {
        if (!start) { return; }
        drawTo(event);
        start = null;
        svg.classList.remove("is-drawing");
        fresh.querySelector(".action-type").focus();  // next: what a tap does
      });
    }(canvases[c]));
  }
}());
