// The service worker: the app shell comes from the phone, so the field screens open with no
// signal and with the backend down (design §2). It caches only the built app (HTML shells,
// hashed JS/CSS, icons) — never /api/*, the Reflex websocket, or anything carrying PHI;
// patient data lives in the field kit's IndexedDB, which sign-out erases.
//
// Updates never reload a page by surprise: a new build's worker installs next to the old
// one and waits; the page shows "Update available" and the care manager chooses when
// (ccm_pwa/pwa.py writes the precache list and its version below at build time).
self.__PRECACHE_MANIFEST = [];
self.__PRECACHE_VERSION = "unbuilt";

const PREFIX = "ccm-precache-";
const CACHE = PREFIX + self.__PRECACHE_VERSION;
const FALLBACK = "/__spa-fallback.html";
// Never answered from a cache: the API (PHI), Reflex's event socket and upload, health.
const NETWORK_ONLY = [/^\/api\//, /^\/_event/, /^\/_upload/, /^\/ping/, /^\/_health/,
  /^\/_all_routes/, /^\/sw\.js$/];
// Reflex answers static files with "Vary: Origin"; module scripts carry Origin and would
// all miss (offline notes P1).
const MATCH = { ignoreSearch: true, ignoreVary: true };

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

async function precache() {
  const cache = await caches.open(CACHE);
  const older = (await caches.keys()).filter((name) => name.startsWith(PREFIX) && name !== CACHE);
  await Promise.all(self.__PRECACHE_MANIFEST.map(async (entry) => {
    // A hashed file the previous build also had is copied, not downloaded again (P7).
    for (const name of older) {
      const previous = await caches.open(name);
      const hit = await previous.match(entry.url, MATCH);
      if (hit && hit.headers.get("x-ccm-revision") === entry.revision) {
        await cache.put(entry.url, hit);
        return;
      }
    }
    const response = await fetch(new Request(entry.url, { cache: "reload", credentials: "same-origin" }));
    if (!response.ok || response.redirected) {
      throw new Error(`precache ${entry.url}: ${response.status}${response.redirected ? " redirected" : ""}`);
    }
    await cache.put(entry.url, await withRevision(response, entry.revision));
  }));
  // Only the very first worker takes over at once; later ones wait for the user (see top).
  if (!self.registration.active) self.skipWaiting();
}

// Remember which revision a cached file is, so the next build can reuse it.
async function withRevision(response, revision) {
  const headers = new Headers(response.headers);
  headers.set("x-ccm-revision", revision);
  return new Response(await response.blob(), { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    // Keep this build and the one before it: a page still running the old build can
    // still load its lazy route chunks after the switch (offline notes P8).
    const names = (await caches.keys()).filter((name) => name.startsWith(PREFIX));
    const previous = names.filter((name) => name !== CACHE).slice(-1);
    await Promise.all(names.filter((name) => name !== CACHE && !previous.includes(name))
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
  // A page that loaded while this worker was activating (e.g. the redirect after the
  // sign-in form's POST) can miss the claim in "activate"; it asks, and is taken over.
  if (event.data && event.data.type === "CLAIM") event.waitUntil(self.clients.claim());
  if (event.data && event.data.type === "VERSION" && event.ports[0]) {
    event.ports[0].postMessage({ version: self.__PRECACHE_VERSION, files: self.__PRECACHE_MANIFEST.length });
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NETWORK_ONLY.some((pattern) => pattern.test(url.pathname))) return;
  if (request.mode === "navigate") {
    event.respondWith(navigation(request, url));
  } else {
    event.respondWith(asset(request));
  }
});

// Pages: the precached shell for this route (or the SPA shell for dynamic routes such as
// /patients/<id>), so a reload with no network, or with the backend down, still opens.
async function navigation(request, url) {
  const path = url.pathname;
  const candidates = path === "/" ? ["/"] : [path, path.endsWith("/") ? path : path + "/",
    (path.endsWith("/") ? path : path + "/") + "index.html"];
  for (const candidate of candidates) {
    const hit = await matchAnyBuild(candidate);
    if (hit && !hit.redirected) return hit;
  }
  try {
    const response = await fetch(request);
    if (response.ok || !(await matchAnyBuild(FALLBACK))) return response;
  } catch (error) {
    // network down: the SPA shell below
  }
  const shell = await matchAnyBuild(FALLBACK);
  return shell || new Response("Offline, and this app has not been opened online on this phone yet.",
    { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

async function asset(request) {
  const hit = await matchAnyBuild(request);
  if (hit) return hit;
  return fetch(request);
}

// This build first, then the one before it (a page from the old build asks for old chunks).
async function matchAnyBuild(request) {
  const current = await caches.open(CACHE);
  const hit = await current.match(request, MATCH);
  if (hit) return hit;
  const names = (await caches.keys()).filter((name) => name.startsWith(PREFIX) && name !== CACHE);
  for (const name of names.reverse()) {
    const old = await (await caches.open(name)).match(request, MATCH);
    if (old) return old;
  }
  return undefined;
}

// ---------------------------------------------------------------- reminders (Web Push)
// The payload is {title, body, url, tag} and never names a patient; the details load in
// the app after sign-in.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(self.registration.showNotification(data.title || "Care management reminder", {
    body: data.body || "", tag: data.tag || "ccm-reminder", renotify: true,
    icon: "/icon-192.png", badge: "/icon-192.png", data: { url: data.url || "/" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (url.origin !== self.location.origin) return;  // only ever our own screens
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin === self.location.origin && "focus" in client) {
        await client.focus();
        return client.navigate(url.href);
      }
    }
    return self.clients.openWindow(url.href);
  })());
});

// The browser renewed or dropped the subscription while the app was closed: subscribe again
// and tell the server which endpoint it replaces.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    let subscription = event.newSubscription;
    if (!subscription) {
      const key = await (await fetch("/api/v1/push/key", { credentials: "include" })).json();
      const padded = (key.public_key + "===".slice((key.public_key.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
      subscription = await self.registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)),
      });
    }
    await fetch("/api/v1/push/subscriptions", {
      method: "POST", credentials: "include", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...subscription.toJSON(), old_endpoint: old ? old.endpoint : null }),
    });
  })());
});
