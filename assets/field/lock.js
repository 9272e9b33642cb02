// The app lock (docs/security.md, "App lock"): a PIN of at least 6 digits unlocks the
// phone's sealed store (vault.js). Locked means the data key is gone from memory and nothing
// with PHI is on screen:
// - every start of the app (a reload, a notification tap, a cold start) begins locked;
// - after the practice's idle minutes (default 5) without a touch or key, and on return from
//   the background after as long, the page drops the key and reloads, locked;
// - while in the background the screen is blanked, so the app switcher shows nothing;
// - 10 wrong PINs erase the store, after warnings that say how many changes are waiting.
// A running call timer keeps counting (its start instant is plain) and shows, without whose
// call it is, on the lock screen. Unlocking needs no network.
// Before anything is shown, a phone that can reach the server asks whether it was remotely
// erased (Users or Account screen) and, if so, erases its store first.
import { erase, kvDelete, kvGet, kvSet, outboxCount, sealWhatIsPlain, timerStartedAt } from "./store.js";
import {
  biometricsAvailable, createVault, enrollBiometrics, finishSetup, forgetKey, isUnlocked, unlock, unlockWithBiometrics,
} from "./vault.js";

const MAX_TRIES = 10;
const WARN_FROM = 3;  // tries left from which the lock screen says what an erase would cost
const PIN = /^[0-9]{6,12}$/;
const DEFAULT_LOCK_MINUTES = 5;
const WIPE_CHECK_MS = 60000;

let lastActivity = Date.now();
let hiddenAt = null;
let watching = false;

// ---------------------------------------------------------------- remote erase
async function clientId() {
  const info = await kvGet("client");
  return info && info.id;
}

// True when the server says this installation is to be erased (and it has been).
export async function checkRemoteErase() {
  const id = await clientId();
  if (!id || !navigator.onLine) return false;
  let wipe = false;
  try {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), 4000);
    const response = await fetch("/api/v1/sync/wipe?client_id=" + encodeURIComponent(id), { signal: controller.signal, credentials: "same-origin" });
    clearTimeout(timeout);
    wipe = response.ok && (await response.json()).wipe === true;
  } catch (error) {
    return false;  // unreachable: asked again at the next contact
  }
  if (!wipe) return false;
  forgetKey();
  await erase();
  try {
    await fetch("/api/v1/sync/wiped", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ client_id: id }),
    });
  } catch (error) {
    // the erase happened; only its confirmation is lost
  }
  window.location.replace("/login?erased=1");
  return true;
}

// ---------------------------------------------------------------- the lock screen
const STYLE = `
html.ccm-locked body > :not(#ccm-lock), html.ccm-curtain body > :not(#ccm-lock) { visibility: hidden !important; }
html.ccm-curtain #ccm-lock > * { visibility: hidden; }
#ccm-lock { position: fixed; inset: 0; z-index: 2147483647; background: #f0fdfa; display: flex;
  align-items: center; justify-content: center; padding: 24px; font-family: system-ui, sans-serif; }
#ccm-lock form { width: 100%; max-width: 360px; display: flex; flex-direction: column; gap: 12px; }
#ccm-lock h1 { font-size: 1.5rem; margin: 0; color: #134e4a; }
#ccm-lock p { margin: 0; color: #334155; line-height: 1.4; }
#ccm-lock label { font-weight: 600; color: #134e4a; }
#ccm-lock input { font-size: 1.5rem; letter-spacing: 0.3em; padding: 10px 12px; border: 1px solid #94a3b8; border-radius: 10px; }
#ccm-lock button { font-size: 1rem; padding: 12px; border-radius: 10px; border: 0; }
#ccm-lock button[type=submit] { background: #0d9488; color: white; font-weight: 700; }
#ccm-lock button[type=button] { background: transparent; color: #0f766e; text-decoration: underline; }
#ccm-lock [role=alert] { color: #b91c1c; min-height: 1.2em; }
#ccm-lock [role=timer] { font-variant-numeric: tabular-nums; font-weight: 700; color: #134e4a; }
`;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function installStyle() {
  if (document.getElementById("ccm-lock-style")) return;
  document.head.append(element("style", { id: "ccm-lock-style", text: STYLE }));
}

function fmt(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

// The running call, whoever it is for: the lock screen may show the time, not the patient.
function timerLine() {
  const line = element("p", { hidden: "" }, "Call timer running: ", element("span", { role: "timer", "aria-label": "Call timer" }));
  const tick = async () => {
    if (!line.isConnected) return;
    const started = await timerStartedAt().catch(() => null);
    line.hidden = !started;
    if (started) line.querySelector("[role=timer]").textContent = fmt(Math.max(0, Math.round((Date.now() - started) / 1000)));
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 0);
  return line;
}

function pinInput(id, label) {
  const input = element("input", {
    id, type: "password", inputmode: "numeric", pattern: "[0-9]*", autocomplete: "off", minlength: "6", maxlength: "12", required: "",
  });
  return [element("label", { for: id, text: label }), input];
}

function show(dialog) {
  installStyle();
  document.getElementById("ccm-lock")?.remove();
  document.documentElement.classList.add("ccm-locked");
  document.body.append(dialog);
  const first = dialog.querySelector("input");
  if (first) first.focus();
}

function hide() {
  document.getElementById("ccm-lock")?.remove();
  document.documentElement.classList.remove("ccm-locked", "ccm-curtain");
}

function dialogShell(title) {
  return element("div", { id: "ccm-lock", role: "dialog", "aria-modal": "true", "aria-labelledby": "ccm-lock-title" },
    element("form", { novalidate: "" }, element("h1", { id: "ccm-lock-title", text: title })));
}

function setupScreen(resolve) {
  const dialog = dialogShell("Set an app PIN");
  const form = dialog.querySelector("form");
  const alert = element("p", { role: "alert" });
  form.append(
    element("p", { text: "This phone keeps your caseload for work without signal. Choose a PIN of at least 6 digits: it encrypts that data on the phone and unlocks the app after you have been away." }),
    ...pinInput("ccm-pin-new", "New app PIN"), ...pinInput("ccm-pin-repeat", "Repeat the PIN"), alert,
    element("button", { type: "submit", text: "Set PIN" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = form.querySelector("#ccm-pin-new").value;
    if (!PIN.test(pin)) return void (alert.textContent = "Use 6 to 12 digits.");
    if (/^(\d)\1+$/.test(pin) || "01234567890123".includes(pin) || "98765432109876".includes(pin)) {
      return void (alert.textContent = "Too easy to guess: avoid repeated or consecutive digits.");
    }
    if (form.querySelector("#ccm-pin-repeat").value !== pin) return void (alert.textContent = "The two PINs differ.");
    alert.textContent = "";
    form.querySelector("button[type=submit]").disabled = true;
    const record = await createVault(pin);
    await kvSet("vault", record);
    await kvDelete("lock_failures");
    await sealWhatIsPlain();
    if (await biometricsAvailable()) return offerBiometrics(record, resolve);
    finishSetup();
    hide();
    resolve();
  });
  show(dialog);
}

// Right after the PIN: the phone's fingerprint or face as the everyday way in, the PIN kept
// for when it fails. Offered once, here, because only here is the data key still wrappable.
function offerBiometrics(record, resolve) {
  const dialog = dialogShell("Unlock with fingerprint or face?");
  const form = dialog.querySelector("form");
  const alert = element("p", { role: "alert" });
  const skip = element("button", { type: "button", text: "Not now" });
  form.append(
    element("p", { text: "Your phone can unlock ccm with the fingerprint or face it already knows. Your PIN keeps working, and is needed if this fails." }),
    alert, element("button", { type: "submit", text: "Use fingerprint or face" }), skip);
  const done = () => { finishSetup(); hide(); resolve(); };
  skip.addEventListener("click", done);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelector("button[type=submit]").disabled = true;
    let enrolled = null;
    try {
      enrolled = await enrollBiometrics(record);
    } catch (error) {
      enrolled = null;
    }
    if (!enrolled) {
      form.querySelector("button[type=submit]").disabled = false;
      alert.textContent = "This phone could not set that up. Use your PIN, or try again.";
      return;
    }
    await kvSet("vault", enrolled);
    done();
  });
  show(dialog);
}

async function triesLeftText(failures) {
  const left = MAX_TRIES - failures;
  if (failures === 0) return "";
  if (left > WARN_FROM) return `Wrong PIN. ${left} tries left.`;
  const waiting = await outboxCount();
  const lost = waiting ? ` including ${waiting} change${waiting === 1 ? "" : "s"} not yet sent to the server, which will be lost` : "";
  return `Wrong PIN. ${left} ${left === 1 ? "try" : "tries"} left: after that this phone erases the app's data${lost}.`;
}

function unlockScreen(record, resolve) {
  const dialog = dialogShell("ccm is locked");
  const form = dialog.querySelector("form");
  const alert = element("p", { role: "alert" });
  const forgot = element("button", { type: "button", text: "Forgot PIN" });
  form.append(timerLine(), ...pinInput("ccm-pin", "App PIN"), alert, element("button", { type: "submit", text: "Unlock" }));
  if (record.biometric) {
    const face = element("button", { type: "button", text: "Unlock with fingerprint or face" });
    form.append(face);
    face.addEventListener("click", async () => {
      face.disabled = true;
      performance.mark("ccm-unlock-start");
      let opened = false;
      try {
        opened = await unlockWithBiometrics(record);
      } catch (error) {
        opened = false;  // cancelled or not recognised: the phone counts its own tries
      }
      face.disabled = false;
      if (!opened) return void (alert.textContent = "Not recognised. Try again, or use your PIN.");
      performance.mark("ccm-unlocked");
      await kvDelete("lock_failures");
      hide();
      resolve();
    });
  }
  form.append(forgot);
  performance.mark("ccm-lock-screen");
  kvGet("lock_failures").then(async (failures) => { alert.textContent = await triesLeftText(failures || 0); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector("#ccm-pin");
    const pin = input.value;
    input.value = "";
    if (!PIN.test(pin)) return void (alert.textContent = "The PIN has 6 to 12 digits.");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    // Counted before trying: closing the page mid-try does not give a free guess.
    const failures = ((await kvGet("lock_failures")) || 0) + 1;
    await kvSet("lock_failures", failures);
    performance.mark("ccm-unlock-start");  // bench/phone.py reads these marks
    if (await unlock(pin, record)) {
      performance.mark("ccm-unlocked");
      await kvDelete("lock_failures");
      hide();
      resolve();
      return;
    }
    button.disabled = false;
    if (failures >= MAX_TRIES) return eraseAndLeave("too_many_pins");
    alert.textContent = await triesLeftText(failures);
    input.focus();
  });
  forgot.addEventListener("click", async () => {
    const waiting = await outboxCount();
    const cost = waiting ? ` ${waiting} change${waiting === 1 ? "" : "s"} not yet sent to the server will be lost.` : "";
    if (window.confirm(`Erase this phone's ccm data and sign in again?${cost}`)) eraseAndLeave("forgot_pin");
  });
  show(dialog);
}

async function eraseAndLeave(reason) {
  forgetKey();
  await erase();
  window.location.replace("/login?erased=" + reason);
}

// ---------------------------------------------------------------- locking
export async function lockMinutes() {
  const minutes = await kvGet("lock_minutes");
  return Number.isInteger(minutes) && minutes > 0 ? minutes : DEFAULT_LOCK_MINUTES;
}

// The practice's setting arrives with the pull (the `me` document).
export async function rememberLockMinutes(minutes) {
  if (Number.isInteger(minutes) && minutes > 0) await kvSet("lock_minutes", minutes);
}

// Drop the key and start again, locked: a reload where the kit runs, else its first screen.
export function lockNow() {
  forgetKey();
  installStyle();
  document.documentElement.classList.add("ccm-curtain");
  if (watching) window.location.reload();
  else window.location.assign("/");
}

function watch() {
  if (watching) return;
  watching = true;
  const touched = () => { lastActivity = Date.now(); };
  for (const name of ["pointerdown", "keydown", "touchstart", "wheel"]) document.addEventListener(name, touched, { passive: true, capture: true });
  setInterval(async () => {
    if (isUnlocked() && Date.now() - lastActivity >= (await lockMinutes()) * 60000) lockNow();
  }, 10000);
  setInterval(() => { if (isUnlocked()) checkRemoteErase(); }, WIPE_CHECK_MS);
  window.addEventListener("online", () => checkRemoteErase());
  document.addEventListener("visibilitychange", async () => {
    if (document.visibilityState === "hidden") {
      hiddenAt = Date.now();
      installStyle();
      document.documentElement.classList.add("ccm-curtain");  // the app switcher's snapshot
      return;
    }
    const away = hiddenAt === null ? 0 : Date.now() - hiddenAt;
    hiddenAt = null;
    if (isUnlocked() && away >= (await lockMinutes()) * 60000) return lockNow();
    document.documentElement.classList.remove("ccm-curtain");
    touched();
  });
}

// A visitor: the app's own redirect (the page guard, over the websocket) normally takes them
// to sign-in a moment later. Sending them there too, while that redirect is on its way,
// would leave a second page load in flight that cuts short whatever they open next; so this
// is only the fallback for when the app's redirect does not come (no websocket).
let leaving = false;
if (typeof window !== "undefined") window.addEventListener("beforeunload", () => { leaving = true; });
const REDIRECT_GRACE_MS = 3000;

async function toSignInUnlessTheAppDoes(asked) {
  for (let waited = 0; waited < REDIRECT_GRACE_MS; waited += 100) {
    if (leaving || window.location.pathname !== asked) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!leaving && window.location.pathname === asked) window.location.replace("/login");
}

// Resolves once the store can be read: after a remote-erase check, a PIN set or an unlock.
// Screens that start at once (a re-run effect, two components) share one lock screen.
let unlocking = null;

export function ensureUnlocked() {
  watch();
  if (isUnlocked()) return Promise.resolve();
  if (!unlocking) unlocking = askForPin().finally(() => { unlocking = null; });
  return unlocking;
}

async function askForPin() {
  if (await checkRemoteErase()) return new Promise(() => {});
  if (isUnlocked()) return undefined;
  const record = await kvGet("vault");
  if (!record) {
    // A PIN is set by the person signed in: a visitor is sent to sign in instead (with no
    // signal there is nothing on the phone to protect yet, and setting the PIN is harmless).
    const asked = window.location.pathname;
    const answer = await fetch("/api/v1/session", { credentials: "same-origin" }).catch(() => null);
    if (answer && answer.status === 401) {
      await toSignInUnlessTheAppDoes(asked);
      return new Promise(() => {});
    }
  }
  return new Promise((resolve) => {
    const done = () => { lastActivity = Date.now(); resolve(); };
    if (record) unlockScreen(record, done);
    else setupScreen(done);
  });
}
