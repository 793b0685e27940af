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

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "status error" : "status";
    }

    if (typeof window.Stripe !== "function") {
      say("We couldn't load the secure connection to your bank. Please reload the page.", true);
      return;
    }
    var stripe;
    try {
      // A connected account's case: Stripe.js acts on that account (its `stripeAccount`).
      var account = root.getAttribute("data-stripe-account");
      var key = root.getAttribute("data-publishable-key");
      stripe = account ? window.Stripe(key, {stripeAccount: account}) : window.Stripe(key);
    } catch (err) {
      say("We couldn't start the secure connection to your bank. Please try again later.", true);
      return;
    }

    function failed(result) {
      button.disabled = false;
      var message = result && result.error && result.error.message;
      say((message ? message + " " : "") + "Please try again.", true);
    }

    function run() {
      button.disabled = true;
      var step;
      if (setupSecret) {
        say("Confirming your account…");
        step = stripe.confirmUsBankAccountSetup(setupSecret);
      } else {
        say("Connecting to your bank…");
        step = stripe.collectFinancialConnectionsAccounts({clientSecret: sessionSecret});
      }
      step.then(function (result) {
        if (!result || result.error) {
          failed(result);
          return;
        }
        say("Checking with your bank…");
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
