// FAQ suggestions on staff pages: "insert into reply" buttons (ticket page, phone log) and live suggestions as a
// question is typed (phone log). No inline script: pages mark their elements with data attributes.
//
//   <button data-faq-insert data-faq-target="ID" data-faq-answer="TEXT">  inserts TEXT into the textarea #ID
//   <div data-faq-live data-faq-url="/faq/saran" data-faq-source="ID" data-faq-target="ID" data-insert-label="…">
//     <ul></ul></div>   fetches suggestions for #source's text and lists them, each with an insert button
(function () {
  "use strict";

  function insertInto(target, text) {
    if (!target || !text) { return; }
    var start = typeof target.selectionStart === "number" ? target.selectionStart : target.value.length;
    var end = typeof target.selectionEnd === "number" ? target.selectionEnd : target.value.length;
    var before = target.value.slice(0, start);
    var after = target.value.slice(end);
    var glue = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
    target.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    target.focus();
    if (target.setSelectionRange) { target.setSelectionRange(caret, caret); }
    target.dispatchEvent(new Event("input", {bubbles: true}));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-faq-insert]") : null;
    if (!button) { return; }
    event.preventDefault();
    insertInto(document.getElementById(button.getAttribute("data-faq-target")), button.getAttribute("data-faq-answer"));
  });

  // -- live suggestions --------------------------------------------------------------------------------------
  document.querySelectorAll("[data-faq-live]").forEach(function (box) {
    var source = document.getElementById(box.getAttribute("data-faq-source"));
    var url = box.getAttribute("data-faq-url");
    var targetId = box.getAttribute("data-faq-target");
    var list = box.querySelector("ul");
    var timer = null;
    var lastQuery = "";
    if (!source || !url || !list) { return; }

    function show(result) {
      list.replaceChildren();
      (result.suggestions || []).forEach(function (item) {
        var entry = document.createElement("li");
        entry.className = "faq-suggestion mb-2";
        entry.setAttribute("data-faq-key", item.key);
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = item.question;
        summary.tabIndex = -1;  // Tab still goes from the question to the answer
        var answer = document.createElement("div");
        answer.className = "small mt-1";
        answer.innerHTML = item.answer_html;  // sanitised on the server (faq/)
        details.appendChild(summary);
        details.appendChild(answer);
        entry.appendChild(details);
        var button = document.createElement("button");
        button.type = "button";
        button.className = "btn btn-sm btn-outline-primary mt-1";
        button.tabIndex = -1;  // keep the keyboard path of the form
        button.textContent = box.getAttribute("data-insert-label");
        button.setAttribute("data-faq-insert", "");
        button.setAttribute("data-faq-target", targetId);
        button.setAttribute("data-faq-answer", item.answer_text);
        entry.appendChild(button);
        list.appendChild(entry);
      });
      box.classList.toggle("d-none", list.children.length === 0);
    }

    function lookUp() {
      var query = source.value.trim();
      if (query.length < 8 || query === lastQuery) { return; }
      lastQuery = query;
      fetch(url + "?q=" + encodeURIComponent(query), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok ? response.json() : {suggestions: []}; })
        .then(function (result) { if (source.value.trim() === query) { show(result); } })
        .catch(function () { /* suggestions are a help, never a hindrance */ });
    }

    source.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 400);
    });
    if (source.value.trim()) { lookUp(); }
  });
})();
