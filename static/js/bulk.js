// Bulk actions on the invoice lists (templates/office/lists/_bulk_form.html): "tick every row on this page",
// the count of ticked rows, and ticking a row chooses "the ticked invoices". The form works without this script.
(function () {
  "use strict";
  var form = document.querySelector("[data-bulk-form]");
  if (!form) {
    return;
  }
  var all = document.querySelector("[data-bulk-all]");
  var count = form.querySelector("[data-bulk-count]");
  var selected = form.querySelector("[data-bulk-scope-selected]");

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("input[data-bulk-row]"));
  }

  function update() {
    var boxes = rows();
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    if (count) {
      count.hidden = false;
      count.textContent = " (" + ticked + ")";
    }
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }

  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      rows().forEach(function (box) { box.checked = all.checked; });
      if (selected) {
        selected.checked = true;
      }
      update();
    });
  }
  rows().forEach(function (box) {
    box.addEventListener("change", function () {
      if (box.checked && selected) {
        selected.checked = true;
      }
      update();
    });
  });
  update();
})();
