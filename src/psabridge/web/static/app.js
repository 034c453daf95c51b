// Admin Hub behaviour without inline scripts (the CSP forbids them).
// - Buttons or forms with data-confirm="..." ask before submitting.
// - htmx requests carry the CSRF token from <body hx-headers>; this adds it to plain fetch() users too.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm") ||
      (event.submitter && event.submitter.getAttribute("data-confirm"));
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  window.psabridgeCsrfToken = function () {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  };
})();
