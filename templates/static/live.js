// Follows a live meeting page (/live/ID): each stored line arrives as a Server-Sent
// Event and is added to the log; the sections of the minutes that changed are replaced. The page
// reads the same without this script (a reload shows the current state).
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || !window.EventSource) { return; }
  var log = document.getElementById("live-log");
  var rows = log.getElementsByTagName("tr");
  var last = rows.length ? rows[rows.length - 1].id.replace("l-", "") : "0";
  var source = new EventSource(root.getAttribute("data-events") + "?after=" + last);
  source.addEventListener("line", function (event) {
    var data = JSON.parse(event.data);
    if (!document.getElementById("l-" + data.line)) {
      log.insertAdjacentHTML("beforeend", data.row);
    }
    var sections = data.sections || {};
    Object.keys(sections).forEach(function (name) {
      var section = document.getElementById("live-" + name);
      if (section) { section.innerHTML = sections[name]; }
    });
  });
  source.addEventListener("ended", function (event) {
    var data = JSON.parse(event.data);
    var status = document.getElementById("live-status");
    status.textContent = "The meeting has ended. ";
    var link = document.createElement("a");
    link.href = data.minutes;
    link.textContent = "Read the minutes";
    status.appendChild(link);
    source.close();
  });
}());
