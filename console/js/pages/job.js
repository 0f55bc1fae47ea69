import { ACTIONS, actionButton } from "../actions.js";
import { get, loadConfig, token } from "../api.js";
import { announce, figures, h, message, progressBar, when } from "../dom.js";

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const REFRESH_MS = 2000; // polled when the live channel cannot be opened
const LIVE_REFRESH_MS = 15000; // with the channel open: a safety net for a change it did not carry
const MAX_PAGES = 10;

async function allPages(path, key = "items") {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const result = await get(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...result[key]);
    cursor = result.cursor;
    if (!cursor) break;
  }
  return items;
}

export function jobPage(main, { id }) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  const title = h("h1", {}, `Job ${id}`);
  const notice = h("div");
  const summary = h("div", { class: "card", "aria-live": "off" });
  const actions = h("div", { class: "row", "aria-label": "Actions" });
  const credits = h("section", { "aria-labelledby": "credits-h" });
  const steps = h("section", { "aria-labelledby": "steps-h", hidden: true });
  const tasks = h("ul", { class: "tasks", "aria-label": "Tasks and their outputs" });
  const timeline = h("ol", { class: "timeline" });
  main.append(title, notice, summary, actions, credits, steps,
    h("h2", {}, "Tasks and outputs"), tasks, h("h2", { id: "timeline-h" }, "Timeline"), timeline);

  let job = null;
  let timer = null;
  let gone = false;
  let shownActions = "";
  let lastStatus = null;
  const taskNodes = new Map(); // index -> {key, node}: an unchanged task keeps its element (and its loaded image)

  const showError = (text) => notice.replaceChildren(message(text, true));
  const acted = (answer) => { if (answer?.jobId) render(answer); clearTimeout(timer); refresh(); };

  function renderActions() {
    const shown = ACTIONS.filter((a) => a.available(job));
    const key = shown.map((a) => a.name).join();
    if (key === shownActions) return; // keeps an open confirm step open across refreshes
    shownActions = key;
    actions.replaceChildren(...shown.map((a) => actionButton(a, () => job, acted, showError)));
  }

  function render(next) {
    job = next;
    if (lastStatus && lastStatus !== job.status) announce(`Job ${job.status.toLowerCase()}`);
    lastStatus = job.status;
    const c = job.counts;
    summary.replaceChildren(
      h("p", {}, h("span", { class: `status ${job.status}`, "data-job-status": "" }, job.status),
        job.collectionId ? ` · collection ${job.collectionId}` : "",
        job.provider ? ` · ${job.provider}/${job.model}` : "", ` · created ${when(job.createdAt)}`,
        job.finishedAt ? ` · finished ${when(job.finishedAt)}` : ""),
      progressBar(job.progress, "Job progress"),
      h("p", {}, `${c.COMPLETED} done, ${c.PROCESSING} running, ${c.PENDING} waiting, ${c.FAILED} failed, `
        + `${c.CANCELLED} cancelled${c.SKIPPED ? `, ${c.SKIPPED} skipped` : ""} of ${job.plan.taskCount} tasks`));
    const cr = job.credits;
    credits.replaceChildren(h("h2", { id: "credits-h" }, "Credits"), figures([
      ...(job.steps?.length ? [] : [["Unit price", cr.unitPrice, "unitPrice"]]), // a pipeline's are per step
      ["Reserved", cr.reserved, "reserved"],
      ["Charged", cr.charged, "charged"], ["Refunded", cr.refunded, "refunded"],
      ["Still held", cr.reserved - cr.charged - cr.refunded, "held"]]));
    steps.hidden = !job.steps?.length;
    if (job.steps?.length) {
      steps.replaceChildren(h("h2", { id: "steps-h" }, "Steps"), h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Step", "Kind", "Progress", "Tasks", "Reserved", "Charged", "Refunded"]
          .map((t, i) => h("th", { class: i > 3 ? "num" : "" }, t)))),
        h("tbody", {}, job.steps.map((s) => h("tr", { "data-step": s.name },
          h("td", {}, s.name), h("td", {}, s.kind), h("td", {}, progressBar(s.progress, `Step ${s.name}`)),
          h("td", {}, `${s.counts.COMPLETED}/${s.size ?? `≤${s.maxSize}`}`),
          h("td", { class: "num" }, s.credits.reserved), h("td", { class: "num" }, s.credits.charged),
          h("td", { class: "num" }, s.credits.refunded)))))));
    }
    renderActions();
  }

  function renderTasks(items) {
    const seen = new Set();
    items.forEach((task, position) => {
      seen.add(task.index);
      const key = JSON.stringify([task.status, task.progress, task.error, task.outputs?.length, task.attempt]);
      let entry = taskNodes.get(task.index);
      if (!entry || entry.key !== key) {
        const node = taskNode(task);
        if (entry) entry.node.replaceWith(node);
        entry = { key, node };
        taskNodes.set(task.index, entry);
      }
      if (tasks.children[position] !== entry.node) tasks.insertBefore(entry.node, tasks.children[position] || null);
    });
    for (const [index, entry] of taskNodes) if (!seen.has(index)) { entry.node.remove(); taskNodes.delete(index); }
  }

  let readAt = null; // the job as of the tasks and timeline shown: unchanged, they are not read again
  async function refresh() {
    try {
      const next = await get(path);
      if (gone) return;
      notice.replaceChildren();
      render(next);
      const changed = JSON.stringify([next.updatedAt, next.status, next.progress, next.counts]);
      if (changed !== readAt) {
        const [items, events] = await Promise.all([allPages(`${path}/tasks`), allPages(`${path}/events`)]);
        if (gone) return;
        readAt = changed;
        renderTasks(items);
        timeline.replaceChildren(...events.map((e) => h("li", {}, h("time", { datetime: e.at }, when(e.at)), " ",
          e.kind, e.step ? ` · ${e.step}` : "", e.taskIndex !== null && e.taskIndex !== undefined ? ` · task ${e.taskIndex}` : "")));
      }
    } catch (error) {
      if (gone) return;
      if (error.status === 404) {
        title.textContent = "Job not found";
        main.replaceChildren(title, message(`There is no job ${id} among your jobs.`, true));
        return;
      }
      showError(`Could not refresh: ${error.message}`);
    }
    if (!gone && !(job && TERMINAL.has(job.status))) timer = setTimeout(refresh, live ? LIVE_REFRESH_MS : REFRESH_MS);
  }

  // The live channel (a hint: the API stays the source of truth): each change of this job read
  // from it makes the page read the job again at once. Closed or unreachable: polling as before.
  let live = null;
  async function openLive() {
    const { liveUrl } = await loadConfig();
    if (!liveUrl || gone || typeof WebSocket === "undefined") return;
    const socket = new WebSocket(`${liveUrl}?token=${encodeURIComponent(token())}&jobId=${encodeURIComponent(id)}`);
    socket.onopen = () => { if (gone) socket.close(); else live = socket; };
    socket.onmessage = () => {
      window.genjobsLiveFrames = (window.genjobsLiveFrames || 0) + 1;
      if (gone) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 100); // a burst of changes is read once
    };
    socket.onclose = () => { if (live === socket) live = null; };
  }
  refresh();
  openLive();
  return () => { gone = true; clearTimeout(timer); if (live) live.close(); };
}

function taskNode(task) {
  const name = `Task ${task.index}${task.step ? ` (${task.step}${task.item !== null && task.item !== undefined ? ` #${task.item}` : ""})` : ""}`;
  const percent = task.status === "COMPLETED" ? 100 : task.progress ?? 0;
  return h("li", { class: "task", "data-task": String(task.index), "data-status": task.status },
    h("div", { class: "row" }, h("strong", {}, name), h("span", { class: `status ${task.status}` }, task.status),
      task.attempt > 1 ? h("span", { "data-attempt": String(task.attempt) }, `attempt ${task.attempt}`) : null),
    progressBar(percent, `${name} progress`),
    task.error ? h("p", { class: "error" }, task.error) : null,
    task.attempts?.length ? h("ol", { class: "attempts", "aria-label": `Earlier attempts of ${name}` },
      task.attempts.map((a) => h("li", { "data-attempt": String(a.attempt) }, `Attempt ${a.attempt}: `,
        h("span", { class: `status ${a.status}` }, a.status), a.error ? ` · ${a.error}` : "",
        a.finishedAt ? ` · ended ${when(a.finishedAt)}` : ""))) : null,
    (task.outputs || []).map((output, n) => outputNode(output, `Output ${n + 1} of ${name}`)),
    task.result !== null && task.result !== undefined && !(task.outputs || []).length
      ? h("pre", {}, JSON.stringify(task.result, null, 2)) : null);
}

function outputNode(output, label) {
  const type = output.contentType || "";
  if (type.startsWith("image/")) return h("img", { src: output.url, alt: label, loading: "lazy" });
  if (type.startsWith("audio/")) return h("audio", { src: output.url, controls: true, "aria-label": label, preload: "none" });
  if (type.startsWith("video/")) return h("video", { src: output.url, controls: true, "aria-label": label, preload: "metadata" });
  const link = h("a", { href: output.url, target: "_blank", rel: "noopener" }, `${label} (${type}, ${output.size} bytes)`);
  if (type.startsWith("text/") || type.includes("json")) {
    const pre = h("pre", { "aria-label": label }, link);
    fetch(output.url).then((r) => (r.ok ? r.text() : Promise.reject())).then((text) => pre.replaceChildren(text), () => {});
    return pre;
  }
  return h("p", {}, link);
}
