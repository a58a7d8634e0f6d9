"use strict";

/*
 * What the signup page and the account page share: calling the API (JSON in and out, a timeout, a
 * sentence for every failure), form errors and statuses, busy buttons, copying, and sizing the
 * key's box. Both pages run under a strict CSP (script-src 'self'): no inline code, and server text
 * is only ever written with textContent / value, never parsed as HTML.
 */
window.TollgatePage = (() => {
  const REQUEST_TIMEOUT_MS = 20000;

  class NetworkError extends Error {}
  class TimeoutError extends Error {}

  const byId = (id) => document.getElementById(id);

  /** One JSON request to the site's own `/api/...` (CloudFront sends it to the API; the pages call no
   *  other origin, and "same-origin" mode makes the browser refuse if one ever tried); resolves to
   *  {status, data} for any HTTP answer. The session cookie is HttpOnly: the browser sends it, no
   *  script ever sees it. */
  async function request(url, { method = "POST", body, headers = {} } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, {
        method,
        mode: "same-origin",
        credentials: "same-origin",
        headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      throw controller.signal.aborted ? new TimeoutError() : new NetworkError(String(error));
    } finally {
      clearTimeout(timer);
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    return { status: response.status, data: data && typeof data === "object" ? data : {} };
  }

  /** The customer-facing sentence (from `messages`) for a failed call that has no field-level detail. */
  function describeFailure(failure, messages) {
    if (failure instanceof TimeoutError) return messages.timeout;
    if (failure instanceof NetworkError) return messages.unreachable;
    if (failure instanceof Error) return messages.misconfigured;
    if (failure.status === 413) return messages.tooLarge;
    if (failure.status === 429) return messages.throttled;
    if (failure.status >= 500) return messages.serverError;
    return messages.unexpected;
  }

  function setFieldError(input, message) {
    const error = byId(`${input.id}-error`);
    error.textContent = message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  /** Shows `errors` ({field name: message}) on `inputs`, clears the others, focuses the first bad one. */
  function showFieldErrors(inputs, errors) {
    let first = null;
    for (const input of inputs) {
      const message = errors[input.name] || "";
      setFieldError(input, message);
      if (message && !first) first = input;
    }
    if (first) first.focus();
    return first !== null;
  }

  function setStatus(element, message, kind = "info") {
    element.textContent = message;
    element.dataset.kind = kind;
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.setAttribute("aria-busy", String(busy));
  }

  async function copyText(text, sourceInput) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // Permission denied or unfocused document: fall back to a selection copy below.
      }
    }
    if (!sourceInput) return false;
    sourceInput.focus();
    sourceInput.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }

  const COPIED = "Copied to the clipboard.";
  const COPY_FAILED = "Copying failed: select the text and press Ctrl+C (⌘+C on a Mac).";

  function bindCopy(button, getText, statusElement, selectable) {
    button.addEventListener("click", async () => {
      const ok = await copyText(getText(), selectable);
      setStatus(statusElement, ok ? COPIED : COPY_FAILED, ok ? "success" : "error");
    });
  }

  /** As tall as its text (measured once visible), so the whole key shows at any width. */
  function fitToText(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight + textarea.offsetHeight - textarea.clientHeight}px`;
  }

  /** The value of `name` in the URL fragment (`#name=value`), removed from the address bar at once so
   *  the token is neither kept in the history nor shown; null when absent. */
  function takeFragment(name) {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const value = fragment.get(name);
    if (value !== null) window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return value;
  }

  /** Whose emailed link `token` is, read from the site's own /api/link without using the link: {email} for a
   *  live link of `kind` ("sign-up" or "sign-in"), else {status} (410: unknown, expired, used or meant for the
   *  other page). Opening a link never acts by itself: the page names the address and waits for a click, so a
   *  link to someone else's account, mailed to you, cannot sign your browser in to it (login CSRF). */
  async function lookUpLink(token, kind) {
    const { status, data } = await request("/api/link", { body: { token } });
    if (status === 200 && data.kind === kind && typeof data.email === "string") return { email: data.email };
    return { status: status === 200 ? 410 : status };
  }

  /** Shows the page's link card naming `email`, its main button saying `label`; resolves true when that
   *  button is clicked, false on "not me". The card is hidden again either way. */
  function askAboutLink(email, label) {
    const card = byId("link-card");
    byId("link-email").textContent = email;
    byId("link-continue-label").textContent = label;
    card.hidden = false;
    byId("link-card-title").focus();
    return new Promise((resolve) => {
      const answered = new AbortController();
      const answer = (choice) => () => {
        answered.abort();
        card.hidden = true;
        resolve(choice);
      };
      byId("link-continue").addEventListener("click", answer(true), { signal: answered.signal });
      byId("link-not-me").addEventListener("click", answer(false), { signal: answered.signal });
    });
  }

  return Object.freeze({
    NetworkError, TimeoutError, byId, request, describeFailure, setFieldError, showFieldErrors, setStatus,
    setBusy, bindCopy, fitToText, takeFragment, lookUpLink, askAboutLink,
  });
})();
