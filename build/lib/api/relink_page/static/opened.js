/* The start page's script: tells relink that a browser opened the link, for the operations
   dashboard's "link opened" step. Mail scanners that fetch every link run no script, and the
   GET itself writes nothing. */
(function () {
  "use strict";
  var form = document.querySelector('form[action$="/session"], form[action$="/hosted"]');
  if (form && window.fetch) {
    var url = form.getAttribute("action").replace(/\/(session|hosted)$/, "/opened");
    window.fetch(url, {method: "POST", credentials: "same-origin", keepalive: true});
  }
})();
