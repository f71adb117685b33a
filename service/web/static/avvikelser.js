// Avvikelser: what JavaScript adds to pages that work without it.
// - The enhet list gets a search field that narrows it as you type, by name or code, without a reload.
// - After a failed submit, focus moves to the error summary, so it is read out first.
"use strict";
(function () {
  function normalise(text) {
    return text.toLocaleLowerCase("sv-SE").replace(/\s+/g, " ").trim();
  }

  function enhanceUnitSearch(box) {
    var input = box.querySelector("input[type=search]");
    var select = document.getElementById(input.getAttribute("aria-controls"));
    var status = document.getElementById("enhet-antal");
    if (!select || !status) { return; }
    // Every option with its group, kept aside so that the list can be rebuilt from them.
    var groups = Array.prototype.map.call(select.querySelectorAll("optgroup"), function (group) {
      return {
        label: group.label,
        options: Array.prototype.map.call(group.querySelectorAll("option"), function (option) {
          return { element: option, text: normalise(option.textContent) };
        })
      };
    });
    var placeholder = select.querySelector("option[value='']");
    var total = groups.reduce(function (sum, group) { return sum + group.options.length; }, 0);
    var timer = null;

    function filter() {
      var words = normalise(input.value).split(" ").filter(Boolean);
      var selected = select.value;
      var shown = 0;
      while (select.lastChild) { select.removeChild(select.lastChild); }
      if (placeholder) { select.appendChild(placeholder); }
      groups.forEach(function (group) {
        var matching = group.options.filter(function (option) {
          return words.every(function (word) { return option.text.indexOf(word) !== -1; })
            || option.element.value === selected;
        });
        if (!matching.length) { return; }
        var element = document.createElement("optgroup");
        element.label = group.label;
        matching.forEach(function (option) { element.appendChild(option.element); });
        select.appendChild(element);
        shown += matching.filter(function (option) { return option.element.value !== selected || !words.length ||
          words.every(function (word) { return option.text.indexOf(word) !== -1; }); }).length;
      });
      select.value = selected;
      if (!words.length) {
        status.textContent = "";
      } else if (shown === 0) {
        status.textContent = "Ingen enhet matchar. Prova en annan del av namnet eller koden.";
      } else {
        status.textContent = (shown === 1 ? "1 enhet matchar" : shown + " enheter matchar") + " av " + total + ".";
        // One match: choose it, so that typing a code is enough.
        if (shown === 1 && !selected) {
          var only = select.querySelector("optgroup option");
          if (only) { select.value = only.value; }
        }
      }
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(filter, 120);  // the live region is read once the typing pauses
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }  // Enter must not send the form
    });
    box.hidden = false;
  }

  function focusErrorSummary() {
    var summary = document.querySelector("[data-fokus]");
    if (!summary) { return; }
    summary.focus();
    // A link in the summary puts focus in its field (a fragment link alone only scrolls), with the field's
    // label or legend in view above it.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      event.preventDefault();
      var heading = field.closest("fieldset");
      heading = heading ? heading.querySelector("legend") : document.querySelector("label[for='" + field.id + "']");
      (heading || field).scrollIntoView();
      field.focus({ preventScroll: true });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-enhet-sok]"), enhanceUnitSearch);
    focusErrorSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
