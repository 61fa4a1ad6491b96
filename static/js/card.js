// The card form: Stripe Elements collects the card in the browser, confirmCardSetup saves it
// (and runs 3-D Secure while the backer is here), then the form posts only the SetupIntent id.
// The server asks Stripe itself whether that SetupIntent succeeded.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("card-form");
  if (!form) return;
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  const showError = (message) => {
    errors.textContent = message;
    errors.hidden = false;
    button.disabled = false;
  };
  if (typeof Stripe === "undefined") {
    showError("The card form could not load. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  const mount = document.getElementById("card-element");
  card.mount(mount);

  // localstripe's stand-in field is plain inputs in this page and wants the digits alone;
  // real Elements (in Stripe's frame) never reaches this listener. Capture runs before the
  // stand-in's own handler, so it reads the cleaned number.
  mount.addEventListener(
    "input",
    (event) => {
      const input = event.target;
      if (input.placeholder === "number" && /\s/.test(input.value)) {
        input.value = input.value.replace(/\s+/g, "");
      }
    },
    true,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.hidden = true;
    button.disabled = true;
    const result = await stripe.confirmCardSetup(form.dataset.clientSecret, {
      payment_method: { card },
    });
    if (result.error) {
      showError(result.error.message || "Your card could not be saved. Try again or use another card.");
      return;
    }
    form.elements.setup_intent_id.value = result.setupIntent.id;
    form.submit();
  });
});

// A payment the bank wants confirmed (3-D Secure): confirmCardPayment runs the bank's check,
// then the form posts, and the server asks Stripe whether the payment went through.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("authenticate-form");
  if (!form || typeof Stripe === "undefined") return;
  const errors = document.getElementById("authenticate-errors");
  const button = document.getElementById("authenticate-submit");
  const stripe = Stripe(form.dataset.publishableKey);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.hidden = true;
    button.disabled = true;
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret);
    if (result.error) {
      errors.textContent =
        result.error.message || "The payment was not confirmed. Try again or use another card.";
      errors.hidden = false;
      button.disabled = false;
      return;
    }
    form.submit();
  });
});
