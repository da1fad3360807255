/*
 * Formset rows without a framework (no CDN, nothing to build). The page works without it: the server
 * renders a few empty rows and a "Remove" checkbox per row. With it:
 *   [data-formset][data-prefix]         the formset container (holds the management form)
 *   [data-formset-rows]                 where rows live; [data-formset-row] is one row
 *   template[data-formset-template]     the empty form, its names containing __prefix__
 *   [data-formset-add]                  the "Add a line" button (shown only when JS runs)
 *   [data-formset-delete-label]         wraps the DELETE checkbox; becomes a "Remove" button
 *   [data-js-hide]                      shown only without JS (e.g. a "Continue" button)
 *   select[data-autosubmit]             submits its form on change (asks first if lines were typed)
 *   form[data-invoice-form]             live line totals: an estimate only, the server computes the truth
 */
(function () {
  "use strict";

  document.querySelectorAll("[data-js-hide]").forEach(function (el) { el.classList.add("d-none"); });

  function anyLineTyped() {
    var typed = false;
    document.querySelectorAll("[data-formset-row] [data-line=description]").forEach(function (input) {
      if (input.value.trim()) { typed = true; }
    });
    return typed;
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (!select.value) { return; }
      if (anyLineTyped() && !window.confirm("Change the customer? The lines typed so far are not kept.")) {
        return;
      }
      select.form.submit();
    });
  });

  function parseNumber(text) {
    var cleaned = String(text || "").trim().replace(/^[$€£]/, "").replace(/,/g, "");
    if (!/^-?(\d+\.?\d*|\.\d+)$/.test(cleaned)) { return null; }
    return Number(cleaned);
  }

  function formatMoney(value, currency) {
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD" }).format(value);
    } catch (e) {
      return value.toFixed(2);
    }
  }

  function setupTotals(form) {
    var currency = form.getAttribute("data-currency") || "USD";
    function rowTotal(row) {
      var get = function (name) {
        var input = row.querySelector("[data-line=" + name + "]");
        return input ? parseNumber(input.value) : null;
      };
      var qty = get("quantity"), price = get("unit_price");
      if (qty === null || price === null || row.classList.contains("is-removed")) { return null; }
      var amount = Math.round(qty * price * 100) / 100;
      var taxable = amount - (get("discount") || 0);
      var tax = Math.round(taxable * (get("tax_rate") || 0)) / 100;
      return taxable + tax;
    }
    function refresh() {
      var sum = 0, any = false;
      form.querySelectorAll("[data-formset-row]").forEach(function (row) {
        var out = row.querySelector("[data-line-total]");
        var total = rowTotal(row);
        if (out) { out.textContent = total === null ? "" : formatMoney(total, currency); }
        if (total !== null) { sum += total; any = true; }
      });
      var sumOut = form.querySelector("[data-lines-sum]");
      if (sumOut) { sumOut.textContent = any ? formatMoney(sum, currency) : "—"; }
    }
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    form.addEventListener("formset:changed", refresh);
    refresh();
  }

  function setupRow(row, container) {
    var label = row.querySelector("[data-formset-delete-label]");
    if (!label || label.getAttribute("data-ready")) { return; }
    label.setAttribute("data-ready", "1");
    var checkbox = label.querySelector("input[type=checkbox]");
    if (!checkbox) { return; }
    label.classList.add("d-none");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-link btn-sm text-danger p-0";
    button.textContent = "Remove";
    button.setAttribute("aria-label", "Remove this line");
    button.addEventListener("click", function () {
      checkbox.checked = true;
      row.classList.add("is-removed");
      container.dispatchEvent(new Event("formset:changed", { bubbles: true }));
    });
    label.parentNode.appendChild(button);
  }

  document.querySelectorAll("[data-formset]").forEach(function (container) {
    var prefix = container.getAttribute("data-prefix");
    var total = container.querySelector("input[name=" + prefix + "-TOTAL_FORMS]");
    var maxForms = container.querySelector("input[name=" + prefix + "-MAX_NUM_FORMS]");
    var rows = container.querySelector("[data-formset-rows]");
    var template = container.querySelector("template[data-formset-template]");
    var add = container.querySelector("[data-formset-add]");
    rows.querySelectorAll("[data-formset-row]").forEach(function (row) { setupRow(row, container); });
    if (!total || !template || !add) { return; }
    add.classList.remove("d-none");
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      if (maxForms && index >= parseInt(maxForms.value, 10)) { return; }
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var row = holder.firstElementChild;
      rows.appendChild(row);
      total.value = String(index + 1);
      setupRow(row, container);
      var first = row.querySelector("[data-line=description]");
      if (first) { first.focus(); }
      container.dispatchEvent(new Event("formset:changed", { bubbles: true }));
    });
  });

  document.querySelectorAll("form[data-invoice-form]").forEach(setupTotals);
})();
