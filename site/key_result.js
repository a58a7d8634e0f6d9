"use strict";

/*
 * The key page after a sign-up. The key is shown this once and kept in this page's memory only
 * (never in localStorage, sessionStorage or the URL), so leaving the page loses it. Hence:
 * - the plan signed up for says what applies to the key (quota, price, whether a card comes first);
 * - the next steps (adding a payment method, the account page) leave the page, so they show only
 *   once the customer ticks "I have saved my API key";
 * - until then, leaving the page (reload, back, closing the tab) asks first (beforeunload).
 */
window.TollgateKeyResult = (() => {
  const { byId, bindCopy, fitToText } = window.TollgatePage;
  const terms = window.TollgatePlanTerms;

  const keyInput = byId("api-key");
  const curlCode = byId("curl-example");
  const keySaved = byId("key-saved");
  let issuedKey = null;

  /** Shows the key of `registration` (the 201 answer) with what its plan means; `onAddPaymentMethod`
   *  receives {value, id} when the customer asks to add a card. */
  function show(registration, config, onAddPaymentMethod) {
    issuedKey = { value: registration.apikey, id: String(registration.keyId || "") };
    keyInput.value = issuedKey.value;
    byId("api-key-id").textContent = issuedKey.id;
    curlCode.textContent = `curl -sS "${config.apiUrl}/" \\\n  -H "x-api-key: ${issuedKey.value}"`;
    // The answer names the plan and says whether the key waits for a card; config.json says what the plan is.
    const plan = config.plans.find((candidate) => candidate.id === registration.plan) || null;
    const waitsForPaymentMethod = registration.status
      ? registration.status === "awaiting_payment_method"
      : config.requirePaymentMethod;
    describePlan(plan, waitsForPaymentMethod);
    byId("add-payment").onclick = () => onAddPaymentMethod(issuedKey);
    keySaved.checked = false;
    showNextSteps(false);
    byId("signup").hidden = true;
    byId("result").hidden = false;
    fitToText(keyInput);
    byId("result-title").focus();
  }

  function describePlan(plan, waitsForPaymentMethod) {
    const free = plan !== null && plan.free === true;
    byId("plan-summary").hidden = plan === null;
    byId("plan-summary").textContent = plan ? terms.summary(plan) : "";
    byId("per-call").textContent = plan ? terms.perCall(plan) : "Each call with this header counts toward your plan.";
    byId("key-waiting").hidden = !waitsForPaymentMethod;
    byId("payment-step").hidden = free;
    byId("payment-explainer").textContent = terms.paymentStep(plan || {}, waitsForPaymentMethod);
    byId("upgrade-note").hidden = !free;
    byId("upgrade-note").textContent = free ? terms.upgrade(plan) : "";
  }

  /** The next steps leave the page: offered once the key is saved; until then leaving asks first. */
  function showNextSteps(saved) {
    byId("next-steps").hidden = !saved;
    window.onbeforeunload = saved ? null : askBeforeLeaving;
  }

  function askBeforeLeaving(event) {
    event.preventDefault();
    event.returnValue = "";  // the browser shows its own "Leave site?" text; some still need returnValue set
  }

  keySaved.addEventListener("change", () => showNextSteps(keySaved.checked));
  window.addEventListener("resize", () => {
    if (issuedKey) fitToText(keyInput);
  });
  bindCopy(byId("copy-key"), () => keyInput.value, byId("copy-status"), keyInput);
  bindCopy(byId("copy-curl"), () => curlCode.textContent, byId("curl-status"), null);

  return Object.freeze({ show });
})();
