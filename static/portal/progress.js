// Follows a bulk file being checked or processed: polls its progress, reloads when it is done.
(function () {
  "use strict";
  var box = document.getElementById("suivi");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("barre");
  var text = document.getElementById("avancement");
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        bar.max = Math.max(p.total, 1);
        bar.value = p.processed;
        bar.textContent = p.percent + " %";
        text.textContent = p.processed + " lignes traitées sur " + p.total + ".";
        if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
