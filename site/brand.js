"use strict";

/*
 * The owner's brand on every page (config.json's "brand", from the cdk.json settings): product name in
 * the header and the tab title, the logo, the terms / privacy / support links in the footer, and the
 * accent colour. The accent is applied as CSS custom properties from script (style.setProperty, which
 * style-src 'self' allows), with the colours around it derived so every text stays at WCAG AA contrast
 * (4.5:1) whatever colour the owner picks, in the light and the dark theme alike.
 * WCAG's definitions: https://www.w3.org/TR/WCAG21/#dfn-relative-luminance and #dfn-contrast-ratio.
 * Once the accent is applied for the current colour scheme, <html data-accent-scheme="light|dark"> says
 * for which one: the accent follows a scheme change a moment later (the media query's change event), and
 * whoever checks the colours (the browser tests) waits for the marker to name the scheme it switched to.
 */
window.TollgateBrand = (() => {
  const AA_TEXT = 4.5;
  const AA_NON_TEXT = 3;  // a control's edge against what surrounds it (WCAG 2.1, 1.4.11)
  const BLACK = "#000000";
  const WHITE = "#ffffff";
  // What links and accent-coloured text sit on (styles.css declares them per theme).
  const PAGE_BACKGROUNDS = ["--bg", "--surface", "--surface-sunken"];
  const HOVER_SHADE = 0.15;  // how far the hovered button moves from the accent, away from its text
  const DARK_SCHEME = window.matchMedia("(prefers-color-scheme: dark)");

  /** [r, g, b] (0-255) of "#rgb" or "#rrggbb", or null for anything else. */
  function parseHex(color) {
    const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(color).trim());
    if (!match) return null;
    const digits = match[1].length === 3 ? match[1].replace(/./g, "$&$&") : match[1];
    return [0, 2, 4].map((at) => parseInt(digits.slice(at, at + 2), 16));
  }

  function toHex(rgb) {
    return `#${rgb.map((channel) => Math.round(channel).toString(16).padStart(2, "0")).join("")}`;
  }

  /** WCAG relative luminance, 0 (black) to 1 (white). */
  function luminance(color) {
    const [r, g, b] = parseHex(color).map((channel) => {
      const value = channel / 255;
      return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  /** WCAG contrast ratio of two colours, 1 to 21, whichever order they come in. */
  function contrastRatio(first, second) {
    const [lighter, darker] = [luminance(first), luminance(second)].sort((a, b) => b - a);
    return (lighter + 0.05) / (darker + 0.05);
  }

  /** Black or white, whichever reads better on `background` (at least 4.58:1 either way). */
  function textOn(background) {
    return contrastRatio(BLACK, background) >= contrastRatio(WHITE, background) ? BLACK : WHITE;
  }

  /** `from` moved the fraction `amount` of the way to `to`, channel by channel. */
  function mix(from, to, amount) {
    const [a, b] = [parseHex(from), parseHex(to)];
    return toHex(a.map((channel, index) => channel + (b[index] - channel) * amount));
  }

  const worstContrast = (color, backgrounds) => Math.min(...backgrounds.map((bg) => contrastRatio(color, bg)));

  /** `color` itself when it reads at `minimum` on every background, else the least darkened (or, on dark
   *  backgrounds, lightened) shade of it that does: the brand's hue, kept as close as contrast allows. */
  function readableOn(color, backgrounds, minimum = AA_TEXT) {
    const target = worstContrast(BLACK, backgrounds) >= worstContrast(WHITE, backgrounds) ? BLACK : WHITE;
    for (let step = 0; step <= 50; step += 1) {
      const shade = mix(color, target, step / 50);
      if (worstContrast(shade, backgrounds) >= minimum) return shade;
    }
    return target;
  }

  /** The custom properties styles.css reads for the accent, on the page backgrounds of the current theme. */
  function accentPalette(accent, backgrounds) {
    const onAccent = textOn(accent);
    return {
      "--accent": accent,
      "--accent-text": onAccent,
      "--accent-strong": mix(accent, onAccent === WHITE ? BLACK : WHITE, HOVER_SHADE),
      "--link": readableOn(accent, backgrounds),
      "--accent-edge": readableOn(accent, backgrounds, AA_NON_TEXT),
    };
  }

  function currentBackgrounds() {
    const style = getComputedStyle(document.documentElement);
    return PAGE_BACKGROUNDS.map((name) => style.getPropertyValue(name).trim()).filter((value) => parseHex(value));
  }

  function applyAccent(accent) {
    const root = document.documentElement.style;
    for (const name of Object.keys(accentPalette(accent, []))) root.removeProperty(name);  // read the theme's own
    for (const [name, value] of Object.entries(accentPalette(accent, currentBackgrounds()))) {
      root.setProperty(name, value);
    }
    document.documentElement.dataset.accentScheme = DARK_SCHEME.matches ? "dark" : "light";
  }

  function showLink(id, href, text) {
    const link = document.getElementById(id);
    if (!href) return false;
    link.href = href;
    if (text) link.textContent = text;
    link.hidden = false;
    return true;
  }

  /** Everything of the brand a page shows; the page's own title stays first in the tab's. */
  function show(brand) {
    const name = String(brand.productName || "");
    document.getElementById("brand-name").textContent = name;
    document.title = `${document.title} · ${name}`;
    if (typeof brand.logo === "string" && brand.logo) {
      const logo = document.getElementById("brand-logo");
      logo.src = brand.logo;
      logo.hidden = false;
      document.getElementById("brand-mark").hidden = true;
    }
    document.getElementById("brand-home").hidden = false;
    const email = typeof brand.supportUrl === "string" && brand.supportUrl.startsWith("mailto:");
    const shown = [
      showLink("terms-link", brand.termsUrl),
      showLink("privacy-link", brand.privacyUrl),
      showLink("support-link", brand.supportUrl, email ? `Support: ${brand.supportLabel}` : ""),
    ];
    document.getElementById("brand-links").hidden = !shown.includes(true);
    if (parseHex(brand.accentColor)) {
      applyAccent(brand.accentColor);
      DARK_SCHEME.addEventListener("change", () => applyAccent(brand.accentColor));
    }
  }

  const ready = fetch("config.json", { cache: "no-cache" })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`config.json: HTTP ${response.status}`))))
    .then((config) => show(config.brand || {}))
    .catch((error) => console.error(error));

  return Object.freeze({ contrastRatio, textOn, readableOn, accentPalette, ready });
})();
