// Hash routes (#/jobs?status=active, #/jobs/<id>, #/credits, #/operators, #/signin): the page and its
// filters live in the URL, so a link or a reload shows the same view; the server serves one file.
import { claims, isOperator, signOut, token } from "./api.js";
import { creditsPage } from "./pages/credits.js";
import { jobPage } from "./pages/job.js";
import { jobsPage } from "./pages/jobs.js";
import { operatorsPage } from "./pages/operators.js";
import { signInPage } from "./pages/signin.js";

let leave = null; // the current page's cleanup (its polling)

function parse() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query) };
}

function pageFor(parts) {
  if (!token()) return signInPage;
  if (parts[0] === "jobs" && parts[1]) return jobPage;
  if (parts[0] === "credits") return creditsPage;
  if (parts[0] === "operators") return operatorsPage;
  if (parts[0] === "signin") return signInPage;
  return jobsPage;
}

function show() {
  if (leave) leave();
  leave = null;
  const { parts, params } = parse();
  const signedIn = Boolean(token());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("nav-operators").hidden = !isOperator();
  document.getElementById("who").textContent = signedIn
    ? `${(claims() || {})["cognito:username"] || (claims() || {}).sub || ""}${isOperator() ? " (operator)" : ""}` : "";
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.getAttribute("href") === `#/${parts[0] || "jobs"}`;
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  const page = pageFor(parts);
  leave = page(main, { id: parts[1] ? decodeURIComponent(parts[1]) : null, params }) || null;
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "#/signin";
  show();
});
window.addEventListener("hashchange", show);
show();
