// The phone's local store (IndexedDB "ccm-field"): small, dependency-free.
// - kv:       the installation's sync client id and next mutation id, the running timer,
//             the pull cursor, and small settings;
// - outbox:   mutations not yet acknowledged by the server, keyed by mutation id;
// - snapshot: the server's documents from the last pull ("worklist", "patient/<id>", …).
// Sign-out deletes the whole database; a lost session (401) clears only the snapshot, so
// unsent work survives until its author signs in again.
export const DB_NAME = "ccm-field";
const DB_VERSION = 2;

let dbPromise = null;
let onQuotaError = () => {};

export function whenStorageIsFull(callback) {
  onQuotaError = callback;
}

export function open() {
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

export const outboxAll = async () => (await transact("outbox", "readonly", (s) => s.getAll())).sort((a, b) => a.id - b.id);

export const snapshotGet = (key) => transact("snapshot", "readonly", (s) => s.get(key));

// A pull's patch, applied atomically with its cursor: a crash never leaves half a pull.
export function applyPatch({ reset, puts, deletes, cursor, lastMutationId }) {
  return transact(["snapshot", "kv", "outbox"], "readwrite", (snapshot, kv, outbox) => {
    if (reset) snapshot.clear();
    for (const key of deletes || []) snapshot.delete(key);
    for (const [key, doc] of Object.entries(puts || {})) snapshot.put(doc, key);
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
