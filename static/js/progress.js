// A run's page (templates/office/runs/detail.html): polls its status.json every 1.5 s and shows the progress,
// the counts and the errors with their links, until the run is finished; then reloads once for the final page
// (each row's result, the download). No inline script or style: the Content-Security-Policy refuses them.
(function () {
  "use strict";
  var box = document.querySelector("[data-run][data-run-status-url]");
  if (!box || box.getAttribute("data-run-open") !== "1") {
    return;
  }
  var url = box.getAttribute("data-run-status-url");
  var delay = 1500;
  var failures = 0;

  function setText(name, value) {
    document.querySelectorAll('[data-run-field="' + name + '"]').forEach(function (el) {
      el.textContent = value;
    });
  }

  function showErrors(errors) {
    var list = document.querySelector("[data-run-errors]");
    var none = document.querySelector("[data-run-no-errors]");
    if (!list) {
      return;
    }
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    errors.forEach(function (error) {
      var item = document.createElement("li");
      if (error.url) {
        var link = document.createElement("a");
        link.href = error.url;
        link.textContent = error.name;
        item.appendChild(link);
      } else {
        item.appendChild(document.createTextNode(error.name));
      }
      item.appendChild(document.createTextNode(": " + error.message));
      list.appendChild(item);
    });
    if (none) {
      none.hidden = errors.length > 0;
    }
  }

  function show(run) {
    var bar = document.querySelector("[data-run-progress]");
    if (bar) {
      bar.max = run.total || 1;
      bar.value = run.total ? run.done : (run.finished ? 1 : 0);
      bar.textContent = run.done + " of " + run.total;
    }
    setText("done", run.done);
    setText("total", run.total);
    setText("invoices_made", run.invoices_made);
    setText("error_count", run.error_count);
    setText("status_label", run.status_label);
    document.querySelectorAll('[data-run-field="status_label"]').forEach(function (el) {
      el.className = "badge run-status run-status-" + run.status;
    });
    var waiting = document.querySelector("[data-run-waiting]");
    if (waiting && run.status !== "queued") {
      waiting.hidden = true;
    }
    var message = document.querySelector('[data-run-field="message"]');
    if (message) {
      message.textContent = run.message;
      message.hidden = !run.message;
    }
    showErrors(run.errors || []);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (run) {
        failures = 0;
        show(run);
        if (run.finished) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        failures += 1;  // the server restarting, a dropped connection: slow down, keep trying a while
        if (failures < 20) {
          window.setTimeout(poll, delay * Math.min(failures + 1, 10));
        }
      });
  }

  window.setTimeout(poll, delay);
})();
