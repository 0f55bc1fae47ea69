// A tiny element builder: h("button", {onclick, class: "primary"}, "Cancel").
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function progressBar(percent, label) {
  const value = Math.round(Number(percent) * 10) / 10;
  return h("div", { class: "progress", role: "progressbar", "aria-label": label,
    "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(value) },
    h("div", { class: "track" }, h("div", { class: "fill", style: `width:${value}%` })),
    h("span", {}, `${value}%`));
}

export function figures(pairs) {
  return h("dl", { class: "figures" }, pairs.map(([name, value, testid]) =>
    h("div", {}, h("dt", {}, name), h("dd", { "data-figure": testid || name.toLowerCase() }, String(value)))));
}

// A credit balance (GET /credits, or an account's credits) as figures.
export const balanceFigures = (b) => figures([["Available", b.available, "available"],
  ["Reserved", b.reserved, "reserved"], ["Charged", b.charged, "charged"], ["Granted", b.granted, "granted"]]);

export function message(text, bad = false) {
  return h("p", { class: bad ? "message bad" : "message", role: bad ? "alert" : "status" }, text);
}

export function announce(text) {
  document.getElementById("announce").textContent = text;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
