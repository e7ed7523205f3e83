// lmgate admin UI: the little script there is (no libraries, nothing fetched from elsewhere).
"use strict";
(function () {
  // The Models page: swap in the live part every few seconds, without reloading the page.
  const live = document.getElementById("live");
  if (live && live.dataset.refresh) {
    const refresh = async function () {
      try {
        const res = await fetch(live.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (res.redirected || !res.ok) return; // signed out or failing: keep what is shown
        live.innerHTML = await res.text();
      } catch (e) { /* gateway restarting: try again next time */ }
    };
    setInterval(refresh, 2000);
  }
  // Forms that revoke something ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // A new key's value: selected on focus for copying.
  const secret = document.getElementById("new-key");
  if (secret) secret.addEventListener("focus", function () { secret.select(); });
})();
