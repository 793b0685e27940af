/* The relink page's only script: Stripe.js collects (or confirms), then the server decides.
   The client secret is read from the page body (the answer to the customer's press of the
   link page's button, a POST) and sent to Stripe.js only. Collecting starts at once, since
   the customer just asked for it; the button tries again. Confirming the mandate waits for
   the customer's click on "Agree and confirm". */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  ready(function () {
    var root = document.getElementById("relink");
    var button = document.getElementById("start");
    var status = document.getElementById("status");
    var done = document.getElementById("done");
    if (!root || !button || !status || !done) {
      return;
    }
    var sessionSecret = root.getAttribute("data-client-secret");
    var setupSecret = root.getAttribute("data-setup-secret");
    // The page's words come translated in its data-msg-* attributes (the customer's locale).
    function text(name) {
      return root.getAttribute("data-msg-" + name) || "";
    }

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "status error" : "status";
    }

    if (typeof window.Stripe !== "function") {
      say(text("load"), true);
      return;
    }
    var stripe;
    try {
      // Stripe.js speaks the customer's locale; a connected account's case acts on that
      // account (its `stripeAccount`).
      var options = {locale: root.getAttribute("data-locale") || "auto"};
      var account = root.getAttribute("data-stripe-account");
      if (account) {
        options.stripeAccount = account;
      }
      stripe = window.Stripe(root.getAttribute("data-publishable-key"), options);
    } catch (err) {
      say(text("start"), true);
      return;
    }

    function failed(result) {
      button.disabled = false;
      var message = result && result.error && result.error.message;
      say((message ? message + " " : "") + text("retry"), true);
    }

    function run() {
      button.disabled = true;
      var step;
      say(text("working"));
      if (setupSecret) {
        step = stripe.confirmUsBankAccountSetup(setupSecret);
      } else {
        step = stripe.collectFinancialConnectionsAccounts({clientSecret: sessionSecret});
      }
      step.then(function (result) {
        if (!result || result.error) {
          failed(result);
          return;
        }
        say(text("checking"));
        done.submit();
      }, failed);
    }

    button.addEventListener("click", run);
    if (sessionSecret) {
      run();
    } else {
      button.disabled = false;
      say("");
    }
  });
})();
