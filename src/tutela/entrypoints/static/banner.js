/*! Tutela cookie banner. Licensed under the Apache License 2.0.
 *
 * Embed:   <script src="https://tutela.example/consent/acme/banner.js" defer></script>
 * Options: data-lang="de" on that tag (else <html lang>, else the browser's languages).
 * API:     window.tutelaConsent = {visitorId, choices, onChange(cb), open()}
 *          <script type="text/plain" data-tutela-purpose="KEY" ...> runs once KEY is granted;
 *          any element with data-tutela-open reopens the banner when clicked.
 * It talks to nobody but the Tutela that served it; nothing is stored before a choice.
 */
(function () {
  "use strict";
  if (window.tutelaConsent) return;
  var script = document.currentScript || document.querySelector('script[src*="/banner.js"]');
  if (!script || !window.fetch) return;
  var base = script.src.replace(/banner\.js(?:[?#].*)?$/, "");
  var STORE = "tutela:" + base;
  var P = "tutela-cb";
  var ID = /^[0-9a-f]{32}$/;
  var gpc = navigator.globalPrivacyControl === true;
  var listeners = [];
  var waiting = [];
  var banner = null;
  var state = load();
  var root = null;
  var dialog = null;
  var switches = {};
  var lastFocus = null;

  var CSS = [
    ".tutela-cb{position:fixed;inset:0;z-index:2147483000;display:flex;align-items:flex-end;",
    "justify-content:center;padding:16px;background:rgba(17,24,39,.5);color:#111827;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;",
    "text-align:left}",
    ".tutela-cb *,.tutela-cb *::before,.tutela-cb *::after{box-sizing:border-box}",
    ".tutela-cb-dialog{background:#fff;width:100%;max-width:640px;max-height:calc(100vh - 32px);",
    "overflow:auto;border-radius:12px;padding:20px 20px 16px;box-shadow:0 12px 40px rgba(0,0,0,.3)}",
    ".tutela-cb-dialog:focus{outline:none}",
    ".tutela-cb-title{font-size:1.25em;font-weight:650;line-height:1.3;margin:0 0 8px}",
    ".tutela-cb-intro{margin:0 0 12px}",
    ".tutela-cb a{color:#1d4ed8;text-decoration:underline}",
    ".tutela-cb-gpc{margin:0 0 12px;padding:8px 12px;border:1px solid #059669;",
    "border-radius:8px;background:#ecfdf5}",
    ".tutela-cb-cats{list-style:none;margin:0 0 16px;padding:0}",
    ".tutela-cb-cat{border-top:1px solid #e5e7eb;padding:10px 0}",
    ".tutela-cb-head{display:flex;align-items:center;justify-content:space-between;gap:16px;",
    "font-weight:600}",
    ".tutela-cb-desc{margin:4px 0;color:#374151;font-size:.93em}",
    ".tutela-cb-details{margin-top:4px;font-size:.9em;color:#374151}",
    ".tutela-cb-details summary{cursor:pointer;width:max-content}",
    ".tutela-cb-cookies{margin:4px 0 0;padding-left:20px}",
    ".tutela-cb-cookies code{font-weight:600}",
    ".tutela-cb-switch{position:relative;flex:none;width:44px;height:24px;margin:0;padding:0;",
    "border:2px solid #4b5563;border-radius:12px;background:#e5e7eb;cursor:pointer}",
    ".tutela-cb-switch::after{content:'';position:absolute;top:2px;left:2px;width:16px;",
    "height:16px;border-radius:50%;background:#4b5563;transition:transform .15s}",
    ".tutela-cb-switch[aria-checked=true]{border-color:#1d4ed8;background:#1d4ed8}",
    ".tutela-cb-switch[aria-checked=true]::after{transform:translateX(20px);background:#fff}",
    ".tutela-cb-switch:disabled{opacity:.45;cursor:not-allowed}",
    ".tutela-cb button:focus-visible,.tutela-cb a:focus-visible,.tutela-cb summary:focus-visible",
    "{outline:3px solid #d97706;outline-offset:2px}",
    ".tutela-cb-actions{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}",
    ".tutela-cb-btn{margin:0;min-height:44px;padding:8px 12px;border:2px solid #1f2937;",
    "border-radius:8px;background:#1f2937;color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".tutela-cb-btn:hover{background:#374151;border-color:#374151}",
    "@media (max-width:480px){.tutela-cb-actions{grid-template-columns:1fr}}",
    "@media (prefers-reduced-motion:reduce){.tutela-cb-switch::after{transition:none}}"
  ].join("");

  // -- state ------------------------------------------------------------------------------

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORE) || "null");
      if (saved && ID.test(saved.id) && saved.choices && typeof saved.choices === "object") {
        return saved;
      }
    } catch (e) { /* storage blocked: remember for this page only */ }
    return { id: null, choices: {}, pending: null };
  }

  function persist() {
    try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* see load */ }
  }

  function newId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function copy() {
    var out = {};
    Object.keys(state.choices).forEach(function (k) { out[k] = state.choices[k]; });
    return out;
  }

  function asked() {
    var keys = [];
    banner.categories.forEach(function (c) {
      if (!c.always_on) c.purposes.forEach(function (p) { keys.push(p.key); });
    });
    return keys;
  }

  function forced() { return gpc ? banner.gpc_purposes : []; }

  function undecided() {
    return asked().some(function (k) {
      return forced().indexOf(k) < 0 && typeof state.choices[k] !== "boolean";
    });
  }

  function send(choices, method) {
    if (!ID.test(state.id || "")) state.id = newId();
    forced().forEach(function (k) { choices[k] = false; });
    Object.keys(choices).forEach(function (k) { state.choices[k] = choices[k]; });
    var known = asked().concat(banner.gpc_purposes);
    var body = {};
    Object.keys(state.choices).forEach(function (k) {
      if (known.indexOf(k) >= 0) body[k] = state.choices[k];
    });
    state.pending = method;
    persist();
    notify();
    fetch(base + "visitor", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        visitor_id: state.id, choices: body, language: banner.language, gpc: gpc, method: method
      })
    }).then(function (response) {
      if (response.ok) return response.json();
      if (response.status < 500) state.pending = null;  // sending it again would not help
      persist();
      return null;
    }).then(function (saved) {
      if (!saved) return;
      var before = JSON.stringify(copy());
      Object.keys(saved.choices).forEach(function (k) { state.choices[k] = saved.choices[k]; });
      state.pending = null;
      persist();
      if (JSON.stringify(copy()) !== before) notify();
    }, function () { /* offline: kept and sent again on the next page */ });
  }

  function notify() {
    var choices = copy();
    listeners.forEach(function (cb) {
      try { cb(choices); } catch (e) { setTimeout(function () { throw e; }); }
    });
    document.dispatchEvent(new CustomEvent("tutela:consent", { detail: choices }));
    activate();
  }

  function activate() {
    var held = document.querySelectorAll('script[type="text/plain"][data-tutela-purpose]');
    Array.prototype.forEach.call(held, function (old) {
      var keys = old.getAttribute("data-tutela-purpose").split(/[\s,]+/).filter(Boolean);
      if (!keys.length || !keys.every(function (k) { return state.choices[k] === true; })) return;
      var live = document.createElement("script");
      Array.prototype.forEach.call(old.attributes, function (a) {
        if (a.name !== "type" && a.name !== "data-tutela-purpose") live.setAttribute(a.name, a.value);
      });
      if (old.nonce) live.nonce = old.nonce;
      live.text = old.text;
      old.parentNode.replaceChild(live, old);
    });
  }

  // -- the dialog -------------------------------------------------------------------------

  function el(tag, name, text) {
    var node = document.createElement(tag);
    if (name) node.className = P + "-" + name;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function lifetime(cookie) {
    if (!cookie.lifetime) return banner.texts.session;
    var parts = Object.keys(cookie.lifetime).map(function (unit) {
      var n = cookie.lifetime[unit];
      try {
        return new Intl.NumberFormat(banner.language, {
          style: "unit", unit: unit.replace(/s$/, ""), unitDisplay: "long"
        }).format(n);
      } catch (e) { return n + " " + unit; }
    });
    return parts.join(" ") || cookie.expires;
  }

  function category(c) {
    var t = banner.texts;
    var item = el("li", "cat");
    var head = el("div", "head");
    var name = el("span", "name", c.always_on ? t.always_on : c.name);
    name.id = P + "-cat-" + c.key;
    head.appendChild(name);
    if (!c.always_on) {
      var sw = el("button", "switch");
      sw.type = "button";
      sw.setAttribute("role", "switch");
      sw.setAttribute("aria-labelledby", name.id);
      var on = c.purposes.every(function (p) { return state.choices[p.key] === true; });
      if (c.gpc && gpc) {
        on = false;
        sw.disabled = true;
        sw.setAttribute("aria-describedby", P + "-gpc");
      }
      sw.setAttribute("aria-checked", String(on));
      switches[c.key] = sw;
      head.appendChild(sw);
    }
    item.appendChild(head);
    var cookies = [];
    c.purposes.forEach(function (p) {
      if (p.description) item.appendChild(el("p", "desc", p.description));
      cookies = cookies.concat(p.cookies);
    });
    var details = el("details", "details");
    details.appendChild(el("summary", null, t.cookies + " (" + cookies.length + ")"));
    var list = el("ul", "cookies");
    cookies.forEach(function (k) {
      var line = el("li");
      line.appendChild(el("code", null, k.name));
      line.appendChild(document.createTextNode(
        " · " + t[k.party] + " · " + t.expires + ": " + lifetime(k)
      ));
      if (k.description) line.appendChild(el("div", null, k.description));
      list.appendChild(line);
    });
    details.appendChild(list);
    item.appendChild(details);
    return item;
  }

  function build() {
    var t = banner.texts;
    root = el("div");
    root.className = P;
    root.setAttribute("lang", banner.language);
    dialog = el("div", "dialog");
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", P + "-title");
    dialog.setAttribute("aria-describedby", P + "-intro");
    dialog.tabIndex = -1;
    var title = el("h2", "title", t.title);
    title.id = P + "-title";
    var intro = el("p", "intro", t.intro + " ");
    intro.id = P + "-intro";
    if (banner.policy_url) {
      var link = el("a", null, t.policy);
      link.href = banner.policy_url;
      link.target = "_blank";
      link.rel = "noopener";
      intro.appendChild(link);
    }
    dialog.appendChild(title);
    dialog.appendChild(intro);
    if (gpc && banner.gpc_purposes.length) {
      var note = el("p", "gpc", t.gpc_applied);
      note.id = P + "-gpc";
      note.setAttribute("role", "status");
      dialog.appendChild(note);
    }
    var cats = el("ul", "cats");
    switches = {};
    banner.categories.forEach(function (c) { cats.appendChild(category(c)); });
    dialog.appendChild(cats);
    var actions = el("div", "actions");
    [["accept", t.accept_all], ["reject", t.reject_all], ["save", t.save]].forEach(function (b) {
      var button = el("button", "btn", b[1]);
      button.type = "button";
      button.setAttribute("data-action", b[0]);
      actions.appendChild(button);
    });
    dialog.appendChild(actions);
    root.appendChild(dialog);
    root.addEventListener("click", onClick);
    root.addEventListener("keydown", onKey);
  }

  function onClick(event) {
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button || !root || !root.contains(button)) return;
    if (button.getAttribute("role") === "switch") {
      var on = button.getAttribute("aria-checked") !== "true";
      button.setAttribute("aria-checked", String(on));
      return;
    }
    var action = button.getAttribute("data-action");
    if (!action) return;
    var choices = {};
    banner.categories.forEach(function (c) {
      if (c.always_on) return;
      var on = action === "accept" ||
        (action === "save" && switches[c.key].getAttribute("aria-checked") === "true");
      c.purposes.forEach(function (p) { choices[p.key] = on; });
    });
    close();
    send(choices, "cookie_banner");
  }

  function focusables() {
    var nodes = dialog.querySelectorAll("button, a[href], summary, [tabindex]:not([tabindex='-1'])");
    return Array.prototype.filter.call(nodes, function (n) {
      return !n.disabled && n.getClientRects().length > 0;
    });
  }

  function onKey(event) {
    if (event.key === "Escape" || event.key === "Esc") {
      if (!undecided()) {  // a first choice must be made; afterwards Escape just closes
        event.preventDefault();
        close();
      }
      return;
    }
    if (event.key !== "Tab") return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    var active = document.activeElement;
    if (event.shiftKey && (active === first || active === dialog)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }

  function keepFocus(event) {
    if (root && !root.contains(event.target)) dialog.focus();
  }

  function show() {
    if (root) return;
    lastFocus = document.activeElement;
    build();
    document.body.appendChild(root);
    document.addEventListener("focusin", keepFocus);
    dialog.focus();
  }

  function close() {
    if (!root) return;
    document.removeEventListener("focusin", keepFocus);
    root.parentNode.removeChild(root);
    root = null;
    if (lastFocus && lastFocus.focus && document.contains(lastFocus)) lastFocus.focus();
  }

  function style() {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
      return;
    } catch (e) { /* no constructable style sheets: fall back to a <style> element */ }
    var node = document.createElement("style");
    if (script.nonce) node.nonce = script.nonce;
    node.textContent = CSS;
    document.head.appendChild(node);
  }

  // -- start ------------------------------------------------------------------------------

  function start() {
    var lang = script.getAttribute("data-lang") || document.documentElement.lang || "";
    fetch(base + "banner.json" + (lang ? "?lang=" + encodeURIComponent(lang) : ""), {
      mode: "cors", credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error("banner.json: HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      banner = data;
      style();
      var missing = forced().some(function (k) { return state.choices[k] !== false; });
      if (state.pending || missing) {
        send({}, state.pending || "browser_signal");  // GPC: refused without asking
      } else if (Object.keys(state.choices).length) {
        notify();
      }
      if (undecided()) show();
      waiting.splice(0).forEach(function (fn) { fn(); });
    }).catch(function (error) {
      if (window.console) console.warn("Tutela banner:", error);  // nothing is granted
    });
  }

  window.tutelaConsent = {
    get visitorId() { return state.id; },
    get choices() { return copy(); },
    onChange: function (cb) {
      listeners.push(cb);
      if (banner && Object.keys(state.choices).length) setTimeout(function () { cb(copy()); });
    },
    open: function () {
      if (banner) show(); else waiting.push(show);
    }
  };

  document.addEventListener("click", function (event) {
    var opener = event.target.closest ? event.target.closest("[data-tutela-open]") : null;
    if (opener) {
      event.preventDefault();
      window.tutelaConsent.open();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
