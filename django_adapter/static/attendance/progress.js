/* The job page's progress bar: ask the server how the job stands, twice a
   second, until it has finished; then show the page again (the summary). */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var meter = box.querySelector(".progress");
  var bar = box.querySelector(".progress-bar");
  var phase = box.querySelector("[data-phase]");
  var counts = box.querySelector("[data-counts]");
  var percent = box.querySelector("[data-percent]");

  function number(n) { return Number(n).toLocaleString(); }

  function show(state) {
    box.setAttribute("data-state", state.status);
    phase.textContent = state.phase;
    counts.textContent = state.total ? number(state.done) + " of " + number(state.total) : "";
    if (state.percent === null || state.percent === undefined) {
      meter.classList.add("indeterminate");
      meter.removeAttribute("aria-valuenow");
      bar.style.width = "100%";
      percent.textContent = "";
    } else {
      meter.classList.remove("indeterminate");
      meter.setAttribute("aria-valuenow", Math.round(state.percent));
      // A new step starts again from the left: jump there, glide forwards.
      bar.style.transition = state.percent < parseFloat(bar.style.width) ? "none" : "";
      bar.style.width = state.percent + "%";
      percent.textContent = Math.round(state.percent) + "%";
    }
    if (state.status === "failed" || state.status === "interrupted") { meter.classList.add("failed"); }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.status && state.status !== "busy") { show(state); }
        if (state && state.finished) {
          window.setTimeout(function () { window.location.replace(state.url); }, 700);
        } else {
          window.setTimeout(poll, 500);
        }
      })
      .catch(function () { window.setTimeout(poll, 1500); });
  }
  poll();
}());
