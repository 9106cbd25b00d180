// The LPSE Support (TTS) page: "Salin" copies a field into the clipboard. No inline script: buttons say what they
// copy with data attributes.
//
//   <button data-copy-target="ID" data-copied-label="Tersalin">  copies the value of the input or textarea #ID
(function () {
  "use strict";

  function fallbackCopy(field) {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch (error) { return false; }
  }

  function copied(button) {
    var label = button.getAttribute("data-copied-label");
    if (!label) { return; }
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = label;
    button.classList.add("btn-success");
    button.setAttribute("data-copied", "yes");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("btn-success");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-target]") : null;
    if (!button) { return; }
    event.preventDefault();
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    var text = field.value;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () {
        if (fallbackCopy(field)) { copied(button); }
      });
    } else if (fallbackCopy(field)) {
      copied(button);
    }
  });
}());
