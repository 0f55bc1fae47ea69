// What each action will refund or reserve, said before it acts, from the job as last read.
import { call, get, hasRoute } from "./api.js";
import { h } from "./dom.js";

const PROBE = "console-route-probe"; // a job id that never exists: probing a route changes nothing

const held = (job) => job.credits.reserved - job.credits.charged - job.credits.refunded;

// The credits of tasks not yet started, by each one's price (a pipeline's steps differ).
function notStartedCredits(job) {
  if (job.steps?.length) {
    return job.steps.reduce((sum, step) => sum + step.counts.PENDING * step.credits.unitPrice, 0);
  }
  return job.counts.PENDING * job.credits.unitPrice;
}

export const ACTIONS = [
  {
    name: "cancel", label: "Cancel job", danger: true,
    available: (job) => ["PENDING", "PROCESSING", "PAUSED"].includes(job.status),
    route: null, // always present
    explain: (job) => `Cancelling refunds up to ${held(job)} credits: ${job.counts.PENDING} tasks not started `
      + `(${notStartedCredits(job)} credits) are never run and refunded; ${job.counts.PROCESSING} running tasks `
      + "are cancelled at their provider, and any that still finish are kept and charged.",
  },
  {
    name: "pause", label: "Pause", route: "pause",
    available: (job) => ["PENDING", "PROCESSING"].includes(job.status),
    explain: (job) => `Pausing refunds and reserves nothing: ${held(job)} credits stay reserved. Nothing new is `
      + `submitted; ${job.counts.PROCESSING} tasks at a provider finish and are charged.`,
  },
  {
    name: "resume", label: "Continue", route: "resume",
    available: (job) => job.status === "PAUSED",
    explain: (job) => `Continuing reserves nothing new: the ${held(job)} credits still reserved cover the `
      + `${job.counts.PENDING} tasks left.`,
  },
  {
    name: "retry", label: "Retry failed tasks", route: "retry",
    available: (job) => job.counts.FAILED > 0 && !["PENDING", "PROCESSING", "CANCELLING"].includes(job.status),
    explain: async (job) => {
      const balance = await get("/credits").catch(() => null);
      const figure = job.steps?.length ? "their steps' prices" : `${job.counts.FAILED * job.credits.unitPrice} credits`;
      return `Retrying reserves ${figure} for ${job.counts.FAILED} failed tasks`
        + (balance ? ` (${balance.available} credits available).` : ".");
    },
  },
];

export async function availableRoutes() {
  const names = ACTIONS.filter((a) => a.route).map((a) => a.route);
  const found = await Promise.all(names.map((name) => hasRoute("POST", `/jobs/${PROBE}/${name}`)));
  return new Set(names.filter((_, i) => found[i]));
}

// A button that opens a confirm step with the figure, then acts; `after` gets the job it answered.
// `current` returns the job as last read, so the figure is today's even if the page refreshed.
export function actionButton(action, current, after, onError) {
  const slot = h("div", { class: "action" });
  const open = h("button", { type: "button", class: action.danger ? "danger" : "", "data-action": action.name,
    onclick: async () => {
      const job = current();
      const text = await action.explain(job);
      const confirm = h("button", { type: "button", class: `primary ${action.danger ? "danger" : ""}`,
        "data-confirm": action.name, onclick: async () => {
          confirm.disabled = true;
          try {
            after(await call("POST", `/jobs/${encodeURIComponent(job.jobId)}/${action.name}`));
          } catch (error) {
            onError(`${action.label} failed: ${error.message}`);
          }
          slot.replaceChildren(open);
        } }, `Yes, ${action.label.toLowerCase()}`);
      const panel = h("div", { class: "confirm", role: "alertdialog", "aria-label": action.label },
        h("p", { "data-estimate": action.name }, text),
        h("div", { class: "row" }, confirm,
          h("button", { type: "button", onclick: () => { slot.replaceChildren(open); open.focus(); } }, "Back")));
      slot.replaceChildren(panel);
      confirm.focus();
    } }, action.label);
  slot.append(open);
  return slot;
}
