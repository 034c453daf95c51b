// PSA Integration tab: "select all on this page" for the bulk actions (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "psa-select-all") {
      var boxes = document.querySelectorAll("input.psa-select");
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = event.target.checked; }
    }
  });
})();
