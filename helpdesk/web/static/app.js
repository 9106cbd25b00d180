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
})();
