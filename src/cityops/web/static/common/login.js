// Shared sign-in form; resolves once a session exists.
import { login, session, errorText } from "./api.js";
import { t } from "./i18n.js";

export function ensureLogin(root, { allowed } = {}) {
  return new Promise((resolve) => {
    const s = session();
    if (s && new Date(s.expires_at) > new Date() && (!allowed || allowed.some((r) => s.user.roles.includes(r)))) {
      resolve(s);
      return;
    }
    root.innerHTML = `
      <form class="login" id="login-form">
        <h2>${t("login.title")}</h2>
        <label for="username">${t("login.username")}</label><input id="username" autocomplete="username" required>
        <label for="password">${t("login.password")}</label><input id="password" type="password" autocomplete="current-password" required>
        <div class="error" id="login-error" role="alert"></div>
        <button type="submit">${t("login.submit")}</button>
      </form>`;
    root.querySelector("#login-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const err = root.querySelector("#login-error");
      err.textContent = "";
      try {
        const s2 = await login(root.querySelector("#username").value.trim(), root.querySelector("#password").value);
        if (allowed && !allowed.some((r) => s2.user.roles.includes(r))) {
          err.textContent = `${s2.user.username}: ${s2.user.roles.join(", ")} ✗`;
          return;
        }
        resolve(s2);
      } catch (ex) {
        err.textContent = errorText(ex);
      }
    });
  });
}
