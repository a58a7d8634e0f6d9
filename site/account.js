"use strict";

/*
 * The account page: sign in by emailed link, then plan, usage, keys and billing. Every call goes to
 * the site's own /api (served by CloudFront from the API, or by make dev's site server): the session
 * is an HttpOnly cookie the browser sends by itself, so no token is ever in reach of this script,
 * localStorage or sessionStorage. Server text is only written with textContent.
 */
(() => {
  const {
    byId, request, describeFailure: describe, showFieldErrors, setStatus, setBusy, bindCopy, fitToText, takeFragment,
    lookUpLink, askAboutLink,
  } = window.TollgatePage;

  const MESSAGES = Object.freeze({
    timeout: "The account service took too long to answer. Please try again in a minute.",
    unreachable: "We could not reach the account service. Check your internet connection and try again.",
    misconfigured: "Accounts are unavailable right now. Please try again later.",
    tooLarge: "That request is too large. Reload the page and try again.",
    throttled: "Too many requests from your network right now. Wait a few minutes, then try again.",
    serverError: "Something went wrong on our side and nothing changed. Please try again in a minute.",
    unexpected: "Something unexpected happened. Reload the page and try again.",
    enterEmail: "Enter the email you signed up with.",
    badEmail: "Enter an email address like name@example.com.",
    sending: "Sending your sign-in link…",
    checkingLink: "Checking your sign-in link…",
    signingIn: "Signing you in…",
    loading: "Loading your account…",
    linkUsed: "This sign-in link has expired or was already used. Enter your email below to get a new one.",
    sessionEnded: "Your session has ended. Enter your email below to get a new sign-in link.",
    signedOut: "You are signed out.",
    signedOutEverywhere: "You are signed out on every device and browser.",
    rotating: "Making your new key…",
    revoking: "Revoking the key…",
    openingPortal: "Opening Stripe's billing page…",
    changingPlan: "Changing your plan…",
    preparingEvidence: "Preparing the file of this period's calls…",
    cardFirst: "Your card is saved: your plan changes as soon as Stripe confirms it. Reload in a few seconds.",
    cardSkipped: "No card was added, so your plan did not change.",
    figuresUnavailable: "Some figures could not be read right now: reload the page in a minute.",
  });
  const STATUS_LABELS = Object.freeze({
    active: "Active",
    awaiting_payment_method: "Waiting for a payment method",
    suspended: "Suspended: your key is cut off",
    canceled: "Canceled",
  });
  const FIGURE_NAMES = Object.freeze({ amount: "the amount so far", usage: "the usage", quota: "the quota left" });
  const describeFailure = (failure) => describe(failure, MESSAGES);
  const api = (path, options = {}) => request(`/api/${path}`, options);
  const accountSections = ["overview", "credits", "spend", "plans", "keys", "session"];
  const plansReady = fetch("config.json", { cache: "no-store" })
    .then((response) => (response.ok ? response.json() : {}))
    .then((config) => (Array.isArray(config.plans) ? config.plans : []), () => []);
  let account = null;

  const dateFormat = new Intl.DateTimeFormat("en", { year: "numeric", month: "short", day: "numeric" });
  const dateTimeFormat = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });
  const planList = new Intl.ListFormat("en", { style: "long", type: "conjunction" });
  const day = (epoch) => dateFormat.format(new Date(epoch * 1000));
  const moment = (epoch) => dateTimeFormat.format(new Date(epoch * 1000));

  function money({ amount, currency }) {
    const format = new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() });
    return format.format(amount / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  function showNotice(message, kind) {
    const notice = byId("notice");
    notice.textContent = message;
    notice.dataset.kind = kind;
    notice.hidden = !message;
    if (message) notice.focus();
  }

  // ---- signed out: the sign-in form --------------------------------------------------------------

  const signinInput = byId("signin-email");
  const signinButton = byId("signin-submit");
  const signinStatus = byId("signin-status");

  function showSignIn(message = "", kind = "info") {
    account = null;
    for (const id of [...accountSections, "new-key"]) byId(id).hidden = true;
    byId("signin").hidden = false;
    showNotice(message, kind);
    if (!message) signinInput.focus();
  }

  byId("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (signinButton.disabled) return;
    const email = signinInput.value.trim();
    const problem = !email ? MESSAGES.enterEmail : /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? "" : MESSAGES.badEmail;
    if (showFieldErrors([signinInput], { email: problem })) return;
    setBusy(signinButton, true);
    setStatus(signinStatus, MESSAGES.sending, "info");
    try {
      const { status, data } = await api("signin", { body: { email } });
      if (status === 202) {
        setStatus(signinStatus, `We sent an email to ${email}. Open the link in it, on this device, to sign in.`,
          "success");
      } else if (status === 400 && data.fields && data.fields.email) {
        showFieldErrors([signinInput], { email: MESSAGES.badEmail });
        setStatus(signinStatus, MESSAGES.badEmail, "error");
      } else if (status === 429 && typeof data.error === "string") {
        setStatus(signinStatus, data.error, "error");
      } else {
        setStatus(signinStatus, describeFailure({ status }), "error");
      }
    } catch (failure) {
      setStatus(signinStatus, describeFailure(failure), "error");
    } finally {
      setBusy(signinButton, false);
    }
  });

  /** Opened from the email (`#signin=<token>`): first whose account it is (the link stays unused), then, only if
   *  the visitor says so, the session; "not my account" leaves this browser as it was (signed in or not). */
  async function openSignInLink(token) {
    showNotice(MESSAGES.checkingLink, "info");
    let link;
    try {
      link = await lookUpLink(token, "sign-in");
    } catch (failure) {
      showSignIn(describeFailure(failure), "error");
      return;
    }
    if (!link.email) {
      showSignIn(link.status === 410 ? MESSAGES.linkUsed : describeFailure(link), "error");
      return;
    }
    showNotice("", "info");
    if (await askAboutLink(link.email, `Continue as ${link.email}`)) {
      signIn(token);
    } else {
      showNotice(MESSAGES.loading, "info");
      loadAccount();
    }
  }

  /** The visitor's click on the link's card: the link's token opens a session (an HttpOnly cookie). */
  async function signIn(token) {
    showNotice(MESSAGES.signingIn, "info");
    try {
      const { status } = await api("signin/confirm", { body: { token } });
      if (status === 200) {
        await loadAccount();
        return;
      }
      showSignIn(status === 410 ? MESSAGES.linkUsed : describeFailure({ status }), "error");
    } catch (failure) {
      showSignIn(describeFailure(failure), "error");
    }
  }

  // ---- signed in: the account --------------------------------------------------------------------

  /** Loads and shows the account; a missing or ended session shows the sign-in form instead. */
  async function loadAccount(focusOnLoad = true) {
    try {
      const { status, data } = await api("account", { method: "GET" });
      if (status === 401) {
        showSignIn();
        return;
      }
      if (status !== 200) {
        showSignIn(describeFailure({ status }), "error");
        return;
      }
      await render(data);
      if (focusOnLoad) {
        byId("notice").hidden = true;
        byId("overview-title").focus();
      }
    } catch (failure) {
      showSignIn(describeFailure(failure), "error");
    }
  }

  function render(data) {
    account = data;
    byId("signin").hidden = true;
    for (const id of accountSections) byId(id).hidden = false;
    byId("account-email").textContent = data.email;
    byId("account-plan").textContent = data.plan.name;
    byId("account-status").textContent = STATUS_LABELS[data.status] || data.status;
    const reason = byId("account-reason");
    reason.hidden = !data.cutOffReason;
    reason.textContent = data.cutOffReason
      ? `${data.cutOffReason} Use "Manage billing" to update your payment method: your key works again once the invoice is paid.`
      : "";
    const unknown = "Not available right now";
    byId("account-period").textContent = data.period ? `${day(data.period.start)} to ${day(data.period.end)}` : unknown;
    const ending = data.endingSubscription;
    byId("account-calls").textContent = typeof data.billableCalls === "number" ? data.billableCalls.toLocaleString("en")
      : data.plan.free && !ending ? "None: calls on the free plan are not billed" : unknown;
    byId("account-quota").textContent = data.quota
      ? `${(data.quota.limit - data.quota.left).toLocaleString("en")} used, ${data.quota.left.toLocaleString("en")} left `
        + `of ${data.quota.limit.toLocaleString("en")} calls this ${data.plan.quotaPeriod.toLowerCase()}` : unknown;
    byId("account-amount").textContent = ending ? stillBilled(ending, data, unknown)
      : data.plan.free ? "Nothing to pay on the free plan" : data.amountDue ? money(data.amountDue) : unknown;
    const missing = (data.unavailable || []).map((figure) => FIGURE_NAMES[figure] || figure);
    const unavailable = byId("account-unavailable");
    unavailable.hidden = missing.length === 0;
    unavailable.textContent = missing.length ? `${MESSAGES.figuresUnavailable} (${missing.join(", ")})` : "";
    renderKeys(data.keys || []);
    document.dispatchEvent(new CustomEvent("tollgate:account", { detail: data }));  // spend.js draws its section
    byId("rotate-key").disabled = data.status === "canceled";
    return renderPlans(data);
  }

  /** Paid -> free in this period: the subscription's final invoice still bills the paid calls made before the change. */
  function stillBilled(ending, data, unknown) {
    if (!data.amountDue || !data.period) return unknown;
    const plans = ending.paidPlans.map((plan) => plan.name);
    const on = plans.length ? ` on ${planList.format(plans)}` : "";
    return `Stripe will still bill ${money(data.amountDue)} for this period's calls${on}, on ${day(data.period.end)}`;
  }

  function keyState(key) {
    if (key.current) return `Active (current key), created ${day(key.createdAt)}`;
    if (key.state === "rotating_out") return `Still works until ${moment(key.until)}, created ${day(key.createdAt)}`;
    if (key.state === "revoked") return `Revoked ${day(key.until)}`;
    if (key.state === "deleted") return `Retired ${day(key.until)}`;
    return key.state;
  }

  function renderKeys(keys) {
    const list = byId("key-list");
    list.replaceChildren(...keys.map((key) => {
      const item = document.createElement("li");
      const text = document.createElement("div");
      const id = document.createElement("code");
      id.textContent = key.id;
      const state = document.createElement("div");
      state.className = "key-state";
      state.textContent = keyState(key);
      text.append(id, state);
      item.append(text);
      if (key.state === "rotating_out") {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "button small";
        revoke.textContent = "Revoke now";
        revoke.setAttribute("aria-label", `Revoke now: key ${key.id}`);
        revoke.addEventListener("click", () => revokeKey(key.id, revoke));
        item.append(revoke);
      }
      return item;
    }));
  }

  /** Runs an account action; a 401 means the session ended: back to the sign-in form. The server's own sentence
   *  is shown for a 409 (why it cannot be done) and for the other statuses in `explained`. */
  async function act(path, body, button, statusElement, working, explained = [409]) {
    setBusy(button, true);
    setStatus(statusElement, working, "info");
    try {
      const answer = await api(path, { body });
      if (answer.status === 401) {
        showSignIn(MESSAGES.sessionEnded, "error");
        return null;
      }
      if (answer.status >= 200 && answer.status < 300) {
        setStatus(statusElement, "", "info");
        return answer.data;
      }
      const serverSays = explained.includes(answer.status) && typeof answer.data.error === "string";
      setStatus(statusElement, serverSays ? answer.data.error : describeFailure({ status: answer.status }), "error");
    } catch (failure) {
      setStatus(statusElement, describeFailure(failure), "error");
    } finally {
      setBusy(button, false);
    }
    return null;
  }

  // ---- plans ---------------------------------------------------------------------------------

  /** One line per other plan, with its price text and a button to switch to it. */
  async function renderPlans(data) {
    const plans = await plansReady;
    const others = plans.filter((plan) => plan.id !== data.plan.id);
    byId("plans").hidden = others.length === 0 || data.status !== "active";
    const pending = plans.find((plan) => plan.id === data.pendingPlan);
    byId("plan-pending").hidden = !pending;
    byId("plan-pending").textContent = pending
      ? `Waiting for a card to move to the ${pending.name} plan: choose it again to add one.` : "";
    byId("plan-list").replaceChildren(...others.map((plan) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = `${plan.name}: ${plan.priceText}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = `Switch to ${plan.name}`;
      button.addEventListener("click", () => changePlan(plan, button));
      item.append(text, button);
      return item;
    }));
  }

  async function changePlan(plan, button) {
    const changed = await act("account/plan", { plan: plan.id }, button, byId("plans-status"), MESSAGES.changingPlan);
    if (!changed) return;
    if (typeof changed.checkoutUrl === "string" && /^https?:\/\//.test(changed.checkoutUrl)) {
      setBusy(button, true);
      window.location.assign(changed.checkoutUrl);
      return;
    }
    await loadAccount(false);
    setStatus(byId("plans-status"), `You are on the ${plan.name} plan now. Your API key is the same.`, "success");
    byId("plans-title").focus();
  }

  /** Back from Checkout (a plan that needs a card): say what happened, without the query in the address. */
  function checkoutReturn() {
    const outcome = new URLSearchParams(window.location.search).get("checkout");
    if (!outcome) return null;
    window.history.replaceState(null, "", window.location.pathname);
    return outcome === "success" ? MESSAGES.cardFirst : MESSAGES.cardSkipped;
  }

  const newKeyValue = byId("new-key-value");

  byId("rotate-key").addEventListener("click", async (event) => {
    const rotated = await act("account/keys/rotate", {}, event.currentTarget, byId("keys-status"), MESSAGES.rotating);
    if (!rotated) return;
    await loadAccount(false);
    newKeyValue.value = rotated.apikey;
    byId("new-key-id").textContent = rotated.keyId;
    const previous = (account && account.keys || []).find((key) => key.id === rotated.rotatingOut);
    byId("new-key-overlap").textContent = previous
      ? `Your previous key (${previous.id}) keeps working until ${moment(previous.until)}, so you can switch without `
        + "downtime. If it leaked, revoke it now in the list below."
      : "";
    byId("new-key").hidden = false;
    fitToText(newKeyValue);
    byId("new-key-title").focus();
  });

  async function revokeKey(keyId, button) {
    if (await act("account/keys/revoke", { keyId }, button, byId("keys-status"), MESSAGES.revoking)) {
      await loadAccount(false);
      setStatus(byId("keys-status"), `Key ${keyId} is revoked: it no longer works.`, "success");
      byId("keys-title").focus();
    }
  }

  const manageBilling = byId("manage-billing");
  manageBilling.addEventListener("click", async () => {
    // 503 when the owner has not set billing management up yet: the server says so (and alerts the owner).
    const portal = await act("account/billing-portal", {}, manageBilling, byId("billing-status"),
      MESSAGES.openingPortal, [409, 503]);
    if (portal && typeof portal.url === "string" && /^https?:\/\//.test(portal.url)) {
      setBusy(manageBilling, true);
      window.location.assign(portal.url);
    }
  });

  /** The period's file is made on request and offered by a short-lived link that downloads it (an attachment):
   *  opening it starts the download and leaves this page as it is. */
  const downloadEvidence = byId("download-evidence");
  downloadEvidence.addEventListener("click", async () => {
    const status = byId("evidence-status");
    const evidence = await act("account/evidence", {}, downloadEvidence, status, MESSAGES.preparingEvidence);
    if (!evidence || typeof evidence.url !== "string" || !/^https?:\/\//.test(evidence.url)) return;
    const calls = `${evidence.rows.toLocaleString("en")} billed call${evidence.rows === 1 ? "" : "s"}`;
    setStatus(status, `Your download has started: ${calls} from ${day(evidence.period.start)} to `
      + `${day(evidence.period.end)}.`, "success");
    window.location.assign(evidence.url);
  });

  for (const [id, everywhere] of [["sign-out", false], ["sign-out-everywhere", true]]) {
    byId(id).addEventListener("click", async (event) => {
      if (await act("signout", { everywhere }, event.currentTarget, byId("session-status"), "")) {
        showSignIn(everywhere ? MESSAGES.signedOutEverywhere : MESSAGES.signedOut, "success");
      }
    });
  }

  bindCopy(byId("copy-new-key"), () => newKeyValue.value, byId("copy-new-key-status"), newKeyValue);
  window.addEventListener("resize", () => {
    if (!byId("new-key").hidden) fitToText(newKeyValue);
  });

  const token = takeFragment("signin");
  const returned = checkoutReturn();
  if (token) {
    openSignInLink(token);
  } else {
    showNotice(MESSAGES.loading, "info");
    loadAccount(!returned).then(() => {
      if (returned && account) setStatus(byId("plans-status"), returned, "info");
    });
  }
})();
