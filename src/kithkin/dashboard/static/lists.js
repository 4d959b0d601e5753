// kithkin lists: the list builder's live size (the filter's member count as it is built).
(function () {
  "use strict";
  var form = document.getElementById("list-builder");
  var output = document.getElementById("live-size");
  if (!form || !output) { return; }
  var url = form.getAttribute("data-size-url");
  var timer = null;
  var asked = 0;

  function refresh() {
    var params = new URLSearchParams(new FormData(form));
    ["csrf_token", "name", "description"].forEach(function (name) { params.delete(name); });
    var ticket = ++asked;
    fetch(url + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (ticket !== asked) { return; }  // a later change already asked again
        output.textContent = answer.error ? "– (" + answer.error + ")"
          : answer.size.toLocaleString();
      })
      .catch(function () { if (ticket === asked) { output.textContent = "–"; } });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  refresh();
})();
