// The field kit: everything the care manager's screens do runs here, in the browser, so the
// screens keep working with no signal and with the Reflex backend down (design §2,
// offline notes P4/P5).
// - screens render from the phone's local snapshot (store.js), filled by pulls (sync.js),
//   with this phone's unsent changes laid over it and marked as pending;
// - writes are mutations queued in the IndexedDB outbox and pushed in order;
// - the call timer keeps its start instant in IndexedDB: elapsed time is always computed
//   from that instant, never counted, so a locked screen or a reload loses nothing.
import React, { useEffect, useState } from "react";
import { DB_NAME, erase, kvDelete, kvGet, kvSet, outboxAll, snapshotGet, timerGet, timerSet, whenStorageIsFull } from "./store.js";
import {
  api, clientInfo, enqueue, forgetSnapshot, requestSync, setState, startSync,
  whenRejected, whenSignedOut, whenSynced,
} from "./sync.js";
import { disableReminders, enableReminders, refreshSubscription, showReminders, testReminder } from "./push.js";
import { ensureUnlocked, lockNow, rememberLockMinutes } from "./lock.js";
import { unsealTime } from "./vault.js";

const LONG_CALL_SECONDS = 90 * 60;

whenStorageIsFull(() => setState("syncerror", "This phone's storage is full: free some space, or changes cannot be kept offline."));
whenSignedOut(async () => {
  // The server no longer knows this session: patient data leaves the phone, unsent work
  // stays for its author's next sign-in.
  await forgetSnapshot();
  if (!window.location.pathname.startsWith("/login")) window.location.replace("/login");
});
whenRejected((rejections) => {
  setState("notice", "Not accepted by the server: " + rejections.map((r) => r.reason).join("; "));
});
whenSynced(async (reachedServer) => {
  const me = await snapshotGet("me");
  if (me) await rememberLockMinutes(me.app_lock_minutes);
  await renderCurrent();
  // The version history is not kept on the phone: fetch it again after each good sync.
  if (reachedServer && current.view === "patient" && window.location.pathname.endsWith("/care-plan")) await loadHistory();
});

// ---------------------------------------------------------------- screens' data
// Every screen renders from the local snapshot first (instant, and the only source when
// offline), then again after each sync.
let current = { view: null, patientId: null };
let filters = { filter: "all", search: "", shown: 20 };
// The most urgent first; more on request. A phone renders 20 cards fast, 150 slowly, and
// the top of a ranked list is what a care manager works from.
const PAGE = 20;

function patientIdFromPath() {
  const match = window.location.pathname.match(/\/patients\/([0-9a-f-]{36})/);
  return match ? match[1] : null;
}

async function renderCurrent() {
  await publishTimer();
  await renderNotices();
  if (current.view === "worklist") await renderWorklist();
  else if (current.view === "patient") await renderPatient(current.patientId);
}

// What this phone has queued but the server has not confirmed yet, per patient.
async function pendingWork() {
  const byPatient = {};
  const voids = new Set();
  const doneTasks = new Set();
  const mine = (id) => (byPatient[id] = byPatient[id] || { entries: [], notes: [], elements: {}, other: [] });
  for (const m of await outboxAll()) {
    const a = m.args || {};
    if (m.name === "time_entry.record") mine(a.patient_id).entries.push(a);
    else if (m.name === "time_entry.void") voids.add(a.entry_id);
    else if (m.name === "note.add") mine(a.patient_id).notes.push({ ...a, at: m.occurred_at });
    else if (m.name === "task.complete") doneTasks.add(a.task_id);
    else if (m.name === "care_plan.update") for (const c of a.changes || []) mine(a.patient_id).elements[c.element] = c.value;
    else if (m.name === "care_plan.set_element") mine(a.patient_id).elements[a.element] = a.value;
    else if (a.patient_id) mine(a.patient_id).other.push(m.name);
  }
  return { byPatient, voids, doneTasks };
}

function monthOf(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

// Server minutes plus this phone's unsent minutes in the same month, minus unsent voids.
function pendingSeconds(pending, patientId, month, serverEntries) {
  const mine = pending.byPatient[patientId];
  let seconds = 0;
  if (mine) for (const e of mine.entries) if (monthOf(e.started_at) === month) seconds += e.duration_seconds;
  for (const e of serverEntries || []) if (pending.voids.has(e.id) && !e.voided) seconds -= e.seconds;
  return seconds;
}

function visibleRows(rows) {
  const text = filters.search.trim().toLowerCase();
  return rows.filter((p) => {
    if (text && !(p.name.toLowerCase().includes(text) || p.mrn.toLowerCase().includes(text))) return false;
    if (filters.filter === "needs_minutes") return p.status !== "billable" && p.status !== "blocked";
    if (filters.filter === "tasks_due") return p.tasks_due > 0 || p.overdue_tasks > 0;
    if (filters.filter === "done") return p.status === "billable";
    return true;
  });
}

// A care manager working several practices sees which one each patient is of.
const severalPractices = (worklist) => (worklist.practices || []).length > 1;

function worklistRow(p, extra, labelled) {
  const minutes = Math.max(0, p.minutes + Math.trunc(extra / 60));
  return {
    id: p.id, name: p.name, mrn: p.mrn, phone: p.phone || "", conditions: p.conditions || "",
    practice: labelled ? p.practice || "" : "",
    minutes: String(minutes), marks: (p.marks || []).join(","), status: p.status,
    pending: extra ? `incl. ${Math.trunc(extra / 60)} min waiting to sync` : "",
    next: p.next_code ? `${Math.max(0, p.minutes_to_next - Math.trunc(extra / 60))} min to ${p.next_code}` : "Done for this month",
    why: (p.why || []).join(" · "), href: "/patients/" + p.id,
    tel: p.phone ? "tel:" + p.phone.replace(/[^+0-9]/g, "") : "",
  };
}

async function renderWorklist() {
  const worklist = await snapshotGet("worklist");
  if (!worklist) return;
  const pending = await pendingWork();
  const rows = [];
  const matching = visibleRows(worklist.patients);
  for (const p of matching.slice(0, filters.shown)) {
    // An unsent void takes its entry's minutes back: those are in the patient's document.
    const doc = pending.voids.size ? await snapshotGet("patient/" + p.id) : null;
    // Each practice's own month: near midnight two practices may be in different months.
    rows.push(worklistRow(p, pendingSeconds(pending, p.id, p.month || worklist.month, doc && doc.time_entries),
      severalPractices(worklist)));
  }
  setState("rows", rows);
  setState("worklistinfo", {
    month: worklist.month || "", days_left: String(worklist.days_left || 0),
    // Several practices: each one's month and days left (their time zones may differ).
    practices: severalPractices(worklist)
      ? worklist.practices.map((p) => `${p.name}: ${p.month}, ${p.days_left} days left`).join(" · ") : "",
    count: String(matching.length), total: String(worklist.patients.length), filter: filters.filter,
    loaded: "yes", more: String(Math.max(0, matching.length - rows.length)),
  });
  const open = await snapshotGet("candidates");
  if (open) {
    setState("candidates", open.patients.map((p) => ({
      id: p.id, name: p.name, mrn: p.mrn, href: "/patients/" + p.id, conditions: p.conditions,
      line: `${p.eligible ? "Eligible" : "Not eligible"}: ${p.reason} · ${p.status}`,
      eligible: p.eligible ? "yes" : "no", practice: p.practice || "",
    })));
  }
}

async function loadWorklist() {
  current = { view: "worklist", patientId: null };
  await renderWorklist();
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
const elementLabel = (key) => (ELEMENTS.find(([k]) => k === key) || [key, key])[1].replace(/ \(.*\)$/, "");

function patientView(data, pending, labelled) {
  const p = data.patient;
  const progress = data.progress || {};
  const plan = data.care_plan;
  const mine = pending.byPatient[p.id] || { entries: [], notes: [], elements: {}, other: [] };
  const extra = pendingSeconds(pending, p.id, progress.month, data.time_entries);
  const minutes = Math.max(0, (progress.minutes || 0) + Math.trunc(extra / 60));
  const waiting = mine.entries.length + mine.notes.length + Object.keys(mine.elements).length + mine.other.length;
  return {
    id: p.id, name: p.name, mrn: p.mrn, phone: p.phone || "",
    tel: p.phone ? "tel:" + p.phone.replace(/[^+0-9]/g, "") : "",
    summary: `${p.age} y · MRN ${p.mrn} · ${p.program.replace("_", " ").toUpperCase()} · ${p.enrollment_status.replace("_", " ")}`,
    practice: labelled ? p.practice || "" : "",
    conditions: (data.conditions || []).filter((c) => c.chronic).map((c) => `${c.plain || c.description} (${c.code})`).join(", ") || "No chronic conditions on file",
    consent: data.consent ? `Consent ${data.consent.method} on ${data.consent.date}` : "No consent on file",
    practitioner: p.billing_practitioner || "No billing practitioner",
    eligible: data.eligibility && data.eligibility.eligible ? "yes" : "no",
    eligibility: data.eligibility ? data.eligibility.reason : "",
    program: data.eligibility ? data.eligibility.program : p.program,
    enrolled: p.enrollment_status === "enrolled" ? "yes" : "no",
    month: progress.month || "", minutes: String(minutes),
    pending: waiting ? `${waiting} change(s) on this phone waiting to sync${extra ? `, incl. ${Math.trunc(extra / 60)} min` : ""}` : "",
    marks: (progress.marks || []).join(","), status: progress.status || "",
    codes: (progress.codes || []).map((c) => (c.units > 1 ? `${c.code} ×${c.units}` : c.code)).join(", ") || "None yet",
    next: progress.next_code ? `${Math.max(0, progress.minutes_to_next - Math.trunc(extra / 60))} min to ${progress.next_code}, ${progress.days_left} days left` : "Nothing more needed this month",
    blocking: (progress.blocking_reasons || []).join(" · "),
    last_month: data.last_month ? `${data.last_month.month}: ${data.last_month.minutes} min, ${data.last_month.codes || "not billable"}` : "",
    entries: mine.entries.map((e) => ({
      id: e.entry_id, when: when(e.started_at), minutes: `${Math.floor(e.duration_seconds / 60)} min ${e.duration_seconds % 60} s`,
      activity: ACTIVITY_WORDS[e.activity] || e.activity, note: e.note || "", by: "You",
      state: "Waiting to sync" + (e.source === "manual" ? " · manual" : ""), voided: "pending",
    })).concat((data.time_entries || []).map((e) => ({
      id: e.id, when: when(e.started_at), minutes: `${Math.floor(e.seconds / 60)} min ${e.seconds % 60} s`,
      activity: ACTIVITY_WORDS[e.activity] || e.activity, note: e.note || "", by: e.performer || "",
      state: e.voided ? `Voided: ${e.void_reason}` : pending.voids.has(e.id) ? "Void waiting to sync" : (e.flags || []).join(", "),
      voided: e.voided || pending.voids.has(e.id) ? "yes" : "no",
    }))),
    notes: mine.notes.map((n) => ({ id: n.note_id, body: n.body, line: `${when(n.at)} · You · waiting to sync` }))
      .concat((data.notes || []).map((n) => ({ id: n.id, body: n.body, line: `${when(n.at)} · ${n.author}` }))),
    tasks: (data.tasks || []).filter((t) => t.status !== "completed" && t.status !== "cancelled" && !pending.doneTasks.has(t.id)).map((t) => ({
      id: t.id, title: t.title, line: t.due_at ? `Due ${when(t.due_at)}${t.overdue ? " — overdue" : ""}` : "", overdue: t.overdue ? "yes" : "no",
    })),
    has_plan: plan ? "yes" : "no",
    plan_line: plan ? `Established ${plan.established_on}${plan.last_reviewed_on ? ", reviewed " + plan.last_reviewed_on : ""}${plan.copy_given_on ? ", copy given " + plan.copy_given_on + " (" + plan.copy_given_method + ")" : ""}` : "No care plan yet",
    elements: ELEMENTS.map(([key, label]) => {
      const element = plan && plan.elements[key] ? plan.elements[key] : { value: null, version: 0 };
      const local = key in mine.elements;
      return {
        key, label, text: elementText(key, local ? mine.elements[key] : element.value), version: String(element.version || 0),
        line: local ? "Saved on this phone · waiting to sync" : element.version ? `Version ${element.version} · ${element.author || ""} · ${element.at ? when(element.at) : ""}` : "Not written yet",
        pending: local ? "yes" : "no",
      };
    }),
  };
}

const EMPTY = { id: "", name: "", missing: "", entries: [], notes: [], tasks: [], elements: [] };
let patientData = null;
let onlineRecord = {};  // records of patients not in the snapshot (not enrolled), this page only

async function renderPatient(id) {
  const doc = (await snapshotGet("patient/" + id)) || onlineRecord[id];
  if (!doc) return false;
  patientData = doc;
  const me = await snapshotGet("me");
  setState("patient", patientView(doc, await pendingWork(), ((me && me.practices) || []).length > 1));
  await renderConflicts(id);
  return true;
}

async function loadPatient(id) {
  id = id || patientIdFromPath();
  if (!id) return;
  current = { view: "patient", patientId: id };
  if (await renderPatient(id)) return;
  // Not on this phone (a patient not enrolled yet, or before the first sync): ask the server.
  try {
    const { status, body } = await api("/patients/" + id);
    if (status === 200) {
      onlineRecord[id] = body;
      await renderPatient(id);
    } else if (status === 403 || status === 404) {
      setState("patient", { ...EMPTY, missing: "yes" });
    }
  } catch (e) {
    setState("patient", { ...EMPTY, missing: "offline" });
  }
}

async function loadHistory(id) {
  id = id || patientIdFromPath();
  try {
    const { status, body } = await api(`/patients/${id}/care-plan/history`);
    if (status === 200) {
      setState("history", body.revisions.map((r) => ({
        element: elementLabel(r.element), version: String(r.version), text: elementText(r.element, r.value),
        line: `${r.author} · ${when(r.at)}`,
      })));
    }
  } catch (e) {
    setState("history", [{ element: "Offline", version: "", text: "The version history loads when the phone is online.", line: "" }]);
  }
}

// Care-plan conflicts (a field changed on the server while this phone edited it): both
// values are kept and the care manager chooses; nothing is overwritten silently.
async function renderConflicts(patientId) {
  const doc = await snapshotGet("conflicts");
  const resolving = new Set((await outboxAll()).filter((m) => m.name === "care_plan.resolve_conflict").map((m) => m.args.conflict_id));
  setState("conflicts", ((doc && doc.items) || []).filter((c) => c.patient_id === patientId && !resolving.has(c.id)).map((c) => ({
    id: c.id, label: elementLabel(c.element), mine: elementText(c.element, c.client_value),
    theirs: elementText(c.element, c.server_value), server_version: String(c.server_version),
    line: `Your edit of ${when(c.client_occurred_at)} was based on version ${c.base_version}; the plan is now at version ${c.server_version}.`,
  })));
}

async function resolveConflict(conflictId, keep, serverVersion) {
  await enqueue("care_plan.resolve_conflict", { conflict_id: conflictId, keep, server_version: parseInt(serverVersion, 10) || 0 });
  await renderCurrent();
  setState("notice", keep === "mine" ? "Your version will replace the current one." : "The current version is kept.");
}

// Rejections the server sent back (also those whose push answer was lost): shown until
// the care manager has seen them.
async function renderNotices() {
  const doc = await snapshotGet("rejections");
  const seen = new Set((await kvGet("seen_rejections")) || []);
  setState("rejections", ((doc && doc.items) || []).filter((r) => !seen.has(r.mutation_id)).slice(0, 20).map((r) => ({
    id: String(r.mutation_id),
    line: `${r.patient_name ? r.patient_name + ": " : ""}${describe(r.name)} of ${when(r.occurred_at)} was not accepted — ${r.reason}`,
  })));
  const conflicts = await snapshotGet("conflicts");
  setState("conflictcount", ((conflicts && conflicts.items) || []).length);
  const me = await snapshotGet("me");
  if (me) setState("me", { name: me.name || "", role: me.role || "" });
}

function describe(name) {
  return { "time_entry.record": "Time entry", "time_entry.void": "Void", "note.add": "Note",
    "care_plan.update": "Care-plan change", "care_plan.set_element": "Care-plan change",
    "care_plan.resolve_conflict": "Care-plan choice", "task.complete": "Task", "patient.enroll": "Enrollment",
    "patient.unenroll": "Ending enrollment", "care_plan.review": "Care-plan review", "care_plan.set_details": "Care-plan dates" }[name] || name;
}

async function dismissRejections() {
  const doc = await snapshotGet("rejections");
  await kvSet("seen_rejections", ((doc && doc.items) || []).map((r) => r.mutation_id));
  await renderNotices();
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
  const timer = await timerGet();
  setState("timer", timer ? { running: "yes", patient_id: timer.patient_id, patient_name: timer.patient_name, started_at: String(timer.started_at) } : { running: "no", patient_id: "", patient_name: "", started_at: "0" });
  return timer;
}

// Start the timer for the patient on screen (patient and care-plan screens).
function startTimerHere() {
  if (patientData) startTimer(patientData.patient.id, patientData.patient.name);
}

async function startTimer(patientId, patientName) {
  const running = await timerGet();
  if (running && running.patient_id === patientId) return;
  if (running && !window.confirm(`A timer is running for ${running.patient_name}. Stop it and save that time first?`)) return;
  if (running) {
    openStopForm();
    return;
  }
  await timerSet({ patient_id: patientId, patient_name: patientName, started_at: Date.now() });
  await publishTimer();
}

async function openStopForm() {
  const timer = await timerGet();
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
  const timer = await timerGet();
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
  await enqueue("time_entry.record", {
    entry_id: crypto.randomUUID(), patient_id: timer.patient_id, started_at: new Date(timer.started_at).toISOString(),
    duration_seconds: seconds, activity: value("stop-activity") || "phone_call_patient",
    note: value("stop-note"), source,
  }, (kv) => kv.delete("timer"));
  await publishTimer();
  closeStopForm();
  await saved(`Saved ${Math.floor(seconds / 60)} min for ${timer.patient_name}.`);
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
  await enqueue("time_entry.record", {
    entry_id: crypto.randomUUID(), patient_id: patientId, started_at: new Date(`${day}T${time}`).toISOString(),
    duration_seconds: minutes * 60, activity: value("manual-activity") || "care_coordination",
    note: value("manual-note"), source: "manual",
  });
  await saved(`Added ${minutes} min by hand (marked as manual).`);
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
  await enqueue("note.add", { note_id: crypto.randomUUID(), patient_id: patientId, body });
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
  await enqueue("care_plan.update", {
    patient_id: patientId,
    changes: [{ element: key, value: parseElement(key, value("element-" + key)), base_version: parseInt(baseVersion, 10) || 0 }],
  });
  await saved("Care plan saved.");
}

async function reviewPlan(patientId) {
  patientId = patientId || current.patientId;
  await enqueue("care_plan.review", { patient_id: patientId, reviewed_on: localDate() });
  await saved("Monthly care plan review recorded.");
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
  await enqueue("patient.enroll", args);
  await saved("Consent recorded and patient enrolled.");
}

async function unenroll(patientId) {
  patientId = patientId || current.patientId;
  const reason = window.prompt("Why is the patient leaving the program? (effective end of this month)");
  if (!reason || !reason.trim()) return;
  await enqueue("patient.unenroll", { patient_id: patientId, reason: reason.trim() });
}

function showMore() {
  filters.shown += 50;
  renderWorklist();
}

function setFilter(filter) {
  filters.filter = filter;
  filters.shown = PAGE;
  publishWorklist();
}

function setSearch(text) {
  filters.search = text || "";
  filters.shown = PAGE;
  publishWorklist();
}

// Sign-out (checklist B26): send what is queued, then erase this device's field data before
// the server ends the session (whose Clear-Site-Data header is the second line of defence).
async function signOut(form) {
  await requestSync();
  const waiting = await outboxAll();
  if (waiting.length) {
    const ok = window.confirm(`${waiting.length} change(s) on this phone have not reached the server. ` +
      "Sign out anyway and discard them? The discard is recorded in the audit log.");
    if (!ok) return;
    let recorded = false;
    try {
      const info = await clientInfo();
      const { status } = await api("/sync/discard", {
        method: "POST",
        body: JSON.stringify({ client_id: info.id, mutations: waiting.map((m) => ({ id: m.id, name: m.name, occurred_at: m.occurred_at, patient_id: (m.args && m.args.patient_id) || null })) }),
      });
      recorded = status === 200;
    } catch (e) {
      recorded = false;
    }
    if (!recorded && !window.confirm("The phone is offline, so the discard cannot be recorded now. Erase this phone's data anyway?")) return;
  }
  // Sign-out (checklist B26, A15): nothing of the patients stays on the phone. The server's
  // Clear-Site-Data header on the sign-out answer is the second line of defence.
  await erase();
  form.submit();
}

// A saved change: say so, and whether it is still waiting for a connection.
async function saved(message) {
  await renderCurrent();
  const waiting = (await outboxAll()).length;
  setState("notice", waiting && !navigator.onLine ? message + " It will be sent when the connection is back." : message);
}

// The service worker found a new build: offer it, never reload by surprise.
async function watchForUpdates() {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration();
  if (!registration) return;
  // Not controlled although a worker is active: ask it to take this page over, or a
  // reload with no signal would not open.
  if (!navigator.serviceWorker.controller && registration.active) registration.active.postMessage({ type: "CLAIM" });
  const offer = () => {
    if (registration.waiting && navigator.serviceWorker.controller) setState("update", "yes");
  };
  offer();
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    if (worker) worker.addEventListener("statechange", offer);
  });
  window.addEventListener("online", () => registration.update().catch(() => {}));
  setInterval(() => registration.update().catch(() => {}), 30 * 60 * 1000);
}

async function applyUpdate() {
  const registration = await navigator.serviceWorker.getRegistration();
  if (!registration || !registration.waiting) return window.location.reload();
  // Queued changes are in IndexedDB and survive the reload; the new build sends them.
  navigator.serviceWorker.addEventListener("controllerchange", () => window.location.reload(), { once: true });
  registration.waiting.postMessage({ type: "SKIP_WAITING" });
}

// Pages are prerendered on the server at build time, where there is no window.
const api_ = {
  loadWorklist, loadPatient, loadHistory, setFilter, setSearch, startTimer, startTimerHere,
  openStopForm, saveTimer, discardTimer, closeStopForm, saveManualEntry, voidEntry, addNote,
  completeTask, saveElement, reviewPlan, saveCopyGiven, enroll, unenroll, signOut,
  resolveConflict, dismissRejections, applyUpdate, sync: requestSync,
  enableReminders, disableReminders, testReminder, showMore,
  dismissNotice: () => setState("notice", ""),
  lock: lockNow,
};
if (typeof window !== "undefined") window.ccmField = api_;

// ---------------------------------------------------------------- React components
export function FieldRuntime({ view }) {
  useEffect(() => {
    (async () => {
      performance.mark("ccm-field-start");  // React has hydrated (bench/phone.py reads these)
      closeStopForm();
      if (view === "signed_out") {
        // The sign-in screen: no patient data may stay behind a lost session (but a store
        // that sign-out erased is not created again just to be emptied).
        const names = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [DB_NAME];
        if (names.includes(DB_NAME)) await forgetSnapshot();
        return;
      }
      // Nothing is read from the phone's store, nor synced, before the PIN (lock.js).
      await ensureUnlocked();
      if (view === "worklist") {
        // A reminder opens "/?filter=needs_minutes": the worklist, already filtered.
        const wanted = new URLSearchParams(window.location.search).get("filter");
        if (["all", "needs_minutes", "tasks_due", "done"].includes(wanted)) filters.filter = wanted;
        await loadWorklist();
        performance.mark("ccm-today-data");
        performance.mark("ccm-decrypt-ms", { startTime: unsealTime() });
      } else if (view === "account") showReminders();
      else if (view === "patient" || view === "care_plan") await loadPatient();
      await renderCurrent();
      if (view === "care_plan") loadHistory();
      await startSync();
      watchForUpdates();
      refreshSubscription();
    })();
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
