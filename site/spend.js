"use strict";

/*
 * The account page's usage alerts and spend cap (POST /api/account/spend, tollgate.domain.spend_choices).
 * account.js loads the account and announces it ("tollgate:account"); this draws the section from the
 * answer's `spend`: the alerts that apply and which were crossed this period, the cap, and a form whose
 * field names are the API's, so a refusal shows under the field it names. Server text: textContent only.
 */
(() => {
  const { byId, request, describeFailure, showFieldErrors, setStatus, setBusy } = window.TollgatePage;

  const MESSAGES = Object.freeze({
    timeout: "The account service took too long to answer. Please try again in a minute.",
    unreachable: "We could not reach the account service. Check your internet connection and try again.",
    misconfigured: "Accounts are unavailable right now. Please try again later.",
    tooLarge: "That request is too large. Shorten your lists and try again.",
    throttled: "Too many requests from your network right now. Wait a few minutes, then try again.",
    serverError: "Something went wrong on our side and nothing changed. Please try again in a minute.",
    unexpected: "Something unexpected happened. Reload the page and try again.",
    saving: "Saving your alerts and cap…",
    saved: "Saved. Alerts and the cap apply from the next calls counted.",
    fixFields: "Nothing was saved: correct the fields marked below.",
    capReached: "Your calls are stopped: this period's charges reached your spend cap. Raise or remove the cap "
      + "below and they resume within minutes; otherwise they resume when the period ends.",
    priceUnavailable: "Your plan's price could not be read right now, so amounts are not shown: reload in a minute.",
  });
  const inputs = () => ["spend-percents", "spend-amounts", "spend-cap", "spend-no-cap"].map(byId);
  let account = null;
  let spend = null;

  const amountText = (value) => `${value} ${(spend.currency || "").toUpperCase()}`;

  function thresholdText(threshold, free) {
    const what = threshold.kind === "quota" ? `${threshold.value}% of your ${free ? "free " : ""}quota`
      : `${amountText(threshold.value)} of charges`;
    return `${what}: ${threshold.crossed ? "crossed this period (emailed)" : "not reached this period"}`;
  }

  function capText() {
    if (!spend.currency) return "";
    const limits = [spend.capDefault && `plan default ${amountText(spend.capDefault)}`,
      spend.capMax && `most allowed ${amountText(spend.capMax)}`].filter(Boolean).join(", ");
    const cap = spend.cap ? `Spend cap: ${amountText(spend.cap)} per billing period` : "No spend cap";
    return limits ? `${cap} (${limits}).` : `${cap}.`;
  }

  function render(data) {
    spend = data.spend;
    if (!spend) return;
    const money = spend.perCall;
    byId("spend-thresholds").replaceChildren(...spend.thresholds.map((threshold) => {
      const item = document.createElement("li");
      item.textContent = thresholdText(threshold, data.plan.free);
      item.dataset.crossed = String(threshold.crossed);
      return item;
    }));
    byId("spend-cap-line").textContent = capText();
    byId("spend-cap-reached").hidden = !spend.capReached;
    byId("spend-cap-reached").textContent = spend.capReached ? MESSAGES.capReached : "";
    byId("spend-unavailable").hidden = !spend.unavailable;
    byId("spend-unavailable").textContent = spend.unavailable ? MESSAGES.priceUnavailable : "";
    byId("spend-money").hidden = !money;
    for (const label of document.querySelectorAll(".spend-currency")) label.textContent = (spend.currency || "").toUpperCase();
    const quota = spend.thresholds.filter((threshold) => threshold.kind === "quota");
    byId("spend-percents").value = quota.map((threshold) => threshold.value).join(", ");
    byId("spend-amounts").value = spend.thresholds.filter((threshold) => threshold.kind === "amount")
      .map((threshold) => threshold.value).join(", ");
    byId("spend-cap").value = spend.capChosen || "";
    byId("spend-no-cap").checked = spend.noCap;
    byId("spend-no-cap-field").hidden = Boolean(spend.capMax);
  }

  /** "80, 100" -> [80, 100] (`whole`) or ["80", "100"] (amounts stay exact decimal text); what is not a
   *  whole number goes as typed, for the server to name the field. */
  function list(text, whole) {
    return text.split(",").map((item) => item.trim()).filter(Boolean)
      .map((item) => (whole && /^\d+$/.test(item) ? Number(item) : item));
  }

  async function save(event) {
    event.preventDefault();
    const button = byId("spend-save");
    const status = byId("spend-status");
    const body = { quotaPercents: list(byId("spend-percents").value, true) };
    if (spend && spend.perCall) {
      body.amounts = list(byId("spend-amounts").value, false);
      body.cap = byId("spend-cap").value.trim() || null;
      body.noCap = byId("spend-no-cap").checked;
    }
    setBusy(button, true);
    setStatus(status, MESSAGES.saving, "info");
    try {
      const answer = await request("/api/account/spend", { body });
      if (answer.status === 401) {
        window.location.reload();  // the session ended: the page shows the sign-in form
        return;
      }
      const fields = answer.status === 400 && answer.data.fields ? answer.data.fields : {};
      showFieldErrors(inputs(), fields);
      if (answer.status === 200) {
        render({ ...account, spend: answer.data.spend });
        setStatus(status, MESSAGES.saved, "success");
      } else {
        setStatus(status, Object.keys(fields).length ? MESSAGES.fixFields : describeFailure(answer, MESSAGES), "error");
      }
    } catch (failure) {
      setStatus(status, describeFailure(failure, MESSAGES), "error");
    } finally {
      setBusy(button, false);
    }
  }

  document.addEventListener("tollgate:account", (event) => {
    account = event.detail;
    render(account);
  });
  byId("spend-form").addEventListener("submit", save);
})();
