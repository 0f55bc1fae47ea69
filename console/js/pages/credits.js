import { get } from "../api.js";
import { balanceFigures, h, message, when } from "../dom.js";

// The balance, the plan (where the API has GET /me) and the credits each job moved.
export function creditsPage(main) {
  const balance = h("section", { "aria-labelledby": "balance-h" }, h("h2", { id: "balance-h" }, "Balance"));
  const plan = h("section", { hidden: true });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "More jobs");
  main.append(h("h1", {}, "Credits"), balance, plan,
    h("h2", {}, "Credits by job"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Credits reserved, charged and refunded by each job, newest first"),
      h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Status"), h("th", { class: "hide-narrow" }, "Created"),
        ["Reserved", "Charged", "Refunded"].map((t) => h("th", { class: "num" }, t)))), body)), more);
  let cursor = null;
  get("/credits").then((b) => balance.append(balanceFigures(b)),
  (error) => balance.append(message(`Could not read the balance: ${error.message}`, true)));
  get("/me").then((me) => {
    plan.hidden = false;
    plan.append(h("h2", {}, "Plan"), h("p", {}, `${me.plan.name}${me.plan.assigned ? "" : " (default)"}: `
      + `at most ${me.plan.maxInFlight} tasks at providers at once, ${me.inFlight} now.`));
  }, () => {}); // an API without GET /me: no plan shown
  async function page() {
    try {
      const result = await get(`/jobs?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      body.append(...result.items.map((job) => h("tr", { "data-job": job.jobId },
        h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.jobId)}` }, job.jobId.slice(0, 13))),
        h("td", {}, job.status), h("td", { class: "hide-narrow" }, when(job.createdAt)),
        h("td", { class: "num" }, job.credits.reserved), h("td", { class: "num" }, job.credits.charged),
        h("td", { class: "num" }, job.credits.refunded))));
      cursor = result.cursor;
      more.hidden = !cursor;
    } catch (error) {
      main.append(message(`Could not list jobs: ${error.message}`, true));
    }
  }
  more.addEventListener("click", page);
  page();
}
