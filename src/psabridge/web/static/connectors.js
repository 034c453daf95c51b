// Autotask connector settings form (no inline scripts: the CSP forbids them).
// Manufacturers are chosen among companies of the *saved* Default Vendor Type: when the user picks another
// vendor type, the Manufacturers fieldset is disabled (and so not submitted) until saved and re-opened.
(function () {
  "use strict";
  function init() {
    var vendorType = document.getElementById("default_vendor_type");
    var fieldset = document.getElementById("manufacturers");
    if (!vendorType || !fieldset) { return; }
    var saved = fieldset.getAttribute("data-saved-vendor-type") || "";
    var initiallyDisabled = fieldset.disabled;
    var note = document.getElementById("manufacturers-changed");
    vendorType.addEventListener("change", function () {
      var changed = vendorType.value !== saved;
      fieldset.disabled = initiallyDisabled || changed;
      if (note) { note.hidden = !changed; }
    });
    var search = document.getElementById("refund_product_search");
    var product = document.getElementById("default_refund_product_id");
    var selected = document.getElementById("refund_product_selected");
    if (search && product && selected) {
      product.addEventListener("change", function () { selected.value = product.value; });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
