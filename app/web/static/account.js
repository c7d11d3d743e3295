/* Account pages: forgot password, reset password, and two-factor sign-in on the profile page.
   Loaded after app.js (both deferred); adds its pages to the shared `Pages` table. */
"use strict";

async function postJson(path, body) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.detail) || `Request failed (${r.status})`);
  return data;
}

Pages["forgot-password"] = async () => {
  document.getElementById("forgot-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await postJson("/api/auth/forgot-password", { email: document.getElementById("email").value });
      UI.flash("");
      document.getElementById("forgot-message").textContent = r.detail;
      ev.target.hidden = true;
      document.getElementById("forgot-done").hidden = false;
    } catch (e) { UI.flash(e.message); }
  });
};

Pages["reset-password"] = async () => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const form = document.getElementById("reset-form");
  const check = token ? await postJson("/api/auth/validate-reset-token", { token }).catch(() => ({ valid: false })) : { valid: false };
  if (!check.valid) { document.getElementById("reset-invalid").hidden = false; return; }
  form.hidden = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const next = document.getElementById("new_password").value;
    if (next !== document.getElementById("new_password2").value) { UI.flash("The new passwords differ."); return; }
    try {
      await postJson("/api/auth/reset-password", { token, new_password: next });
      UI.flash("");
      form.hidden = true;
      document.getElementById("reset-done").hidden = false;
    } catch (e) { UI.flash(e.message); }
  });
};

/* The profile page of app.js, plus the two-factor section. */
const profileWithoutTwoFactor = Pages.profile;
Pages.profile = async () => {
  await profileWithoutTwoFactor();
  const me = await UI.currentUser();
  if (!me) return;
  const status = document.getElementById("twofa-status");
  const start = document.getElementById("twofa-start");
  const enableForm = document.getElementById("twofa-enable-form");
  const disableForm = document.getElementById("twofa-disable-form");
  const show = (on) => {
    status.textContent = on ? "Two-factor sign-in is on." : "Two-factor sign-in is off.";
    start.hidden = on;
    disableForm.hidden = !on;
    enableForm.hidden = true;
  };
  show(me.totp_enabled);
  let secret = null;
  start.addEventListener("click", async () => {
    try {
      const r = await UI.api("POST", "/api/users/me/2fa/setup");
      secret = r.secret;
      document.getElementById("twofa-qr").src = r.qr_code;
      document.getElementById("twofa-secret").textContent = r.secret;
      enableForm.hidden = false;
      start.hidden = true;
    } catch (e) { UI.flash(e.message); }
  });
  enableForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await UI.api("POST", "/api/users/me/2fa/enable", { secret, code: document.getElementById("twofa-code").value.trim() });
      const list = document.getElementById("twofa-backup-codes");
      list.replaceChildren(...r.backup_codes.map((c) => UI.el("li", c)));
      document.getElementById("twofa-backup").hidden = false;
      ev.target.reset();
      show(true);
      UI.flash("Two-factor sign-in is on.", "info");
    } catch (e) { UI.flash(e.message); }
  });
  disableForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await UI.api("POST", "/api/users/me/2fa/disable", {
        password: document.getElementById("twofa-off-password").value,
        code: document.getElementById("twofa-off-code").value.trim(),
      });
      ev.target.reset();
      document.getElementById("twofa-backup").hidden = true;
      show(false);
      UI.flash("Two-factor sign-in is off.", "info");
    } catch (e) { UI.flash(e.message); }
  });
};
