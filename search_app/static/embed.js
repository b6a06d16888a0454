/* ESSA seminar search widget: <div data-kb-search data-kb-endpoint="https://search.example.org"></div>
   <script src="https://search.example.org/embed.js" defer></script>; options: /embed/docs. Each widget
   lives in an open Shadow DOM; text from documents is only ever inserted as text. */
(function () {
  "use strict";
  var script = document.currentScript;
  var scriptBase = script && script.src ? script.src.replace(/\/embed\.js(?:[?#].*)?$/, "") : location.origin;

  var LABELS = {
    en: { label: "Search the seminar materials", placeholder: "Ask a question…", button: "Search",
      searching: "Searching…", results: ["1 passage for “%q”", "%n passages for “%q”"],
      none: "No passage matches “%q”. Try other words.", short: "Type a question first.",
      failed: "The search failed: %m", offline: "Could not reach the search service. Try again later.",
      slow: "The search service is not answering. Try again later.", page: "page", slide: "slide", ocr: "read by OCR", also: "Also as",
      more: "All results on the search site", newTab: "(opens in a new tab)", list: "Results" },
    fr: { label: "Rechercher dans les documents du séminaire", placeholder: "Posez une question…", button: "Rechercher",
      searching: "Recherche en cours…", results: ["1 passage pour « %q »", "%n passages pour « %q »"],
      none: "Aucun passage ne correspond à « %q ». Essayez d’autres mots.", short: "Saisissez d’abord une question.",
      failed: "La recherche a échoué : %m", offline: "Service de recherche injoignable. Réessayez plus tard.",
      slow: "Le service de recherche ne répond pas. Réessayez plus tard.", page: "page", slide: "diapositive", ocr: "lu par OCR", also: "Aussi en",
      more: "Tous les résultats sur le site de recherche", newTab: "(s’ouvre dans un nouvel onglet)", list: "Résultats" },
    es: { label: "Buscar en los documentos del seminario", placeholder: "Haga una pregunta…", button: "Buscar",
      searching: "Buscando…", results: ["1 pasaje para «%q»", "%n pasajes para «%q»"],
      none: "Ningún pasaje coincide con «%q». Pruebe con otras palabras.", short: "Escriba primero una pregunta.",
      failed: "La búsqueda falló: %m", offline: "No se pudo contactar con el servicio de búsqueda. Inténtelo más tarde.",
      slow: "El servicio de búsqueda no responde. Inténtelo más tarde.", page: "página", slide: "diapositiva", ocr: "leído por OCR", also: "También en",
      more: "Todos los resultados en el sitio de búsqueda", newTab: "(se abre en una pestaña nueva)", list: "Resultados" }
  };
  var DEBOUNCE_MS = 350, MIN_CHARS = 3, TIMEOUT_MS = 20000;

  var DARK = "--kb-accent:#7cb4f2;--kb-bg:#161b22;--kb-fg:#e6e9ee;--kb-muted:#a4adba;--kb-line:#30363f;--kb-field:#0d1117;" +
    "--kb-edge:#596273;--kb-mark:#6b5a12;--kb-mark-fg:#fff8d6;--kb-error:#ff8a80;--kb-ring:#3f7cc4;color-scheme:dark";
  var STYLE = [
    /* The page cannot restyle the widget's box; to place or size it, style an element around it. */
    ":host{all:initial!important;display:block!important}",
    ".kb{all:initial;display:block;box-sizing:border-box;text-align:start;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;",
    "--kb-accent:#1b5fa8;--kb-bg:#fff;--kb-fg:#1d2430;--kb-muted:#5b6675;--kb-line:#d9dee6;--kb-field:#fff;--kb-edge:#8d97a5;",
    "--kb-mark:#fff0a8;--kb-mark-fg:#1d2430;--kb-error:#a3261b;--kb-ring:#7fb0e8;color:var(--kb-fg);background:var(--kb-bg);",
    "border:1px solid var(--kb-line);border-radius:10px;padding:16px;color-scheme:light}",
    ".kb.dark{" + DARK + "}@media (prefers-color-scheme:dark){.kb.auto{" + DARK + "}}",
    ".kb *{box-sizing:border-box}[hidden]{display:none!important}",
    "form{margin:0}",
    "label{display:block;font-weight:600;margin:0 0 6px}",
    ".row{display:flex;flex-wrap:wrap;gap:8px}",
    "input{flex:1 1 9em;min-width:0;min-height:44px;margin:0;font:inherit;color:var(--kb-fg);background:var(--kb-field);",
    "border:1px solid var(--kb-edge);border-radius:6px;padding:8px 12px}",
    "input::placeholder{color:var(--kb-muted);opacity:1}",
    "button{flex:0 0 auto;min-height:44px;margin:0;font:inherit;font-weight:600;color:#fff;background:var(--kb-accent);",
    "border:1px solid var(--kb-accent);border-radius:6px;padding:8px 18px;cursor:pointer}",
    ".dark button,.auto button{color:var(--kb-bg)}",
    "input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--kb-ring);outline-offset:2px}",
    ".status{margin:10px 0 0;color:var(--kb-muted);font-size:14px}",
    ".status:empty{display:none}",
    ".status.error{color:var(--kb-error);font-weight:600}",
    "ol{list-style:none;margin:8px 0 0;padding:0}",
    ".busy ol{opacity:.55}",
    "li{border-top:1px solid var(--kb-line);padding:12px 0 4px}",
    "a{color:var(--kb-accent);font-weight:600;text-decoration:underline;text-underline-offset:2px;overflow-wrap:anywhere}",
    ".meta{font-size:13px;color:var(--kb-muted);margin-top:2px}",
    ".heading{font-size:14px;font-weight:600;color:var(--kb-muted);margin-top:4px}",
    ".text{margin:6px 0 0;white-space:pre-line;overflow-wrap:anywhere}",
    "mark{background:var(--kb-mark);color:var(--kb-mark-fg);border-radius:2px;padding:0 1px}",
    "strong.answer{font-weight:650}",
    ".more{display:inline-block;margin-top:8px;font-size:14px;font-weight:400}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("");
  var sheet = null;

  /* An element with attributes (a "class", properties such as "hidden", others as attributes) and text. */
  function el(tag, attributes, text, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (name in node && name !== "role") node[name] = value; else node.setAttribute(name, value);
    });
    if (text != null) node.textContent = String(text);
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function fill(template, values) {
    return template.replace(/%([nqm])/g, function (all, key) { return values[key] == null ? all : String(values[key]); });
  }

  function language(host) {
    var wanted = host.getAttribute("data-kb-lang") || (host.closest("[lang]") || document.documentElement).getAttribute("lang") || "en";
    wanted = wanted.toLowerCase().slice(0, 2);
    return LABELS[wanted] ? wanted : "en";
  }

  function httpUrl(value, base) {
    try {
      var url = new URL(value, base);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch (e) { return null; }
  }

  /* Query terms in <mark>, the answering sentence in <strong>; ranges count code points, as Python does. */
  function passage(text, highlights, answer) {
    var node = el("p", { className: "text" }), chars = Array.from(text || ""), strong = el("strong", { className: "answer" });
    var cuts = [0, chars.length].concat(answer || [], [].concat.apply([], highlights || []))
      .map(function (c) { return Math.max(0, Math.min(chars.length, c)); }).sort(function (a, b) { return a - b; });
    for (var i = 0; i + 1 < cuts.length; i++) {
      var a = cuts[i], b = cuts[i + 1], piece = chars.slice(a, b).join("");
      if (b <= a) continue;
      var child = (highlights || []).some(function (r) { return r[0] <= a && b <= r[1]; }) ? el("mark", null, piece) : document.createTextNode(piece);
      if (answer && answer[0] <= a && b <= answer[1]) (strong.parentNode ? strong : node.appendChild(strong)).appendChild(child);
      else node.appendChild(child);
    }
    return node;
  }

  function where(location, title, t) {
    if (!location) return "";
    var label = location.page_label && String(location.page_label) !== String(location.page) ? " (" + location.page_label + ")" : "";
    var at = location.slide != null ? t.slide + " " + location.slide
      : location.page != null ? t.page + " " + location.page + label : location.section !== title && location.section || "";
    return [at, location.ocr && t.ocr].filter(Boolean).join(" · ");
  }

  function mount(host) {
    if (!host || host.shadowRoot || host.__kbSearch) return;
    var base = httpUrl(host.getAttribute("data-kb-endpoint") || scriptBase, location.href);
    base = (base ? base.origin + base.pathname : scriptBase).replace(/\/+$/, "");
    var lang = language(host), t = LABELS[lang];
    var k = parseInt(host.getAttribute("data-kb-k"), 10);
    k = isNaN(k) ? 5 : Math.min(100, Math.max(1, k));
    var answers = parseInt(host.getAttribute("data-kb-answers"), 10);
    answers = isNaN(answers) ? 3 : Math.min(k, Math.max(0, answers));
    var filters = [];
    new URLSearchParams(host.getAttribute("data-kb-filters") || "").forEach(function (value, name) {
      if (name !== "q" && name !== "k" && name !== "answers") filters.push([name, value]);
    });
    var theme = host.getAttribute("data-kb-theme");
    theme = theme === "dark" || theme === "auto" ? theme : "light";

    var root = host.attachShadow({ mode: "open" });
    host.__kbSearch = true;
    if (root.adoptedStyleSheets && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(STYLE); }
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", null, STYLE));
    }
    var input = el("input", { id: "kb-q", type: "search", name: "q", autocomplete: "off", enterkeyhint: "search",
      placeholder: host.getAttribute("data-kb-placeholder") || t.placeholder, "aria-describedby": "kb-status" });
    var status = el("p", { className: "status", id: "kb-status", role: "status", "aria-live": "polite" });
    var list = el("ol", { "aria-label": t.list, hidden: true });
    var more = el("a", { className: "more", hidden: true, target: "_blank", rel: "noopener" }, t.more);
    var form = el("form", { role: "search", noValidate: true }, null, [
      el("label", { htmlFor: "kb-q" }, t.label),
      el("div", { className: "row" }, null, [input, el("button", { type: "submit" }, t.button)])]);
    var box = el("div", { className: "kb " + theme, lang: lang }, null, [form, status, list, more]);
    var accent = host.getAttribute("data-kb-accent");
    if (accent && window.CSS && CSS.supports("color", accent)) box.style.setProperty("--kb-accent", accent);
    root.appendChild(box);

    /* current: the question being searched or shown (null after an error, so that Enter retries). */
    var timer = 0, sequence = 0, controller = null, current = null;

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "status error" : "status";
    }

    function query(question) {
      var params = new URLSearchParams();
      params.append("q", question);
      filters.forEach(function (pair) { params.append(pair[0], pair[1]); });
      return params;
    }

    function render(question, body) {
      var hits = body.results || [];
      list.textContent = "";
      hits.forEach(function (hit) {
        var doc = hit.document || {}, link = httpUrl(doc.url || "", base + "/"), title = doc.title || doc.filename || "";
        var meta = [doc.type, where(hit.location, doc.title, t)].filter(Boolean).join(" · ");
        var item = el("li", null, null, [link
          ? el("a", { href: link.href, target: "_blank", rel: "noopener noreferrer" }, title, [el("span", { className: "sr" }, " " + t.newTab)])
          : el("span", null, title)]);
        if (meta) item.appendChild(el("div", { className: "meta" }, meta));
        var twins = (hit.also_as || []).map(function (d) { return d.filename; }).join(", ");
        if (twins) item.appendChild(el("div", { className: "meta" }, t.also + ": " + twins));
        if (hit.heading && (hit.text || "").indexOf(hit.heading) !== 0) item.appendChild(el("div", { className: "heading" }, hit.heading));
        item.appendChild(passage(hit.text, hit.highlights, hit.answer));
        list.appendChild(item);
      });
      list.hidden = !hits.length;
      more.hidden = !hits.length;
      more.href = base + "/?" + query(question);
      var count = hits.length === 1 ? t.results[0] : t.results[1];
      say(hits.length ? fill(count, { n: hits.length, q: question }) : fill(t.none, { q: question }));
    }

    function search(question) {
      clearTimeout(timer);
      if (!question) { say(t.short); return; }
      if (question === current) return;
      current = question;
      var mine = ++sequence;
      if (controller) controller.abort();
      var ctrl = window.AbortController ? new AbortController() : null, late = false;
      controller = ctrl;
      var watchdog = setTimeout(function () { late = true; if (ctrl) ctrl.abort(); }, TIMEOUT_MS);
      box.classList.add("busy");
      list.setAttribute("aria-busy", "true");
      say(t.searching);
      var params = query(question);
      params.append("k", k);
      params.append("answers", answers);
      fetch(base + "/api/search?" + params, {
        headers: { Accept: "application/json" }, credentials: "omit", mode: "cors", signal: ctrl ? ctrl.signal : undefined
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            var message = body && body.error && body.error.message;
            throw { message: message || response.status + " " + response.statusText };
          }
          return body;
        });
      }).then(function (body) {
        if (mine !== sequence) return; /* a newer search was started: this answer is stale */
        render(question, body);
      }, function (error) {
        if (mine !== sequence) return;
        current = null;
        if (late) say(t.slow, true);
        else if (error && error.name === "AbortError") return;
        else if (error && error.message && !(error instanceof Error)) say(fill(t.failed, { m: error.message }), true);
        else say(t.offline, true);
      }).then(function () {
        clearTimeout(watchdog);
        if (mine !== sequence) return;
        box.classList.remove("busy");
        list.removeAttribute("aria-busy");
      });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var question = input.value.trim();
      if (question.length >= MIN_CHARS) timer = setTimeout(function () { search(question); }, DEBOUNCE_MS);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      search(input.value.trim());
    });

    var first = host.getAttribute("data-kb-query");
    if (first) {
      input.value = first;
      search(first.trim());
    }
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kb-search]"), function (host) {
      try { mount(host); } catch (error) { console.error("kb-search widget:", error); }
    });
  }

  window.KBSearch = window.KBSearch || { mount: mount, mountAll: mountAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
