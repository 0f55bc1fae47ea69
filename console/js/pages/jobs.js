import { get } from "../api.js";
import { h, message, progressBar, when } from "../dom.js";

const STATUSES = ["", "active", "finished", "PENDING", "PROCESSING", "PAUSED", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED"];
// The API filters by status and collection; the time window is applied here, on createdAt.
const SINCE = { "": ["Any time", 0], "1h": ["Last hour", 3600e3], "24h": ["Last 24 hours", 86400e3], "7d": ["Last 7 days", 7 * 86400e3] };
const ACTIVE = new Set(["PENDING", "PROCESSING", "CANCELLING", "PAUSED"]);
const REFRESH_MS = 2000;

export function jobsPage(main, { params }) {
  const status = params.get("status") || "";
  const collection = params.get("collection") || "";
  const since = SINCE[params.get("since") || ""] ? params.get("since") || "" : "";
  const form = h("form", { class: "row", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const query = new URLSearchParams();
    for (const name of ["status", "collection", "since"]) {
      const value = String(data.get(name) || "").trim();
      if (value) query.set(name, value);
    }
    location.hash = `#/jobs${query.size ? `?${query}` : ""}`;
  } },
    h("label", {}, "Status", h("select", { name: "status" },
      STATUSES.map((s) => h("option", { value: s, selected: s === status }, s || "Any")))),
    h("label", {}, "Collection", h("input", { name: "collection", value: collection, placeholder: "album-1" })),
    h("label", {}, "Created", h("select", { name: "since" },
      Object.entries(SINCE).map(([key, [label]]) => h("option", { value: key, selected: key === since }, label)))),
    h("button", { class: "primary", type: "submit" }, "Filter"));
  const body = h("tbody");
  const state = h("div");
  const more = h("button", { type: "button", hidden: true }, "More jobs");
  main.append(h("h1", {}, "Jobs"), form, state, h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-only" }, "Your jobs, newest first"),
    h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Status"), h("th", {}, "Progress"),
      h("th", { class: "hide-narrow" }, "Collection"), h("th", { class: "hide-narrow" }, "Created"),
      h("th", { class: "num hide-narrow" }, "Credits"))), body)), more);

  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  if (collection) query.set("collectionId", collection);
  let cursor = null;
  let pages = 1;
  let timer = null;
  let gone = false;

  async function load() {
    const jobs = [];
    let next = null;
    try {
      for (let page = 0; page < pages; page++) {
        const result = await get(`/jobs?${query}${next ? `&cursor=${encodeURIComponent(next)}` : ""}`);
        jobs.push(...result.items);
        next = result.cursor;
        if (!next) break;
      }
    } catch (error) {
      state.replaceChildren(message(`Could not list jobs: ${error.message}`, true));
      return;
    }
    if (gone) return;
    cursor = next;
    const cutoff = SINCE[since][1] ? Date.now() - SINCE[since][1] : 0;
    const shown = jobs.filter((job) => !cutoff || Date.parse(job.createdAt) >= cutoff);
    body.replaceChildren(...shown.map(row));
    state.replaceChildren(shown.length ? "" : message("No jobs match these filters."));
    more.hidden = !cursor;
    if (shown.some((job) => ACTIVE.has(job.status))) timer = setTimeout(load, REFRESH_MS);
  }
  more.addEventListener("click", () => { pages += 1; clearTimeout(timer); load(); });
  load();
  return () => { gone = true; clearTimeout(timer); };
}

function row(job) {
  const name = job.metadata?.name || job.model || (job.steps?.length ? `${job.steps.length} steps` : "");
  return h("tr", { "data-job": job.jobId },
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.jobId)}` }, job.jobId.slice(0, 13)), " ",
      h("span", { class: "hide-narrow" }, name)),
    h("td", {}, h("span", { class: `status ${job.status}` }, job.status)),
    h("td", {}, progressBar(job.progress, `Progress of job ${job.jobId}`)),
    h("td", { class: "hide-narrow" }, job.collectionId || ""),
    h("td", { class: "hide-narrow" }, when(job.createdAt)),
    h("td", { class: "num hide-narrow" }, `${job.credits.charged} / ${job.credits.reserved}`));
}
