// The status page: sign in once per browser tab, then refresh the server-rendered panel.
//
// The API key lives in this tab's sessionStorage only: it is sent as `Authorization: Bearer`
// on each fetch and never in a URL or a cookie, so no other site can make the browser act
// with it (no CSRF). The panel and the task detail are HTML the server rendered and escaped;
// everything this script writes itself goes through textContent.
"use strict";

(() => {
  const STORAGE_KEY = "taskqueue.apiKey";
  const REFRESH_MS = 3000;
  const byId = (id) => document.getElementById(id);
  let timer = null;
  let openTask = null; // the task whose detail is shown, refreshed with the panel

  const apiKey = () => sessionStorage.getItem(STORAGE_KEY);

  class SignedOut extends Error {}

  function signIn(message) {
    clearTimeout(timer);
    sessionStorage.removeItem(STORAGE_KEY);
    openTask = null;
    byId("panel").replaceChildren();
    byId("detail").replaceChildren();
    byId("status").hidden = true;
    byId("sign-out").hidden = true;
    byId("sign-in").hidden = false;
    byId("sign-in-message").textContent = message || "";
    byId("api-key").focus();
  }

  function signedIn() {
    byId("sign-in").hidden = true;
    byId("sign-in-message").textContent = "";
    byId("status").hidden = false;
    byId("sign-out").hidden = false;
  }

  function notice(text) {
    byId("notice").textContent = text || "";
  }

  async function call(method, path) {
    const key = apiKey();
    if (!key) throw new SignedOut();
    const response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${key}` },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (response.status === 401) {
      signIn("The key was refused: sign in again.");
      throw new SignedOut();
    }
    return response;
  }

  async function problem(response) {
    try {
      const body = await response.json();
      return body.detail || body.title || response.statusText;
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  async function showTask(taskId) {
    const response = await call("GET", `/status/tasks/${encodeURIComponent(taskId)}`);
    if (response.ok) {
      const html = await response.text();
      if (apiKey()) byId("detail").innerHTML = html;
    } else {
      const text = document.createElement("p");
      text.textContent = await problem(response);
      byId("detail").replaceChildren(text);
    }
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const response = await call("GET", "/status/panel");
      if (response.ok) {
        const html = await response.text();
        if (!apiKey()) return; // signed out meanwhile
        byId("panel").innerHTML = html;
        notice("");
      } else {
        notice(`Could not refresh: ${await problem(response)}`);
      }
      if (openTask) await showTask(openTask);
    } catch (error) {
      if (error instanceof SignedOut) return;
      notice("The service did not answer; retrying.");
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  async function cancel(taskId) {
    try {
      const response = await call("DELETE", `/tasks/${encodeURIComponent(taskId)}`);
      if (response.status === 202) notice(`Task ${taskId}: cancel requested, it stops shortly.`);
      else if (response.ok) notice(`Task ${taskId} cancelled.`);
      else notice(`Task ${taskId}: ${await problem(response)}`);
    } catch (error) {
      if (error instanceof SignedOut) return;
      notice("The service did not answer; try again.");
    }
    await refresh();
  }

  function onClick(event) {
    const target = event.target.closest("[data-task-link], [data-cancel], [data-close-detail]");
    if (!target) return;
    event.preventDefault();
    if (target.dataset.cancel) {
      target.disabled = true;
      cancel(target.dataset.cancel);
    } else if (target.dataset.taskLink) {
      openTask = target.dataset.taskLink;
      showTask(openTask).catch(() => notice("The service did not answer; try again."));
    } else {
      openTask = null;
      byId("detail").replaceChildren();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const field = byId("api-key");
      const key = field.value.trim();
      field.value = "";
      if (!key) return;
      sessionStorage.setItem(STORAGE_KEY, key);
      signedIn();
      refresh();
    });
    byId("sign-out").addEventListener("click", () => signIn("Signed out."));
    byId("status").addEventListener("click", onClick);
    if (apiKey()) {
      signedIn();
      refresh();
    } else {
      signIn("");
    }
  });
})();
