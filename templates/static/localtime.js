// Adds the reader's local time after each UTC time on archive pages. Pages read fine
// without it; it is a separate file so that a strict Content-Security-Policy allows it.
"use strict";
document.querySelectorAll("time[datetime]").forEach(function (el) {
  var when = new Date(el.getAttribute("datetime"));
  if (isNaN(when.getTime())) { return; }
  var local = document.createElement("span");
  local.className = "localtime";
  local.textContent = " (" + when.toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) + " your time)";
  el.after(local);
});
