import { loadConfig, setToken, signInLocal } from "../api.js";
import { h, message } from "../dom.js";

// Locally a token is minted for any user name; deployed, a token of the user pool is pasted.
// `#/signin?user=NAME` signs in as NAME at once on the local stack (the demo prints such a link).
export function signInPage(main, { params }) {
  const status = h("div");
  const done = () => {
    const target = location.hash && !location.hash.startsWith("#/signin") ? location.hash : "#/jobs";
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = target;
  };
  const local = h("form", { class: "card", hidden: true, onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    try {
      await signInLocal(String(data.get("user")).trim(), data.get("admin") === "on");
      done();
    } catch (error) {
      status.replaceChildren(message(`Sign-in failed: ${error.message}`, true));
    }
  } },
    h("h2", {}, "Sign in to the local stack"),
    h("div", { class: "row" },
      h("label", {}, "User name", h("input", { name: "user", required: true, autocomplete: "username", value: "demo-user" })),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "admin" }), "Operator"),
      h("button", { class: "primary", type: "submit" }, "Sign in")));
  const paste = h("form", { class: "card", onsubmit: (event) => {
    event.preventDefault();
    const value = String(new FormData(event.target).get("token")).trim().replace(/^Bearer\s+/i, "");
    if (value.split(".").length !== 3) {
      status.replaceChildren(message("That is not a JWT (three dot-separated parts).", true));
      return;
    }
    setToken(value);
    done();
  } },
    h("h2", {}, "Or paste a token"),
    h("label", {}, "ID token (JWT)", h("textarea", { name: "token", rows: 3, required: true })),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Use this token")));
  main.append(h("h1", {}, "Sign in"), status, local, paste);
  loadConfig().then(async (config) => {
    local.hidden = config.signIn !== "local";
    const user = params.get("user");
    if (!local.hidden && user) {
      local.elements.user.value = user;
      try {
        await signInLocal(user, false);
        location.hash = "#/jobs";
      } catch (error) {
        status.replaceChildren(message(`Sign-in failed: ${error.message}`, true));
      }
    }
  });
}
