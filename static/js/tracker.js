// Site-wide behaviour: keyboard shortcuts, the CSRF token for htmx requests,
// a notice when a request fails or the session has ended, refreshes that
// follow the address bar, the focus after a timeline's hidden entries are
// shown, links to comments the timeline hides, the filters folded on a phone,
// and label colours. Live refreshes themselves: live.js.
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

  // The CSRF token as of now, from Django's cookie (its advice for scripts):
  // signing in again, in another tab after this one's session ended, replaces
  // the token this page was rendered with.
  function csrfToken() {
    const cookie = document.cookie.split("; ").find((pair) => pair.startsWith("csrftoken="));
    if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  // A region the server's notices refresh (live.js paces them).
  function isLive(elt) {
    return Boolean(elt) && elt.hasAttribute("data-live-every");
  }

  window.tracker = { csrfToken: csrfToken, isLive: isLive };  // for board.js and live.js

  document.addEventListener("htmx:configRequest", function (event) {
    const token = csrfToken();
    event.detail.headers["X-CSRFToken"] = token;
    const form = event.detail.formData;  // a form's own token field is read first
    if (form && form.has("csrfmiddlewaretoken")) form.set("csrfmiddlewaretoken", token);
    // Filtering pushes its query into the address bar without a reload: a live
    // refresh asks for what the address bar shows now, not what the page began with.
    if (event.detail.elt.hasAttribute("data-follow-location")) {
      event.detail.path = window.location.pathname + window.location.search;
    }
  });

  // A request the person made that failed with nothing to show for it (an
  // error page is not swapped in; no answer at all): what they typed stays, and
  // a notice says what happened. Refused because the session has ended (signed
  // out elsewhere, or expired; tracker.signed_out): its own notice, with a way
  // to sign in again without leaving the page. A live refresh that fails says
  // nothing: the next notice, or the stream's resync, makes another.
  const FAILURES = {
    0: "The server could not be reached, so nothing was sent. What you typed is still here: try again once you are back online.",
    403: "Refused (403): you may not do this any more, or this page has expired. What you typed is still here: copy it, then reload the page.",
    404: "Not found (404): it may have been deleted meanwhile.",
    429: "Too many requests (429): wait a moment, then try again.",
  };

  function failure(status) {
    return FAILURES[status] ||
      `The server failed (${status}) and saved nothing. What you typed is still here: try again.`;
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    const detail = event.detail;
    const status = detail.xhr ? detail.xhr.status : 0;
    const signedOut = document.getElementById("signed-out");
    const failed = document.getElementById("request-failed");
    if (!signedOut || !failed) return;
    if (detail.successful) {  // including a form shown again with its errors
      signedOut.hidden = failed.hidden = true;
    } else if (status === 401) {
      signedOut.hidden = false;
    } else if (!isLive(detail.elt)) {
      failed.textContent = failure(status);
      failed.hidden = false;
    }
  });

  // The same for links that carry the list's query elsewhere (CSV export).
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-follow-location]");
    if (link) link.search = window.location.search;
  });

  // A link to a comment (#comment-N, as mails send) that a long timeline's cut
  // hides: the hidden entries are fetched, as their button does, and the page
  // then goes to the comment.
  let linked = null;

  function showLinkedComment() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const reveal = document.getElementById("timeline-reveal");
    if (!/^comment-\d+$/.test(id) || document.getElementById(id) || !reveal) return;
    linked = id;
    reveal.click();
  }
  window.addEventListener("hashchange", showLinkedComment);
  document.addEventListener("DOMContentLoaded", showLinkedComment);  // after htmx's own

  // The timeline's "Show hidden items" button goes away with its answer: the
  // keyboard's focus goes on from the first entry it revealed, not from the
  // page's top; or, when a link asked for a hidden comment, from that comment.
  document.addEventListener("htmx:afterSettle", function (event) {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || elt.id !== "timeline-reveal") return;
    const comment = linked && document.getElementById(linked);
    linked = null;
    if (comment) {
      window.location.replace("#" + comment.id);  // now it exists: scroll to it, :target
      comment.setAttribute("tabindex", "-1");
      comment.focus({ preventScroll: true });
      return;
    }
    const revealed = document.getElementById("timeline-revealed");
    if (revealed) revealed.focus();
  });

  // On a phone the filter form, sixty labels and all, filled the first screens
  // above the issues: there it starts folded, unless a filter is chosen.
  if (window.matchMedia("(max-width: 48rem)").matches) {
    document.querySelectorAll("details[data-fold-narrow]").forEach(function (details) {
      details.open = false;
    });
  }

  // A label's colour comes with the data (data-colour="#rrggbb"). The
  // Content-Security-Policy refuses inline style attributes, so the colour is set
  // through the CSSOM instead, on every label that appears: at load, in htmx swaps
  // and morphs (which drop the style they do not know), and in board.js's cards.
  const COLOUR = /^#[0-9a-fA-F]{6}$/;

  function paint(element) {
    const colour = (element.getAttribute("data-colour") || "").toLowerCase();
    if (!COLOUR.test(colour)) return;
    if (element.style.getPropertyValue("--label").trim().toLowerCase() !== colour) {
      element.style.setProperty("--label", colour);
    }
  }

  function paintAll(root) {
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    if (root.hasAttribute("data-colour")) paint(root);
    root.querySelectorAll("[data-colour]").forEach(paint);
  }

  new MutationObserver(function (records) {
    records.forEach(function (record) {
      if (record.type === "attributes") {
        if (record.target.hasAttribute("data-colour")) paint(record.target);
      } else {
        record.addedNodes.forEach(paintAll);
      }
    });
  }).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-colour", "style"],
  });
  paintAll(document.documentElement);  // a deferred script: the page is parsed
})();
