// warroom console: the board's live parts, in plain JavaScript (no build, no external host).
// Every 3 s the rows are fetched again as an HTML fragment from the same server; every
// second the countdowns and the "open for" times move on from the times the server wrote.
(function () {
  "use strict";
  var REFRESH_MS = 3000;

  function pad(n) { return String(n).padStart(2, "0"); }

  // The same as warroom.timeparse.span: exact to the minute (to the second under an hour).
  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + pad(s % 60) + "s" : "");
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + "d " : "") + h + "h " + pad(m) + "m";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      el.textContent = left >= 0 ? "in " + span(left) : "overdue " + span(left);
      el.classList.toggle("overdue", left < 0);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = span((now - Date.parse(el.getAttribute("data-since"))) / 1000);
    });
  }

  function refresh(body) {
    fetch(body.getAttribute("data-refresh"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (r.redirected || !r.ok) { throw new Error("status " + r.status); }
        return r.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        tick();
        var stamp = document.getElementById("refreshed");
        if (stamp) stamp.textContent = "Last: " + new Date().toLocaleTimeString();
      })
      .catch(function () {
        var stamp = document.getElementById("refreshed");
        if (stamp) stamp.textContent = "Could not refresh; retrying.";
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.querySelector("[data-refresh]");
    if (body) setInterval(function () { refresh(body); }, REFRESH_MS);
    tick();
    setInterval(tick, 1000);
  });
})();
