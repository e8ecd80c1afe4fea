// The console: plain JavaScript, no build step, nothing fetched from elsewhere.
// The token lives in sessionStorage (this tab only) and goes as Basic auth on every call.
"use strict";
const $ = (id) => document.getElementById(id);
let prefix = "/v1";
let apps = [];
let poller = null;

function auth() {
  const token = sessionStorage.getItem("token") || "";
  const bytes = new TextEncoder().encode(token);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

async function call(method, path, body) {
  const answer = await fetch(path, {
    method, headers: { Authorization: auth(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(data.message || `${answer.status} ${answer.statusText}`);
  return data;
}

const appPath = (key) => { const [vhost, app] = key.split("/");
  return `${prefix}/vhosts/${encodeURIComponent(vhost)}/apps/${encodeURIComponent(app)}`; };
const streamPath = (key, stream) => `${appPath(key)}/streams/${encodeURIComponent(stream)}/recordings`;

function fillApps(select) {
  select.replaceChildren(...apps.map((key) => new Option(key, key)));
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem("token", $("token").value);
  await begin();
}

async function begin() {
  try {
    const info = await call("GET", "console/apps");
    prefix = info.prefix; apps = info.apps.map((a) => `${a.vhost}/${a.app}`);
  } catch (error) {
    $("login-error").textContent = `Sign-in failed: ${error.message}`;
    $("login").hidden = false;
    return;
  }
  $("login").hidden = true;
  $("tasks").hidden = false; $("timeline").hidden = false;
  $("who").textContent = "Signed in";
  fillApps($("start-app")); fillApps($("tl-app"));
  $("tl-day").value = new Date().toISOString().slice(0, 10);
  await refresh();
  poller = setInterval(refresh, 2000);
  $("start-stream").focus();
}

function cell(text, cls) {
  const td = document.createElement("td"); td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function refresh() {
  const blocks = [];
  for (const key of apps) {
    let tasks = [];
    try { tasks = (await call("POST", `${appPath(key)}:records`, {})).response || []; }
    catch (error) { blocks.push(Object.assign(document.createElement("p"), { textContent: `${key}: ${error.message}` })); continue; }
    const table = document.createElement("table");
    table.dataset.app = key;
    const caption = table.createCaption(); caption.textContent = `${key}: ${tasks.length} task(s)`;
    const head = table.createTHead().insertRow();
    for (const name of ["Task", "Stream", "State", "Bytes", "Sequence", ""]) {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = name; head.append(th);
    }
    const body = table.createTBody();
    for (const task of tasks) {
      const row = body.insertRow();
      row.dataset.task = task.id;
      const stop = Object.assign(document.createElement("button"), {
        className: "stop", textContent: "Stop", type: "button" });
      stop.setAttribute("aria-label", `Stop ${task.id}`);
      stop.addEventListener("click", () => stopTask(key, task.id));
      const bytes = task.totalRecordBytes || task.recordBytes || 0;
      row.append(cell(task.id), cell(task.stream ? task.stream.name : ""), cell(task.state),
                 cell(String(bytes), "num bytes"), cell(String(task.sequence ?? 0), "num"),
                 Object.assign(document.createElement("td"), {}));
      row.lastChild.append(stop);
    }
    blocks.push(table);
  }
  // keep the focused button focused across a refresh
  const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
  $("task-list").replaceChildren(...blocks);
  if (focused) { const again = $("task-list").querySelector(`[aria-label="${CSS.escape(focused)}"]`); if (again) again.focus(); }
}

async function startTask(event) {
  event.preventDefault();
  $("start-error").textContent = "";
  const key = $("start-app").value;
  try {
    await call("POST", `${appPath(key)}:startRecord`,
               { id: $("start-id").value, stream: { name: $("start-stream").value } });
  } catch (error) { $("start-error").textContent = `Not started: ${error.message}`; return; }
  await refresh();
}

async function stopTask(key, id) {
  try { await call("POST", `${appPath(key)}:stopRecord`, { id }); }
  catch (error) { $("start-error").textContent = `Not stopped: ${error.message}`; }
  await refresh();
}

function dayBounds() {
  const start = new Date(`${$("tl-day").value}T00:00:00Z`);
  return [start, new Date(start.getTime() + 86400000)];
}

async function showTimeline(event) {
  if (event) event.preventDefault();
  const [start, end] = dayBounds();
  const key = $("tl-app").value, stream = $("tl-stream").value;
  let listing;
  try {
    listing = (await call("GET", `${streamPath(key, stream)}?start=${start.toISOString()}&end=${end.toISOString()}`)).response;
  } catch (error) { $("tl-summary").textContent = error.message; return; }
  // the day, and the same zoomed to the recorded span (a few minutes are a hairline in a day)
  const draw = (bar, from, to) => {
    const span = to - from;
    const place = (a0, b0, cls, label) => {
      const el = document.createElement("span"); el.className = cls; el.title = label;
      const a = Math.max(0, new Date(a0) - from), b = Math.min(span, new Date(b0) - from);
      el.style.left = `${(100 * a) / span}%`; el.style.width = `${Math.max(0.1, (100 * (b - a)) / span)}%`;
      return el;
    };
    bar.replaceChildren(
      ...listing.gaps.map((g) => place(g.startTime, g.endTime, "gap", "gap")),
      ...listing.files.map((f) => place(f.startTime, f.finishTime, "file", f.filePath)));
  };
  draw($("bar"), start, end);
  if (listing.files.length) {
    draw($("zoom"), new Date(listing.files[0].startTime),
         new Date(listing.files[listing.files.length - 1].finishTime));
  } else { $("zoom").replaceChildren(); }
  $("files").replaceChildren(...listing.files.map((f) => {
    const li = document.createElement("li");
    li.textContent = `${f.startTime.slice(11, 19)}–${f.finishTime.slice(11, 19)} #${f.sequence} ${f.bytes} bytes ${f.local ? "local" : "in the bucket"}`;
    return li;
  }));
  $("tl-summary").textContent = `${listing.files.length} file(s), ${listing.gaps.length} gap(s)`;
  if (listing.files.length && !$("range-start").value) {
    $("range-start").value = listing.files[0].startTime.slice(11, 19);
    $("range-end").value = listing.files[listing.files.length - 1].finishTime.slice(11, 19);
  }
}

function exportUrl(format) {
  const day = $("tl-day").value;
  const start = new Date(`${day}T${$("range-start").value}Z`), end = new Date(`${day}T${$("range-end").value}Z`);
  return `${streamPath($("tl-app").value, $("tl-stream").value)}:export?start=${start.toISOString()}&end=${end.toISOString()}&format=${format}`;
}

const MIME = 'video/mp4; codecs="avc1.64001f, mp4a.40.2"';

async function play(event) {
  event.preventDefault();
  $("range-error").textContent = "";
  const answer = await fetch(exportUrl("mp4"), { headers: { Authorization: auth() } });
  if (!answer.ok) { const d = await answer.json().catch(() => ({})); $("range-error").textContent = d.message || answer.statusText; return; }
  const video = $("player");
  if (!window.MediaSource || !MediaSource.isTypeSupported(MIME)) {
    video.src = URL.createObjectURL(await answer.blob()); video.play(); return;
  }
  // fragmented MP4 into Media Source Extensions: it plays while it downloads
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((ok) => source.addEventListener("sourceopen", ok, { once: true }));
  const buffer = source.addSourceBuffer(MIME);
  const reader = answer.body.getReader();
  let started = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer.appendBuffer(value);
    await new Promise((ok) => buffer.addEventListener("updateend", ok, { once: true }));
    if (!started && buffer.buffered.length) { started = true; video.play().catch(() => {}); }
  }
  source.endOfStream();
}

async function download() {
  const answer = await fetch(exportUrl("mp4"), { headers: { Authorization: auth() } });
  if (!answer.ok) { $("range-error").textContent = answer.statusText; return; }
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(await answer.blob()),
    download: `${$("tl-stream").value}_${$("tl-day").value}_${$("range-start").value}.mp4` });
  document.body.append(link); link.click(); link.remove();
}

$("login-form").addEventListener("submit", signIn);
$("start-form").addEventListener("submit", startTask);
$("timeline-form").addEventListener("submit", showTimeline);
$("range-form").addEventListener("submit", play);
$("download").addEventListener("click", download);
if (sessionStorage.getItem("token")) begin(); else $("token").focus();
