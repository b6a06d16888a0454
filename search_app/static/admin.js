// The /admin page: add, edit and remove documents through the JSON API.
// Every piece of document text goes into the page with textContent, never as markup.
"use strict";

(function () {
  const TOKEN_KEY = "kb-admin-token";
  const root = document.getElementById("admin");
  const tokenInput = document.getElementById("token");
  const uploadForm = document.getElementById("upload-form");
  const uploadStatus = document.getElementById("upload-status");
  const listStatus = document.getElementById("list-status");
  const list = document.getElementById("documents");
  const countLabel = document.getElementById("document-count");
  const editTemplate = document.getElementById("edit-template");
  const maxUploadMb = parseFloat(root.dataset.maxUploadMb);
  // The catalogue fields, as the server declares them (indexer/catalog.py): which hold lists, which the summary shows.
  const LIST_FIELDS = root.dataset.listFields.split(",");
  const SUMMARY_FIELDS = root.dataset.summaryFields.split(",");
  const REASONS = {
    400: "Not accepted",
    401: "The admin token was refused",
    403: "Writing is turned off",
    404: "Not found",
    409: "Already indexed",
    413: "Too large",
    415: "Unsupported file type",
    422: "The file could not be read",
    503: "The index is not available",
  };

  // -- token: kept in sessionStorage, i.e. for this tab only ---------------------------

  tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || "";
  tokenInput.addEventListener("input", function () {
    sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  });
  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();  // Enter in the token field keeps the page
  });
  document.getElementById("token-forget").addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenInput.value = "";
    tokenInput.focus();
  });

  /** The token typed above, or null after telling the user to type it. */
  function requireToken(statusElement) {
    const token = tokenInput.value.trim();
    if (!token) {
      say(statusElement, "Enter the admin token first (top of the page).", "error");
      tokenInput.focus();
      return null;
    }
    return token;
  }

  // -- talking to the API --------------------------------------------------------------

  /** An API failure: the status, the error code and a sentence for the user. */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** Call the API; resolve with its JSON (null for 204), reject with an ApiError worded for people. */
  async function call(method, url, options) {
    const headers = {};
    let body = options && options.body;
    if (options && options.token) headers.Authorization = "Bearer " + options.token;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, { method: method, headers: headers, body: body, cache: "no-store", credentials: "omit" });
    } catch (failure) {
      throw new ApiError(0, "network", "The server could not be reached. Check the connection and try again.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (ignored) {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error ? data.error : {};
      throw new ApiError(response.status, error.code || "http_" + response.status, explain(response.status, error.message));
    }
    return data;
  }

  /** "Reason: the server's message." (or a plain sentence when the answer had no message). */
  function explain(status, message) {
    const reason = REASONS[status] || "The server answered " + status;
    if (!message) return reason + ".";
    let text = reason + ": " + message;
    if (!/[.!?]$/.test(text)) text += ".";
    if (status === 401) text += " Check the token at the top of the page.";
    return text;
  }

  /** Show a message in a status line; kind is "ok", "error" or "" (working). */
  function say(element, message, kind) {
    element.textContent = message;
    element.className = "status" + (kind ? " " + kind : "");
    if (kind === "error") element.setAttribute("role", "alert");
    else element.setAttribute("role", "status");
  }

  function plural(count, word) {
    return count + " " + word + (count === 1 ? "" : "s");
  }

  function splitList(value) {
    return value.split(",").map(function (item) { return item.trim(); }).filter(Boolean);
  }

  // -- upload ------------------------------------------------------------------------------

  uploadForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const file = uploadForm.elements.file.files[0];
    if (!file) {
      say(uploadStatus, "Choose a file first.", "error");
      return;
    }
    if (maxUploadMb > 0 && file.size > maxUploadMb * 1024 * 1024) {
      say(uploadStatus, "Too large: " + file.name + " is " + (file.size / 1048576).toFixed(1) +
        " MB; the limit is " + maxUploadMb + " MB.", "error");
      return;
    }
    const token = requireToken(uploadStatus);
    if (!token) return;
    const button = uploadForm.querySelector("button[type=submit]");
    button.disabled = true;
    say(uploadStatus, "Uploading and indexing " + file.name + "…", "");
    try {
      const result = await call("POST", uploadForm.getAttribute("action"), { body: new FormData(uploadForm), token: token });
      const added = result.document;
      say(uploadStatus, "Added “" + added.title + "” as document " + added.id + " (" + plural(result.passage_count, "passage") + ").", "ok");
      uploadForm.reset();
      await loadDocuments();
    } catch (error) {
      say(uploadStatus, error.message, "error");
    } finally {
      button.disabled = false;
      afterChange();
    }
  });

  // -- document list ---------------------------------------------------------------------

  async function loadDocuments() {
    say(listStatus, "Loading…", "");
    let data;
    try {
      data = await call("GET", "/api/documents");
    } catch (error) {
      list.replaceChildren();
      countLabel.textContent = "";
      if (error.code === "index_not_built") say(listStatus, "No documents yet: add the first one above.", "");
      else say(listStatus, error.message, "error");
      return;
    }
    list.replaceChildren.apply(list, data.documents.map(documentItem));
    updateCount();
    say(listStatus, data.documents.length ? "" : "No documents yet: add the first one above.", "");
  }

  function updateCount() {
    countLabel.textContent = "(" + list.children.length + ")";
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** The catalogue fields of a document as the edit form shows them. */
  function fieldValues(doc) {
    const metadata = doc.metadata || {};
    const values = { title: doc.title || "", type: doc.type || "" };
    Object.keys(metadata).forEach(function (name) {
      if (name === "title" || name === "type") return;
      const value = metadata[name];
      values[name] = Array.isArray(value) ? value.join(", ") : (value === null || value === undefined ? "" : String(value));
    });
    return values;
  }

  /** One line of "field: value · field: value" for the catalogue fields that are set. */
  function summary(doc) {
    const values = fieldValues(doc);
    return SUMMARY_FIELDS
      .filter(function (name) { return values[name]; })
      .map(function (name) { return name + ": " + values[name]; })
      .join(" · ");
  }

  function documentItem(doc) {
    const item = element("li", "document");
    item.dataset.id = String(doc.id);
    const head = element("div", "document-head");
    const title = element("a", "document-title", doc.title || doc.filename);
    title.href = doc.url;
    head.append(title, element("span", "meta", [doc.type, doc.format, plural(doc.passage_count, "passage")].join(" · ")));
    const details = element("div", "file", "#" + doc.id + " · " + doc.filename);
    const fields = element("div", "document-fields", summary(doc));
    const actions = element("div", "document-actions");
    const edit = element("button", "secondary", "Edit");
    edit.type = "button";
    const remove = element("button", "danger", "Delete");
    remove.type = "button";
    actions.append(edit, remove);
    const status = element("p", "status");
    status.setAttribute("role", "status");
    item.append(head, details, fields, actions, status);
    edit.addEventListener("click", function () { openEditor(item, doc, status); });
    remove.addEventListener("click", function () { removeDocument(item, doc, status); });
    return item;
  }

  // -- edit ----------------------------------------------------------------------------------

  function openEditor(item, doc, status) {
    if (item.querySelector("form.edit")) return;
    const form = editTemplate.content.firstElementChild.cloneNode(true);
    const original = fieldValues(doc);
    form.querySelectorAll("[id]").forEach(function (node) { node.id = node.id.replace(/^edit-/, "edit-" + doc.id + "-"); });
    form.querySelectorAll("label[for]").forEach(function (node) {
      node.htmlFor = node.htmlFor.replace(/^edit-/, "edit-" + doc.id + "-");
    });
    form.querySelectorAll("input[name]").forEach(function (input) { input.value = original[input.name] || ""; });
    form.querySelector("[data-action=cancel]").addEventListener("click", function () {
      form.remove();
      say(status, "", "");
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const changes = {};
      form.querySelectorAll("input[name]").forEach(function (input) {
        const value = input.value.trim();
        if (value === (original[input.name] || "").trim()) return;
        changes[input.name] = LIST_FIELDS.indexOf(input.name) >= 0 ? splitList(value) : value;
      });
      if (!Object.keys(changes).length) {
        say(status, "Nothing changed.", "");
        return;
      }
      const token = requireToken(status);
      if (!token) return;
      say(status, "Saving…", "");
      try {
        const updated = await call("PATCH", "/api/documents/" + doc.id, { body: changes, token: token });
        const replacement = documentItem(updated);
        item.replaceWith(replacement);
        say(replacement.querySelector(".status"), "Saved.", "ok");
      } catch (error) {
        say(status, error.message, "error");
      }
      afterChange();
    });
    item.insertBefore(form, status);
    form.querySelector("input").focus();
  }

  // -- delete --------------------------------------------------------------------------------

  async function removeDocument(item, doc, status) {
    const name = doc.title || doc.filename;
    if (!window.confirm("Delete “" + name + "” (document " + doc.id + ")?\n\nIts passages leave the search results at once. This cannot be undone.")) return;
    const token = requireToken(status);
    if (!token) return;
    say(status, "Deleting…", "");
    try {
      await call("DELETE", "/api/documents/" + doc.id, { token: token });
      item.remove();
      updateCount();
      say(listStatus, "Deleted “" + name + "”.", "ok");
    } catch (error) {
      say(status, error.message, "error");
    }
    afterChange();
  }

  // -- ingestion report -----------------------------------------------------------------------

  const reportStatus = document.getElementById("report-status");
  const reportTable = document.getElementById("report");

  function pageList(pages) {
    return pages.length ? pages.join(", ") : "";
  }

  function reportRow(file) {
    const row = element("tr", "outcome-" + file.outcome);
    [file.path, file.outcome, file.title, file.pages || "", file.passages || "", pageList(file.ocr_pages),
      pageList(file.empty_pages), file.language, file.seconds, file.reason].forEach(function (value) {
      row.appendChild(element("td", "", String(value === undefined || value === null ? "" : value)));
    });
    return row;
  }

  document.getElementById("report-load").addEventListener("click", async function () {
    const token = requireToken(reportStatus);
    if (!token) return;
    say(reportStatus, "Loading…", "");
    try {
      const report = await call("GET", "/api/index-report", { token: token });
      reportTable.tBodies[0].replaceChildren.apply(reportTable.tBodies[0], report.files.map(reportRow));
      reportTable.hidden = !report.files.length;
      say(reportStatus, report.summary || "No `kb index` run on this data directory yet.", "");
    } catch (error) {
      say(reportStatus, error.message, "error");
    }
  });

  // -- audit log: the last changes, for the token holder --------------------------------------

  const auditStatus = document.getElementById("audit-status");
  const auditTable = document.getElementById("audit");

  function auditRow(entry) {
    const row = element("tr", entry.result === "ok" ? "" : "audit-failed");
    const documentId = entry.document_id === null || entry.document_id === undefined ? "" : "#" + entry.document_id;
    [entry.time, entry.client, entry.action, documentId, entry.filename, (entry.sha256 || "").slice(0, 12),
      entry.result].forEach(function (value) {
      row.appendChild(element("td", "", String(value === undefined || value === null ? "" : value)));
    });
    return row;
  }

  /** A change was tried (done or refused): the log, when shown, shows it too. */
  function afterChange() {
    if (!auditTable.hidden) loadAudit(true);
  }

  /** Fetch the last 50 entries; quiet (no prompt for the token) when called after a change or on load. */
  async function loadAudit(quiet) {
    const token = quiet ? tokenInput.value.trim() : requireToken(auditStatus);
    if (!token) return;
    say(auditStatus, "Loading…", "");
    try {
      const data = await call("GET", "/api/audit?limit=50", { token: token });
      auditTable.tBodies[0].replaceChildren.apply(auditTable.tBodies[0], data.entries.map(auditRow));
      auditTable.hidden = !data.entries.length;
      say(auditStatus, data.entries.length ? "" : "No changes recorded yet.", "");
    } catch (error) {
      say(auditStatus, error.message, "error");
    }
  }

  document.getElementById("audit-load").addEventListener("click", function () { loadAudit(false); });

  loadDocuments();
  if (tokenInput.value.trim()) loadAudit(true);
})();
