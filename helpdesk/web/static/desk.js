// The walk-in desk: remembers this officer's desk name on this computer, and refreshes the waiting list by
// itself while the officer is not typing.
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  if (!desk) { return; }
  var key = "lpse-helpdesk-desk";
  try {
    if (!desk.value) { desk.value = window.localStorage.getItem(key) || ""; }
    desk.addEventListener("change", function () { window.localStorage.setItem(key, desk.value.trim()); });
  } catch (error) { /* storage may be disabled; the field still works */ }
  document.querySelectorAll("form input[name=desk][type=hidden]").forEach(function (hidden) {
    if (!hidden.value) { hidden.value = desk.value; }
  });
  var page = document.getElementById("walkin-desk");
  var refresh = page ? parseInt(page.getAttribute("data-refresh") || "0", 10) : 0;
  if (refresh > 0) {
    window.setInterval(function () {
      var active = document.activeElement;
      var typing = active && (active.tagName === "INPUT" || active.tagName === "SELECT" || active.tagName === "TEXTAREA");
      if (!typing && document.visibilityState === "visible") { window.location.reload(); }
    }, refresh * 1000);
  }
})();
