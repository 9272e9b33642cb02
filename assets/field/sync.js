// The sync client (design §3, after Replicache): queue mutations locally, push them in
// order, pull the server's changes by cursor. Every step is safe to repeat: the server
// acknowledges a duplicate, refuses a gap with where to resume, and a pull tells which
// mutations it has applied even when a push's answer never came back.
//
// When: on app start, on the browser's `online` event, right after each change, every
// 60 s while this tab leads (Web Locks: one tab per phone runs the clock), and after a
// failure with exponential backoff and jitter.
import { refs, getBackendURL } from "$/utils/state";
import env from "$/env.json";
import { applyPatch, clearSnapshot, kvGet, kvSet, outboxAll, sealMutation, startAsNewInstallation, transact } from "./store.js";

export const SCHEMA_VERSION = 1;
const PERIOD_MS = 60 * 1000;
const FIRST_RETRY_MS = 5 * 1000;
const MAX_RETRY_MS = 5 * 60 * 1000;
const STALE_HOURS = 24;
const MAX_PUSH = 100;

// ---------------------------------------------------------------- client-state bridge
// Reflex ClientStateVars register a setter in `refs`; before the first component using
// the var mounts, the value is parked in the slot that component starts from.
export function setState(name, value) {
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

let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

// Resolves to {status, body}; rejects only when the server cannot be reached.
export async function api(path, options = {}) {
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
  if (response.status === 401) await onSignedOut();
  return { status: response.status, body };
}

// ---------------------------------------------------------------- outbox
export async function clientInfo() {
  let info = await kvGet("client");
  if (!info) {
    info = { id: crypto.randomUUID(), next: 1 };
    await kvSet("client", info);
  }
  return info;
}

// The change is on the phone (IndexedDB committed) before anything tells the user it is
// saved; the id and the mutation are written in one transaction, so a crash cannot reuse
// an id or lose a change that was confirmed.
// `alongside(kv)` may change the kv store in the same transaction (stopping the timer and
// queueing its entry happen together, so a crash cannot record a call twice).
export async function enqueue(name, args, alongside) {
  refused = false;
  await clientInfo();
  const occurred = new Date().toISOString();
  const content = { name, args, occurred_at: occurred, queued_at: Date.now() };
  // Sealed before the transaction (sealing is asynchronous); the id is not part of it.
  const { box } = await sealMutation({ id: 0, ...content });
  // The counter is read and advanced in the same transaction that stores the mutation, so
  // two changes made at the same moment (two taps, two tabs) never share an id.
  const mutation = await transact(["kv", "outbox"], "readwrite", (kv, outbox) => {
    const made = {};
    const read = kv.get("client");
    read.onsuccess = () => {
      const info = read.result;
      Object.assign(made, { id: info.next, ...content });
      outbox.put({ id: info.next, box });
      kv.put({ ...info, next: info.next + 1 }, "client");
      if (alongside) alongside(kv);
    };
    return made;
  });
  await publishStatus();
  requestSync();
  return mutation;
}

// ---------------------------------------------------------------- status for the screens
let status = { online: true, lastError: "", lastSync: 0 };
let refused = false;
let notice = "";

export async function publishStatus() {
  const queued = await outboxAll();
  const oldest = queued.length ? Math.min(...queued.map((m) => m.queued_at || Date.parse(m.occurred_at))) : 0;
  const hours = oldest ? (Date.now() - oldest) / 3600000 : 0;
  setState("pending", queued.length);
  setState("sync", {
    state: !status.online ? "offline" : refused ? "refused" : "online",
    pending: String(queued.length),
    stale: hours >= STALE_HOURS ? "yes" : "no",
    oldest: oldest ? new Date(oldest).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }) : "",
    error: status.lastError || notice,
  });
  return queued;
}

// ---------------------------------------------------------------- push and pull
let onSynced = async () => {};
let onRejected = () => {};
export function whenSynced(callback) {
  onSynced = callback;
}
export function whenRejected(callback) {
  onRejected = callback;
}

// Push everything queued (in slices), then pull. Returns the push results' rejections.
async function pushAll() {
  const rejections = [];
  let slice = MAX_PUSH;
  for (;;) {
    const queued = (await outboxAll()).slice(0, slice);
    if (!queued.length) return rejections;
    const info = await clientInfo();
    const { status: code, body } = await api("/sync/push", {
      method: "POST",
      body: JSON.stringify({
        client_id: info.id, schema_version: SCHEMA_VERSION, client_time: new Date().toISOString(),
        mutations: queued.map(({ id, name, args, occurred_at }) => ({ id, name, args, occurred_at })),
      }),
    });
    if (code === 200 || code === 409) {
      // 409: the server has applied up to last_mutation_id (an earlier answer was lost):
      // drop those and send the rest.
      const done = body && typeof body.last_mutation_id === "number" ? body.last_mutation_id : 0;
      await transact("outbox", "readwrite", (s) => s.delete(IDBKeyRange.upperBound(done)));
      for (const result of (body && body.results) || []) {
        if (result.status === "rejected") {
          const mutation = queued.find((m) => m.id === result.id);
          rejections.push({ ...result, name: mutation ? mutation.name : "" });
        }
      }
      if (code === 409 && done < queued[0].id - 1) {
        // The server is behind this phone: its database was restored from a backup. Send
        // what is still queued as a new installation, and say what may be missing.
        await startAsNewInstallation();
        notice = "The server was restored from a backup: changes this phone sent before " +
          "then may be missing there. Check your recent entries; unsent changes were kept.";
      }
      continue;
    }
    if (code === 413 && slice > 1) {
      // Over the server's body limit (api/request_guard.py): send fewer changes at a time.
      slice = Math.ceil(slice / 2);
      continue;
    }
    if (code === 413) throw new SyncRefused("A change is too large to send; it was kept on this phone.");
    if (code === 401) throw new SyncRefused("Sign in again to send your changes.");
    if (code === 403) throw new SyncRefused((body && body.detail) || "This phone's changes belong to another user.");
    if (code === 422) {
      // Refused whole and kept: retrying cannot help, so wait for the next change.
      throw new SyncRefused((body && body.detail) || "The server refused the changes.");
    }
    throw new Error(`push: HTTP ${code}`);
  }
}

async function pull() {
  const info = await clientInfo();
  const cursor = (await kvGet("cursor")) || "";
  const query = new URLSearchParams({ client_id: info.id, cursor });
  const { status: code, body } = await api("/sync/pull?" + query.toString());
  if (code === 401) throw new SyncRefused("Sign in again.");
  if (code === 403) throw new SyncRefused((body && body.detail) || "This phone's data belongs to another user.");
  if (code !== 200) throw new Error(`pull: HTTP ${code}`);
  await applyPatch({ reset: body.reset, puts: body.puts, deletes: body.deletes, cursor: body.cursor, lastMutationId: body.last_mutation_id });
  if (body.server_time) await kvSet("skew_ms", Date.now() - Date.parse(body.server_time));
  return body;
}

class SyncRefused extends Error {}

let running = null;
let again = false;
let failures = 0;
let timer = null;

// Run one sync now (or right after the one in progress). Across tabs, the Web Lock keeps
// two tabs of one phone from pushing the same outbox at the same moment.
export function requestSync() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    let rejections = [];
    try {
      do {
        again = false;
        rejections = rejections.concat(await withLock(async () => {
          const found = await pushAll();
          await pull();
          return found;
        }));
      } while (again);
      status = { online: true, lastError: "", lastSync: Date.now() };
      refused = false;
      failures = 0;
    } catch (error) {
      if (error instanceof SyncRefused) {
        refused = true;
        status = { ...status, online: true, lastError: error.message };
      } else {
        status = { ...status, online: false, lastError: "" };
        failures += 1;
      }
    } finally {
      running = null;
    }
    if (rejections.length) onRejected(rejections);
    const queued = await publishStatus();
    await onSynced(status.online && !refused);
    schedule(queued.length);
    return rejections;
  })();
  return running;
}

function withLock(work) {
  if (typeof navigator !== "undefined" && navigator.locks) {
    return navigator.locks.request("ccm-sync", work);
  }
  return work();
}

let leader = false;
function schedule(pending) {
  if (timer) clearTimeout(timer);
  timer = null;
  if (refused && !pending) return;
  let delay;
  if (failures > 0) {
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
    delay = base * (0.5 + Math.random());  // jitter: phones coming back together spread out
  } else if (pending && !refused) {
    delay = FIRST_RETRY_MS;
  } else if (leader) {
    delay = PERIOD_MS;
  } else {
    return;
  }
  timer = setTimeout(() => requestSync(), delay);
}

// Become the tab that keeps the phone in sync on a clock; other tabs sync on their changes.
function lead() {
  if (typeof navigator === "undefined" || !navigator.locks) {
    leader = true;
    return;
  }
  navigator.locks.request("ccm-sync-leader", () => {
    leader = true;
    schedule(0);
    return new Promise(() => {});  // held until this tab closes
  });
}

let started = false;
export async function startSync() {
  if (started) {
    requestSync();  // a new screen: fresh data if the network is there
    return;
  }
  started = true;
  lead();
  window.addEventListener("online", () => {
    refused = false;
    failures = 0;
    requestSync();
  });
  window.addEventListener("offline", () => {
    status = { ...status, online: false };
    publishStatus();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") requestSync();
  });
  requestStoragePersistence();
  await publishStatus();
  requestSync();
}

// Ask the browser not to evict the outbox under storage pressure (checklist A12).
async function requestStoragePersistence() {
  if (!navigator.storage || !navigator.storage.persist) return;
  try {
    const persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
    await kvSet("storage", { persisted, estimate: navigator.storage.estimate ? await navigator.storage.estimate() : null });
  } catch (e) {
    // not granted: the outbox is still kept, only at the browser's discretion
  }
}

// After a 401: the server no longer knows this phone's user. Patient data goes; the outbox
// and timer stay for their author's next sign-in.
export async function forgetSnapshot() {
  await clearSnapshot();
}

export function syncStatus() {
  return { ...status, refused, failures };
}
