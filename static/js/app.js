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
    placeToasts(region);
    // The response that raised the toast is swapped in after the event (htmx reads HX-Trigger first), so the
    // button to spare (a new link's "Revoke") may only exist then: place the toasts again once it has settled.
    document.addEventListener("htmx:afterSettle", function () { placeToasts(region); }, { once: true });
    window.setTimeout(function () { item.remove(); }, TOAST_MILLISECONDS);
  }

  // The buttons a person needs right after a toast: the focused one, copy buttons (a one-time secret), the new
  // link's buttons and anything marked data-toast-avoid. The toasts sit at the bottom unless they would cover one of
  // these; then at the top (on a phone they span the width, so a corner is not enough).
  var SPARE = "[data-copy-target], .new-link button, [data-toast-avoid]";

  function overlaps(a, b) {
    return !(a.right <= b.left || a.left >= b.right || a.bottom <= b.top || a.top >= b.bottom);
  }

  function covers(region) {
    var box = region.getBoundingClientRect();
    if (!box.width || !box.height) { return false; }
    var spared = Array.prototype.slice.call(document.querySelectorAll(SPARE));
    if (document.activeElement && document.activeElement !== document.body) { spared.push(document.activeElement); }
    return spared.some(function (element) {
      var rect = element.getBoundingClientRect();
      return rect.width > 0 && rect.height > 0 && overlaps(box, rect);
    });
  }

  function placeToasts(region) {
    region.classList.remove("toast-region-top");
    if (covers(region)) {
      region.classList.add("toast-region-top");
      if (covers(region)) { region.classList.remove("toast-region-top"); }
    }
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

  // On a phone the list tables are shown as cards (app.css): each cell is named by its column's header, copied
  // here into data-label so the templates need not repeat every header on every cell. Cells that span columns
  // (an empty-list message, an inline form) are left unnamed.
  function labelCells(table) {
    var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.replace(/[↑↓]/g, "").trim();
    });
    if (!headers.length) { return; }
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (cell.hasAttribute("data-label") || cell.colSpan > 1 || !headers[index]) { return; }
        cell.setAttribute("data-label", headers[index]);
      });
    });
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (!root.querySelectorAll) { return; }
    var tables = Array.prototype.slice.call(root.querySelectorAll(".overflow-auto > table, table.responsive-cards"));
    var table = root.closest && root.closest(".overflow-auto > table, table.responsive-cards");
    if (table) { tables.push(table); }
    tables.forEach(labelCells);
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

// The main navigation folds into "Menu" where its entries would wrap (a phone, a narrow window): <details
// id="nav-menu" open> in base.html renders open, so without JavaScript every entry shows; here the bar is measured
// unfolded and, when its entries take more than one line, #main-nav gets .nav-folded (app.css) and the menu is
// closed. Measured again when the window is resized. An open drop-down ("Verwaltung") closes on a click elsewhere
// or on Escape.
(function () {
  "use strict";

  function fitMenu() {
    var nav = document.getElementById("main-nav");
    var menu = document.getElementById("nav-menu");
    var list = document.getElementById("nav-entries");
    if (!nav || !menu || !list) { return; }
    nav.classList.remove("nav-folded");
    menu.open = true;
    var tallest = 0;
    Array.prototype.forEach.call(list.children, function (item) {
      tallest = Math.max(tallest, item.getBoundingClientRect().height);
    });
    var fits = list.getBoundingClientRect().height < tallest * 1.5 && nav.scrollWidth <= nav.clientWidth + 1;
    if (!fits) {
      nav.classList.add("nav-folded");
      menu.open = false;
    }
  }

  function closeDropdowns(except) {
    document.querySelectorAll("#main-nav details.dropdown[open]").forEach(function (details) {
      if (!except || !details.contains(except)) { details.open = false; }
    });
  }

  var width = window.innerWidth;
  var pending = null;
  fitMenu();
  window.addEventListener("resize", function () {
    if (window.innerWidth === width) { return; }  // a phone's toolbar sliding away changes only the height
    width = window.innerWidth;
    window.clearTimeout(pending);
    pending = window.setTimeout(fitMenu, 100);
  });
  document.addEventListener("click", function (event) { closeDropdowns(event.target); });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeDropdowns(null); } });
})();
