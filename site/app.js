"use strict";

/*
 * Signup page: POST /api/register, show the key once (site/key_result.js), offer Stripe Checkout for
 * a payment method, and say what came of it on the way back. Every call goes to the site's own
 * origin (`/api/...`, which CloudFront sends to the API); the API's address in config.json is only
 * shown, in the curl example for the customer's own calls. Served under a strict CSP (script-src
 * 'self'), so no inline code; server text is only ever written with textContent / value, never
 * parsed as HTML.
 */
(() => {
  const { validateSignup } = window.TollgateValidation;
  const SIGNUP_FIELDS = ["email", "firstname", "lastname"];

  const MESSAGES = Object.freeze({
    fixFields: "Please correct the highlighted fields.",
    creating: "Signing you up…",
    emailTaken: "This email already has an account. Sign in to your account (link below) to see or rotate your key, or sign up with another email.",
    checkingLink: "Checking your link…",
    confirming: "Confirming your email and creating your API key…",
    linkUsed: "This link has expired or was already used. If you already got your key, sign in to your account; otherwise sign up again below.",
    confirmRunning: "Your sign-up is already being processed. Wait a few seconds, then open the link in the email again.",
    confirmFailed: "We could not finish your sign-up; nothing was created or charged. Open the link in the email again in a minute.",
    tooLarge: "That request is too large. Shorten the names and try again.",
    throttled: "Too many requests right now. Wait a few seconds and try again.",
    serverError: "Something went wrong on our side and nothing was created. Please try again in a minute.",
    unreachable: "We could not reach the sign-up service. Check your internet connection and try again.",
    timeout: "The sign-up service took too long to answer. Please try again in a minute.",
    misconfigured: "Sign-up is unavailable right now. Please try again later.",
    unexpected: "Something unexpected happened. Please try again.",
    keyRejected: "That API key and key ID do not match an account. Check both and try again.",
    openingCheckout: "Opening Stripe Checkout…",
    confirmingCard: "Your payment method is saved. Checking your account with Stripe…",
    keyActive: "Your payment method is saved and your API key is active.",
    cardDeclined: "Your card was declined, so your API key stays paused.",
    stillConfirming: "Your payment method is saved. Stripe is still confirming it: your API key is updated within a minute.",
    subscriptionEnded: "Your subscription has ended, so this API key no longer works. Sign up again for a new key.",
  });

  const {
    byId, request, describeFailure: describe, setFieldError, showFieldErrors, setStatus, setBusy, takeFragment,
    lookUpLink, askAboutLink,
  } = window.TollgatePage;
  const planTerms = window.TollgatePlanTerms;
  const configReady = loadConfig();
  const describeFailure = (failure) => describe(failure, MESSAGES);

  async function loadConfig() {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    const raw = await response.json();
    if (typeof raw.apiUrl !== "string" || !/^https?:\/\//.test(raw.apiUrl)) {
      throw new Error("config.json: apiUrl must be an http(s) URL");
    }
    return {
      apiUrl: raw.apiUrl.replace(/\/+$/, ""),
      requirePaymentMethod: raw.requirePaymentMethod === true,
      plans: Array.isArray(raw.plans) ? raw.plans : [],
    };
  }

  // ---- plans --------------------------------------------------------------------------------

  /** One radio per plan (the first, the default, checked), each with its price text and limits.
   * With a single plan there is nothing to choose: the list stays hidden and no plan is sent. */
  function showPlans(plans) {
    const options = byId("plan-options");
    options.replaceChildren(...plans.map((plan, index) => {
      const label = document.createElement("label");
      label.className = "plan-option";
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "plan", value: plan.id, checked: index === 0 });
      const name = document.createElement("span");
      name.className = "plan-name";
      name.textContent = plan.name;
      const price = document.createElement("span");
      price.className = "plan-price";
      price.textContent = plan.priceText;
      const details = document.createElement("span");
      details.className = "plan-details";
      details.textContent = [plan.description, planTerms.limits(plan)].filter(Boolean).join(" ");
      label.append(input, name, price, details);
      return label;
    }));
    byId("plans").hidden = plans.length < 2;
  }

  function chosenPlan() {
    const checked = document.querySelector('input[name="plan"]:checked');
    return byId("plans").hidden || !checked ? undefined : checked.value;
  }

  // ---- validation ---------------------------------------------------------------------------

  const FIELD_LABELS = Object.freeze({ email: "Email", firstname: "First name", lastname: "Last name" });

  /** The server names problems as fragments ("must not be empty"); make each a sentence. */
  function serverFieldMessages(fields) {
    const messages = {};
    for (const [name, problem] of Object.entries(fields)) {
      if (!(name in FIELD_LABELS)) continue;
      const text = String(problem).trim().replace(/\.$/, "");
      messages[name] = /^[a-z]/.test(text) ? `${FIELD_LABELS[name]} ${text}.` : `${text}.`;
    }
    return messages;
  }

  function readSignup() {
    const values = {};
    for (const name of SIGNUP_FIELDS) values[name] = byId(name).value.trim();
    const plan = chosenPlan();
    if (plan) values.plan = plan;
    return values;
  }

  function newIdempotencyKey() {
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // ---- sign-up ---------------------------------------------------------------------------------

  const signupForm = byId("signup-form");
  const signupInputs = SIGNUP_FIELDS.map(byId);
  const signupButton = byId("submit");
  const signupStatus = byId("form-status");

  for (const input of signupInputs) {
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") === "true") {
        setFieldError(input, validateSignup(readSignup())[input.name] || "");
      }
    });
  }

  signupForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (signupButton.disabled) return;
    const values = readSignup();
    if (showFieldErrors(signupInputs, validateSignup(values))) {
      setStatus(signupStatus, MESSAGES.fixFields, "error");
      return;
    }
    setBusy(signupButton, true);
    setStatus(signupStatus, MESSAGES.creating, "info");
    try {
      const { status, data } = await request("/api/register", {
        body: values,
        headers: { "Idempotency-Key": newIdempotencyKey() },
      });
      if (status === 201 && typeof data.apikey === "string") {
        await showResult(data);
      } else if (status === 202) {
        showCheckInbox(values.email);
      } else if (status === 429 && data.fields && data.fields.email && typeof data.error === "string") {
        setStatus(signupStatus, data.error, "error");  // this address had its share of emails this hour
      } else if (status === 400 && data.fields && typeof data.fields === "object") {
        const known = showFieldErrors(signupInputs, serverFieldMessages(data.fields));
        setStatus(signupStatus, known ? MESSAGES.fixFields : String(data.error || MESSAGES.unexpected), "error");
      } else if (status === 409) {
        showFieldErrors(signupInputs, { email: MESSAGES.emailTaken });
        setStatus(signupStatus, MESSAGES.emailTaken, "error");
      } else {
        setStatus(signupStatus, describeFailure({ status }), "error");
      }
    } catch (failure) {
      setStatus(signupStatus, describeFailure(failure), "error");
    } finally {
      setBusy(signupButton, false);
    }
  });

  // ---- verified email: the link in the inbox --------------------------------------------------

  /** After a sign-up: the same answer whatever the address; the link in the email does the rest. */
  function showCheckInbox(email) {
    byId("check-inbox-email").textContent = email;
    byId("signup").hidden = true;
    byId("check-inbox").hidden = false;
    byId("check-inbox-title").focus();
  }

  byId("use-another-email").addEventListener("click", () => {
    byId("check-inbox").hidden = true;
    byId("signup").hidden = false;
    setStatus(signupStatus, "", "info");
    byId("email").focus();
  });

  /** Opened from the email (`#confirm=<token>`): first whose sign-up it is (the link stays unused), then, only
   *  if the visitor says so, the account is created. */
  async function openSignUpLink(token) {
    byId("signup").hidden = true;
    showNotice(MESSAGES.checkingLink, "info");
    const link = await lookUpLink(token, "sign-up").catch((failure) => ({ failure }));
    if (link.email) {
      byId("checkout-notice").hidden = true;
      if (await askAboutLink(link.email, `Create the account for ${link.email}`)) {
        confirmSignUp(token);
        return;
      }
    } else {
      showNotice(link.failure ? confirmationUnreachable(link.failure) : confirmationRefused(link), "error");
    }
    byId("signup").hidden = false;
    if (link.email) byId("email").focus();
  }

  /** The visitor's click on the link's card: the site's own API registers the sign-up the link holds. */
  async function confirmSignUp(token) {
    byId("signup").hidden = true;
    showNotice(MESSAGES.confirming, "info");
    try {
      const { status, data } = await request("/api/signup/confirm", { body: { token } });
      if (status === 201 && typeof data.apikey === "string") {
        byId("checkout-notice").hidden = true;
        await showResult(data);
        return;
      }
      showNotice(confirmationRefused({ status, data }), "error");
    } catch (failure) {
      showNotice(confirmationUnreachable(failure), "error");
    }
    byId("signup").hidden = false;
  }

  /** What to do when the link's lookup or its use answered `status` (and `data`) instead of going ahead. */
  function confirmationRefused({ status, data = {} }) {
    return status === 410 ? MESSAGES.linkUsed
      : status === 409 && data.fields && data.fields.email ? MESSAGES.emailTaken
      : status === 409 ? MESSAGES.confirmRunning
      : status >= 500 ? MESSAGES.confirmFailed
      : describeFailure({ status });
  }

  const confirmationUnreachable = (failure) => `${describeFailure(failure)} ${MESSAGES.confirmFailed}`;

  // ---- result ----------------------------------------------------------------------------------

  async function showResult(registration) {
    window.TollgateKeyResult.show(registration, await configReady,
      (key) => startCheckout(key, byId("add-payment"), byId("payment-status")));
  }

  /** Asks the site's API for a Stripe Checkout (setup mode) URL for this key and goes there. */
  async function startCheckout(key, button, statusElement) {
    setBusy(button, true);
    setStatus(statusElement, MESSAGES.openingCheckout, "info");
    try {
      const { status, data } = await request("/api/billing/checkout", {
        body: { keyId: key.id },
        headers: { "x-api-key": key.value },
      });
      if (status === 200 && typeof data.url === "string" && /^https?:\/\//.test(data.url)) {
        window.location.assign(data.url);
        return;
      }
      const message = [401, 403, 404].includes(status) ? MESSAGES.keyRejected
        : status === 400 ? String(data.error || MESSAGES.unexpected)
        : describeFailure({ status });
      setStatus(statusElement, message, "error");
    } catch (failure) {
      setStatus(statusElement, describeFailure(failure), "error");
    }
    setBusy(button, false);
  }

  // ---- back from Stripe Checkout ---------------------------------------------------------------

  const resumeForm = byId("resume-form");
  const resumeInputs = [byId("resume-key"), byId("resume-key-id")];

  resumeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const [keyField, idField] = resumeInputs;
    const errors = {};
    if (!keyField.value.trim()) errors.apikey = "Paste your API key.";
    if (!idField.value.trim()) errors.keyId = "Paste your key ID.";
    if (showFieldErrors(resumeInputs, errors)) return;
    startCheckout(
      { value: keyField.value.trim(), id: idField.value.trim() },
      byId("resume-submit"),
      byId("resume-status"),
    );
  });

  // Back from Checkout, the webhook may still be applying it: ask again after these pauses.
  const OUTCOME_POLL_DELAYS_MS = [0, 1500, 3000, 5000, 8000];
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** What became of the account of Checkout session `sessionId` ({settled, status, reason}), or
   *  null when the API cannot say (unknown session, failure) or the webhook did not settle in time. */
  async function settledOutcome(sessionId) {
    for (const delay of OUTCOME_POLL_DELAYS_MS) {
      await sleep(delay);
      try {
        const { status, data } = await request("/api/billing/checkout/outcome", { body: { sessionId } });
        if (status !== 200) return null;
        if (data.settled === true) return data;
      } catch {
        return null;
      }
    }
    return null;
  }

  function showNotice(message, kind) {
    const notice = byId("checkout-notice");
    notice.textContent = message;
    notice.dataset.kind = kind;
    notice.hidden = false;
    notice.focus();
  }

  /** Back from a completed Checkout: says whether the key works now, or why not (a declined card
   *  keeps a past-due key paused; the form below lets the customer try another one). */
  async function showSettledCheckout(sessionId) {
    showNotice(MESSAGES.confirmingCard, "info");
    const outcome = await settledOutcome(sessionId);
    if (outcome === null) {
      showNotice(MESSAGES.stillConfirming, "success");
    } else if (outcome.status === "active") {
      showNotice(MESSAGES.keyActive, "success");
    } else if (outcome.status === "suspended") {
      // Suspended after a completed Checkout: the open invoices were charged to the new card and declined.
      const reason = typeof outcome.reason === "string" ? outcome.reason : "";
      showNotice(`${MESSAGES.cardDeclined} ${reason} Add another card below to pay what is owed.`, "error");
      byId("resume").hidden = false;
    } else if (outcome.status === "canceled") {
      showNotice(MESSAGES.subscriptionEnded, "warning");
      byId("signup").hidden = false;
    } else {
      showNotice(MESSAGES.stillConfirming, "success");
    }
  }

  async function showCheckoutOutcome() {
    const query = new URLSearchParams(window.location.search);
    const outcome = query.get("checkout");
    if (outcome !== "success" && outcome !== "cancel") return;
    window.history.replaceState(null, "", window.location.pathname);
    // The key is no longer on this page: the account page is the way on (usage, billing, a new key).
    byId("to-account").hidden = false;
    const sessionId = query.get("session_id");
    if (outcome === "success" && sessionId) {
      byId("signup").hidden = true;
      await showSettledCheckout(sessionId);
      return;
    }
    let requirePaymentMethod = false;
    try {
      ({ requirePaymentMethod } = await configReady);
    } catch {
      // The notice still makes sense without the setting; the form reports the config problem.
    }
    if (outcome === "success") {
      byId("signup").hidden = true;
      showNotice(requirePaymentMethod
        ? "Your payment method is saved. Your API key is active within a few seconds."
        : "Your payment method is saved. Thank you!", "success");
    } else {
      byId("resume").hidden = false;
      showNotice(requirePaymentMethod
        ? "No payment method was added, so your API key is not active yet. Add one below whenever you are ready."
        : "No payment method was added. Your API key keeps working; add one below before your first invoice.",
      "warning");
    }
  }

  configReady.then((config) => showPlans(config.plans), () => {});
  configReady.catch((error) => {
    console.error(error);
    setStatus(signupStatus, MESSAGES.misconfigured, "error");
    signupButton.disabled = true;
  });
  const confirmToken = takeFragment("confirm");
  if (confirmToken) openSignUpLink(confirmToken);
  else showCheckoutOutcome();
})();
