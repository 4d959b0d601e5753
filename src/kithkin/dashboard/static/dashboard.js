// kithkin dashboard: draws the server-built Plotly figures and polls running imports.
(function () {
  "use strict";

  // plotly.js sets a few inline styles with setAttribute("style", ...) (heatmap images),
  // which the Content-Security-Policy blocks (no 'unsafe-inline': injected markup must not
  // style the page). Our own scripts may style elements through the CSSOM, which the
  // policy allows, so route that call there; markup attributes stay blocked.
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "style") {
      this.style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };

  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("script[data-chart-for]").forEach(function (node) {
      var target = document.getElementById(node.getAttribute("data-chart-for"));
      if (!target) { return; }
      var figure = JSON.parse(node.textContent);
      window.Plotly.newPlot(target, figure.data, figure.layout || {}, {
        responsive: true, displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"]
      });
    });
  }

  function pollImport() {
    var panel = document.querySelector("[data-import-status-url]");
    if (!panel) { return; }
    var url = panel.getAttribute("data-import-status-url");
    var timer = window.setInterval(function () {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          ["status", "rows_read", "rows_written", "rows_rejected"].forEach(function (k) {
            var cell = panel.querySelector("[data-field='" + k + "']");
            if (cell) { cell.textContent = String(job[k]); }
          });
          if (job.finished) {
            window.clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { window.clearInterval(timer); });
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    pollImport();
  });
}());
