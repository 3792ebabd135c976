// "Copy link" on a credential page: the page's URL to the clipboard, and say so.
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  var status = document.getElementById("copy-status");
  if (!button || !status) return;
  button.addEventListener("click", function () {
    var url = button.dataset.url;
    function done(ok) { status.textContent = ok ? "Link copied." : "Copy failed: " + url; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { done(true); }, function () { done(false); });
    } else {
      done(false);
    }
  });
})();
