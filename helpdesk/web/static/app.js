// Behaviour shared by every staff page. No inline scripts anywhere: pages load files like this one.
(function () {
  "use strict";
  // Ctrl+Enter (or Cmd+Enter) in a textarea submits its form, so forms are quick from the keyboard.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  // A form with an outcome choice shows "escalate to" only while "escalate" is chosen.
  var roleWrap = document.getElementById("escalate-role-wrap");
  var outcomeForm = roleWrap && roleWrap.closest("form");
  if (outcomeForm && outcomeForm.querySelector("input[name=outcome]")) {
    var syncOutcome = function () {
      var chosen = outcomeForm.querySelector("input[name=outcome]:checked");
      roleWrap.hidden = !(chosen && chosen.value === "escalate");
    };
    outcomeForm.querySelectorAll("input[name=outcome]").forEach(function (radio) {
      radio.addEventListener("change", syncOutcome);
    });
    syncOutcome();
  }
})();
