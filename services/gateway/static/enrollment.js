// While an enrollment waits for its payment, ask the gateway for its status every second
// and update the page in place the moment it turns (no reload). Give up, saying so, after
// a minute: the payment may still be confirmed later, and My learning will show it.
(function () {
  "use strict";
  var section = document.getElementById("enrollment");
  if (!section || section.dataset.status !== "PENDING_PAYMENT") return;
  var id = section.dataset.id;
  var live = document.getElementById("enrollment-live");
  var statusCell = document.getElementById("enrollment-status");
  var credentialLine = document.getElementById("credential-line");
  var cancelForm = document.getElementById("cancel-form");
  var INTERVAL_MS = 1000;
  var GIVE_UP_AFTER_MS = 60000;
  var started = Date.now();
  var LABELS = {
    PENDING_PAYMENT: "Pending payment", ACTIVE: "Active", COMPLETED: "Completed",
    EXPIRED: "Expired", CANCELLED: "Cancelled", REFUNDED: "Refunded"
  };

  function say(text, cls) {
    live.textContent = "";
    var p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    live.appendChild(p);
  }

  function show(state) {
    var badge = document.createElement("span");
    badge.className = "badge status-" + state.status.toLowerCase().replace(/_/g, "-");
    badge.textContent = LABELS[state.status] || state.status;
    statusCell.textContent = "";
    statusCell.appendChild(badge);
    section.dataset.status = state.status;
    if (cancelForm) cancelForm.remove();
    credentialLine.textContent = "";
    if (state.credential_id) {
      var a = document.createElement("a");
      a.className = "button";
      a.href = "/credentials/" + encodeURIComponent(state.credential_id);
      a.textContent = "View your credential";
      credentialLine.appendChild(a);
    } else if (state.status === "ACTIVE") {
      var s = document.createElement("span");
      s.className = "muted";
      s.textContent = "Your credential is issued when the program's criteria are met.";
      credentialLine.appendChild(s);
    }
    if (state.status === "ACTIVE" || state.status === "COMPLETED") {
      say("Payment confirmed: you are enrolled.", "ok");
    } else {
      say("This enrollment is " + badge.textContent.toLowerCase() + ".", "alert");
    }
  }

  function poll() {
    fetch("/enrollments/" + encodeURIComponent(id) + "/status", {
      headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store"
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state && state.status !== "PENDING_PAYMENT") { show(state); return; }
        next();
      }, next);
  }

  function next() {
    if (Date.now() - started >= GIVE_UP_AFTER_MS) {
      if (document.getElementById("confirming")) {
        say("Your payment has not been confirmed yet. It can take a few minutes: " +
            "come back to this page or to My learning later.", "alert");
      }
      return;
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  next();
})();
