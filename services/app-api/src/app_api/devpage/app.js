// The development page: demo sign-in, sessions, streamed chat with citations, file uploads.
// Plain browser JavaScript, no build step. It speaks the same HTTP API as the real frontend:
// app-api (this origin) for sessions, models, assistants and files; inference-api for turns (SSE).
"use strict";

const $ = (id) => document.getElementById(id);
const MIME_BY_EXTENSION = {
  md: "text/markdown", txt: "text/plain", csv: "text/csv", html: "text/html", pdf: "application/pdf",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
};

const state = { token: null, user: null, sessionId: null, isNew: true, attachments: [], busy: false };

function inferenceUrl() {
  return $("inference-url").value.trim().replace(/\/+$/, "");
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "s-" + Date.now().toString(16) + Math.random().toString(16).slice(2);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {
    // Not the error body (a proxy's page, say): fall back to the status line below.
  }
  return `${response.status} ${response.statusText}`;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, options.headers || {});
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { method: options.method || "GET", headers, body: options.body });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.status === 204 ? null : response.json();
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setEnabled(enabled) {
  for (const id of ["new-session", "model", "assistant", "message", "send", "file"]) $(id).disabled = !enabled;
}

// --- sign-in --------------------------------------------------------------------------------------

async function signIn(userId, admin) {
  const response = await fetch("/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ userId, roles: admin ? ["admin"] : [] }),
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  const signed = await response.json();
  state.token = signed.token;
  state.user = signed;
  sessionStorage.setItem("dev.signin", JSON.stringify({ userId, admin }));
  $("signed-in").textContent = `Signed in as ${signed.name} (${signed.email})` +
    (signed.roles.length ? ` · roles: ${signed.roles.join(", ")}` : "");
  $("sign-out").hidden = false;
  setEnabled(true);
  await Promise.all([loadModels(), loadAssistants(), loadSessions()]);
  startNewSession();
  setStatus("Signed in.");
}

function signOut() {
  sessionStorage.removeItem("dev.signin");
  location.reload();
}

// --- models, assistants, sessions -----------------------------------------------------------------

async function loadModels() {
  const { models } = await api("/models");
  const select = $("model");
  select.replaceChildren();
  for (const model of models) {
    const option = el("option", "", `${model.modelName} (${model.provider})`);
    option.value = model.modelId;
    select.append(option);
  }
  if (!models.length) setStatus("No model is enabled for you: ask an admin (make dev seeds the offline model).", true);
}

async function loadAssistants() {
  const { assistants } = await api("/assistants?include_public=true&limit=100");
  const select = $("assistant");
  select.replaceChildren(Object.assign(el("option", "", "(none)"), { value: "" }));
  for (const assistant of assistants) {
    const shared = assistant.isSharedWithMe ? " · shared with me" : "";
    const option = el("option", "", `${assistant.name}${shared}`);
    option.value = assistant.assistantId;
    select.append(option);
  }
}

async function loadSessions() {
  const { sessions } = await api("/sessions?limit=50");
  const list = $("sessions");
  list.replaceChildren();
  for (const session of sessions) {
    const item = el("li", session.sessionId === state.sessionId ? "current" : "", session.title || "Untitled");
    item.dataset.sessionId = session.sessionId;
    const turns = session.messageCount; // the original API counts turns here, not messages
    item.append(el("small", "", `${turns} ${turns === 1 ? "turn" : "turns"}`));
    item.addEventListener("click", () => openSession(session.sessionId).catch((e) => setStatus(e.message, true)));
    list.append(item);
  }
  if (!sessions.length) list.append(el("li", "empty", "No sessions yet"));
}

function startNewSession() {
  state.sessionId = newId();
  state.isNew = true;
  state.attachments = [];
  renderAttachments();
  $("session-id").textContent = `${state.sessionId} (new)`;
  $("assistant").disabled = false;
  $("messages").replaceChildren(el("p", "empty", "A new chat. Ask something; pick an assistant for citations."));
  for (const item of $("sessions").children) item.classList.remove("current");
}

async function openSession(sessionId) {
  const [metadata, page] = await Promise.all([
    api(`/sessions/${encodeURIComponent(sessionId)}/metadata`),
    api(`/sessions/${encodeURIComponent(sessionId)}/messages?limit=200`),
  ]);
  state.sessionId = sessionId;
  state.isNew = false;
  state.attachments = [];
  renderAttachments();
  $("session-id").textContent = sessionId;
  const preferences = metadata.preferences || {};
  if (preferences.lastModel) $("model").value = preferences.lastModel;
  $("assistant").value = preferences.assistantId || "";
  $("assistant").disabled = Boolean(preferences.assistantId); // bound on the first turn
  const messages = $("messages");
  messages.replaceChildren();
  for (const message of page.messages) messages.append(renderStored(message));
  messages.scrollTop = messages.scrollHeight;
  for (const item of $("sessions").children) item.classList.toggle("current", item.dataset.sessionId === sessionId);
}

// --- rendering ------------------------------------------------------------------------------------

function bubble(role) {
  const node = el("div", `message ${role}`);
  node.append(el("div", "role", role));
  const text = el("div", "text");
  node.append(text);
  return { node, text };
}

function addCitation(node, citation) {
  let list = node.querySelector(".citations");
  if (!list) {
    list = el("ol", "citations");
    node.append(list);
  }
  const item = el("li");
  const text = citation.text.length > 220 ? `${citation.text.slice(0, 220).trimEnd()}…` : citation.text;
  item.append(el("b", "", citation.fileName), document.createTextNode(` — ${text}`));
  list.append(item);
}

function renderStored(message) {
  const { node, text } = bubble(message.role);
  const files = [];
  for (const block of message.content) {
    if (block.text) text.textContent += block.text;
    if (block.document) files.push(block.document.name);
    if (block.image) files.push(block.image.name);
    if (block.toolUse) node.append(el("div", "tool", `tool ${block.toolUse.name}(${JSON.stringify(block.toolUse.input)})`));
    if (block.toolResult) node.append(el("div", "tool", `result: ${JSON.stringify(block.toolResult.content)}`));
  }
  if (files.length) node.append(el("div", "files", `attached: ${files.join(", ")}`));
  for (const citation of message.citations || []) addCitation(node, citation);
  return node;
}

function renderAttachments() {
  const chips = $("attachments");
  chips.replaceChildren();
  for (const file of state.attachments) chips.append(el("span", "chip", `📎 ${file.filename}`));
}

// --- files ----------------------------------------------------------------------------------------

async function uploadFile(file) {
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  const mimeType = file.type || MIME_BY_EXTENSION[extension] || "application/octet-stream";
  setStatus(`Uploading ${file.name}…`);
  const presign = await api("/files/presign", {
    method: "POST",
    json: { sessionId: state.sessionId, filename: file.name, mimeType, sizeBytes: file.size },
  });
  const put = await fetch(presign.presignedUrl, { method: "PUT", headers: { "Content-Type": mimeType }, body: file });
  if (!put.ok) throw new Error(`The upload failed: ${await errorMessage(put)}`);
  const ready = await api(`/files/${encodeURIComponent(presign.uploadId)}/complete`, { method: "POST" });
  state.attachments.push(ready);
  renderAttachments();
  setStatus(`${file.name} is ready; it goes with your next message.`);
}

// --- a streamed turn ------------------------------------------------------------------------------

function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue; // keep-alive comment
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

async function sendMessage(text) {
  const body = { session_id: state.sessionId, message: text, model_id: $("model").value || undefined };
  if ($("assistant").value) body.assistant_id = $("assistant").value;
  if (state.attachments.length) body.file_upload_ids = state.attachments.map((file) => file.uploadId);

  const messages = $("messages");
  messages.querySelector(".empty")?.remove();
  const user = bubble("user");
  user.text.textContent = text;
  if (state.attachments.length) {
    user.node.append(el("div", "files", `attached: ${state.attachments.map((f) => f.filename).join(", ")}`));
  }
  messages.append(user.node);
  const answer = bubble("assistant");
  answer.node.dataset.state = "streaming";
  messages.append(answer.node);
  state.attachments = [];
  renderAttachments();
  setStatus("Waiting for the model…");

  const response = await fetch(`${inferenceUrl()}/invocations`, {
    method: "POST",
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    answer.node.dataset.state = "failed";
    answer.text.append(el("span", "error", await errorMessage(response)));
    throw new Error("The turn was refused.");
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (frame) handleEvent(answer, frame.event, frame.data);
      messages.scrollTop = messages.scrollHeight;
    }
  }
  $("assistant").disabled = Boolean($("assistant").value);
  $("session-id").textContent = state.sessionId;
  if (state.isNew) {
    // As the frontend does: name the session after its first message (a title model, or its first words).
    state.isNew = false;
    await api("/chat/generate-title", { method: "POST", json: { session_id: state.sessionId, input: text } });
  }
  await loadSessions();
  if (answer.node.dataset.state === "streaming") answer.node.dataset.state = "done";
}

function handleEvent(answer, event, data) {
  switch (event) {
    case "citation":
      addCitation(answer.node, data);
      break;
    case "content_block_delta":
      if (data.type === "text") answer.text.textContent += data.text;
      break;
    case "tool_use":
      answer.node.append(el("div", "tool", `tool ${data.tool_use.name}(${JSON.stringify(data.tool_use.input)})`));
      break;
    case "tool_result":
      answer.node.append(el("div", "tool", `result: ${JSON.stringify(data.tool_result.content)}`));
      break;
    case "metadata":
      if (data.messageId) {
        const usage = data.usage || {};
        const metrics = data.metrics || {};
        answer.node.append(el("div", "meta",
          `${usage.inputTokens} in / ${usage.outputTokens} out tokens · ${metrics.latencyMs} ms · $${(data.cost ?? 0).toFixed(6)}`));
        setStatus("Done.");
      }
      break;
    case "stream_error":
      answer.node.dataset.state = "failed";
      answer.node.append(el("div", "error", data.message));
      setStatus(data.message, true);
      break;
    default:
      break;
  }
}

// --- wiring ---------------------------------------------------------------------------------------

function guard(action) {
  return async (event) => {
    if (event) event.preventDefault();
    if (state.busy) return;
    state.busy = true;
    $("send").disabled = true;
    try {
      await action(event);
    } catch (error) {
      setStatus(error.message, true);
    } finally {
      state.busy = false;
      $("send").disabled = !state.token;
    }
  };
}

function init() {
  const params = new URLSearchParams(location.search);
  $("inference-url").value = params.get("inference") || localStorage.getItem("dev.inference") ||
    `${location.protocol}//${location.hostname}:8080`;
  $("inference-url").addEventListener("change", () => localStorage.setItem("dev.inference", inferenceUrl()));
  $("sign-in").addEventListener("click", guard(() => signIn($("user-id").value.trim(), $("admin-role").checked)));
  $("sign-out").addEventListener("click", signOut);
  $("new-session").addEventListener("click", () => startNewSession());
  $("composer").addEventListener("submit", guard(async () => {
    const text = $("message").value.trim();
    if (!text) return;
    $("message").value = "";
    await sendMessage(text);
  }));
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("file").addEventListener("change", guard(async () => {
    for (const file of $("file").files) await uploadFile(file);
    $("file").value = "";
  }));
  const remembered = sessionStorage.getItem("dev.signin");
  if (remembered) {
    const { userId, admin } = JSON.parse(remembered);
    $("user-id").value = userId;
    $("admin-role").checked = admin;
    guard(() => signIn(userId, admin))();
  }
}

init();
