// Rollout Desk: no inline scripts (the CSP forbids them); behaviour hangs off data- attributes.
// The question is the clicked button's data-confirm (one form, several buttons), else the form's.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || (form.getAttribute && form.getAttribute("data-confirm"));
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  // A second click (or Enter) while the first post is on its way would create the record twice.
  // The buttons stay enabled, so the clicked button's name and value still go with the first post;
  // the guard lifts after a few seconds, for forms that answer with a download and stay on the page.
  if ((form.method || "").toLowerCase() === "post" && !form.hasAttribute("hx-post")) {
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    window.setTimeout(function () { delete form.dataset.submitting; }, 5000);
  }
});
// Back to a page kept in the browser's cache: its forms may be posted again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submitting]").forEach(function (form) { delete form.dataset.submitting; });
});
// A "Copy" button copies the text box named by its data-copy (selecting it first, so a browser
// without clipboard access over plain http still leaves the text ready for Ctrl+C).
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-copy]") : null;
  if (!button) { return; }
  var box = document.getElementById(button.getAttribute("data-copy"));
  if (!box) { return; }
  box.focus();
  box.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(box.value);
  } else {
    document.execCommand("copy");
  }
});
// htmx requests carry the CSRF token from the page's meta tag.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});
// Selects with data-autosubmit submit their form when changed (filters).
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("[data-autosubmit]")) {
    event.target.form.submit();
  }
});
// A text box with data-filter-for="ID" narrows that select's options to those containing what is
// typed: a list of a company's people cannot be searched by typing a Chinese name into the select.
// The first option still shown is chosen when the chosen one is hidden.
document.addEventListener("input", function (event) {
  var box = event.target;
  var select = box.matches && box.matches("[data-filter-for]") && document.getElementById(box.dataset.filterFor);
  if (!select) { return; }
  var words = box.value.trim().toLowerCase();
  var first = null;
  Array.prototype.forEach.call(select.options, function (option) {
    var shown = !words || option.text.toLowerCase().indexOf(words) !== -1;
    option.hidden = !shown;
    if (shown && first === null) { first = option; }
  });
  var chosen = select.options[select.selectedIndex];
  if ((!chosen || chosen.hidden) && first) { first.selected = true; }
});
// Survey answer forms (data-skip-logic): a question with data-conditions shows only while its
// conditions hold, decided as the server decides (surveys/services.py is_visible and clean_value):
// answers of hidden or invalid questions count as none. A hidden question's inputs are disabled, so
// its answer is not submitted. Without JavaScript every question shows with its "shown only if" note.
(function () {
  var NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
  var NUMERIC_TYPES = { integer: true, decimal: true, rating5: true, rating10: true };

  function answerOf(block) {
    var type = block.getAttribute("data-type");
    if (type === "single" || type === "rating5" || type === "rating10") {
      var checked = block.querySelector("input[type=radio]:checked");
      return checked ? checked.value : null;
    }
    if (type === "multiple") {
      var picked = Array.prototype.map.call(block.querySelectorAll("input[type=checkbox]:checked"),
        function (box) { return box.value; });
      return picked.length ? picked : null;
    }
    var field = block.querySelector("input, textarea");
    var text = field ? field.value.trim() : "";
    if (!text) { return null; }
    if (type === "integer") { return /^[+-]?\d+$/.test(text) ? text : null; }
    // As the server reads it: a comma only groups thousands (1,500), so "1,5" is no number.
    if (type === "decimal") {
      return /^[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$/.test(text) ? text.replace(/,/g, "") : null;
    }
    if (type === "text" || type === "long_text" || type === "date") { return text; }
    return null;  // likert, ranking and notes cannot be referred to by conditions
  }

  function same(answer, expected, numeric) {
    if (answer === null) { return false; }
    if (Array.isArray(answer)) { return answer.length === 1 && answer[0] === expected; }
    if (numeric) { return NUMBER.test(expected) && Number(answer) === Number(expected); }
    return answer === expected;
  }

  function holds(rule, answers) {
    var given = answers[rule.question];
    var answer = given ? given.value : null;
    var expected = String(rule.value);
    if (rule.op === "selected") {
      return Array.isArray(answer) ? answer.indexOf(expected) !== -1 : answer !== null && answer === expected;
    }
    var equal = same(answer, expected, given ? given.numeric : false);
    return rule.op === "not_equals" ? !equal : equal;
  }

  function show(block, visible) {
    block.hidden = !visible;
    block.querySelectorAll("input, textarea, select").forEach(function (input) {
      if (!visible && !input.disabled) {
        input.disabled = true;
        input.setAttribute("data-skip-disabled", "");
      } else if (visible && input.hasAttribute("data-skip-disabled")) {
        input.disabled = false;
        input.removeAttribute("data-skip-disabled");
      }
    });
  }

  function applySkipLogic(form) {
    var answers = {};
    var shownSections = {};
    form.querySelectorAll("[data-question]").forEach(function (block) {
      var visible = true;
      var rules = block.hasAttribute("data-conditions") ? JSON.parse(block.getAttribute("data-conditions")) : [];
      if (rules.length) {
        var results = rules.map(function (rule) { return holds(rule, answers); });
        visible = block.getAttribute("data-join") === "or"
          ? results.indexOf(true) !== -1 : results.indexOf(false) === -1;
      }
      show(block, visible);
      if (visible) {
        shownSections[block.getAttribute("data-section")] = true;
        var answer = answerOf(block);
        if (answer !== null) {
          answers[block.getAttribute("data-question")] = {
            value: answer, numeric: !!NUMERIC_TYPES[block.getAttribute("data-type")]
          };
        }
      }
    });
    // A section heading whose questions are all hidden goes too.
    form.querySelectorAll("[data-section-heading]").forEach(function (heading) {
      heading.hidden = !shownSections[heading.getAttribute("data-section-heading")];
    });
  }

  function skipLogicForm(target) {
    return target && target.closest ? target.closest("form[data-skip-logic]") : null;
  }

  document.querySelectorAll("form[data-skip-logic]").forEach(function (form) {
    // The notes explain the conditions to readers without JavaScript; here the questions themselves follow them.
    form.querySelectorAll("[data-skip-note]").forEach(function (note) { note.hidden = true; });
    applySkipLogic(form);
  });
  ["input", "change"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var form = skipLogicForm(event.target);
      if (form) { applySkipLogic(form); }
    });
  });
})();
// After a failed submit the page comes back with its invalid fields marked aria-invalid: the focus goes to
// the first one and it scrolls into view, else on a phone the error is off-screen and Save seems to do
// nothing. A group of radio buttons or boxes gives the focus to its chosen (else first) answer. The links
// of an error summary (data-error-summary) move the focus to their question the same way.
(function () {
  function focusable(target) {
    if (!target || target.disabled) { return null; }
    if (target.matches("input, select, textarea, button, a[href]")) { return target; }
    return target.querySelector("input:checked:not(:disabled)") ||
      target.querySelector("input:not([type=hidden]):not(:disabled), select:not(:disabled), textarea:not(:disabled)");
  }

  function focusField(target) {
    var field = focusable(target);
    if (!field) { return false; }
    // A field inside a closed <details> or a hidden block cannot take the focus.
    if (!field.offsetParent && field.getClientRects().length === 0) { return false; }
    field.focus({ preventScroll: true });
    field.scrollIntoView({ block: "center" });
    return document.activeElement === field;
  }

  var active = document.activeElement;
  if (!active || active === document.body) {
    var invalid = document.querySelectorAll("main [aria-invalid=true]");
    for (var i = 0; i < invalid.length; i += 1) {
      if (focusField(invalid[i])) { break; }
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-error-summary] a[href^='#']") : null;
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (target && focusField(target)) { event.preventDefault(); }
  });
})();
// Dates and phone numbers never break at their hyphens ("2026-09-/22", "0571-/86012345"): browsers may
// break a line after a hyphen before a digit, and a squeezed table column on a phone does. Every run of
// digit groups joined by hyphens (with a time after a date) in the page's content is wrapped in a
// text-nowrap span, on load and after htmx swaps content in. Cells need no class of their own.
(function () {
  var RUN = /(^|[^\w\-])(\+?\d+(?:-\d+)+(?: \d{1,2}:\d{2}(?::\d{2})?)?)(?![\w\-])/g;
  var SKIP = "svg, script, style, textarea, select, option, pre, code, .text-nowrap, [contenteditable]";

  function keepWhole(root) {
    if (!root || !root.ownerDocument) { return; }
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var found = [];
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      RUN.lastIndex = 0;
      if (node.nodeValue.indexOf("-") !== -1 && RUN.test(node.nodeValue) &&
          !(node.parentElement && node.parentElement.closest(SKIP))) {
        found.push(node);
      }
    }
    found.forEach(function (text) {
      var value = text.nodeValue;
      var pieces = document.createDocumentFragment();
      var last = 0;
      RUN.lastIndex = 0;
      value.replace(RUN, function (match, before, run, offset) {
        var start = offset + before.length;
        pieces.appendChild(document.createTextNode(value.slice(last, start)));
        var span = document.createElement("span");
        span.className = "text-nowrap";
        span.textContent = run;
        pieces.appendChild(span);
        last = start + run.length;
        return match;
      });
      pieces.appendChild(document.createTextNode(value.slice(last)));
      text.parentNode.replaceChild(pieces, text);
    });
  }

  keepWhole(document.querySelector("main"));
  // After htmx swaps content in (an outerHTML swap replaces its target): the runs already kept are skipped.
  document.addEventListener("htmx:afterSettle", function () { keepWhole(document.querySelector("main")); });
})();
