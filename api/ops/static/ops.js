/* The dashboard's charts (uPlot, vendored): deactivated and repaired cases per day, and the
   money at stake per day and currency (monthly revenue of the cases opened, recovered). */
(function () {
  "use strict";
  if (typeof window.uPlot !== "function") {
    return;
  }
  function read(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent || "{}") : null;
  }
  function seconds(days) {
    return days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
  }
  function draw(target, series, columns, axis) {
    var options = {
      width: Math.min(target.clientWidth || 720, 960),
      height: 240,
      series: [{}].concat(series),
      axes: [{}, {label: axis}]
    };
    new window.uPlot(options, columns, target);
    target.setAttribute("data-drawn", "true");
  }

  var daily = read("daily-data");
  var chart = document.getElementById("chart");
  if (daily && chart) {
    var days = daily.days || [];
    if (!days.length) {
      chart.textContent = "No cases in this window.";
    } else {
      draw(chart, [
        {label: "deactivated", stroke: "#b3261e", width: 2},
        {label: "repaired", stroke: "#2d7d46", width: 2}
      ], [seconds(days), daily.deactivated, daily.repaired], "cases");
    }
  }

  var money = read("money-data");
  var moneyChart = document.getElementById("money-chart");
  if (money && moneyChart) {
    var moneyDays = money.days || [];
    var currencies = Object.keys(money.series || {}).sort();
    if (!moneyDays.length || !currencies.length) {
      moneyChart.textContent = "No money at stake in this window.";
      return;
    }
    var palette = ["#b3261e", "#2d7d46", "#8a5a00", "#1f5fa8", "#6b3fa0", "#3d6b6b"];
    var series = [];
    var columns = [seconds(moneyDays)];
    currencies.forEach(function (currency, index) {
      var scale = Math.pow(10, (money.decimals || {})[currency] || 0);
      var label = currency.toUpperCase();
      var values = money.series[currency];
      series.push({label: label + " at risk (monthly, cases opened)", stroke: palette[(2 * index) % palette.length], width: 2});
      series.push({label: label + " recovered", stroke: palette[(2 * index + 1) % palette.length], width: 2, dash: [6, 4]});
      columns.push(values.at_risk.map(function (v) { return v / scale; }));
      columns.push(values.recovered.map(function (v) { return v / scale; }));
    });
    draw(moneyChart, series, columns, "amount (major unit)");
  }
})();
