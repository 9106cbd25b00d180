// The walk-in kiosk and the desk's copy of the form: FAQ suggestions as the problem is typed, files checked
// before they are sent, and the receipt returning to an empty form by itself.
(function () {
  "use strict";

  var receipt = document.getElementById("receipt");
  if (receipt) {
    // The next visitor should find an empty form, not this visitor's receipt.
    window.setTimeout(function () { window.location.assign(receipt.getAttribute("data-return-url")); }, 90000);
    return;
  }

  var form = document.getElementById("kiosk-form");
  if (!form) { return; }

  // -- what the chosen service requires: the application for a consultation, the tender code for the bidding room
  function syncRequired() {
    var chosen = form.querySelector("input[name=service_type]:checked");
    form.querySelectorAll(".req-mark[data-required-for]").forEach(function (mark) {
      mark.hidden = !(chosen && mark.getAttribute("data-required-for") === chosen.value);
    });
  }
  form.querySelectorAll("input[name=service_type]").forEach(function (radio) {
    radio.addEventListener("change", syncRequired);
  });
  syncRequired();

  // -- FAQ suggestions ("Mungkin ini jawaban Anda") --------------------------------------------------------
  var description = form.querySelector("#description");
  var box = document.getElementById("faq-suggestions");
  var url = form.getAttribute("data-suggest-url");
  var timer = null;
  var lastQuery = "";

  function showSuggestions(result) {
    var list = box.querySelector("ul");
    list.replaceChildren();
    (result.suggestions || []).forEach(function (item) {
      var entry = document.createElement("li");
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = item.question;
      var answer = document.createElement("div");
      answer.innerHTML = item.answer_html;  // sanitised on the server (faq/)
      details.appendChild(summary);
      details.appendChild(answer);
      entry.appendChild(details);
      list.appendChild(entry);
    });
    box.classList.toggle("d-none", list.children.length === 0);
  }

  function lookUp() {
    var query = description.value.trim();
    if (query.length < 10 || query === lastQuery) { return; }
    lastQuery = query;
    fetch(url + "?q=" + encodeURIComponent(query), {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {suggestions: []}; })
      .then(showSuggestions)
      .catch(function () { /* suggestions are a help, never a hindrance */ });
  }

  if (description && box && url) {
    description.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 500);
    });
  }

  // -- files: size and count checked before the form is sent -----------------------------------------------
  var files = form.querySelector("#files");
  var filesError = document.getElementById("files-error");

  function checkFiles() {
    if (!files || !files.files) { return true; }
    var maxBytes = parseInt(files.getAttribute("data-max-bytes"), 10);
    var maxFiles = parseInt(files.getAttribute("data-max-files"), 10);
    var problems = [];
    if (files.files.length > maxFiles) { problems.push(files.getAttribute("data-too-many")); }
    Array.prototype.forEach.call(files.files, function (file) {
      if (file.size > maxBytes) { problems.push(files.getAttribute("data-too-big").replace("{name}", file.name)); }
    });
    filesError.textContent = problems.join(" ");
    files.classList.toggle("is-invalid", problems.length > 0);
    return problems.length === 0;
  }

  if (files) { files.addEventListener("change", checkFiles); }
  form.addEventListener("submit", function (event) {
    if (!checkFiles()) {
      event.preventDefault();
      files.focus();
      return;
    }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }  // one visitor, one queue number
  });

  // The first marked field gets the focus, so the visitor sees what to complete.
  var firstInvalid = form.querySelector(".is-invalid");
  if (firstInvalid) { firstInvalid.focus(); }
})();
