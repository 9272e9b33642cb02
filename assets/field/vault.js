// The phone's keys (docs/security.md, "Encrypted local store"): everything with PHI that the
// field kit keeps in IndexedDB is AES-256-GCM ciphertext under one random data key.
//
//   data key (AES-GCM 256, random, made on this phone)
//     └ wrapped (AES-GCM) by the PIN key = PBKDF2-HMAC-SHA256(PIN, 16-byte salt, 600 000)
//         └ that wrapping sealed again (AES-GCM) by the device key: random, non-extractable,
//           kept by the browser as a CryptoKey object (script can use it, never read it)
//
//     └ and, where the phone offers it, wrapped (AES-GCM) by the fingerprint/face key too:
//       HKDF-SHA256 of the WebAuthn PRF output of a platform credential made for this store,
//       sealed again by the device key. The authenticator computes the PRF only after its
//       own user verification, so that wrapping opens with the finger or face, never without.
//
// The data key exists unwrapped only in this page's memory, as a non-extractable CryptoKey,
// from unlock until lock; it is never written anywhere in plain form. Reading the store
// takes the PIN and the device key together; a copy of the IndexedDB records alone (what a
// script, a backup or the test's dump sees) is ciphertext.
const ITERATIONS = 600000;  // OWASP's current figure for PBKDF2-HMAC-SHA256
const AES = { name: "AES-GCM", length: 256 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let dataKey = null;
let setupKey = null;  // the extractable original, only between a new PIN and finishSetup()
let unsealMs = 0;  // time spent decrypting, for bench/phone.py

export const unsealTime = () => unsealMs;

export class Locked extends Error {
  constructor() {
    super("The app is locked");
    this.name = "Locked";
  }
}

export const isUnlocked = () => dataKey !== null;

export function forgetKey() {
  dataKey = null;
  setupKey = null;
}

const random = (bytes) => crypto.getRandomValues(new Uint8Array(bytes));

async function pinKey(pin, salt, iterations) {
  const material = await crypto.subtle.importKey("raw", encoder.encode(pin), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, AES, false, ["wrapKey", "unwrapKey"]);
}

// A new data key for a new PIN; returns the record to keep (no secret in it readable alone).
export async function createVault(pin) {
  const deviceKey = await crypto.subtle.generateKey(AES, false, ["encrypt", "decrypt"]);
  const fresh = await crypto.subtle.generateKey(AES, true, ["encrypt", "decrypt"]);
  const record = await wrapUnder(fresh, pin, deviceKey);
  setupKey = fresh;  // for enrollBiometrics, until finishSetup()
  // What stays in memory for reading and writing cannot be exported.
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", fresh));
  dataKey = await crypto.subtle.importKey("raw", raw, AES, false, ["encrypt", "decrypt"]);
  raw.fill(0);
  return record;
}

async function wrapUnder(key, pin, deviceKey) {
  const salt = random(16);
  const iv = random(12);
  const wrapped = await crypto.subtle.wrapKey("raw", key, await pinKey(pin, salt, ITERATIONS), { name: "AES-GCM", iv });
  const outerIv = random(12);
  const sealedWrap = await crypto.subtle.encrypt({ name: "AES-GCM", iv: outerIv }, deviceKey, wrapped);
  return { version: 1, kdf: "PBKDF2-SHA256", iterations: ITERATIONS, salt, iv, outerIv, sealedWrap, deviceKey };
}

// True and unlocked when the PIN is right; false (and still locked) when it is not.
export async function unlock(pin, record) {
  let wrapped;
  try {
    wrapped = await crypto.subtle.decrypt({ name: "AES-GCM", iv: record.outerIv }, record.deviceKey, record.sealedWrap);
  } catch (error) {
    throw new Error("This phone's key store is damaged: erase and sign in again.");
  }
  try {
    dataKey = await crypto.subtle.unwrapKey(
      "raw", wrapped, await pinKey(pin, record.salt, record.iterations), { name: "AES-GCM", iv: record.iv },
      AES, false, ["encrypt", "decrypt"]);
    return true;
  } catch (error) {
    return false;  // AES-GCM's tag did not match: a wrong PIN
  }
}

// Kept only while the new-PIN screen offers fingerprint or face; dropped for good after.
export function finishSetup() {
  setupKey = null;
}

// ---------------------------------------------------------------- fingerprint or face
const WRAP_INFO = encoder.encode("ccm store data key wrap v1");

// A platform authenticator with user verification (Android fingerprint, Face ID) on a real
// domain: WebAuthn refuses IP-address origins, so the demo on 127.0.0.1 never offers it.
export async function biometricsAvailable() {
  if (!window.PublicKeyCredential || !PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable) return false;
  if (/^[0-9.]+$/.test(location.hostname) || location.hostname.includes(":")) return false;
  try {
    return await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable();
  } catch (error) {
    return false;
  }
}

async function biometricKey(credentialId, prfSalt) {
  const assertion = await navigator.credentials.get({ publicKey: {
    challenge: random(32), rpId: location.hostname, timeout: 60000, userVerification: "required",
    allowCredentials: [{ type: "public-key", id: credentialId }],
    extensions: { prf: { eval: { first: prfSalt } } },
  } });
  const output = assertion && assertion.getClientExtensionResults().prf?.results?.first;
  if (!output) return null;  // this authenticator does not do PRF: the PIN it is
  const material = await crypto.subtle.importKey("raw", output, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: WRAP_INFO },
    material, AES, false, ["wrapKey", "unwrapKey"]);
}

// Right after a new PIN: a credential for this store, and the data key wrapped under its PRF.
// The record with `biometric` added, or null when the phone cannot (no PRF, cancelled).
export async function enrollBiometrics(record) {
  if (!setupKey) throw new Locked();
  const credential = await navigator.credentials.create({ publicKey: {
    rp: { name: "ccm", id: location.hostname },
    user: { id: random(16), name: "ccm on this phone", displayName: "ccm on this phone" },
    challenge: random(32), timeout: 60000,
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
    authenticatorSelection: { authenticatorAttachment: "platform", userVerification: "required", residentKey: "discouraged" },
    extensions: { prf: {} },
  } });
  if (!credential || !credential.getClientExtensionResults().prf?.enabled) return null;
  const credentialId = new Uint8Array(credential.rawId);
  const prfSalt = random(32);
  const key = await biometricKey(credentialId, prfSalt);
  if (!key) return null;
  const iv = random(12);
  const wrapped = await crypto.subtle.wrapKey("raw", setupKey, key, { name: "AES-GCM", iv });
  const outerIv = random(12);
  const sealedWrap = await crypto.subtle.encrypt({ name: "AES-GCM", iv: outerIv }, record.deviceKey, wrapped);
  return { ...record, biometric: { credentialId, prfSalt, iv, outerIv, sealedWrap } };
}

// True and unlocked after the finger or face; false when the authenticator answered but the
// key did not open the store; throws when the person cancelled (the PIN remains).
export async function unlockWithBiometrics(record) {
  const { credentialId, prfSalt, iv, outerIv, sealedWrap } = record.biometric;
  const key = await biometricKey(credentialId, prfSalt);
  if (!key) return false;
  try {
    const wrapped = await crypto.subtle.decrypt({ name: "AES-GCM", iv: outerIv }, record.deviceKey, sealedWrap);
    dataKey = await crypto.subtle.unwrapKey("raw", wrapped, key, { name: "AES-GCM", iv }, AES, false, ["encrypt", "decrypt"]);
    return true;
  } catch (error) {
    return false;
  }
}

// Values are sealed with a label (the store and key they belong to) as additional data, so a
// record copied under another key does not decrypt.
export async function seal(value, label) {
  if (!dataKey) throw new Locked();
  const iv = random(12);
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(label) }, dataKey, encoder.encode(JSON.stringify(value)));
  return { sealed: 1, iv, ct };
}

export const isSealed = (box) => Boolean(box && box.sealed === 1 && box.ct);

export async function unseal(box, label) {
  if (!isSealed(box)) return box;  // nothing stored, or written before the store was sealed
  if (!dataKey) throw new Locked();
  const started = performance.now();
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: box.iv, additionalData: encoder.encode(label) }, dataKey, box.ct);
  const value = JSON.parse(decoder.decode(plain));
  unsealMs += performance.now() - started;
  return value;
}
