// Reminders on this phone (Web Push, issue 7): subscribe through the service worker with the
// server's VAPID key, keep the server's copy of the subscription current, send a test,
// turn off. Payloads never carry PHI; tapping one opens the worklist, which loads after
// sign-in.
import { api, setState } from "./sync.js";

function supported() {
  return typeof window !== "undefined" && "serviceWorker" in navigator && "PushManager" in window &&
    "Notification" in window;
}

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker.ready;
}

async function publish(message) {
  if (!supported()) {
    setState("reminders", { state: "unsupported", devices: "0", message: message || "" });
    return;
  }
  const subscription = await (await registration()).pushManager.getSubscription();
  let devices = "?";
  try {
    const { status, body } = await api("/push/subscriptions");
    if (status === 200) devices = String((body.subscriptions || body.devices || []).length);
  } catch (e) {
    devices = "?";
  }
  const state = Notification.permission === "denied" ? "denied" : subscription ? "on" : "off";
  setState("reminders", { state, devices, message: message || "" });
}

async function send(subscription, oldEndpoint) {
  const body = { ...subscription.toJSON(), user_agent: navigator.userAgent.slice(0, 200) };
  if (oldEndpoint) body.old_endpoint = oldEndpoint;
  return api("/push/subscriptions", { method: "POST", body: JSON.stringify(body) });
}

export async function enableReminders() {
  if (!supported()) return publish("This browser cannot show reminders. On an iPhone, add the app to the Home Screen first.");
  setState("reminders", { state: "working", devices: "", message: "" });
  try {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return publish("Notifications are blocked for this app in the phone's settings.");
    const { status, body } = await api("/push/key");
    if (status !== 200) return publish("The server has no reminder key yet.");
    const reg = await registration();
    const subscription = (await reg.pushManager.getSubscription()) ||
      (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(body.public_key) }));
    const saved = await send(subscription);
    return publish(saved.status === 200 || saved.status === 201 ? "Reminders are on for this phone." : `The server refused the subscription (${saved.status}).`);
  } catch (error) {
    return publish(`Reminders could not be turned on: ${error.message || error}`);
  }
}

export async function disableReminders() {
  if (!supported()) return publish();
  const subscription = await (await registration()).pushManager.getSubscription();
  if (subscription) {
    try {
      await api("/push/subscriptions", { method: "DELETE", body: JSON.stringify({ endpoint: subscription.endpoint }) });
    } catch (e) {
      // offline: the server deletes it at the first failed delivery (404/410)
    }
    await subscription.unsubscribe();
  }
  return publish("Reminders are off for this phone.");
}

export async function testReminder() {
  try {
    const { status, body } = await api("/push/test", { method: "POST", body: "{}" });
    if (status !== 200) return publish((body && body.detail) || `The test could not be sent (${status}).`);
    const results = body.results || body.devices || [];
    const sent = results.filter((r) => r.outcome === "sent" || r.status === 201).length;
    return publish(`Test sent to ${sent} of ${results.length} device(s). It should appear in a few seconds.`);
  } catch (e) {
    return publish("Offline: the test can be sent when the connection is back.");
  }
}

// On each start: if this phone is subscribed, make sure the server still has it (a lost
// save, or a subscription the browser renewed while the app was closed).
export async function refreshSubscription() {
  if (!supported() || Notification.permission !== "granted") return;
  try {
    const subscription = await (await registration()).pushManager.getSubscription();
    if (subscription) await send(subscription);
  } catch (e) {
    // offline: next start
  }
}

export const showReminders = () => publish();
