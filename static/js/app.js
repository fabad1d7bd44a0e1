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

  // The patient record's tab bar sits outside #patient-tab, which htmx swaps: mark the tab now shown as current.
  document.addEventListener("htmx:afterSettle", function () {
    var section = document.getElementById("patient-tab");
    if (!section) { return; }
    document.querySelectorAll("#patient-tabs a[id^='tab-']").forEach(function (link) {
      if (link.id === "tab-" + section.getAttribute("data-tab")) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  });

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

  // Polling only while the tab is visible: <div data-poll-seconds="30" hx-trigger="poll" hx-get="...">. htmx runs
  // without eval, so an hx-trigger filter such as [document.visibilityState === 'visible'] cannot be used. Each
  // element gets its own timer; an element swapped out by the poll stops its timer, and the new one (announced by
  // htmx:load) starts its own. A tab hidden when the timer fires polls as soon as it is shown again.
  function schedulePoll(element) {
    var seconds = parseFloat(element.getAttribute("data-poll-seconds"));
    if (!(seconds > 0)) { return; }
    var tick = function () {
      if (!element.isConnected) { return; }
      if (document.visibilityState !== "visible") {
        document.addEventListener("visibilitychange", tick, { once: true });
        return;
      }
      window.htmx.trigger(element, "poll");
      window.setTimeout(tick, seconds * 1000);
    };
    window.setTimeout(tick, seconds * 1000);
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (root.matches && root.matches("[data-poll-seconds]")) { schedulePoll(root); }
    if (root.querySelectorAll) { root.querySelectorAll("[data-poll-seconds]").forEach(schedulePoll); }
  });

  // Show/hide toggles for secret inputs: <input type="password" data-reveal data-show-label="Show"
  // data-hide-label="Hide">. The button is added here rather than in the markup, so without JavaScript there is no
  // button that does nothing; the input itself is never touched, so a key being typed stays where it is.
  function addRevealToggle(input) {
    if (input.hasAttribute("data-reveal-ready")) { return; }
    input.setAttribute("data-reveal-ready", "");
    var wrapper = document.createElement("div");
    wrapper.className = "reveal-field";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary outline reveal-toggle";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.textContent = input.getAttribute("data-show-label") || "Show";
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      button.textContent = input.getAttribute(shown ? "data-show-label" : "data-hide-label") || (shown ? "Show" : "Hide");
      input.focus();
    });
    wrapper.appendChild(button);
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (root.matches && root.matches("input[data-reveal]")) { addRevealToggle(root); }
    if (root.querySelectorAll) { root.querySelectorAll("input[data-reveal]").forEach(addRevealToggle); }
  });

  // A secret shown as text goes back to a password input before its form is sent, so the browser does not offer to
  // remember it as ordinary text.
  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("input[data-reveal-ready]").forEach(function (input) { input.type = "password"; });
  }, true);
})();
