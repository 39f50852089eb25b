// The workflow editor: search the action picker, insert custom values at the cursor, mark unsaved cards.
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
})();
