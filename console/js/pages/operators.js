import { call, get } from "../api.js";
import { balanceFigures, h, message } from "../dom.js";
import { bulkSection } from "./bulk.js";

// Operators: read a user's account, grant credits, set a plan (routes refuse non-operators: 403).
export function operatorsPage(main) {
  let gone = false;
  const out = h("div", { "aria-live": "polite" });
  const account = h("section", { "aria-labelledby": "account-h" });
  const planSelect = h("select", { name: "plan" }, h("option", { value: "default" }, "default"));
  get("/plans").then((plans) => planSelect.append(...plans.plans.map((p) => h("option", { value: p.name }, p.name))),
    () => {});
  const userInput = h("input", { name: "user", required: true, autocomplete: "off" });
  const user = () => userInput.value.trim();
  const fail = (error) => out.replaceChildren(message(error.message, true));

  async function showAccount() {
    try {
      const a = await get(`/admin/users/${encodeURIComponent(user())}`);
      account.replaceChildren(h("h2", { id: "account-h" }, `Account of ${a.userId}`),
        h("p", {}, `Plan ${a.plan.name}${a.plan.assigned ? "" : " (default)"}, ${a.inFlight} tasks in flight`),
        balanceFigures(a.credits));
    } catch (error) { fail(error); }
  }

  main.append(h("h1", {}, "Operators"),
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); out.replaceChildren(); showAccount(); } },
      h("label", {}, "User id", userInput), h("button", { class: "primary", type: "submit" }, "Show account")),
    out, account,
    h("h2", {}, "Grant credits"),
    h("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(e.target);
      const amount = Number(data.get("amount"));
      try {
        // One grant id per submitted form: a double submit grants once.
        await call("POST", "/admin/credits", { userId: user(), amount, grantId: data.get("grantId"),
          reason: String(data.get("reason") || "") || undefined });
        out.replaceChildren(message(`Granted ${amount} credits to ${user()}.`));
        e.target.elements.grantId.value = crypto.randomUUID();
        showAccount();
      } catch (error) { fail(error); }
    } },
      h("label", {}, "Amount", h("input", { name: "amount", type: "number", min: "1", max: "1000000", required: true })),
      h("label", {}, "Reason", h("input", { name: "reason", maxlength: "256" })),
      h("input", { type: "hidden", name: "grantId", value: crypto.randomUUID() }),
      h("button", { type: "submit" }, "Grant")),
    h("h2", {}, "Plan"),
    h("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await call("PUT", `/admin/users/${encodeURIComponent(user())}/plan`, { plan: planSelect.value });
        out.replaceChildren(message(`${user()} is on plan ${planSelect.value}.`));
        showAccount();
      } catch (error) { fail(error); }
    } }, h("label", {}, "Plan", planSelect), h("button", { type: "submit" }, "Set plan")),
    bulkSection(() => gone));
  return () => { gone = true; };
}
