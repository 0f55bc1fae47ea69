import { call, get } from "../api.js";
import { h, message, progressBar, when } from "../dom.js";

const STATUSES = ["PENDING", "PROCESSING", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED"];
const POLL_MS = 1000;
const refused = (error) => message(`${error.message} (HTTP ${error.status ?? "error"})`, true);

// The filter as the bulk route takes it: only the conditions given.
function filterOf(form) {
  const data = new FormData(form);
  const at = (name) => (data.get(name) ? new Date(String(data.get(name))).toISOString() : undefined);
  const status = data.getAll("status").map(String);
  return { status: status.length ? status : undefined, provider: String(data.get("provider") || "") || undefined,
    model: String(data.get("model") || "") || undefined, createdFrom: at("createdFrom"), createdTo: at("createdTo") };
}

// Operators retry or cancel every job a filter matches: the dry run's count, a confirm step, then
// the operation's progress until DONE. `stopped` tells whether the page was left.
export function bulkSection(stopped) {
  const out = h("div", { "aria-live": "polite" });
  const action = h("select", { name: "action" }, h("option", { value: "retry" }, "Retry"), h("option", { value: "cancel" }, "Cancel"));
  const includeCancelled = h("input", { type: "checkbox", name: "includeCancelled" });
  const form = h("form", { "aria-labelledby": "bulk-h", onsubmit: (e) => { e.preventDefault(); count(); } },
    h("fieldset", { class: "row" }, h("legend", {}, "Status"),
      STATUSES.map((s) => h("label", { class: "inline" }, h("input", { type: "checkbox", name: "status", value: s }), s))),
    h("div", { class: "row" },
      h("label", {}, "Action", action),
      h("label", {}, "Provider", h("input", { name: "provider", maxlength: "64" })),
      h("label", {}, "Model", h("input", { name: "model", maxlength: "128" })),
      h("label", {}, "Created from", h("input", { name: "createdFrom", type: "datetime-local", step: "1" })),
      h("label", {}, "Created to", h("input", { name: "createdTo", type: "datetime-local", step: "1" })),
      h("label", { class: "inline" }, includeCancelled, "Retry cancelled tasks too")),
    h("div", { class: "row" }, h("button", { type: "button", onclick: () => list(null) }, "List matching jobs"),
      h("button", { type: "submit", class: "primary" }, "Count matching jobs")));
  const listed = h("div", { class: "table-wrap" });

  const request = (dryRun) => ({ action: action.value, filter: filterOf(form), dryRun,
    ...(action.value === "retry" ? { include: includeCancelled.checked ? ["failed", "cancelled"] : ["failed"] } : {}) });

  // Every user's jobs the filter matches, a page at a time (`cursor`: the next page's); not linked,
  // as a job's page is its owner's.
  async function list(cursor) {
    const query = new URLSearchParams({ limit: "50" });
    for (const [name, value] of Object.entries(filterOf(form))) {
      if (value !== undefined) query.set(name, Array.isArray(value) ? value.join(",") : value);
    }
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await get(`/admin/jobs?${query}`);
      const rows = page.items.map((j) => h("tr", { "data-job": j.jobId },
        h("td", {}, j.jobId), h("td", {}, j.userId),
        h("td", {}, h("span", { class: `status ${j.status}` }, j.status)), h("td", {}, j.model ? `${j.provider}/${j.model}` : "pipeline"),
        h("td", { class: "num" }, `${Math.round(j.progress)}%`), h("td", {}, when(j.createdAt))));
      // A page may be short, even empty, with more to read: the listing reads the table in parts.
      let body = cursor ? listed.querySelector("tbody") : null;
      if (!body) {
        body = h("tbody");
        listed.replaceChildren(h("table", { "aria-label": "Every user's jobs" }, h("thead", {}, h("tr", {},
          ["Job", "User", "Status", "Model", "Progress", "Created"].map((t) => h("th", {}, t)))), body));
      }
      body.append(...rows);
      listed.querySelector("[data-more]")?.remove();
      if (!body.children.length && !page.cursor) listed.replaceChildren(message("No jobs match this filter."));
      if (page.cursor) listed.append(h("button", { type: "button", "data-more": "", onclick: () => list(page.cursor) }, "More jobs"));
    } catch (error) { listed.replaceChildren(refused(error)); }
  }

  async function count() {
    out.replaceChildren();
    const asked = request(true);
    try {
      const dry = await call("POST", "/admin/jobs/bulk", asked);
      const verb = asked.action === "retry" ? "retry" : "cancel";
      const go = h("button", { type: "button", class: `primary ${verb === "cancel" ? "danger" : ""}`, onclick: () => {
        go.disabled = true;
        run({ ...asked, dryRun: false }, dry.matched);
      } }, `Yes, ${verb} ${dry.matched} jobs`);
      out.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": `Bulk ${verb}` },
        h("p", { "data-bulk-matched": String(dry.matched) }, `${dry.matched} jobs match this filter. `
          + `Each is ${verb === "retry" ? "retried as its owner's retry would (credits reserved from the owner)" : "cancelled and refunded as its owner's cancel would"}; `
          + "jobs the action does not apply to are skipped."),
        h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => out.replaceChildren() }, "Back"))));
      go.focus();
    } catch (error) { out.replaceChildren(refused(error)); }
  }

  // `total` is the dry run's count: once the action runs, the same filter matches other jobs.
  async function run(asked, total) {
    try {
      let op = await call("POST", "/admin/jobs/bulk", asked);
      while (!stopped()) {
        const handled = op.done + op.skipped;
        out.replaceChildren(h("div", { class: "card", "data-operation": op.operationId },
          h("p", {}, h("span", { class: "status", "data-operation-status": "" }, op.status),
            ` · ${op.action} · ${op.done} done, ${op.skipped} skipped`),
          total ? progressBar(op.status === "DONE" ? 100 : Math.min(100, (100 * handled) / total), "Operation progress") : null));
        if (op.status === "DONE") {
          if (listed.querySelector("table")) list(null); // the listed jobs as the operation left them
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        op = await get(`/admin/operations/${encodeURIComponent(op.operationId)}`);
      }
    } catch (error) { out.replaceChildren(refused(error)); }
  }

  return h("section", { "aria-labelledby": "bulk-h" }, h("h2", { id: "bulk-h" }, "Every user's jobs: list, retry or cancel in bulk"), form, out, listed);
}
