"use strict";

/*
 * What a plan means for the customer, in words, from its config.json view (infra/plan_settings.py's
 * page_view): its limits, whether and how calls are billed, whether a card comes first. The plan
 * options of the signup form and the key page after a sign-up say it from here, so they agree.
 */
window.TollgatePlanTerms = (() => {
  const PERIODS = Object.freeze({ DAY: "day", WEEK: "week", MONTH: "month" });

  /** "1,000 calls a month" */
  function quota(plan) {
    return `${Number(plan.quotaLimit).toLocaleString("en")} calls a ${PERIODS[plan.quotaPeriod] || "period"}`;
  }

  /** "10,000 calls a month, up to 10 a second" */
  function limits(plan) {
    return `${quota(plan)}, up to ${plan.rateLimit} a second`;
  }

  /** The price as the owner wrote it (price_text), when there is one. */
  function price(plan) {
    return typeof plan.priceText === "string" && plan.priceText.trim() ? plan.priceText.trim() : "";
  }

  /** The key page's first line: the plan signed up for and what applies to it. */
  function summary(plan) {
    if (plan.free) return `You are on the ${plan.name} plan: ${limits(plan)}. No card needed: nothing is billed.`;
    const billed = price(plan) ? `${price(plan)}. ` : "Billed per call. ";
    return `You are on the ${plan.name} plan: ${billed}Limits: ${limits(plan)}.`;
  }

  /** Under "Try it": what a call with the key costs. */
  function perCall(plan) {
    if (plan.free) return `Each call with this header counts toward your ${quota(plan)}; nothing is billed.`;
    return price(plan)
      ? `Each call with this header is billed: ${price(plan)}.`
      : "Each call with this header is billed on your invoice.";
  }

  /** The payment step of a paid plan: whether the key waits for the card. */
  function paymentStep(plan, waitsForPaymentMethod) {
    const charged = price(plan) ? ` You are charged only for what you use: ${price(plan)}.` : "";
    return waitsForPaymentMethod
      ? `Your key starts working once you add a payment method.${charged}`
      : "Your key already works. Add a card now so your first invoice is paid without interruption.";
  }

  /** The free plan's way up. */
  function upgrade(plan) {
    return `Need more than ${quota(plan)}? Upgrade to a paid plan on your account page: this key keeps working.`;
  }

  return Object.freeze({ limits, summary, perCall, paymentStep, upgrade });
})();
