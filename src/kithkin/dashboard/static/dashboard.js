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

  // The toolbar keeps one button (download the picture); zoom and pan stay on the mouse
  // (drag, double-click to reset) and the data table under each chart has the numbers.
  var CHART_CONFIG = {
    responsive: true, displaylogo: false, modeBarButtons: [["toImage"]]
  };

  // Plotly draws its SVGs and its toolbar side by side in one container, so an image
  // role on the chart's element would hold the toolbar's buttons (an image's content is
  // presentational: "nested-interactive"). The role and the description go on the
  // drawing itself; the overlay SVGs (hover labels) are hidden from assistive technology.
  function labelDrawing(target) {
    var drawings = target.querySelectorAll("svg.main-svg");
    drawings.forEach(function (svg, index) {
      if (index === 0) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", target.getAttribute("data-description") || "");
      } else {
        svg.setAttribute("aria-hidden", "true");
      }
    });
  }

  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("script[data-chart-for]").forEach(function (node) {
      var target = document.getElementById(node.getAttribute("data-chart-for"));
      if (!target) { return; }
      var figure = JSON.parse(node.textContent);
      var config = Object.assign({}, CHART_CONFIG, {
        toImageButtonOptions: { filename: target.id }
      });
      window.Plotly.newPlot(target, figure.data, figure.layout || {}, config)
        .then(function () {
          labelDrawing(target);
          target.on("plotly_afterplot", function () { labelDrawing(target); });
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
