// A form shown again after a refusal: its summary of what to correct gets the focus and
// comes into view, so a long page does not leave the reader at its top wondering what
// went wrong (the summary links to each field). Plain JavaScript: the page works without.
(function () {
  "use strict";
  var summary = document.getElementById("form-errors");
  if (summary) {
    summary.focus();
    summary.scrollIntoView({ block: "center" });
  }
})();
