// Draws every chart of a page from the JSON the server embeds (templates/office/reports/_chart.html): a
// <canvas data-chart="ID"> reads <script type="application/json" id="ID">. Amounts arrive as integer minor units
// with the currency's scale (plotted as units / scale) and each already formatted by the server (the tooltips
// show those). Once a chart is drawn, its table is visually hidden (screen readers still read it) and a button
// shows it again. No inline script or style: the Content-Security-Policy refuses them.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") {
    return; // the tables stay as they are
  }
  var css = getComputedStyle(document.documentElement);
  function cssColor(name, fallback) {
    var value = css.getPropertyValue(name).trim();
    return value || fallback;
  }
  var palette = {
    primary: cssColor("--bs-primary", "#0d6efd"),
    success: cssColor("--bs-success", "#198754"),
    danger: cssColor("--bs-danger", "#dc3545"),
    warning: cssColor("--bs-warning", "#ffc107"),
    info: cssColor("--bs-info", "#0dcaf0"),
    secondary: cssColor("--bs-secondary", "#6c757d"),
    orange: cssColor("--bs-orange", "#fd7e14"),
    purple: cssColor("--bs-purple", "#6f42c1"),
  };
  var lang = document.documentElement.lang || undefined;

  function compactMoney(currency) {
    var format;
    try {
      format = new Intl.NumberFormat(lang, { style: "currency", currency: currency, notation: "compact" });
    } catch (e) {
      format = new Intl.NumberFormat(lang, { notation: "compact" });
    }
    return function (value) {
      return format.format(value);
    };
  }

  function datasets(spec) {
    return spec.series.map(function (series) {
      var color = palette[series.color] || palette.primary;
      var set = {
        label: series.label,
        data: series.values.map(function (units) {
          return units / spec.scale;
        }),
        formatted: series.formatted,
        backgroundColor: color,
        borderColor: color,
        borderWidth: 0,
        maxBarThickness: 36,
      };
      if (series.stack) {
        set.stack = series.stack;
      }
      if (series.line) {
        set.type = "line";
        set.borderWidth = 2;
        set.pointRadius = 3;
        set.tension = 0.2;
        set.order = -1; // over the bars
      }
      return set;
    });
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var figure = canvas.closest("figure");
    var box = canvas.closest("[data-chart-box]");
    var money = compactMoney(spec.currency);
    var valueAxis = spec.horizontal ? "x" : "y";
    var labelAxis = spec.horizontal ? "y" : "x";
    var scales = {};
    scales[valueAxis] = { stacked: spec.stacked, ticks: { callback: money }, beginAtZero: true };
    scales[labelAxis] = {
      stacked: spec.stacked,
      ticks: {
        autoSkip: true,
        callback: function (value) {
          var label = this.getLabelForValue(value);
          return label.length > 22 ? label.slice(0, 21) + "…" : label;
        },
      },
    };
    if (box) {
      box.hidden = false;
    }
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets(spec) },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + item.dataset.formatted[item.dataIndex];
              },
            },
          },
        },
        onClick: function (event, elements) {
          if (!spec.links || !elements.length) {
            return;
          }
          var link = spec.links[elements[0].index];
          if (link) {
            window.location.href = link;
          }
        },
      },
    });
    var table = figure && figure.querySelector("[data-chart-table]");
    var toggle = figure && figure.querySelector("[data-chart-toggle]");
    if (table && toggle) {
      table.classList.add("visually-hidden");
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var show = table.classList.contains("visually-hidden");
        table.classList.toggle("visually-hidden", !show);
        toggle.setAttribute("aria-expanded", show ? "true" : "false");
        toggle.textContent = show ? "Hide the table" : "Show the figures as a table";
      });
    }
    return chart;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
