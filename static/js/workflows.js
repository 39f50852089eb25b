// The workflow editor: search the action picker, insert custom values at the cursor, mark unsaved cards,
// show a card's fields for the kind chosen, focus a new step.
(function () {
  "use strict";

  // Filter the "+" picker's actions as the admin types (without JS the whole grouped list shows).
  document.addEventListener("input", function (event) {
    const input = event.target.closest("[data-filter-actions]");
    if (!input) return;
    const panel = input.closest(".picker-panel");
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    panel.querySelectorAll("[data-action-group]").forEach(function (group) {
      let inGroup = 0;
      group.querySelectorAll("[data-action-label]").forEach(function (button) {
        const label = button.dataset.actionLabel.toLowerCase();
        const match = words.every(function (word) { return label.indexOf(word) !== -1; });
        button.hidden = !match;
        if (match) inGroup += 1;
      });
      group.hidden = inGroup === 0;
      shown += inGroup;
    });
    panel.querySelector(".no-match").hidden = shown !== 0;
  });

  // Enter in the filter picks the only (or first) visible action instead of submitting nothing.
  document.addEventListener("keydown", function (event) {
    const input = event.target.closest("[data-filter-actions]");
    if (!input || event.key !== "Enter") return;
    event.preventDefault();
    const first = input.closest(".picker-panel").querySelector("[data-action-label]:not([hidden])");
    if (first) first.click();
  });

  // Opening a picker puts the cursor in its search box.
  document.addEventListener("toggle", function (event) {
    const details = event.target;
    if (details.classList && details.classList.contains("add-step") && details.open) {
      const input = details.querySelector("[data-filter-actions]");
      if (input) input.focus();
    }
  }, true);

  // Custom values: remember the last subject/message field the admin was in, insert at its cursor.
  const lastField = new WeakMap();
  document.addEventListener("focusin", function (event) {
    const field = event.target.closest("[data-cv-field]");
    if (field) lastField.set(field.form, field);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-insert]");
    if (!button) return;
    const form = button.form;
    const field = lastField.get(form) || form.querySelector("textarea[data-cv-field]");
    if (!field) return;
    const text = button.dataset.insert;
    const start = field.selectionStart == null ? field.value.length : field.selectionStart;
    const end = field.selectionEnd == null ? start : field.selectionEnd;
    field.focus();
    field.setRangeText(text, start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // A card with edits not yet saved is marked (the server marks invalid ones).
  function markDirty(event) {
    const form = event.target.closest("form.card-form");
    if (form) form.closest(".card").classList.add("is-dirty");
  }
  document.addEventListener("input", markDirty);
  document.addEventListener("change", markDirty);

  // After a move or a delete, keep the keyboard where it was.
  // (htmx:load fires from the new content itself, so it also reaches us after an outerHTML swap.)
  document.addEventListener("htmx:load", function (event) {
    const root = event.target;
    const target = root.matches && root.matches("[data-focus-me]") ? root : root.querySelector && root.querySelector("[data-focus-me]");
    if (!target) return;
    window.requestAnimationFrame(function () {
      if (document.activeElement !== target) target.focus();
    });
  });

  // A card whose fields depend on a choice (a wait's kind, a condition's kind): a [data-modes] box
  // shows the [data-show-for] groups that list the value of its [data-mode] select. Without
  // JavaScript every group shows (each says what it is for); hidden ones are still submitted.
  function applyModes(box) {
    const select = box.querySelector("[data-mode]");
    if (!select) return;
    box.querySelectorAll("[data-show-for]").forEach(function (part) {
      if (part.closest("[data-modes]") === box) part.hidden = part.dataset.showFor.split(" ").indexOf(select.value) === -1;
    });
  }
  function applyAllModes(root) {
    if (root.matches && root.matches("[data-modes]")) applyModes(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-modes]").forEach(applyModes);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-mode]")) applyModes(event.target.closest("[data-modes]"));
  });
  document.addEventListener("htmx:load", function (event) { applyAllModes(event.target); });
  applyAllModes(document);

  // A step just added: its first field gets the keyboard, and the card comes into view.
  document.addEventListener("htmx:load", function (event) {
    const root = event.target;
    const card = root.matches && root.matches("[data-focus-first]") ? root : root.querySelector && root.querySelector("[data-focus-first]");
    if (!card) return;
    window.requestAnimationFrame(function () {
      if (card.contains(document.activeElement)) return;  // already typing in it: never move the cursor
      const fields = card.querySelectorAll(".card-form input:not([type=hidden]), .card-form select, .card-form textarea");
      const first = Array.prototype.find.call(fields, function (field) { return field.offsetParent !== null; });
      card.scrollIntoView({ block: "center" });
      if (first) first.focus({ preventScroll: true });
    });
  });

  // After another card was saved, its link-step lists come again (out of band): keep the choice made.
  const kept = new WeakMap();
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.target.tagName === "SELECT") kept.set(event.target, event.target.value);
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    const select = event.target;
    if (select.tagName !== "SELECT" || !kept.has(select)) return;
    const value = kept.get(select);
    if (Array.prototype.some.call(select.options, function (option) { return option.value === value; })) select.value = value;
  });
})();
