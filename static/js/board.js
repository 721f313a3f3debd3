// Drag a card to another column to change its status. The move goes through the
// normal status service with the card's version; when it is refused (someone
// changed the issue meanwhile, or the workflow does not allow it) the card goes
// back where it was and the reason is shown.
(function () {
  "use strict";
  let dragging = false;
  let heldBack = false;  // a live refresh was held back while a card was dragged
  const ready = new WeakSet();  // lists with a Sortable (a live refresh morphs, keeping them)

  function showMessage(text) {
    const box = document.getElementById("board-message");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  async function move(card, from, to, oldIndex) {
    const body = new URLSearchParams({ status: to.dataset.status, version: card.dataset.version });
    const response = await fetch(card.dataset.moveUrl, {
      method: "POST",
      headers: { "X-CSRFToken": window.tracker.csrfToken(), "HX-Request": "true" },
      body: body,
      credentials: "same-origin",
    });
    if (response.ok) {
      card.outerHTML = await response.text();
      showMessage("");
      return;
    }
    from.insertBefore(card, from.children[oldIndex] || null);
    // The reason: the card's own, or a plain-text answer (signed out), or the status.
    const plain = (response.headers.get("Content-Type") || "").startsWith("text/plain");
    showMessage(
      `#${card.dataset.number} was not moved: ` +
        (response.headers.get("X-Card-Error") ||
          (plain && (await response.text())) ||
          `the server answered ${response.status}.`)
    );
  }

  function init() {
    const board = document.getElementById("board");
    if (!board || board.dataset.canMove !== "true" || !window.Sortable) return;
    board.querySelectorAll("ol.cards").forEach(function (list) {
      if (ready.has(list)) return;
      ready.add(list);
      window.Sortable.create(list, {
        group: "board",
        animation: 150,
        onStart: function () { dragging = true; },
        onEnd: function (event) {
          dragging = false;
          if (event.from !== event.to) {
            move(event.item, event.from, event.to, event.oldIndex).finally(catchUp);
          } else {
            catchUp();
          }
        },
      });
    });
  }

  // A live refresh must not replace the board under a card being dragged. The
  // request comes from the board's wrapper; the board is its target. It is
  // made once the drag (and the move it asked for) is over, so that a change
  // announced meanwhile still shows.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const target = event.detail.target;
    if (dragging && target && target.id === "board") {
      event.preventDefault();
      heldBack = true;
    }
  });

  function catchUp() {
    if (!heldBack) return;
    heldBack = false;
    htmx.trigger(document.body, "issue-changed");  // the wrapper's own refresh (board.html)
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
