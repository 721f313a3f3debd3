// Site-wide behaviour: keyboard shortcuts and the CSRF token for htmx requests.
(function () {
  "use strict";

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "/") {
      const search = document.getElementById("site-search");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "c") {
      const link = document.getElementById("new-issue-link");
      if (link) { event.preventDefault(); window.location.href = link.href; }
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    const token = document.querySelector("meta[name=csrf-token]");
    if (token) event.detail.headers["X-CSRFToken"] = token.content;
    // Filtering pushes its query into the address bar without a reload: a live
    // refresh asks for what the address bar shows now, not what the page began with.
    if (event.detail.elt.hasAttribute("data-follow-location")) {
      event.detail.path = window.location.pathname + window.location.search;
    }
  });

  // The same for links that carry the list's query elsewhere (CSV export).
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-follow-location]");
    if (link) link.search = window.location.search;
  });
})();
