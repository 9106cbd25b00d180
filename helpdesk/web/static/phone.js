// The phone log: look the caller up as the number is typed.
(function () {
  "use strict";
  var form = document.getElementById("phone-form");
  if (!form) { return; }
  var phone = form.querySelector("#phone");
  var info = document.getElementById("caller-info");
  var lookupUrl = form.getAttribute("data-lookup-url");
  var timer = null;
  var lastQuery = "";

  function fillIfEmpty(id, value) {
    var field = form.querySelector("#" + id);
    if (field && !field.value && value) { field.value = value; }
  }

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (className) { node.className = className; }
    return node;
  }

  function show(result) {
    info.replaceChildren();
    if (!result.number) { return; }
    if (!result.valid) {
      info.appendChild(text("div", info.getAttribute("data-invalid"), "text-warning-emphasis"));
      return;
    }
    info.appendChild(text("div", result.display, "text-body-secondary"));
    if (!result.requester) { return; }
    info.appendChild(text("div", result.requester.name + (result.requester.organization ? " · " + result.requester.organization : ""), "fw-bold"));
    fillIfEmpty("name", result.requester.name);
    fillIfEmpty("organization", result.requester.organization);
    fillIfEmpty("email", result.requester.email);
    fillIfEmpty("address", result.requester.address);
    var role = form.querySelector("#spse_role");
    if (role && !role.value && result.requester.spse_role) { role.value = result.requester.spse_role; }
    if (result.tickets.length) {
      var list = document.createElement("ul");
      list.className = "list-unstyled mb-0";
      list.id = "caller-tickets";
      result.tickets.forEach(function (t) {
        var item = document.createElement("li");
        var link = text("a", t.ref);
        link.href = t.url;
        link.target = "_blank";
        link.tabIndex = -1;  // keep the keyboard path: number, name, question, answer, outcome, save
        item.appendChild(link);
        item.appendChild(document.createTextNode(" " + t.subject + " — " + t.status + " (" + t.received + ")"));
        list.appendChild(item);
      });
      info.appendChild(list);
    }
  }

  function lookup() {
    var query = phone.value.trim();
    if (query.replace(/\D/g, "").length < 6 || query === lastQuery) { return; }
    lastQuery = query;
    fetch(lookupUrl + "?number=" + encodeURIComponent(query), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (result) { if (result && phone.value.trim() === query) { show(result); } })
      .catch(function () { /* the lookup only helps; typing goes on without it */ });
  }

  phone.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 250);
  });
  phone.addEventListener("change", lookup);
  if (phone.value.trim()) { lookup(); }  // prefilled (an answered call's draft): show who it is at once
  // The "escalate to" choice shows only while "escalate" is chosen: app.js does that for every such form.
})();
