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
  // A structural change (add, move, delete) also says "form-saved", but brings other unsaved cards back
  // still marked unsaved (class is-dirty): those keep the warning.
  document.addEventListener("htmx:afterSettle", function () {
    if (document.querySelector(".is-dirty form[data-warn-unsaved]")) dirty = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });

  // A polite live region (in base.html) tells screen readers what just happened ("Copied").
  function announce(message) {
    const region = document.getElementById("live-status");
    if (!region) return;
    region.textContent = "";
    setTimeout(function () { region.textContent = message; }, 50);
  }

  // Copy buttons: <button data-copy="#id-of-input">. The Clipboard API needs a secure context
  // (https or localhost); on plain http the selected text is copied the older way.
  function copyText(source) {
    const text = source.value || source.textContent;
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (copied) resolve(); else reject(new Error("copy refused"));
    });
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    copyText(source).then(function () {
      button.textContent = "Copied";
      announce("Copied to the clipboard");
    }, function () {
      button.textContent = "Copy failed";
      announce("Could not copy: select the link and copy it by hand");
    }).then(function () {
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

  // A link to a closed <details> (href="#test-email") opens it.
  document.addEventListener("click", function (event) {
    const link = event.target.closest('a[href^="#"]');
    const target = link && link.getAttribute("href").length > 1 && document.getElementById(link.getAttribute("href").slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  });

  // Loading: a progress bar (base.html) while any HTMX request is in flight, and the submit buttons
  // of the requesting form disabled (with Pico's aria-busy spinner) until its answer arrives.
  // Counted per XHR: its loadend fires even when the swap has removed the requesting element.
  let inFlight = 0;
  function busyButtons(elt) {
    if (elt.matches("button, input[type='submit']")) return [elt];
    if (!elt.matches("form")) return [];
    const inside = Array.prototype.slice.call(elt.querySelectorAll("button:not([type]), button[type='submit'], input[type='submit']"));
    const outside = elt.id ? Array.prototype.slice.call(document.querySelectorAll("[form='" + elt.id + "'][type='submit']")) : [];
    return inside.concat(outside).filter(function (button) { return !button.disabled; });
  }
  document.addEventListener("htmx:beforeSend", function (event) {
    const xhr = event.detail.xhr;
    const buttons = busyButtons(event.detail.elt);
    buttons.forEach(function (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); });
    inFlight += 1;
    document.documentElement.classList.add("is-loading");
    xhr.addEventListener("loadend", function () {
      buttons.forEach(function (button) { button.disabled = false; button.removeAttribute("aria-busy"); });
      inFlight = Math.max(0, inFlight - 1);
      if (!inFlight) document.documentElement.classList.remove("is-loading");
    });
  });

  // <time datetime="…Z" data-local="datetime|date|time"> rendered in UTC by the server (webapp/core/filters.py)
  // reads in the viewer's own zone and locale (on pages for invitees; admins read their own zone).
  const TIME_STYLES = {
    datetime: { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" },
    date: { day: "numeric", month: "short", year: "numeric" },
    time: { hour: "numeric", minute: "2-digit", timeZoneName: "short" },
  };
  function localiseTimes(root) {
    if (!window.Intl || !root.querySelectorAll) return;
    // A time with data-zone is already in the signed-in admin's chosen zone (the page says which).
    root.querySelectorAll("time[data-local]:not([data-zone])").forEach(function (element) {
      const instant = new Date(element.getAttribute("datetime"));
      const options = TIME_STYLES[element.dataset.local];
      if (isNaN(instant.getTime()) || !options) return;
      element.textContent = new Intl.DateTimeFormat(undefined, options).format(instant);
      element.setAttribute("data-localised", "");
    });
  }
  document.addEventListener("htmx:load", function (event) { localiseTimes(event.target); });
  document.addEventListener("DOMContentLoaded", function () { localiseTimes(document); });

  // Booking pages: show times in the visitor's own zone unless they picked one.
  function detectZone() {
    const select = document.querySelector("select[data-detect-zone]:not([data-zone-chosen])");
    if (!select || !window.Intl || !window.htmx) return;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === select.value) return;
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) {
      // An older name the browser still uses (Chromium says Asia/Calcutta): the server resolves it.
      if (!/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+)*$/.test(zone)) return;
      select.add(new Option(zone.replace(/_/g, " "), zone), 0);
    }
    select.value = zone;
    select.setAttribute("data-zone-chosen", "");
    htmx.trigger(select.form, "change");
  }
  // The zone picker (templates/macros.html zone_picker): a search box above the <select> filters its
  // options by city, country, IANA name or abbreviation ("New York", "Germany", "EST"); the first match
  // is chosen as you type, and Enter (or leaving the box) commits it as a change of the select.
  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/_/g, " ").toLowerCase();
  }
  function enhanceZonePicker(select) {
    if (select.dataset.zoneSearch) return;
    select.dataset.zoneSearch = "on";
    const search = document.createElement("input");
    search.type = "search";
    search.className = "zone-search";
    search.placeholder = select.dataset.searchPlaceholder || "City or country…";
    search.setAttribute("aria-label", select.dataset.searchLabel || "Search zones by city, country or abbreviation");
    search.setAttribute("aria-controls", select.id);
    search.autocomplete = "off";
    select.parentNode.insertBefore(search, select);  // outside the <label>: it names the select alone
    const options = Array.prototype.slice.call(select.options).filter(function (o) { return o.value; });
    options.forEach(function (o) { o.dataset.haystack = fold(o.textContent + " " + o.value); });
    let before = select.value;
    search.addEventListener("focus", function () { before = select.value; });
    search.addEventListener("input", function () {
      const words = fold(search.value).split(/\s+/).filter(Boolean);
      const query = words.join(" ");
      const byAbbr = query && options.some(function (o) { return (o.dataset.abbr || "").toLowerCase().split(" ").indexOf(query) !== -1; });
      let first = null;
      options.forEach(function (o) {
        const match = !words.length || (byAbbr
          ? (o.dataset.abbr || "").toLowerCase().split(" ").indexOf(query) !== -1
          : words.every(function (w) { return o.dataset.haystack.indexOf(w) !== -1; }));
        o.hidden = !match;
        o.disabled = !match;
        if (match && !first) first = o;
      });
      Array.prototype.forEach.call(select.options, function (o) { if (!o.value) o.hidden = words.length > 0; });
      const current = select.selectedOptions[0];
      if (words.length && first && (!current || current.hidden || !current.value)) select.value = first.value;
      // Several matches show as an open list to pick from; one (or none) keeps the usual menu.
      const count = options.filter(function (o) { return !o.hidden; }).length;
      if (words.length && count > 1) select.size = Math.min(count, 6);
      else select.removeAttribute("size");
      announce(words.length ? (first ? "Showing matching zones; " + first.textContent + " chosen" : "No zone matches") : "");
    });
    function commit() {
      if (select.value !== before) {
        before = select.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); commit(); }
      if (event.key === "ArrowDown" && select.size > 1) { event.preventDefault(); select.focus(); }
    });
    // Leaving the box commits the choice, unless it is to pick from the list of matches.
    search.addEventListener("blur", function (event) { if (event.relatedTarget !== select) commit(); });
    select.addEventListener("change", function () { before = select.value; });
  }
  function enhanceZonePickers(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("select[data-zone-picker]").forEach(enhanceZonePicker);
  }
  document.addEventListener("htmx:load", function (event) { enhanceZonePickers(event.target); });
  document.addEventListener("DOMContentLoaded", function () { enhanceZonePickers(document); });
  // A form marked data-autosubmit (the reschedule page's zone) reloads as soon as a select changes.
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && event.target.tagName === "SELECT") form.submit();
  });

  // The browser's zone for the admin's: sent with the sign-in form (saved while the admin has none), and
  // offered as a one-click button on admin pages while none is set (templates/_admin_zone.html).
  function offerBrowserZone() {
    const zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    document.querySelectorAll("input[data-browser-zone]").forEach(function (input) { input.value = zone; });
    document.querySelectorAll("button[data-browser-zone-button]").forEach(function (button) {
      button.textContent = "Use " + zone.replace(/_/g, " ");
      button.hidden = false;
    });
  }

  // After htmx has set up the page (it also starts on DOMContentLoaded, and was loaded first).
  if (document.readyState === "complete") { detectZone(); offerBrowserZone(); }
  else { document.addEventListener("DOMContentLoaded", detectZone); document.addEventListener("DOMContentLoaded", offerBrowserZone); }
})();
