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
  });
})();
