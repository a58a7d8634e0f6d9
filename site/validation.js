"use strict";

/*
 * The sign-up form's checks: the same rules and limits as lambda_src/tollgate/domain/validation.py,
 * so most mistakes are caught before a round trip (the server stays the authority, and its 400
 * messages are shown too). tests/site/test_validation_parity.py runs both on one table of inputs,
 * so the two cannot drift apart unnoticed. Each check returns "" or a sentence for the customer.
 */
window.TollgateValidation = (() => {
  const LIMITS = Object.freeze({ emailMax: 254, emailLocalMax: 64, nameMax: 100 });
  const EMAIL_LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
  const DOMAIN_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  const TOP_LEVEL_DOMAIN = /^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]{1,59}$/;
  const NON_ASCII = /[^\u0000-\u007f]/;
  // Format characters are refused except the two joiners real names use (U+200C ZWNJ: Persian,
  // Indic scripts; U+200D ZWJ: Indic conjuncts, emoji sequences), as on the server.
  const INVISIBLE_CHARS = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

  function validateName(value, label) {
    if (!value) return `Enter your ${label}.`;
    if ([...value].length > LIMITS.nameMax) return `Use at most ${LIMITS.nameMax} characters.`;
    if (INVISIBLE_CHARS.test(value)) return "Remove the invisible or control characters.";
    return "";
  }

  function validateEmail(value) {
    if (!value) return "Enter your email address.";
    if (value.length > LIMITS.emailMax) return `Use at most ${LIMITS.emailMax} characters.`;
    const at = value.lastIndexOf("@");
    const local = value.slice(0, Math.max(at, 0));
    const labels = value.slice(at + 1).split(".");
    if (NON_ASCII.test(value) || at < 1 || at === value.length - 1) {
      return "Enter an email address like name@example.com.";
    }
    if (local.length > LIMITS.emailLocalMax || !EMAIL_LOCAL_PART.test(local)) {
      return "Check the part before the @: it is not a valid email address.";
    }
    if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))
        || !TOP_LEVEL_DOMAIN.test(labels[labels.length - 1])) {
      return "Check the part after the @: it is not a valid domain.";
    }
    return "";
  }

  /** {field: message} for the sign-up values (already trimmed); empty when all are valid. */
  function validateSignup(values) {
    const checks = {
      email: validateEmail(values.email),
      firstname: validateName(values.firstname, "first name"),
      lastname: validateName(values.lastname, "last name"),
    };
    return Object.fromEntries(Object.entries(checks).filter(([, message]) => message));
  }

  return Object.freeze({ LIMITS, validateEmail, validateName, validateSignup });
})();
