// The readable form of the chosen crontab under its field (django-celery-beat's periodic task
// form), as its inline script did, from a static file for the Content-Security-Policy.
"use strict";
(function () {
  const script = document.getElementById("periodic-task-overrides");
  const data = document.getElementById("readable-crontabs");
  if (!script || !data || typeof django === "undefined") {
    return;
  }
  const $ = django.jQuery;
  const readable = JSON.parse(data.textContent);
  const help = script.dataset.crontabHelp || "";
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    const target = $(".field-crontab .help");
    target.text(help);
    target.append(document.createElement("br"));
    target.append(document.createTextNode("Traduction : " + (readable[$("#id_crontab").val()] || "")));
  });
})();
