// Billing settings form (office/customers/billing_settings.html), seed 002:
// the "invoice automatically on booking" flag only shows while recurring bookings are off, and the
// "days to pay" only on net terms. Presentation only: the server enforces the rules whatever is sent.
(function () {
  "use strict";
  var form = document.getElementById("billing-settings-form");
  if (!form) return;
  var recurring = form.querySelector("[data-recurring-toggle]");
  var autoInvoice = form.querySelector("[data-auto-invoice]");
  var note = form.querySelector("[data-auto-invoice-note]");
  var terms = form.querySelector("select[name='payment_terms']");
  var days = form.querySelector("[data-terms-days]");

  function sync() {
    if (recurring && autoInvoice) {
      autoInvoice.hidden = recurring.checked;
      if (note) note.hidden = !recurring.checked;
    }
    if (terms && days) {
      days.hidden = terms.value === "no_payment";
    }
  }

  if (recurring) recurring.addEventListener("change", sync);
  if (terms) terms.addEventListener("change", sync);
  sync();
})();
