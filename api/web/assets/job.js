// The job page follows its job: every two seconds it reads the page again and puts the new state in place
// (#job-state is a live region, so a screen reader hears the change).  Without JavaScript the page still
// works: its "Check again" link reloads it.  Served from this site only (CSP script-src 'self').
(function () {
  "use strict";
  var box = document.getElementById("job-state");
  if (!box || box.getAttribute("data-open") !== "1") {
    return;
  }
  function check() {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (answer) { return answer.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("job-state");
        if (!fresh) {
          return;
        }
        box.innerHTML = fresh.innerHTML;
        box.setAttribute("data-open", fresh.getAttribute("data-open"));
        if (fresh.getAttribute("data-open") === "1") {
          window.setTimeout(check, 2000);
        }
      })
      .catch(function () { window.setTimeout(check, 5000); });
  }
  window.setTimeout(check, 2000);
}());
