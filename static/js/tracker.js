// Site-wide behaviour: keyboard shortcuts, the CSRF token for htmx requests,
// live refreshes paced and keeping what the person changed but did not send,
// refreshes that never show an older version of an issue, the focus after a
// timeline's hidden entries are shown, links to comments the timeline hides,
// the filters folded on a phone, and label colours.
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

  // A region that shows an issue (header, timeline, panel) carries the issue's
  // version. A refresh (a GET) rendered before a change but answered after it
  // must not put the older version back: the next edit would then be sent with
  // that version and refused as a conflict.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const detail = event.detail;
    const shown = detail.target && detail.target.dataset ? detail.target.dataset.version : undefined;
    if (shown === undefined || String(detail.requestConfig.verb).toLowerCase() !== "get") return;
    const found = /data-version="(\d+)"/.exec(detail.serverResponse || "");
    if (found && Number(found[1]) < Number(shown)) detail.shouldSwap = false;
  });

  // Live refreshes, paced. A region the server's notices refresh (hx-trigger
  // "sse:…", with data-live-delay and data-live-every in ms) waits `delay`
  // after a notice, so that a burst of notices makes one refresh, and at least
  // `every` after its previous refresh, so that on a busy tracker an open page
  // is not read again for every change: a refresh shows every change made
  // before it. htmx's own `delay:` starts its wait again at each notice, so
  // notices coming faster than it kept a region from ever refreshing. A tab in
  // the background refreshes nothing, and once on coming back if it missed a
  // notice.
  const paced = new Map();  // region -> {timer, last, issue: the refresh to send, or null}

  function pacing(elt) {
    if (!paced.has(elt)) paced.set(elt, { timer: null, last: 0, issue: null });
    return paced.get(elt);
  }

  function schedule(elt, state) {
    if (state.timer !== null || document.hidden) return;
    const wait = Math.max(
      Number(elt.dataset.liveDelay || 0),
      state.last + Number(elt.dataset.liveEvery || 0) - Date.now(),
    );
    state.timer = window.setTimeout(function () {
      state.timer = null;
      if (!elt.isConnected) { paced.delete(elt); return; }
      if (document.hidden || !state.issue) return;
      const issue = state.issue;
      state.issue = null;
      issue(true);
    }, wait);
  }

  document.addEventListener("htmx:confirm", function (event) {
    const elt = event.detail.elt;
    const trigger = event.detail.triggeringEvent;
    if (!elt.hasAttribute("data-live-every") || !trigger || !trigger.type.startsWith("sse:")) return;
    event.preventDefault();
    const state = pacing(elt);
    state.issue = event.detail.issueRequest;
    schedule(elt, state);
  });

  // Any refresh of such a region counts (one after the person's own change too).
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (elt.hasAttribute("data-live-every")) pacing(elt).last = Date.now();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    paced.forEach(function (state, elt) {
      if (!elt.isConnected) paced.delete(elt);
      else if (state.issue) schedule(elt, state);
    });
  });

  // What the person changed in a region and has not sent yet outlives the
  // region's live refreshes: issues ticked for a bulk change and the status
  // picked for them, a reply being written (its box stays open, the cursor
  // where it was). The morph gives every control the state the server rendered.
  const unsent = new Map();  // id of a region being refreshed -> what to put back

  function selectorOf(element) {
    if (element.id) return "#" + CSS.escape(element.id);
    const named = element.tagName.toLowerCase() + "[name='" + CSS.escape(element.name) + "']";
    const checkable = element.type === "checkbox" || element.type === "radio";
    return checkable ? named + "[value='" + CSS.escape(element.value) + "']" : named;
  }

  function unsentIn(region) {
    const kept = [];
    region.querySelectorAll("input[name], select[name], textarea[name], details[id]").forEach(function (element) {
      let property = null;
      if (element.tagName === "DETAILS") {
        property = "open";  // opened or closed by the person: the server renders them as at first
      } else if (element.type === "checkbox" || element.type === "radio") {
        if (element.checked !== element.defaultChecked) property = "checked";
      } else if (element.tagName === "SELECT") {
        if (Array.from(element.options).some((option) => option.selected !== option.defaultSelected)) {
          property = "value";
        }
      } else if (element.type !== "hidden" && element.value !== element.defaultValue) {
        property = "value";
      }
      if (property) kept.push([selectorOf(element), property, element[property]]);
    });
    const active = document.activeElement;
    const focus = active && active !== region && region.contains(active) && active.id ? {
      selector: selectorOf(active), start: active.selectionStart, end: active.selectionEnd,
    } : null;
    return { kept: kept, focus: focus };
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const detail = event.detail;
    const elt = detail.requestConfig && detail.requestConfig.elt;
    if (!elt || !elt.hasAttribute("data-live-every") || !detail.target.id) return;
    unsent.set(detail.target.id, unsentIn(detail.target));
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    const id = elt && elt.hasAttribute("data-live-every") && event.detail.target.id;
    const state = id && unsent.get(id);
    const region = state && document.getElementById(id);
    unsent.delete(id);
    if (!region) return;
    state.kept.forEach(function ([selector, property, value]) {
      const element = region.querySelector(selector);
      if (element) element[property] = value;  // else gone from the region (an issue no longer listed)
    });
    const focused = state.focus && region.querySelector(state.focus.selector);
    if (focused && document.activeElement !== focused) {
      focused.focus({ preventScroll: true });
      if (state.focus.start !== null && focused.setSelectionRange) {
        focused.setSelectionRange(state.focus.start, state.focus.end);
      }
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
