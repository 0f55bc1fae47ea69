// What each action will refund or reserve, said before it acts, from the job as last read.
import { call, get } from "./api.js";
import { h } from "./dom.js";

const held = (job) => job.credits.reserved - job.credits.charged - job.credits.refunded;
const ENDED = ["COMPLETED", "FAILED", "CANCELLED"];

// The credits of the tasks in the given states, each at its price (a pipeline's steps differ).
function priceOf(job, states) {
  const count = (counts) => states.reduce((sum, state) => sum + (counts[state] || 0), 0);
  if (job.steps?.length) return job.steps.reduce((sum, s) => sum + count(s.counts) * s.credits.unitPrice, 0);
  return count(job.counts) * job.credits.unitPrice;
}

const retried = (include) => ["FAILED", ...(include.includes("cancelled") ? ["CANCELLED"] : [])];

export const ACTIONS = [
  {
    name: "cancel", label: "Cancel job", danger: true,
    available: (job) => ["PENDING", "PROCESSING", "PAUSED"].includes(job.status),
    explain: (job) => `Cancelling refunds up to ${held(job)} credits: ${job.counts.PENDING} tasks not started `
      + `(${priceOf(job, ["PENDING"])} credits) are never run and refunded; ${job.counts.PROCESSING} running tasks `
      + "are cancelled at their provider, and any that still finish are kept and charged.",
  },
  {
    name: "pause", label: "Pause",
    available: (job) => ["PENDING", "PROCESSING"].includes(job.status),
    explain: (job) => `Pausing refunds and reserves nothing: ${held(job)} credits stay reserved. Nothing new is `
      + `submitted; ${job.counts.PROCESSING} tasks at a provider finish and are charged.`,
  },
  {
    name: "resume", label: "Continue",
    available: (job) => job.status === "PAUSED",
    explain: (job) => `Continuing reserves nothing new: the ${held(job)} credits still reserved cover the `
      + `${job.counts.PENDING} tasks left, which are submitted again.`,
  },
  {
    name: "retry", label: "Retry failed tasks",
    available: (job) => ENDED.includes(job.status) && job.counts.FAILED + job.counts.CANCELLED > 0,
    // Cancelled tasks are run again only when asked; failed ones always.
    choices: (job) => (job.counts.CANCELLED > 0 ? [{ name: "cancelled", label: `Also run the ${job.counts.CANCELLED} cancelled tasks again`,
      checked: job.counts.FAILED === 0 }] : []),
    body: (chosen) => ({ include: ["failed", ...chosen] }),
    explain: async (job, chosen = []) => {
      const states = retried(["failed", ...chosen]).filter((s) => job.counts[s] > 0);
      const balance = await get("/credits").catch(() => null);
      return `Retrying reserves ${priceOf(job, states)} credits for `
        + `${states.map((s) => `${job.counts[s]} ${s.toLowerCase()}`).join(" and ")} tasks`
        + (balance ? `; ${balance.available} credits available.` : ".");
    },
  },
];

// A button that opens a confirm step with the figure, then acts; `after` gets the job it answered.
// `current` returns the job as last read, so the figure is today's even if the page refreshed.
export function actionButton(action, current, after, onError) {
  const slot = h("div", { class: "action" });
  const open = h("button", { type: "button", class: action.danger ? "danger" : "", "data-action": action.name,
    onclick: async () => {
      const job = current();
      const boxes = (action.choices?.(job) || []).map((choice) =>
        h("input", { type: "checkbox", name: choice.name, checked: choice.checked }));
      const chosen = () => boxes.filter((box) => box.checked).map((box) => box.name);
      const estimate = h("p", { "data-estimate": action.name }, await action.explain(job, chosen()));
      for (const box of boxes) box.addEventListener("change", async () => { estimate.textContent = await action.explain(job, chosen()); });
      const confirm = h("button", { type: "button", class: `primary ${action.danger ? "danger" : ""}`,
        "data-confirm": action.name, onclick: async () => {
          confirm.disabled = true;
          try {
            after(await call("POST", `/jobs/${encodeURIComponent(job.jobId)}/${action.name}`, action.body?.(chosen())));
          } catch (error) {
            // The API's own words (e.g. 402 not enough credits, 409 not in a state for it).
            onError(`${action.label} failed: ${error.message}`);
          }
          slot.replaceChildren(open);
        } }, `Yes, ${action.label.toLowerCase()}`);
      const choices = (action.choices?.(job) || []).map((choice, i) => h("label", { class: "inline" }, boxes[i], ` ${choice.label}`));
      const panel = h("div", { class: "confirm", role: "alertdialog", "aria-label": action.label },
        choices, estimate,
        h("div", { class: "row" }, confirm,
          h("button", { type: "button", onclick: () => { slot.replaceChildren(open); open.focus(); } }, "Back")));
      slot.replaceChildren(panel);
      confirm.focus();
    } }, action.label);
  slot.append(open);
  return slot;
}
