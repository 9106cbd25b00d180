// The now-serving display: asks for the latest numbers every few seconds and announces a new call.
(function () {
  "use strict";
  var body = document.getElementById("display");
  var url = body.getAttribute("data-state-url");
  var current = document.getElementById("current-number");
  var desk = document.getElementById("current-desk");
  var recent = document.getElementById("recent-numbers");
  var waiting = document.getElementById("waiting-count");
  var lastKey = null;

  function keyOf(item) { return item ? item.number + "|" + item.called_at + "|" + item.calls : ""; }

  function announce(item) {
    current.classList.remove("display-flash");
    void current.offsetWidth;  // restart the animation
    current.classList.add("display-flash");
    if (!("speechSynthesis" in window)) { return; }
    var words = body.getAttribute("data-say").replace("{number}", item.number.split("").join(" "))
      .replace("{desk}", item.desk || body.getAttribute("data-desk"));
    var utterance = new SpeechSynthesisUtterance(words);
    utterance.lang = document.documentElement.lang === "en" ? "en-US" : "id-ID";
    window.speechSynthesis.speak(utterance);
  }

  function render(state) {
    var item = state.current;
    current.textContent = item ? item.number : "\u2014";
    desk.textContent = item ? item.desk : "";
    recent.replaceChildren();
    state.recent.forEach(function (entry) {
      var li = document.createElement("li");
      li.textContent = entry.number + (entry.desk ? " \u00b7 " + entry.desk : "");
      recent.appendChild(li);
    });
    waiting.textContent = state.waiting;
    var key = keyOf(item);
    if (lastKey !== null && key !== lastKey && item) { announce(item); }
    lastKey = key;
  }

  function poll() {
    fetch(url, {cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (state) { body.classList.remove("display-offline"); render(state); })
      .catch(function () { body.classList.add("display-offline"); })
      .finally(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
