// pcap-analyzer browser UI. Plain JS, no framework; every value from the server goes through textContent.
"use strict";

const UI = (() => {
  let csrfToken = null;

  async function csrf() {
    if (csrfToken === null) {
      const r = await fetch("/api/csrf/token", { credentials: "same-origin" });
      const body = await r.json();
      csrfToken = body.csrf_token;
    }
    return csrfToken;
  }

  /** Call the JSON API with the session cookie; state-changing calls carry the CSRF token. */
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRF-Token"] = await csrf();
    if (body instanceof FormData || body instanceof URLSearchParams) init.body = body;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const r = await fetch(url, init);
    let data = null;
    if ((r.headers.get("content-type") || "").includes("application/json")) data = await r.json();
    if (!r.ok) {
      const err = new Error(message(data) || `${r.status} ${r.statusText}`);
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function message(data) {
    if (!data) return null;
    if (typeof data.detail === "string") return data.detail;
    if (Array.isArray(data.detail)) return data.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    return data.message || null;
  }

  function flash(text, kind = "error") {
    const box = document.getElementById("flash");
    box.replaceChildren();
    if (!text) return;
    const p = document.createElement("p");
    p.className = kind;
    p.textContent = text;
    box.appendChild(p);
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function button(label, onClick, cls = "secondary") {
    const b = el("button", label, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function fmtDate(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function fmtDuration(seconds) {
    if (seconds <= 0) return "expired";
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h > 0 ? `${h} h ${m} min` : `${m} min`;
  }

  /** The signed-in user, or null (then the page sends the visitor to the sign-in page). */
  async function currentUser() {
    try {
      return await api("GET", "/api/users/me");
    } catch (e) {
      if (e.status === 401) return null;
      throw e;
    }
  }

  async function requireUser() {
    const me = await currentUser();
    if (!me) { location.assign("/login"); return null; }
    document.getElementById("nav").hidden = false;
    document.getElementById("nav-admin").hidden = me.role !== "admin";
    if (me.must_change_password && document.body.dataset.page !== "profile") {
      location.assign("/profile"); return null;
    }
    return me;
  }

  /** One line on a completed analysis: packets and health score (and its warning), from its status. */
  async function showSummary(taskId, text) {
    try {
      const t = await api("GET", `/api/status/${encodeURIComponent(taskId)}`);
      const parts = [];
      if (t.total_packets != null) parts.push(`${Number(t.total_packets).toLocaleString()} packets analysed`);
      if (t.health_score != null) parts.push(`health ${t.health_score}/100`);
      let line = `Completed: ${parts.join(", ") || "report ready"}.`;
      if (t.warning_message) line += ` Warning: ${t.warning_message}`;
      text.textContent = line;
    } catch (_) { /* keep the plain "Completed." */ }
  }

  /** Follow an analysis over Server-Sent Events until it completes or fails.
   *  A stream the server or the network ends early (a restart, the database away: 503) is reopened with
   *  a growing delay (1 s, 2 s, ... 30 s); the bar never moves backwards. */
  function watchProgress(taskId) {
    const bar = document.getElementById("analysis-progress");
    const text = document.getElementById("analysis-text");
    document.getElementById("analysis-status")?.removeAttribute("hidden");
    const MAX_TRIES = 30;
    let source = null;
    let failures = 0;
    let finished = false;
    const show = (ev) => {
      const p = JSON.parse(ev.data);
      failures = 0;
      if (typeof p.progress_percent === "number") bar.value = Math.max(bar.value || 0, p.progress_percent);
      const parts = [p.phase || p.status];
      if (p.packets_processed) parts.push(`${Number(p.packets_processed).toLocaleString()} packets`);
      if (typeof p.eta_seconds === "number" && p.eta_seconds > 0) parts.push(`about ${Math.ceil(p.eta_seconds)} s left`);
      if (p.message) parts.push(p.message);
      text.textContent = parts.filter(Boolean).join(" · ");
      return p;
    };
    const finish = (ev) => {
      finished = true;
      const p = show(ev);
      source.close();
      if (p.status === "completed") {
        bar.value = 100;
        const done = document.getElementById("analysis-done");
        document.getElementById("report-link").href = `/api/reports/${encodeURIComponent(taskId)}/html`;
        const json = document.getElementById("json-link");
        if (json) json.href = `/api/reports/${encodeURIComponent(taskId)}/json`;
        done.hidden = false;
        text.textContent = p.warning_message ? `Completed with a warning: ${p.warning_message}` : "Completed.";
        showSummary(taskId, text);
      } else {
        text.textContent = `Analysis ${p.status}: ${p.error_message || p.message || "no reason given"}`;
      }
    };
    const open = () => {
      source = new EventSource(`/api/progress/${encodeURIComponent(taskId)}`);
      source.addEventListener("progress", show);
      source.addEventListener("complete", finish);
      source.onerror = () => {
        if (finished) return;
        source.close();  // take over from the browser's own retry, which gives up after a 503
        failures += 1;
        if (failures > MAX_TRIES) {
          text.textContent = "Lost the connection to the server; reload the page to try again.";
          return;
        }
        const delay = Math.min(30, 2 ** (failures - 1));
        text.textContent = `Connection lost; reconnecting in ${delay} s (try ${failures} of ${MAX_TRIES})…`;
        setTimeout(open, delay * 1000);
      };
    };
    open();
  }

  return { api, flash, el, button, fmtDate, fmtDuration, currentUser, requireUser, watchProgress };
})();

const Pages = {
  async login() {
    document.getElementById("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = new URLSearchParams();
      form.set("username", document.getElementById("username").value);
      form.set("password", document.getElementById("password").value);
      const code = document.getElementById("totp_code");
      if (code && code.value.trim()) form.set("totp_code", code.value.trim());
      try {
        const r = await fetch("/api/session", { method: "POST", body: form, credentials: "same-origin",
          headers: { Accept: "application/json" } });
        const data = await r.json().catch(() => null);
        if (r.status === 401 && r.headers.get("X-MFA-Required") === "true" && code) {
          document.getElementById("totp-field").hidden = false;
          code.value = "";
          code.focus();
        }
        if (!r.ok) throw new Error((data && data.detail) || `Sign-in failed (${r.status})`);
        location.assign(data && data.must_change_password ? "/profile" : "/");
      } catch (e) { UI.flash(e.message); }
    });
  },

  async register() {
    document.getElementById("register-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await UI.api("POST", "/api/register", {
          username: document.getElementById("username").value,
          email: document.getElementById("email").value,
          password: document.getElementById("password").value,
        });
        UI.flash("");
        document.getElementById("register-form").hidden = true;
        document.getElementById("register-done").hidden = false;
      } catch (e) { UI.flash(e.message); }
    });
  },

  async upload() {
    if (!(await UI.requireUser())) return;
    const input = document.getElementById("file");
    const zone = document.getElementById("dropzone");
    zone.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); } });
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault(); zone.classList.remove("over");
      if (ev.dataTransfer.files.length) input.files = ev.dataTransfer.files;
      document.getElementById("drop-help").textContent = input.files[0] ? input.files[0].name : "";
    });
    input.addEventListener("change", () => {
      document.getElementById("drop-help").textContent = input.files[0] ? input.files[0].name : "";
    });
    const resetUpload = () => {  // a rejected upload leaves no bar at 100 %
      document.getElementById("upload-progress").value = 0;
      document.getElementById("upload-percent").textContent = "0%";
      document.getElementById("upload-status").hidden = true;
    };
    document.getElementById("upload-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = input.files[0];
      if (!file) { UI.flash("Choose a capture file first."); return; }
      UI.flash("");
      const token = await (await fetch("/api/csrf/token", { credentials: "same-origin" })).json();
      const data = new FormData();
      data.append("file", file, file.name);
      const xhr = new XMLHttpRequest();  // XHR, not fetch: it reports upload progress
      xhr.open("POST", "/api/upload");
      xhr.setRequestHeader("X-CSRF-Token", token.csrf_token);
      xhr.setRequestHeader("Accept", "application/json");
      document.getElementById("upload-status").hidden = false;
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const pct = Math.round((100 * e.loaded) / e.total);
        document.getElementById("upload-progress").value = pct;
        document.getElementById("upload-percent").textContent = `${pct}%`;
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && body) {
          document.getElementById("upload-progress").value = 100;
          document.getElementById("upload-percent").textContent = "100%";
          UI.watchProgress(body.task_id);
        } else {
          resetUpload();
          UI.flash((body && body.detail) || `Upload failed (${xhr.status})`);
        }
      });
      xhr.addEventListener("error", () => { resetUpload(); UI.flash("Upload failed: the connection was interrupted."); });
      xhr.send(data);
    });
  },

  async task() {
    if (!(await UI.requireUser())) return;
    const taskId = document.getElementById("task").dataset.taskId;
    try {
      const t = await UI.api("GET", `/api/status/${encodeURIComponent(taskId)}`);
      document.getElementById("task-file").textContent = t.filename;
      document.title = `Analysis of ${t.filename} · pcap-analyzer`;
    } catch (e) {
      if (e.status !== 404) throw e;
      document.getElementById("task-missing").hidden = false;
      document.getElementById("task-progress").hidden = true;
      return;
    }
    UI.watchProgress(taskId);
  },

  async history() {
    const me = await UI.requireUser();
    if (!me) return;
    const isAdmin = me.role === "admin";
    document.querySelectorAll(".owner-col").forEach((th) => { th.hidden = !isAdmin; });
    if (isAdmin) {  // the API lists every user's analyses to an administrator
      document.getElementById("history-title").textContent = "All analyses";
      document.title = "All analyses · pcap-analyzer";
    }
    const cell = (label, text, cls) => { const td = UI.el("td", text, cls); td.dataset.label = label; return td; };
    const tbody = document.querySelector("#history-table tbody");
    const load = async () => {
      const data = await UI.api("GET", "/api/history");
      const tasks = Array.isArray(data) ? data : data.tasks || data.items || [];
      tbody.replaceChildren();
      document.getElementById("history-empty").hidden = tasks.length > 0;
      for (const t of tasks) {
        const tr = document.createElement("tr");
        tr.dataset.taskId = t.task_id;
        tr.appendChild(cell("File", t.filename));
        if (isAdmin) tr.appendChild(cell("Owner", t.owner_username || t.owner_id || ""));
        tr.appendChild(cell("Uploaded", UI.fmtDate(t.uploaded_at)));
        const status = cell("Status", t.status, `status status-${t.status}`);
        if (t.status === "completed" && t.warning_message) {
          status.appendChild(UI.el("span", "with a warning", "status-warning"));
          status.title = t.warning_message;
        }
        tr.appendChild(status);
        tr.appendChild(cell("Packets", t.total_packets != null ? Number(t.total_packets).toLocaleString() : "", "num"));
        tr.appendChild(cell("Health", t.health_score != null ? t.health_score : "", "num"));
        const left = t.expires_at ? (new Date(t.expires_at) - Date.now()) / 1000 : null;
        tr.appendChild(cell("Expires in", left === null ? "" : UI.fmtDuration(left)));
        const actions = document.createElement("td");
        if (t.status === "completed") {
          const a = UI.el("a", "Report");
          a.href = `/api/reports/${encodeURIComponent(t.task_id)}/html`;
          actions.appendChild(a);
          actions.appendChild(document.createTextNode(" "));
        } else if (t.status === "pending" || t.status === "processing") {
          const a = UI.el("a", "Progress");
          a.href = `/tasks/${encodeURIComponent(t.task_id)}`;
          actions.appendChild(a);
          actions.appendChild(document.createTextNode(" "));
        } else if (t.error_message) {
          actions.appendChild(UI.el("span", t.error_message, "hint"));
        }
        if (t.status !== "expired") {
          actions.appendChild(UI.button("Delete", async () => {
            if (!confirm(`Delete the analysis of ${t.filename}?`)) return;
            try { await UI.api("DELETE", `/api/reports/${encodeURIComponent(t.task_id)}`); await load(); }
            catch (e) { UI.flash(e.message); }
          }, "secondary danger"));
        }
        tr.appendChild(actions);
        tbody.appendChild(tr);
      }
    };
    try { await load(); } catch (e) { UI.flash(e.message); }
  },

  async profile() {
    const me = await UI.requireUser();
    if (!me) return;
    const facts = document.getElementById("profile-facts");
    for (const [k, v] of [["Username", me.username], ["Email", me.email], ["Role", me.role]]) {
      facts.appendChild(UI.el("dt", k));
      facts.appendChild(UI.el("dd", v));
    }
    document.getElementById("must-change").hidden = !me.must_change_password;
    document.getElementById("password-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const next = document.getElementById("new_password").value;
      if (next !== document.getElementById("new_password2").value) { UI.flash("The new passwords differ."); return; }
      try {
        await UI.api("PUT", "/api/users/me", {
          current_password: document.getElementById("current_password").value,
          new_password: next,
        });
        ev.target.reset();
        document.getElementById("must-change").hidden = true;
        UI.flash("Password changed.", "info");
      } catch (e) { UI.flash(e.message); }
    });
  },

  async admin() {
    const me = await UI.requireUser();
    if (!me) return;
    if (me.role !== "admin") { document.getElementById("admins-only").hidden = false; return; }
    document.getElementById("admin-panel").hidden = false;
    const tbody = document.querySelector("#users-table tbody");
    const filter = document.getElementById("user-filter");
    const statusOf = (u) => (!u.is_active ? "blocked" : u.is_approved ? "approved" : "pending");
    const act = async (fn) => { try { await fn(); await load(); } catch (e) { UI.flash(e.message); } };
    const load = async () => {
      const q = filter.value ? `?status=${encodeURIComponent(filter.value)}&limit=500` : "?limit=500";
      const data = await UI.api("GET", `/api/users${q}`);
      const users = Array.isArray(data) ? data : data.users || data.items || [];
      const rank = { pending: 0, approved: 1, blocked: 2 };
      users.sort((a, b) => rank[statusOf(a)] - rank[statusOf(b)]);
      tbody.replaceChildren();
      for (const u of users) {
        const tr = document.createElement("tr");
        tr.dataset.userId = u.id;
        tr.dataset.username = u.username;
        const cb = document.createElement("input");
        cb.type = "checkbox"; cb.className = "select-user"; cb.value = u.id;
        cb.setAttribute("aria-label", `Select ${u.username}`);
        const c0 = document.createElement("td"); c0.appendChild(cb); tr.appendChild(c0);
        tr.appendChild(UI.el("td", u.username));
        tr.appendChild(UI.el("td", u.email));
        tr.appendChild(UI.el("td", u.role));
        tr.appendChild(UI.el("td", statusOf(u), `status status-${statusOf(u)}`));
        tr.appendChild(UI.el("td", UI.fmtDate(u.created_at)));
        const actions = document.createElement("td");
        const id = encodeURIComponent(u.id);
        // Acting on another administrator needs an explicit confirmation (the API wants confirm=true).
        const sure = u.role === "admin" ? "?confirm=true" : "";
        if (statusOf(u) === "pending") actions.appendChild(UI.button("Approve", () => act(() => UI.api("PUT", `/api/admin/users/${id}/approve`))));
        if (u.id !== me.id) {
          if (u.is_active) actions.appendChild(UI.button("Block", () => (!sure || confirm(`${u.username} is an administrator. Block them?`)) && act(() => UI.api("PUT", `/api/admin/users/${id}/block${sure}`))));
          else actions.appendChild(UI.button("Unblock", () => act(() => UI.api("PUT", `/api/admin/users/${id}/unblock`))));
          actions.appendChild(UI.button("Reset password", async () => {
            if (!confirm(`Give ${u.username} a temporary password? All their sessions end.`)) return;
            try {
              const r = await UI.api("POST", `/api/admin/users/${id}/reset-password`, { confirm: Boolean(sure), send_email: true });
              const box = document.getElementById("temp-password");
              box.textContent = `Temporary password for ${u.username}: ${r.temporary_password} (shown once; it must be changed at the next sign-in)`;
              box.hidden = false;
            } catch (e) { UI.flash(e.message); }
          }, "secondary"));
          actions.appendChild(UI.button("Delete", () => {
            if (confirm(`Delete ${u.username} and all their analyses?`)) act(() => UI.api("DELETE", `/api/admin/users/${id}${sure}`));
          }, "secondary danger"));
        }
        tr.appendChild(actions);
        tbody.appendChild(tr);
      }
    };
    const selected = () => [...document.querySelectorAll(".select-user:checked")].map((c) => c.value);
    document.getElementById("select-all").addEventListener("change", (ev) => {
      document.querySelectorAll(".select-user").forEach((c) => { c.checked = ev.target.checked; });
    });
    document.getElementById("bulk-approve").addEventListener("click", () => act(() => UI.api("POST", "/api/admin/users/bulk/approve", { user_ids: selected() })));
    document.getElementById("bulk-block").addEventListener("click", () => act(() => UI.api("POST", "/api/admin/users/bulk/block", { user_ids: selected() })));
    filter.addEventListener("change", () => act(async () => {}));
    document.getElementById("create-user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await UI.api("POST", "/api/admin/users", {
          username: document.getElementById("new-username").value,
          email: document.getElementById("new-email").value,
          role: document.getElementById("new-role").value,
        });
        const box = document.getElementById("temp-password");
        box.textContent = `Temporary password for ${r.user ? r.user.username : r.username}: ${r.temporary_password} (shown once; it must be changed at first sign-in)`;
        box.hidden = false;
        ev.target.reset();
        await load();
      } catch (e) { UI.flash(e.message); }
    });
    try { await load(); } catch (e) { UI.flash(e.message); }
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const logout = document.getElementById("logout");
  logout.addEventListener("click", async () => {
    try { await UI.api("DELETE", "/api/session"); } catch (_) { /* already signed out */ }
    location.assign("/login");
  });
  const page = Pages[document.body.dataset.page];
  if (page) page().catch((e) => UI.flash(e.message));
});
