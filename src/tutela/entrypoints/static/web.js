/* Progressive enhancement of Tutela's web pages; every form works without this script.
   A checkbox marked data-switch becomes a switch (<button role="switch" aria-checked>)
   that keeps the checkbox in step, so the form submits exactly what it would without it. */
(function () {
  "use strict";
  function enhance(box) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "switch";
    button.setAttribute("role", "switch");
    var label = box.getAttribute("data-switch-label");
    if (label) { button.setAttribute("aria-labelledby", label); }
    var described = box.getAttribute("aria-describedby");
    if (described) { button.setAttribute("aria-describedby", described); }
    var on = box.getAttribute("data-on") || "On";
    var off = box.getAttribute("data-off") || "Off";
    var track = document.createElement("span");
    track.className = "track";
    track.setAttribute("aria-hidden", "true");
    var thumb = document.createElement("span");
    thumb.className = "thumb";
    track.appendChild(thumb);
    var text = document.createElement("span");
    text.setAttribute("aria-hidden", "true");
    button.appendChild(track);
    button.appendChild(text);
    function show() {
      button.setAttribute("aria-checked", box.checked ? "true" : "false");
      text.textContent = box.checked ? on : off;
    }
    button.addEventListener("click", function () {
      box.checked = !box.checked;
      show();
    });
    box.addEventListener("change", show);
    var holder = box.closest(".choice") || box.parentNode;
    holder.hidden = true;
    holder.parentNode.insertBefore(button, holder);
    show();
  }
  function start() {
    var boxes = document.querySelectorAll("input[type=checkbox][data-switch]");
    for (var i = 0; i < boxes.length; i++) { enhance(boxes[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
