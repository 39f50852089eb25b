// OneSlot's small behaviours; no inline handlers (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Warn before leaving a form with unsaved edits (forms marked data-warn-unsaved).
  let dirty = false;
  document.addEventListener("input", function (event) {
    if (event.target.closest("form[data-warn-unsaved]")) dirty = true;
  });
  document.addEventListener("submit", function () { dirty = false; });
  // An HTMX save answers with the "form-saved" event, or navigates away with HX-Redirect.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    const xhr = event.detail.xhr;
    const events = xhr.getResponseHeader("HX-Trigger") || "";
    if (xhr.getResponseHeader("HX-Redirect") || events.indexOf("form-saved") !== -1) dirty = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });

  // Copy buttons: <button data-copy="#id-of-input">.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    navigator.clipboard.writeText(source.value || source.textContent).then(function () {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // Confirm before destructive buttons: <button data-confirm="Delete this contact?">.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  }, true);
  // "Select all on this page": <input type="checkbox" data-select-all="form-id"> ticks every checkbox
  // of that form (checkboxes joined to it by their form attribute); hidden until this script runs.
  function boxesOf(formId) {
    return document.querySelectorAll('input[type="checkbox"][form="' + formId + '"]');
  }
  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches("[data-select-all]")) {
      boxesOf(target.dataset.selectAll).forEach(function (box) { box.checked = target.checked; });
      return;
    }
    if (target.type !== "checkbox" || !target.form || !target.form.id) return;
    document.querySelectorAll('[data-select-all="' + target.form.id + '"]').forEach(function (all) {
      const boxes = Array.prototype.slice.call(boxesOf(target.form.id));
      const ticked = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  });
  document.addEventListener("htmx:load", function (event) {
    event.target.querySelectorAll("[data-select-all-label]").forEach(function (label) { label.hidden = false; });
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-all-label]").forEach(function (label) { label.hidden = false; });
  });

  // Booking pages: show times in the visitor's own zone unless they picked one.
  function detectZone() {
    const select = document.querySelector("select[data-detect-zone]:not([data-zone-chosen])");
    if (!select || !window.Intl || !window.htmx) return;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === select.value) return;
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) return;
    select.value = zone;
    select.setAttribute("data-zone-chosen", "");
    htmx.trigger(select.form, "change");
  }
  // After htmx has set up the page (it also starts on DOMContentLoaded, and was loaded first).
  if (document.readyState === "complete") detectZone();
  else document.addEventListener("DOMContentLoaded", detectZone);
})();
