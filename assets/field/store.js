// The phone's local store (IndexedDB "ccm-field"): small, dependency-free.
// - kv:       the installation's sync client id and next mutation id, the running timer,
//             the pull cursor, and small settings;
// - outbox:   mutations not yet acknowledged by the server, keyed by mutation id;
// - snapshot: the server's documents from the last pull ("worklist", "patient/<id>", …).
// Sign-out deletes the whole database; a lost session (401) clears only the snapshot, so
// unsent work survives until its author signs in again.
// Everything with PHI is sealed (vault.js): snapshot documents, the outbox's mutations and
// the running timer's patient. What stays plain carries none: keys (document names with
// patient ids), mutation ids, the installation id, the pull cursor, the timer's start
// instant (the lock screen shows the running call without saying whose), settings.
import { isSealed, seal, unseal } from "./vault.js";

export const DB_NAME = "ccm-field";
const DB_VERSION = 2;

let dbPromise = null;
let erased = false;  // after erase(), nothing in this page may create the database again
let onQuotaError = () => {};

export function whenStorageIsFull(callback) {
  onQuotaError = callback;
}

export function open() {
  // The lock screen's timer and the idle checks keep asking until the page has left.
  if (erased) return Promise.reject(new Error("This phone's ccm data was erased"));
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const database = request.result;
        for (const [name, options] of [["kv", undefined], ["outbox", { keyPath: "id" }], ["snapshot", undefined]]) {
          if (!database.objectStoreNames.contains(name)) database.createObjectStore(name, options);
        }
      };
      request.onsuccess = () => {
        const database = request.result;
        // Another tab upgrading or deleting the database (sign-out) must not be blocked.
        database.onversionchange = () => { database.close(); dbPromise = null; };
        resolve(database);
      };
      request.onerror = () => { dbPromise = null; reject(request.error); };
    });
  }
  return dbPromise;
}

// One transaction over `stores`; `work` receives the stores (in order) and may return a
// request whose result is the transaction's result.
export async function transact(stores, mode, work) {
  const database = await open();
  const names = Array.isArray(stores) ? stores : [stores];
  return new Promise((resolve, reject) => {
    const tx = database.transaction(names, mode);
    const result = work(...names.map((name) => tx.objectStore(name)));
    tx.oncomplete = () => resolve(result && typeof result === "object" && "result" in result ? result.result : result);
    const fail = () => {
      const error = tx.error;
      if (error && error.name === "QuotaExceededError") onQuotaError(error);
      reject(error);
    };
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

export const kvGet = (key) => transact("kv", "readonly", (s) => s.get(key));
export const kvSet = (key, value) => transact("kv", "readwrite", (s) => s.put(value, key));
export const kvDelete = (key) => transact("kv", "readwrite", (s) => s.delete(key));

const OUTBOX = "outbox";

// A queued mutation as stored: its id plain (the push order), the rest sealed.
export async function sealMutation(mutation) {
  const { id, ...rest } = mutation;
  return { id, box: await seal(rest, OUTBOX) };
}

async function openMutation(record) {
  return record && record.box ? { id: record.id, ...(await unseal(record.box, OUTBOX)) } : record;
}

export async function outboxAll() {
  const records = await transact("outbox", "readonly", (s) => s.getAll());
  return (await Promise.all(records.map(openMutation))).sort((a, b) => a.id - b.id);
}

// How many changes wait, readable while locked (the lock screen warns before an erase).
export const outboxCount = () => transact("outbox", "readonly", (s) => s.count());

export const snapshotGet = async (key) => unseal(await transact("snapshot", "readonly", (s) => s.get(key)), "snapshot:" + key);

// The running call: its start instant plain, whose call sealed.
export async function timerGet() {
  const stored = await kvGet("timer");
  if (!stored) return stored;
  return stored.box ? { started_at: stored.started_at, ...(await unseal(stored.box, "kv:timer")) } : stored;
}

export async function timerSet({ started_at, ...rest }) {
  await kvSet("timer", { started_at, box: await seal(rest, "kv:timer") });
}

export async function timerStartedAt() {
  const stored = await kvGet("timer");
  return stored ? stored.started_at : null;
}

// A pull's patch, applied atomically with its cursor: a crash never leaves half a pull.
// Sealing is asynchronous and an IndexedDB transaction is not, so documents are sealed first.
export async function applyPatch({ reset, puts, deletes, cursor, lastMutationId }) {
  const sealed = await Promise.all(Object.entries(puts || {}).map(
    async ([key, doc]) => [key, await seal(doc, "snapshot:" + key)]));
  return transact(["snapshot", "kv", "outbox"], "readwrite", (snapshot, kv, outbox) => {
    if (reset) snapshot.clear();
    for (const key of deletes || []) snapshot.delete(key);
    for (const [key, doc] of sealed) snapshot.put(doc, key);
    kv.put(cursor, "cursor");
    // The server's word that everything up to lastMutationId is applied: drop those,
    // even if the push's own answer was lost on the way back.
    outbox.delete(IDBKeyRange.upperBound(lastMutationId));
  });
}

// The server knows less of this phone than the phone sent: its database was restored from
// a backup. What it lost cannot come back from here (sent changes leave the outbox), but what
// is still queued must not be stuck behind that gap for ever: it becomes a new installation
// (new client id, ids from 1, same order) and the next pull is a reset.
export function startAsNewInstallation() {
  return transact(["kv", "outbox"], "readwrite", (kv, outbox) => {
    const all = outbox.getAll();
    all.onsuccess = () => {
      const queued = all.result.sort((a, b) => a.id - b.id);
      outbox.clear();
      queued.forEach((mutation, index) => outbox.put({ ...mutation, id: index + 1 }));
      kv.put({ id: crypto.randomUUID(), next: queued.length + 1 }, "client");
      kv.delete("cursor");
    };
  });
}

// A store written by an earlier version (plain) is sealed in place when the PIN is first
// set: every snapshot document, queued mutation and the timer, in one transaction.
export async function sealWhatIsPlain() {
  const [keys, docs, records, timer] = await transact(["snapshot", "outbox", "kv"], "readonly", (snapshot, outbox, kv) => {
    const found = [snapshot.getAllKeys(), snapshot.getAll(), outbox.getAll(), kv.get("timer")];
    return { get result() { return found.map((request) => request.result); } };
  });
  const plainDocs = keys.map((key, i) => [key, docs[i]]).filter(([, doc]) => !isSealed(doc));
  const sealedDocs = await Promise.all(plainDocs.map(async ([key, doc]) => [key, await seal(doc, "snapshot:" + key)]));
  const sealedMutations = await Promise.all(records.filter((r) => !r.box).map(sealMutation));
  const sealedTimer = timer && !timer.box ? { started_at: timer.started_at, box: await seal(
    { patient_id: timer.patient_id, patient_name: timer.patient_name }, "kv:timer") } : null;
  await transact(["snapshot", "outbox", "kv"], "readwrite", (snapshot, outbox, kv) => {
    for (const [key, doc] of sealedDocs) snapshot.put(doc, key);
    for (const record of sealedMutations) outbox.put(record);
    if (sealedTimer) kv.put(sealedTimer, "timer");
  });
  return { documents: sealedDocs.length, mutations: sealedMutations.length };
}

export function clearSnapshot() {
  return transact(["snapshot", "kv"], "readwrite", (snapshot, kv) => {
    snapshot.clear();
    kv.delete("cursor");
  });
}

// Sign-out: close our connection and delete everything this app stored on the phone.
export async function erase() {
  try {
    const database = await open();
    database.close();
  } catch (e) {
    // never opened: nothing to close
  }
  erased = true;
  dbPromise = null;
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
  if (typeof caches !== "undefined") {
    for (const name of await caches.keys()) await caches.delete(name);
  }
  try {
    localStorage.clear();
    sessionStorage.clear();
  } catch (e) {
    // storage disabled
  }
}
