// Praxis Hub: a few htmx hooks. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  var TOAST_MILLISECONDS = 6000;

  // Render {"toast": {"level", "text"}} from an HX-Trigger response header into #toast.
  function showToast(detail) {
    var region = document.getElementById("toast");
    if (!region || !detail || !detail.text) { return; }
    var item = document.createElement("div");
    item.className = "toast toast-" + (detail.level || "info");
    item.setAttribute("role", detail.level === "error" ? "alert" : "status");
    item.textContent = detail.text;
    region.appendChild(item);
    window.setTimeout(function () { item.remove(); }, TOAST_MILLISECONDS);
  }

  document.addEventListener("toast", function (event) { showToast(event.detail); });

  // Copy buttons: <button data-copy-target="input-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    input.select();
    var done = function () { showToast({ level: "success", text: button.getAttribute("data-copied") || "✓" }); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
