/* The dashboard's one chart: deactivated and repaired cases per day (uPlot, vendored). */
(function () {
  "use strict";
  var data = document.getElementById("daily-data");
  var target = document.getElementById("chart");
  if (!data || !target || typeof window.uPlot !== "function") {
    return;
  }
  var daily = JSON.parse(data.textContent || "{}");
  var days = daily.days || [];
  if (!days.length) {
    target.textContent = "No cases in this window.";
    return;
  }
  var xs = days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
  var options = {
    width: Math.min(target.clientWidth || 720, 960),
    height: 240,
    series: [
      {},
      {label: "deactivated", stroke: "#b3261e", width: 2},
      {label: "repaired", stroke: "#2d7d46", width: 2}
    ],
    axes: [{}, {label: "cases"}]
  };
  new window.uPlot(options, [xs, daily.deactivated, daily.repaired], target);
  target.setAttribute("data-drawn", "true");
})();
