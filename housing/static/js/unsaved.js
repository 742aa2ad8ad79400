// Leaving a form with unsaved changes asks first. Forms marked data-unsaved-guard only;
// sending the form itself is never held up. Plain JavaScript: the page works without it.
(function () {
  "use strict";
  var changed = new Set();
  document.querySelectorAll("form[data-unsaved-guard]").forEach(function (form) {
    form.addEventListener("input", function () { changed.add(form); });
    form.addEventListener("change", function () { changed.add(form); });
    form.addEventListener("submit", function () { changed.delete(form); });
  });
  window.addEventListener("beforeunload", function (event) {
    if (changed.size === 0) { return; }
    event.preventDefault();
    event.returnValue = "";  // older browsers need a value to ask
  });
})();
