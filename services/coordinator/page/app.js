// The live page: one server-sent event stream (/events) feeds every chart and
// table; actions call the Admin API's Connect JSON on the same port. Plain
// browser JavaScript with uPlot (served by the coordinator), no build step.
/* global uPlot */

const $ = (id) => document.getElementById(id);
const HISTORY_POINTS = 600;
const STALE_AFTER_MS = 5_000;
const OPERATOR_ROLES = new Set(["operator", "admin", "open"]);

const state = {
  token: sessionStorage.getItem("scalemesh.token") ?? "",
  role: "",
  samples: [],
  latest: null,
  lastTickAt: 0,
  abort: undefined,
};

// ---- the stream -----------------------------------------------------------

function authHeaders() {
  return state.token ? { authorization: `Bearer ${state.token}` } : {};
}

async function connect(attempt = 0) {
  const abort = new AbortController();
  state.abort = abort;
  try {
    const response = await fetch("/events", {
      headers: authHeaders(),
      cache: "no-store",
      signal: abort.signal,
    });
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      askForToken(body.error ?? `HTTP ${response.status}`);
      return;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        onFrame(frame);
      }
      attempt = 0;
    }
    throw new Error("the coordinator closed the stream");
  } catch (error) {
    if (state.abort !== abort) return; // replaced by a newer connection
    showLost(error instanceof Error ? error.message : String(error), attempt + 1);
    setTimeout(() => connect(attempt + 1), Math.min(5_000, 500 * 2 ** attempt));
  }
}

function onFrame(frame) {
  let event = "message";
  let data = "";
  for (const line of frame.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (event === "hello") {
    $("version").textContent = payload.version;
    setRole(payload.role);
    state.samples = payload.history.slice(-HISTORY_POINTS);
    if (payload.latest) render(payload.latest);
    else drawCharts();
  } else if (event === "tick") {
    state.samples.push(payload.sample);
    if (state.samples.length > HISTORY_POINTS) state.samples.shift();
    render(payload);
  }
  state.lastTickAt = Date.now();
  showLive();
}

// A coordinator that is frozen (or a network that drops packets) keeps the
// stream open and sends nothing: silence past STALE_AFTER_MS is a loss too.
setInterval(() => {
  if (state.lastTickAt && Date.now() - state.lastTickAt > STALE_AFTER_MS) {
    state.lastTickAt = 0;
    showLost(`no reading for ${STALE_AFTER_MS / 1000} s`, 1);
    const stale = state.abort;
    state.abort = undefined;
    stale?.abort();
    setTimeout(() => connect(1), 500);
  }
}, 1_000);

function showLive() {
  const badge = $("connection");
  badge.dataset.state = "live";
  badge.textContent = "live";
  $("lost").hidden = true;
}

function showLost(reason, attempt) {
  const badge = $("connection");
  if (badge.dataset.state !== "lost") state.lostAt = new Date();
  badge.dataset.state = "lost";
  badge.textContent = "lost";
  const since = (state.lostAt ?? new Date()).toLocaleTimeString();
  const banner = $("lost");
  banner.hidden = false;
  banner.textContent = `Lost the coordinator at ${since} (${reason}). Retrying (attempt ${attempt}); what you see below is from before.`;
}

function askForToken(reason) {
  const badge = $("connection");
  badge.dataset.state = "lost";
  badge.textContent = "needs a token";
  const banner = $("lost");
  banner.hidden = false;
  banner.textContent = `The coordinator asks for a role token: ${reason}`;
  $("token-form").hidden = false;
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("scalemesh.token", state.token);
  $("token").value = "";
  // Until the new stream's first reading, the page has no role to show.
  $("connection").dataset.state = "connecting";
  $("connection").textContent = "connecting…";
  $("role").textContent = "";
  state.abort?.abort();
  state.abort = undefined;
  connect();
});

function setRole(role) {
  state.role = role;
  $("role").textContent = role === "open" ? "no roles asked" : `role: ${role}`;
  $("token-form").hidden = role === "open";
  document.body.classList.toggle("can-operate", OPERATOR_ROLES.has(role));
}

const canOperate = () => OPERATOR_ROLES.has(state.role);

// ---- rendering ------------------------------------------------------------

// How long each reading took to draw, the last 200 (the page-scale bench reads them).
const renderTimes = [];
window.scalemeshPage = { renderTimes };

function render(tick) {
  const started = performance.now();
  state.latest = tick;
  renderSummary(tick);
  drawCharts();
  renderScaling(tick);
  renderFailures(tick.failures);
  renderWorkers(tick.workers);
  renderTimes.push(performance.now() - started);
  if (renderTimes.length > 200) renderTimes.shift();
}

function renderSummary(tick) {
  const status = tick.status ?? {};
  const byState = status.tasksByState ?? {};
  const cordoned = tick.workers.filter((row) => row[1] === "cordoned").length;
  $("s-alive").textContent = String(status.workersAlive ?? 0);
  $("s-other").textContent =
    `${status.workersSuspect ?? 0} / ${status.workersDraining ?? 0} / ${status.workersDead ?? 0}` +
    (cordoned ? ` (${cordoned} cordoned)` : "");
  $("s-slots").textContent = `${status.busySlots ?? 0} / ${status.totalSlots ?? 0}`;
  $("s-pending").textContent = String(byState.PENDING ?? 0);
  $("s-succeeded").textContent = String(byState.SUCCEEDED ?? 0);
  const s = tick.sample;
  $("s-rate").textContent =
    `${s.submittedPerSec.toFixed(1)} · ${s.succeededPerSec.toFixed(1)} · ${s.failedPerSec.toFixed(1)}`;
}

const ago = (ms) => (ms < 1_000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`);

// Workers: one row per id, kept between readings and changed cell by cell,
// so a thousand workers cost a thousand small text updates a second at most.
const workerRows = new Map();

function renderWorkers(rows) {
  const body = $("workers").querySelector("tbody");
  const seen = new Set();
  let added = false;
  for (const row of rows) {
    const [id] = row;
    seen.add(id);
    let entry = workerRows.get(id);
    if (!entry) {
      entry = newWorkerRow(id);
      workerRows.set(id, entry);
      added = true;
    }
    updateWorkerRow(entry, row);
  }
  for (const [id, entry] of workerRows)
    if (!seen.has(id)) {
      entry.tr.remove();
      workerRows.delete(id);
    }
  if (added)
    for (const id of [...workerRows.keys()].sort(byNaturalOrder))
      body.appendChild(workerRows.get(id).tr);
  applyWorkerFilter();
  $("worker-count").textContent = `(${rows.length})`;
}

const byNaturalOrder = (a, b) => a.localeCompare(b, undefined, { numeric: true });

function newWorkerRow(id) {
  const tr = document.createElement("tr");
  tr.dataset.worker = id;
  const cells = [];
  for (let i = 0; i < 8; i += 1) cells.push(tr.appendChild(document.createElement("td")));
  cells[0].textContent = id;
  cells[2].innerHTML = '<span class="bar"><span></span></span><span class="slots"></span>';
  const drain = button("Drain", () =>
    confirmThen(
      `Drain ${id}? It takes nothing new, finishes what it runs, then leaves.`,
      "DrainWorker",
      { workerId: id },
      (answer) => `${id} is draining with ${answer.inFlight ?? 0} task(s) in flight`,
    ),
  );
  drain.dataset.action = "drain";
  const cordon = button("Cordon", () => {
    const isCordoned = tr.dataset.state === "cordoned";
    confirmThen(
      isCordoned
        ? `Uncordon ${id}? It takes new tasks again.`
        : `Cordon ${id}? It keeps what it runs but gets nothing new.`,
      isCordoned ? "UncordonWorker" : "CordonWorker",
      { workerId: id },
      () => `${id} is ${isCordoned ? "uncordoned" : "cordoned"}`,
    );
  });
  cordon.dataset.action = "cordon";
  cells[7].append(drain, " ", cordon);
  cells[7].classList.add("operator-only");
  return { tr, cells, last: [] };
}

function updateWorkerRow(entry, row) {
  const [, workerState, inFlight, slots, region, zone, capabilities, heartbeatMs, done, failed] =
    row;
  const { tr, cells, last } = entry;
  if (last[1] !== workerState) {
    tr.dataset.state = workerState;
    cells[1].innerHTML = `<span class="state state-${workerState}">${workerState}</span>`;
    const gone = workerState === "dead" || workerState === "draining";
    cells[7].querySelector('[data-action="drain"]').disabled = gone;
    const cordon = cells[7].querySelector('[data-action="cordon"]');
    cordon.disabled = gone;
    cordon.textContent = workerState === "cordoned" ? "Uncordon" : "Cordon";
  }
  if (last[2] !== inFlight || last[3] !== slots) {
    const share = slots > 0 ? Math.min(100, (100 * inFlight) / slots) : 0;
    cells[2].querySelector(".bar > span").style.width = `${share}%`;
    cells[2].querySelector(".slots").textContent = `${inFlight}/${Math.max(0, slots - inFlight)}`;
  }
  if (last[4] !== region || last[5] !== zone) cells[3].textContent = `${region}/${zone}`;
  if (last[6] !== capabilities) cells[4].textContent = capabilities || "–";
  cells[5].textContent = workerState === "dead" ? "–" : ago(heartbeatMs);
  if (last[8] !== done || last[9] !== failed) cells[6].textContent = `${done}/${failed}`;
  entry.last = row;
}

function applyWorkerFilter() {
  const needle = $("worker-filter").value.trim().toLowerCase();
  for (const { tr, last } of workerRows.values())
    tr.hidden = needle !== "" && !last.join(" ").toLowerCase().includes(needle);
}
$("worker-filter").addEventListener("input", applyWorkerFilter);

function renderScaling(tick) {
  const scaling = tick.scaling;
  $("scaling-status").textContent = scaling
    ? `autoscaling ${scaling.autoscalingEnabled ? "on" : scaling.mode === "manual" ? "off (a manual target)" : "off"} · ${scaling.provider} · mode ${scaling.mode} · ` +
      `${scaling.currentWorkers} current, ${scaling.startingWorkers} starting, ${scaling.desiredWorkers} desired, bounds ${scaling.minWorkers}–${scaling.maxWorkers}`
    : "the autoscaler is not running";
  const rows = tick.decisions.map((event) => [
    new Date(event.at).toLocaleTimeString(),
    event.reason,
    String(event.desiredWorkers),
    event.error ? `${event.action} (failed: ${event.error})` : event.action || "–",
    event.message,
  ]);
  fillTable($("decisions"), rows, { wrap: [4] });
}

function renderFailures(failures) {
  const body = $("failures").querySelector("tbody");
  body.replaceChildren(
    ...failures.map((task) => {
      const tr = document.createElement("tr");
      tr.className = "clickable";
      tr.dataset.task = task.taskId;
      const cells = [
        task.taskId.slice(0, 8),
        task.state.toLowerCase().replace("_", " "),
        String(task.attempt),
        task.workerId || "–",
        task.error || "–",
      ];
      for (const [i, text] of cells.entries()) {
        const td = tr.appendChild(document.createElement("td"));
        td.textContent = text;
        if (i === 4) td.className = "wrap";
      }
      const actions = tr.appendChild(document.createElement("td"));
      if (task.state === "DEAD_LETTERED") {
        const retry = button("Retry", (event) => {
          event.stopPropagation();
          confirmThen(
            `Retry task ${task.taskId}? It goes back to the queue with fresh attempts.`,
            "RetryTask",
            { taskId: task.taskId },
            () => `task ${task.taskId} is queued again`,
          );
        });
        retry.classList.add("operator-only");
        actions.append(retry);
      }
      tr.addEventListener("click", () => showTask(task.taskId));
      return tr;
    }),
  );
  if (failures.length === 0) fillTable($("failures"), [["none", "", "", "", "", ""]]);
}

function fillTable(table, rows, options = {}) {
  const body = table.querySelector("tbody");
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement("tr");
      for (const [i, text] of cells.entries()) {
        const td = tr.appendChild(document.createElement("td"));
        td.textContent = text;
        if (options.wrap?.includes(i)) td.className = "wrap";
      }
      return tr;
    }),
  );
}

// ---- charts ---------------------------------------------------------------

const COLORS = ["#58a6ff", "#3fb950", "#f85149", "#d29922", "#a371f7"];
const charts = {};

function chart(id, labels, options = {}) {
  const element = $(id);
  const series = [
    {},
    ...labels.map((label, i) => ({
      label,
      stroke: options.colors?.[i] ?? COLORS[i % COLORS.length],
      width: 1.5,
      dash: options.dashed?.includes(i) ? [6, 4] : undefined,
      spanGaps: false,
    })),
  ];
  const made = new uPlot(
    {
      width: Math.max(300, element.clientWidth),
      height: 180,
      series,
      axes: [
        { stroke: "#8a99a8", grid: { stroke: "#263341" } },
        { stroke: "#8a99a8", grid: { stroke: "#263341" }, size: 50 },
      ],
      scales: { x: { time: true } },
      legend: { live: false },
      cursor: { show: true },
    },
    [[], ...labels.map(() => [])],
    element,
  );
  charts[id] = made;
  return made;
}

function setupCharts() {
  chart("chart-rates", ["submitted", "succeeded", "dead-lettered"]);
  chart("chart-queue", ["waiting", "busy slots", "total slots"]);
  chart("chart-latency", ["queue wait p50", "queue wait p99", "end to end p50", "end to end p99"], {
    dashed: [0, 2],
  });
  chart("chart-scaling", ["current", "desired", "min", "max"], { dashed: [2, 3] });
  chart("chart-forecast", ["demand", "forecast", "lower", "upper"], {
    colors: ["#3fb950", "#58a6ff", "#35475a", "#35475a"],
    dashed: [1],
  });
  window.addEventListener("resize", () => {
    for (const [id, made] of Object.entries(charts))
      made.setSize({ width: Math.max(300, $(id).clientWidth), height: 180 });
  });
}

const ms = (seconds) => (seconds === null || seconds === undefined ? null : seconds * 1000);

function drawCharts() {
  const samples = state.samples;
  const xs = samples.map((s) => s.at / 1000);
  const column = (pick) => samples.map(pick);
  charts["chart-rates"].setData([
    xs,
    column((s) => s.submittedPerSec),
    column((s) => s.succeededPerSec),
    column((s) => s.failedPerSec),
  ]);
  charts["chart-queue"].setData([
    xs,
    column((s) => s.pending),
    column((s) => s.busySlots),
    column((s) => s.totalSlots),
  ]);
  charts["chart-latency"].setData([
    xs,
    column((s) => ms(s.queueWaitP50)),
    column((s) => ms(s.queueWaitP99)),
    column((s) => ms(s.endToEndP50)),
    column((s) => ms(s.endToEndP99)),
  ]);
  charts["chart-scaling"].setData([
    xs,
    column((s) => s.currentWorkers),
    column((s) => s.desiredWorkers),
    column((s) => s.minWorkers),
    column((s) => s.maxWorkers),
  ]);
  drawForecast(xs, samples);
}

function drawForecast(xs, samples) {
  const forecast = state.latest?.forecast;
  const lastX = xs.at(-1) ?? 0;
  const future = (forecast?.points ?? []).filter(([at]) => at / 1000 > lastX);
  const pad = (n) => new Array(n).fill(null);
  charts["chart-forecast"].setData([
    [...xs, ...future.map(([at]) => at / 1000)],
    [...samples.map((s) => s.busySlots + s.pending), ...pad(future.length)],
    [...pad(xs.length), ...future.map((p) => p[1])],
    [...pad(xs.length), ...future.map((p) => p[2])],
    [...pad(xs.length), ...future.map((p) => p[3])],
  ]);
  $("forecast-note").textContent = forecast
    ? `model ${forecast.model}, ${Math.round(forecast.confidence * 100)} % interval${forecast.message ? ` · ${forecast.message}` : ""}`
    : "no optimizer forecast (no optimizer configured, or it has not answered yet)";
}

// ---- actions --------------------------------------------------------------

function button(text, onClick) {
  const made = document.createElement("button");
  made.type = "button";
  made.textContent = text;
  made.addEventListener("click", onClick);
  return made;
}

async function admin(method, body) {
  const response = await fetch(`/scalemesh.v1.Admin/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message ?? `HTTP ${response.status}`);
  return answer;
}

function confirmThen(question, method, body, describe) {
  if (!canOperate()) {
    toast(`your role (${state.role}) cannot do this; an operator's can`, true);
    return;
  }
  const dialog = $("confirm");
  $("confirm-text").textContent = question;
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue !== "ok") return;
      admin(method, body).then(
        (answer) => toast(describe(answer.worker ?? answer.task ?? answer)),
        (error) => toast(`${method} refused: ${error.message}`, true),
      );
    },
    { once: true },
  );
  dialog.showModal();
}

let toastTimer;
function toast(text, isError = false) {
  const element = $("toast");
  element.textContent = text;
  element.className = isError ? "error" : "";
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.hidden = true), 6_000);
}

async function showTask(taskId) {
  $("task-title").textContent = `task ${taskId}`;
  $("task-body").textContent = "loading…";
  $("task").showModal();
  try {
    const { task } = await admin("GetTask", { taskId });
    const lines = [
      `state ${task.state}, attempt ${task.attempt}, worker ${task.workerId || "–"}`,
      `created ${task.createdAt ?? "–"}, finished ${task.finishedAt ?? "–"}`,
      task.error ? `error: ${task.error}` : "",
      "",
      "history:",
      ...(task.history ?? []).map((attempt) => `  ${JSON.stringify(attempt)}`),
    ];
    $("task-body").textContent = lines.filter((line) => line !== undefined).join("\n");
  } catch (error) {
    $("task-body").textContent = `cannot read it: ${error.message}`;
  }
}

$("scale-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const workers = Number($("scale-to").value);
  confirmThen(
    `Scale to ${workers} worker(s)? The autoscaler is switched off until you go back to auto.`,
    "ScaleWorkers",
    { workers },
    (answer) => `target ${answer.status?.desiredWorkers ?? workers} worker(s), autoscaling off`,
  );
});

$("scale-auto").addEventListener("click", () =>
  confirmThen(
    "Go back to automatic scaling?",
    "SetAutoscaling",
    { enabled: true },
    () => "autoscaling on",
  ),
);

setupCharts();
connect();
