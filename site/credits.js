"use strict";

/*
 * The account page's prepaid credit (tollgate.domain.credit_purchases). account.js loads the account and
 * announces it ("tollgate:account"); on a prepaid plan this draws the balance, the packs and the newest
 * entries from the answer's `credits`, and "Buy credits" asks POST /api/account/credits for a Stripe Checkout
 * URL (payment mode) and goes there. Stripe sends the customer back with ?credits=success|cancel; the credit
 * itself is added by Stripe's webhook, so the page says so rather than assume it. Server text: textContent only.
 */
(() => {
  const { byId, request, describeFailure, setStatus, setBusy } = window.TollgatePage;

  const MESSAGES = Object.freeze({
    timeout: "The account service took too long to answer. Please try again in a minute.",
    unreachable: "We could not reach the account service. Check your internet connection and try again.",
    misconfigured: "Accounts are unavailable right now. Please try again later.",
    tooLarge: "That request is too large. Reload the page and try again.",
    throttled: "Too many requests from your network right now. Wait a few minutes, then try again.",
    serverError: "Something went wrong on our side and nothing changed. Please try again in a minute.",
    unexpected: "Something unexpected happened. Reload the page and try again.",
    opening: "Opening Stripe's payment page…",
    choosePack: "Choose a pack first.",
    paid: "Thank you: your payment is received. The credit is added as soon as Stripe confirms it, usually at "
      + "once; reload in a minute if your balance has not changed.",
    canceled: "No payment was made: your balance is unchanged.",
  });
  const KINDS = Object.freeze({ purchase: "Bought", usage: "Calls", refund: "Refund", adjustment: "Adjustment" });
  const MICROS = 1_000_000;
  const moment = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });
  const returned = takeReturn();
  let shownReturn = false;

  /** ?credits=success|cancel as Stripe sent the customer back, taken out of the address. */
  function takeReturn() {
    const outcome = new URLSearchParams(window.location.search).get("credits");
    if (!outcome) return null;
    window.history.replaceState(null, "", window.location.pathname);
    return outcome === "success" ? MESSAGES.paid : MESSAGES.canceled;
  }

  /** Micro-units of `currency` as money, with as many decimals as the amount has (a call may cost 0.001). */
  function credit(micros, currency) {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase(),
      minimumFractionDigits: 2, maximumFractionDigits: 6 }).format(micros / MICROS);
  }

  /** A pack's price, in the currency's minor unit as Stripe charges it. */
  function price(minor, currency) {
    const format = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() });
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  function packOption(pack, currency, index) {
    const label = document.createElement("label");
    label.className = "plan-option";
    const input = document.createElement("input");
    Object.assign(input, { type: "radio", name: "pack", value: pack.id, checked: index === 0 });
    const name = document.createElement("span");
    name.className = "plan-name";
    name.textContent = `${credit(pack.credit, currency)} of credit`;
    const cost = document.createElement("span");
    cost.className = "plan-price";
    cost.textContent = `for ${price(pack.price, currency)}`;
    label.append(input, name, cost);
    return label;
  }

  function entryItem(entry, currency) {
    const item = document.createElement("li");
    const what = document.createElement("span");
    const sign = entry.amount > 0 ? "+" : "−";
    what.textContent = `${KINDS[entry.kind] || entry.kind}: ${sign}${credit(Math.abs(entry.amount), currency)}`
      + (entry.note ? ` (${entry.note})` : "");
    const when = document.createElement("span");
    when.className = "key-state";
    when.textContent = moment.format(new Date(entry.at * 1000));
    item.append(what, when);
    return item;
  }

  function render(data) {
    const section = byId("credits");
    const credits = data.credits;
    section.hidden = !credits;
    if (!credits) return;
    const checked = document.querySelector('input[name="pack"]:checked');
    byId("credits-unit-price").textContent = credit(credits.unitPrice, credits.currency);
    byId("credits-balance").textContent = credit(credits.balance, credits.currency);
    byId("credits-packs").replaceChildren(...credits.packs.map((pack, index) => packOption(pack, credits.currency, index)));
    if (checked) {
      const again = document.querySelector(`input[name="pack"][value="${CSS.escape(checked.value)}"]`);
      if (again) again.checked = true;
    }
    byId("credits-entries").replaceChildren(...credits.entries.map((entry) => entryItem(entry, credits.currency)));
    byId("credits-empty").hidden = credits.entries.length > 0;
    if (returned && !shownReturn) {
      shownReturn = true;
      setStatus(byId("credits-status"), returned, returned === MESSAGES.paid ? "success" : "info");
      byId("credits-title").focus();
    }
  }

  async function buy(event) {
    event.preventDefault();
    const button = byId("credits-buy");
    const status = byId("credits-status");
    const chosen = document.querySelector('input[name="pack"]:checked');
    if (!chosen) {
      setStatus(status, MESSAGES.choosePack, "error");
      return;
    }
    setBusy(button, true);
    setStatus(status, MESSAGES.opening, "info");
    try {
      const answer = await request("/api/account/credits", { body: { pack: chosen.value } });
      if (answer.status === 401) {
        window.location.reload();  // the session ended: the page shows the sign-in form
        return;
      }
      if (answer.status === 200 && typeof answer.data.checkoutUrl === "string"
          && /^https?:\/\//.test(answer.data.checkoutUrl)) {
        window.location.assign(answer.data.checkoutUrl);  // the button stays busy while the browser leaves
        return;
      }
      const fields = answer.status === 400 && answer.data.fields ? answer.data.fields : {};
      byId("credits-pack-error").textContent = fields.pack || "";
      setStatus(status, answer.status === 409 && answer.data.error ? answer.data.error
        : fields.pack ? fields.pack : describeFailure(answer, MESSAGES), "error");
    } catch (failure) {
      setStatus(status, describeFailure(failure, MESSAGES), "error");
    }
    setBusy(button, false);
  }

  document.addEventListener("tollgate:account", (event) => render(event.detail));
  byId("credits-form").addEventListener("submit", buy);
})();
