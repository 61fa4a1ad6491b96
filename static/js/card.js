// The card form: Stripe Elements collects the card in the browser, confirmCardSetup saves it
// (and runs 3-D Secure while the backer is here), then the form posts only the SetupIntent id.
// The server asks Stripe itself whether that SetupIntent succeeded. Every error reads as one of
// the sentences of payments/cards.py, in the backer's language (the form's data-errors).

// The expiry typed into the local stand-in's two fields, as the stand-in wants it: a month,
// and a 2-digit year (it puts "20" before the year field, so "2030" would reach it as 202030).
// Takes "12 / 2030", "12/30" or "1/2031" typed whole into the month field, or a month and a
// 2- or 4-digit year. Returns {month, year}, or {error} with a Stripe error code.
function normaliseExpiry(monthText, yearText, today = new Date()) {
  const month = String(monthText || "").trim();
  const year = String(yearText || "").trim();
  const text = year ? `${month}/${year}` : month;
  if (!text) return { error: "incomplete_expiry" };
  const parts = /^(\d{1,2})\s*[/\-.\s]\s*(\d{2}|\d{4})$/.exec(text);
  if (!parts) return { error: "incomplete_expiry" };
  const monthNumber = Number(parts[1]);
  let yearNumber = Number(parts[2]);
  if (parts[2].length === 2) yearNumber += 2000;
  if (monthNumber < 1 || monthNumber > 12) return { error: "invalid_expiry_month" };
  if (yearNumber >= 2100) return { error: "invalid_expiry_year" };
  // A card is good until the end of its expiry month.
  if (yearNumber * 12 + monthNumber < today.getFullYear() * 12 + today.getMonth() + 1) {
    return { error: "invalid_expiry_year_past" };
  }
  return {
    month: String(monthNumber).padStart(2, "0"),
    year: String(yearNumber % 100).padStart(2, "0"),
  };
}

// What the stand-in refuses with a bare 400 "Bad request", caught first so that the backer
// reads which field is wrong: a number of 16 digits, a 3-digit CVC, an expiry to come.
// Returns a Stripe error code, or null once the fields hold what the stand-in takes.
function checkStandInFields(inputs, today = new Date()) {
  const number = inputs.number.value.replace(/\s+/g, "");
  if (!/^\d{16}$/.test(number)) {
    return /^\d{0,15}$/.test(number) ? "incomplete_number" : "invalid_number";
  }
  const expiry = normaliseExpiry(inputs.exp_month.value, inputs.exp_year.value, today);
  if (expiry.error) return expiry.error;
  const cvc = inputs.cvc.value.trim();
  if (!/^\d{3}$/.test(cvc)) return /^\d{0,2}$/.test(cvc) ? "incomplete_cvc" : "invalid_cvc";
  inputs.exp_month.value = expiry.month;
  inputs.exp_year.value = expiry.year;
  inputs.cvc.value = cvc;
  // The stand-in reads its fields on "input" events only.
  inputs.exp_year.dispatchEvent(new Event("input", { bubbles: true }));
  return null;
}

// The sentence for an error from Stripe.js, the stand-in or the network: Stripe's decline
// code, then its error code; the stand-in's errors that carry no code by what they are.
function errorSentence(error, sentences) {
  if (!error) return sentences.default;
  for (const key of [error.decline_code, error.code]) {
    if (key && Object.hasOwn(sentences, key)) return sentences[key];
  }
  // Stripe.js says "api_connection_error"; the stand-in hands back fetch's own TypeError.
  if (error.type === "api_connection_error" || error instanceof TypeError) return sentences.network;
  const message = String(error.message || "");
  if (/authentication failed/i.test(message)) return sentences.setup_intent_authentication_failure;
  if (error.type === "invalid_request_error" && !error.code) return sentences.invalid_request;
  return sentences.default;
}

function readSentences(form) {
  try {
    return JSON.parse(form.dataset.errors || "{}");
  } catch (error) {
    return {};
  }
}

// The stand-in's field is plain inputs in this page, named by their placeholders; real
// Elements lives in Stripe's frame, where this page cannot (and need not) read it.
function standInInputs(mount) {
  const inputs = {};
  for (const name of ["number", "exp_month", "exp_year", "cvc"]) {
    inputs[name] = mount.querySelector(`input[placeholder="${name}"]`);
    if (!inputs[name]) return null;
  }
  return inputs;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("card-form");
  if (!form) return;
  const sentences = readSentences(form);
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  const showError = (message) => {
    errors.textContent = message || sentences.default;
    errors.hidden = false;
    button.disabled = false;
  };
  if (typeof Stripe === "undefined") {
    showError(sentences.unavailable);
    button.disabled = true;
    return;
  }
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  const mount = document.getElementById("card-element");
  card.mount(mount);

  // The stand-in wants the number's digits alone. Capture runs before the stand-in's own
  // handler, so it reads the cleaned number.
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
    const inputs = standInInputs(mount);
    const problem = inputs && checkStandInFields(inputs);
    if (problem) {
      showError(sentences[problem]);
      return;
    }
    let result;
    try {
      result = await stripe.confirmCardSetup(form.dataset.clientSecret, {
        payment_method: { card },
      });
    } catch (error) {
      result = { error };
    }
    if (result.error) {
      showError(errorSentence(result.error, sentences));
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
  // Here an error without a better sentence means the payment is still not confirmed.
  const read = readSentences(form);
  const sentences = { ...read, default: read.payment_intent_authentication_failure };
  const errors = document.getElementById("authenticate-errors");
  const button = document.getElementById("authenticate-submit");
  const stripe = Stripe(form.dataset.publishableKey);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.hidden = true;
    button.disabled = true;
    let result;
    try {
      result = await stripe.confirmCardPayment(form.dataset.clientSecret);
    } catch (error) {
      result = { error };
    }
    if (result.error) {
      errors.textContent = errorSentence(result.error, sentences);
      errors.hidden = false;
      button.disabled = false;
      return;
    }
    form.submit();
  });
});
