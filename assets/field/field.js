// The field kit: everything the care manager's screens do runs here, in the browser, so the
// screens keep working when the Reflex backend is unreachable (design §2, offline notes P4/P5).
// - reads go to the JSON field API (docs/field-api.md) and land in Reflex client-state vars;
// - writes are mutations queued in IndexedDB (the outbox) and pushed in order;
// - the call timer keeps its start instant in IndexedDB: elapsed time is always computed
//   from that instant, never counted, so a locked screen or a reload loses nothing.
import React, { useEffect, useState } from "react";
import { refs, getBackendURL } from "$/utils/state";
import env from "$/env.json";

const DB_NAME = "ccm-field";
const DB_VERSION = 1;
const SCHEMA_VERSION = 1;
const RETRY_MS = 5000;
const LONG_CALL_SECONDS = 90 * 60;

// ---------------------------------------------------------------- client-state bridge
// Reflex ClientStateVars register a setter in `refs`; before the first component using
// the var mounts, the value is parked in the slot that component starts from.
function setState(name, value) {
  const setter = refs["_client_state_set" + name.charAt(0).toUpperCase() + name.slice(1)];
  if (setter) setter(value);
  else refs["_client_state_" + name] = value;
}

// ---------------------------------------------------------------- HTTP
function apiBase() {
  try {
    return new URL(getBackendURL(env.PING)).origin;
  } catch (e) {
    return window.location.origin;
  }
}

async function api(path, options = {}) {
  const response = await fetch(apiBase() + "/api/v1" + path, {
    credentials: "include",
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (response.status === 401 && !window.location.pathname.startsWith("/login")) {
    // Signed out or expired: go to sign-in, replacing this screen in the history (the page
    // guard may be redirecting at the same moment; replace keeps the two from stacking).
    window.location.replace("/login");
  }
  return { status: response.status, body };
}

// ---------------------------------------------------------------- IndexedDB
let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const database = request.result;
        database.createObjectStore("kv");
        database.createObjectStore("outbox", { keyPath: "id" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function run(storeName, mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction(storeName, mode);
    const result = work(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const kvGet = (key) => run("kv", "readonly", (s) => s.get(key));
const kvSet = (key, value) => run("kv", "readwrite", (s) => s.put(value, key));
const kvDelete = (key) => run("kv", "readwrite", (s) => s.delete(key));
const outboxAll = () => run("outbox", "readonly", (s) => s.getAll());

// ---------------------------------------------------------------- outbox and push
function uuid() {
  return crypto.randomUUID();
}

async function client() {
  let info = await kvGet("client");
  if (!info) {
    info = { id: uuid(), next: 1 };
    await kvSet("client", info);
  }
  return info;
}

async function enqueue(name, args) {
  refused = false;
  const info = await client();
  const mutation = { id: info.next, name, args, occurred_at: new Date().toISOString() };
  await run("outbox", "readwrite", (s) => s.put(mutation));
  await kvSet("client", { ...info, next: info.next + 1 });
  await refreshPending();
  return flush();
}

async function refreshPending() {
  const queued = await outboxAll();
  setState("pending", queued.length);
  return queued;
}

let flushing = false;
let refused = false;
// Sends the outbox; resolves to the reasons of any mutation the server refused.
async function flush() {
  if (flushing) return [];
  flushing = true;
  let refusals = [];
  try {
    const queued = (await outboxAll()).sort((a, b) => a.id - b.id);
    if (!queued.length) return;
    const info = await client();
    const { status, body } = await api("/sync/push", {
      method: "POST",
      body: JSON.stringify({ client_id: info.id, schema_version: SCHEMA_VERSION, mutations: queued }),
    });
    if (status === 200 || status === 409) {
      const done = body.last_mutation_id || 0;
      await run("outbox", "readwrite", (s) => {
        for (const m of queued) if (m.id <= done) s.delete(m.id);
      });
      refusals = (body.results || []).filter((r) => r.status === "rejected").map((r) => r.reason);
      if (refusals.length) setState("notice", "Not saved: " + refusals.join("; "));
      setState("syncerror", "");
      await reloadCurrent();
    } else if (status === 422) {
      // A malformed batch is refused whole and kept: retrying cannot help, so wait for the
      // next change or reconnect instead of hammering the server.
      refused = true;
      setState("syncerror", body && body.detail ? body.detail : "The server refused the changes.");
    }
  } catch (e) {
    setState("syncerror", "Offline — changes will be sent when the connection is back.");
  } finally {
    flushing = false;
    const left = await refreshPending();
    if (left.length && !refused) setTimeout(flush, RETRY_MS);
  }
  return refusals;
}

// Tell the user what happened: refused (why), sent, or waiting for a connection.
async function report(refusals, success) {
  if (refusals && refusals.length) return;  // flush already says why
  const waiting = (await outboxAll()).length;
  setState("notice", waiting ? success + " It will be sent when the connection is back." : success);
}

// ---------------------------------------------------------------- screens' data
let current = { view: null, patientId: null };
let worklist = { patients: [], month: "", days_left: 0 };
let filters = { filter: "all", search: "" };

function visibleRows() {
  const text = filters.search.trim().toLowerCase();
  return worklist.patients.filter((p) => {
    if (text && !(p.name.toLowerCase().includes(text) || p.mrn.toLowerCase().includes(text))) return false;
    if (filters.filter === "needs_minutes") return p.status !== "billable" && p.status !== "blocked";
    if (filters.filter === "tasks_due") return p.tasks_due > 0 || p.overdue_tasks > 0;
    if (filters.filter === "done") return p.status === "billable";
    return true;
  }).map(worklistRow);
}

function worklistRow(p) {
  return {
    id: p.id, name: p.name, mrn: p.mrn, phone: p.phone || "", conditions: p.conditions || "",
    minutes: String(p.minutes), marks: (p.marks || []).join(","), status: p.status,
    next: p.next_code ? `${p.minutes_to_next} min to ${p.next_code}` : "Done for this month",
    why: (p.why || []).join(" · "), href: "/patients/" + p.id,
    tel: p.phone ? "tel:" + p.phone.replace(/[^+0-9]/g, "") : "",
  };
}

function publishWorklist() {
  const rows = visibleRows();
  setState("rows", rows);
  setState("worklistinfo", {
    month: worklist.month || "", days_left: String(worklist.days_left || 0),
    count: String(rows.length), total: String(worklist.patients.length), filter: filters.filter,
    loaded: "yes",
  });
}

async function loadWorklist() {
  current = { view: "worklist", patientId: null };
  const { status, body } = await api("/worklist");
  if (status === 200) {
    worklist = body;
    publishWorklist();
  }
  const open = await api("/candidates");
  if (open.status === 200) {
    setState("candidates", open.body.patients.map((p) => ({
      id: p.id, name: p.name, mrn: p.mrn, href: "/patients/" + p.id, conditions: p.conditions,
      line: `${p.eligible ? "Eligible" : "Not eligible"}: ${p.reason} · ${p.status}`,
      eligible: p.eligible ? "yes" : "no",
    })));
  }
}

function patientIdFromPath() {
  const match = window.location.pathname.match(/\/patients\/([0-9a-f-]{36})/);
  return match ? match[1] : null;
}

const ACTIVITY_WORDS = {
  phone_call_patient: "Phone call with patient", phone_call_caregiver: "Phone call with caregiver",
  care_coordination: "Care coordination", medication_reconciliation: "Medication reconciliation",
  records_review: "Record / results review", care_plan_revision: "Care plan revision",
  transition_follow_up: "Transition follow-up", community_services: "Community services",
};

function when(iso) {
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " +
    d.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
}

function elementText(name, value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) {
    return value.map((item) => (typeof item === "object" ? [item.action, item.responsible, item.target].filter(Boolean).join(" | ") : String(item))).join("\n");
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const ELEMENTS = [
  ["problems", "Problem list"], ["expected_outcome", "Expected outcome and prognosis"],
  ["measurable_goals", "Measurable goals (one per line: goal | target date)"],
  ["symptom_management", "Symptom management"],
  ["interventions", "Interventions (one per line: action | person responsible)"],
  ["medication_management", "Medication management"], ["community_services", "Community services"],
  ["coordination", "Coordination with other providers"], ["review_schedule", "Review schedule"],
];

function patientView(data) {
  const p = data.patient;
  const progress = data.progress || {};
  const plan = data.care_plan;
  return {
    id: p.id, name: p.name, mrn: p.mrn, phone: p.phone || "",
    tel: p.phone ? "tel:" + p.phone.replace(/[^+0-9]/g, "") : "",
    summary: `${p.age} y · MRN ${p.mrn} · ${p.program.replace("_", " ").toUpperCase()} · ${p.enrollment_status.replace("_", " ")}`,
    conditions: (data.conditions || []).filter((c) => c.chronic).map((c) => `${c.plain || c.description} (${c.code})`).join(", ") || "No chronic conditions on file",
    consent: data.consent ? `Consent ${data.consent.method} on ${data.consent.date}` : "No consent on file",
    practitioner: p.billing_practitioner || "No billing practitioner",
    eligible: data.eligibility && data.eligibility.eligible ? "yes" : "no",
    eligibility: data.eligibility ? data.eligibility.reason : "",
    enrolled: p.enrollment_status === "enrolled" ? "yes" : "no",
    month: progress.month || "", minutes: String(progress.minutes || 0),
    marks: (progress.marks || []).join(","), status: progress.status || "",
    codes: (progress.codes || []).map((c) => (c.units > 1 ? `${c.code} ×${c.units}` : c.code)).join(", ") || "None yet",
    next: progress.next_code ? `${progress.minutes_to_next} min to ${progress.next_code}, ${progress.days_left} days left` : "Nothing more needed this month",
    blocking: (progress.blocking_reasons || []).join(" · "),
    last_month: data.last_month ? `${data.last_month.month}: ${data.last_month.minutes} min, ${data.last_month.codes || "not billable"}` : "",
    entries: (data.time_entries || []).map((e) => ({
      id: e.id, when: when(e.started_at), minutes: `${Math.floor(e.seconds / 60)} min ${e.seconds % 60} s`,
      activity: ACTIVITY_WORDS[e.activity] || e.activity, note: e.note || "", by: e.performer || "",
      state: e.voided ? `Voided: ${e.void_reason}` : (e.flags || []).join(", "), voided: e.voided ? "yes" : "no",
    })),
    notes: (data.notes || []).map((n) => ({ id: n.id, body: n.body, line: `${when(n.at)} · ${n.author}` })),
    tasks: (data.tasks || []).filter((t) => t.status !== "completed" && t.status !== "cancelled").map((t) => ({
      id: t.id, title: t.title, line: t.due_at ? `Due ${when(t.due_at)}${t.overdue ? " — overdue" : ""}` : "", overdue: t.overdue ? "yes" : "no",
    })),
    has_plan: plan ? "yes" : "no",
    plan_line: plan ? `Established ${plan.established_on}${plan.last_reviewed_on ? ", reviewed " + plan.last_reviewed_on : ""}${plan.copy_given_on ? ", copy given " + plan.copy_given_on + " (" + plan.copy_given_method + ")" : ""}` : "No care plan yet",
    elements: ELEMENTS.map(([key, label]) => {
      const element = plan && plan.elements[key] ? plan.elements[key] : { value: null, version: 0 };
      return {
        key, label, text: elementText(key, element.value), version: String(element.version || 0),
        line: element.version ? `Version ${element.version} · ${element.author || ""} · ${element.at ? when(element.at) : ""}` : "Not written yet",
      };
    }),
  };
}

let patientData = null;
async function loadPatient(id) {
  id = id || patientIdFromPath();
  if (!id) return;
  current = { view: "patient", patientId: id };
  const { status, body } = await api("/patients/" + id);
  if (status === 200) {
    patientData = body;
    setState("patient", patientView(body));
  } else if (status === 403 || status === 404) {
    setState("patient", { id: "", name: "", missing: "yes", entries: [], notes: [], tasks: [], elements: [] });
  }
}

async function loadHistory(id) {
  id = id || patientIdFromPath();
  const { status, body } = await api(`/patients/${id}/care-plan/history`);
  if (status === 200) {
    setState("history", body.revisions.map((r) => ({
      element: (ELEMENTS.find(([k]) => k === r.element) || [r.element, r.element])[1],
      version: String(r.version), text: elementText(r.element, r.value), line: `${r.author} · ${when(r.at)}`,
    })));
  }
}

async function reloadCurrent() {
  if (current.view === "worklist") await loadWorklist();
  else if (current.view === "patient") {
    await loadPatient(current.patientId);
    if (window.location.pathname.endsWith("/care-plan")) await loadHistory(current.patientId);
  }
}

// The phone's own calendar day (toISOString would give tomorrow on a US evening).
function localDate() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

// ---------------------------------------------------------------- the call timer
function fmt(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}

async function publishTimer() {
  const timer = await kvGet("timer");
  setState("timer", timer ? { running: "yes", patient_id: timer.patient_id, patient_name: timer.patient_name, started_at: String(timer.started_at) } : { running: "no", patient_id: "", patient_name: "", started_at: "0" });
  return timer;
}

// Start the timer for the patient on screen (patient and care-plan screens).
function startTimerHere() {
  if (patientData) startTimer(patientData.patient.id, patientData.patient.name);
}

async function startTimer(patientId, patientName) {
  const running = await kvGet("timer");
  if (running && running.patient_id === patientId) return;
  if (running && !window.confirm(`A timer is running for ${running.patient_name}. Stop it and save that time first?`)) return;
  if (running) {
    openStopForm();
    return;
  }
  await kvSet("timer", { patient_id: patientId, patient_name: patientName, started_at: Date.now() });
  await publishTimer();
}

async function openStopForm() {
  const timer = await kvGet("timer");
  if (!timer) return;
  const seconds = Math.max(1, Math.round((Date.now() - timer.started_at) / 1000));
  setState("stopform", {
    open: "yes", seconds: String(seconds), elapsed: fmt(seconds), minutes: String(Math.floor(seconds / 60)),
    long: seconds > LONG_CALL_SECONDS ? "yes" : "no", patient_name: timer.patient_name,
  });
}

function closeStopForm() {
  setState("stopform", { open: "no", seconds: "0", elapsed: "", minutes: "0", long: "no", patient_name: "" });
}

function value(id) {
  const element = document.getElementById(id);
  if (!element) return "";
  return element.type === "checkbox" ? element.checked : element.value;
}

async function saveTimer() {
  const timer = await kvGet("timer");
  if (!timer) return closeStopForm();
  const measured = Math.max(1, Math.round((Date.now() - timer.started_at) / 1000));
  const typedMinutes = parseInt(value("stop-minutes"), 10);
  let seconds = measured;
  let source = "timer";
  if (!Number.isNaN(typedMinutes) && typedMinutes !== Math.floor(measured / 60)) {
    seconds = typedMinutes * 60;
    source = "manual";  // a corrected duration is no longer what the timer measured
  }
  if (seconds > LONG_CALL_SECONDS && source === "timer" && !value("stop-confirm-long")) {
    setState("notice", "The timer ran over 90 minutes: confirm the call really lasted that long, or correct the minutes.");
    return;
  }
  if (seconds < 1) return;
  const refusals = await enqueue("time_entry.record", {
    entry_id: uuid(), patient_id: timer.patient_id, started_at: new Date(timer.started_at).toISOString(),
    duration_seconds: seconds, activity: value("stop-activity") || "phone_call_patient",
    note: value("stop-note"), source,
  });
  await kvDelete("timer");
  await publishTimer();
  closeStopForm();
  await report(refusals, `Saved ${Math.floor(seconds / 60)} min for ${timer.patient_name}.`);
}

async function discardTimer() {
  if (!window.confirm("Discard this timer without saving the time?")) return;
  await kvDelete("timer");
  await publishTimer();
  closeStopForm();
}

// ---------------------------------------------------------------- other actions
async function saveManualEntry(patientId) {
  patientId = patientId || current.patientId;
  const day = value("manual-date");
  const time = value("manual-time");
  const minutes = parseInt(value("manual-minutes"), 10);
  if (!day || !time || !(minutes > 0)) {
    setState("notice", "Give the date, start time and minutes of the work.");
    return;
  }
  const refusals = await enqueue("time_entry.record", {
    entry_id: uuid(), patient_id: patientId, started_at: new Date(`${day}T${time}`).toISOString(),
    duration_seconds: minutes * 60, activity: value("manual-activity") || "care_coordination",
    note: value("manual-note"), source: "manual",
  });
  await report(refusals, `Added ${minutes} min by hand (marked as manual).`);
}

async function voidEntry(entryId) {
  const reason = window.prompt("Why void this entry? (kept in the audit trail)");
  if (!reason || !reason.trim()) return;
  await enqueue("time_entry.void", { entry_id: entryId, reason: reason.trim() });
}

async function addNote(patientId) {
  patientId = patientId || current.patientId;
  const body = String(value("note-body")).trim();
  if (!body) return;
  await enqueue("note.add", { note_id: uuid(), patient_id: patientId, body });
  const box = document.getElementById("note-body");
  if (box) box.value = "";
}

async function completeTask(taskId) {
  await enqueue("task.complete", { task_id: taskId });
}

function parseElement(key, text) {
  const lines = String(text).split("\n").map((l) => l.trim()).filter(Boolean);
  if (key === "interventions") return lines.map((l) => { const [action, responsible] = l.split("|").map((x) => x.trim()); return { action, responsible: responsible || "" }; });
  if (key === "measurable_goals") return lines.map((l) => { const [goal, target] = l.split("|").map((x) => x.trim()); return target ? `${goal} | ${target}` : goal; });
  if (key === "problems") return lines;
  return String(text).trim();
}

async function saveElement(key, baseVersion, patientId) {
  patientId = patientId || current.patientId;
  const refusals = await enqueue("care_plan.set_element", {
    patient_id: patientId, element: key, value: parseElement(key, value("element-" + key)),
    base_version: parseInt(baseVersion, 10) || 0,
  });
  await report(refusals, "Care plan saved.");
}

async function reviewPlan(patientId) {
  patientId = patientId || current.patientId;
  const refusals = await enqueue("care_plan.review", { patient_id: patientId, reviewed_on: localDate() });
  await report(refusals, "Monthly care plan review recorded.");
}

async function saveCopyGiven(patientId) {
  patientId = patientId || current.patientId;
  await enqueue("care_plan.set_details", {
    patient_id: patientId, copy_given_on: value("copy-date") || null,
    copy_given_method: value("copy-method") || "", next_review_on: value("next-review") || null,
  });
}

async function enroll(patientId) {
  patientId = patientId || current.patientId;
  const args = {
    patient_id: patientId, program: value("enroll-program"),
    billing_practitioner_id: patientData ? patientData.patient.billing_practitioner_id : null,
    consent: {
      date: value("consent-date"), method: value("consent-method"),
      disclosed_service: value("disclosed-service"), disclosed_cost_sharing: value("disclosed-cost"),
      disclosed_one_practitioner: value("disclosed-one"), disclosed_stop_anytime: value("disclosed-stop"),
    },
  };
  if (!(args.consent.disclosed_service && args.consent.disclosed_cost_sharing && args.consent.disclosed_one_practitioner && args.consent.disclosed_stop_anytime)) {
    setState("notice", "All four disclosures must be made and ticked before enrolling.");
    return;
  }
  const refusals = await enqueue("patient.enroll", args);
  await report(refusals, "Consent recorded and patient enrolled.");
}

async function unenroll(patientId) {
  patientId = patientId || current.patientId;
  const reason = window.prompt("Why is the patient leaving the program? (effective end of this month)");
  if (!reason || !reason.trim()) return;
  await enqueue("patient.unenroll", { patient_id: patientId, reason: reason.trim() });
}

function setFilter(filter) {
  filters.filter = filter;
  publishWorklist();
}

function setSearch(text) {
  filters.search = text || "";
  publishWorklist();
}

// Sign-out (checklist B26): send what is queued, then erase this device's field data before
// the server ends the session (whose Clear-Site-Data header is the second line of defence).
async function signOut(form) {
  try {
    await flush();
    const database = await db();
    database.close();
  } catch (e) {
    // offline or never opened: erase anyway
  }
  dbPromise = null;
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
  form.submit();
}

async function init() {
  await publishTimer();
  closeStopForm();
  await refreshPending();
  flush();
  window.addEventListener("online", () => { refused = false; flush(); });
}

// Pages are prerendered on the server at build time, where there is no window.
const api_ = {
  init, loadWorklist, loadPatient, loadHistory, setFilter, setSearch, startTimer, startTimerHere,
  openStopForm,
  saveTimer, discardTimer, closeStopForm, saveManualEntry, voidEntry, addNote, completeTask,
  saveElement, reviewPlan, saveCopyGiven, enroll, unenroll, flush, signOut,
  dismissNotice: () => setState("notice", ""),
};
if (typeof window !== "undefined") window.ccmField = api_;

// ---------------------------------------------------------------- React components
export function FieldRuntime({ view }) {
  useEffect(() => {
    init().then(() => {
      if (view === "worklist") loadWorklist();
      else if (view === "patient") loadPatient();
      else if (view === "care_plan") loadPatient().then(() => loadHistory());
    });
  }, [view]);
  return null;
}

export function ElapsedTimer({ startedAt }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(tick);
  }, []);
  const start = parseInt(startedAt, 10) || now;
  return React.createElement("span", { role: "timer", "aria-label": "Elapsed time", style: { fontVariantNumeric: "tabular-nums", fontWeight: 700 } }, fmt(Math.max(0, Math.round((now - start) / 1000))));
}

export function MinutesBar({ minutes, marks, label }) {
  const value = parseInt(minutes, 10) || 0;
  const ticks = String(marks || "").split(",").map((m) => parseInt(m, 10)).filter((m) => m > 0);
  const top = Math.max(...ticks, value, 1) * 1.1;
  const passed = ticks.filter((t) => value >= t).length;
  const colour = passed > 0 ? "var(--grass-9)" : "var(--amber-9)";
  return React.createElement("div", {
    role: "progressbar", "aria-label": label || "Minutes this month", "aria-valuemin": 0,
    "aria-valuemax": ticks.length ? ticks[ticks.length - 1] : 20, "aria-valuenow": value,
    "aria-valuetext": `${value} minutes`, style: { position: "relative", height: "14px", borderRadius: "7px", background: "var(--gray-4)", width: "100%", overflow: "hidden" },
  },
  React.createElement("div", { style: { position: "absolute", left: 0, top: 0, bottom: 0, width: `${Math.min(100, (value / top) * 100)}%`, background: colour, borderRadius: "7px" } }),
  ...ticks.map((t) => React.createElement("div", { key: t, title: `${t} min`, style: { position: "absolute", top: 0, bottom: 0, left: `${(t / top) * 100}%`, width: "2px", background: value >= t ? "var(--grass-11)" : "var(--gray-9)" } })));
}
