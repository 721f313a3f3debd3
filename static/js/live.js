// Live refreshes (the regions htmx refreshes on the server's notices, see
// README "How live updates work"): paced, never showing an older version of an
// issue than the page shows, and keeping what the person changed but did not
// send.
(function () {
  "use strict";

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

  const isLive = window.tracker.isLive;

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
    if (!isLive(elt) || !trigger || !trigger.type.startsWith("sse:")) return;
    event.preventDefault();
    const state = pacing(elt);
    state.issue = event.detail.issueRequest;
    schedule(elt, state);
  });

  // Any refresh of such a region counts (one after the person's own change too).
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isLive(event.detail.elt)) pacing(event.detail.elt).last = Date.now();
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
      } else if (!["hidden", "file"].includes(element.type) && element.value !== element.defaultValue) {
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

  // The id of the region a live refresh swaps, or null for any other swap.
  function refreshed(detail) {
    return isLive(detail.requestConfig && detail.requestConfig.elt) && detail.target.id || null;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const id = refreshed(event.detail);
    if (id) unsent.set(id, unsentIn(event.detail.target));
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const id = refreshed(event.detail);
    const state = id && unsent.get(id);
    if (!state) return;
    unsent.delete(id);
    const region = document.getElementById(id);
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
})();
