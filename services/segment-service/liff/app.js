// 受信設定 on a web page inside LINE (LIFF). Bundled with esbuild into
// src/segment_service/liff/static/liff.js (`npm run build:liff`; tests/packaging checks it is current).
//
// The page never sends a user id: it sends the raw ID token LIFF holds (the access token if there is
// none) in the Authorization header, and segment-service asks LINE who it belongs to.
import liff from "@line/liff";
import { LiffMockPlugin } from "@line/liff-mock";

const API = "/liff/api/preferences";
const root = document.documentElement;
const $ = (id) => document.getElementById(id);
const statusLine = $("status");
const form = $("form");
const errorLine = $("error");
let token = null;
let taxonomy = null;

function say(text, kind) {
  statusLine.textContent = text;
  statusLine.className = "status" + (kind ? " " + kind : "");
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = !text;
}

async function start() {
  const mock = root.dataset.liffMock === "true";
  if (mock) {
    // Local demo and tests only (LIFF_MOCK): the ID token is one the LINE emulator minted, given in
    // the address's fragment (never sent to a server), then removed from the address bar.
    liff.use(new LiffMockPlugin());
    await liff.init({ liffId: root.dataset.liffId, mock: true });
    const given = new URLSearchParams(location.hash.slice(1)).get("mock-id-token");
    liff.$mock.set((previous) => ({ ...previous, isLoggedIn: Boolean(given), getIDToken: given,
                                    getAccessToken: null }));
    history.replaceState(null, "", location.pathname);
    if (!given) {
      say("LINEの情報を確認できませんでした。LINEアプリから開き直してください。", "error");
      return;
    }
  } else {
    await liff.init({ liffId: root.dataset.liffId });
  }
  if (!liff.isLoggedIn()) {
    liff.login({ redirectUri: location.origin + location.pathname });
    return;
  }
  token = liff.getIDToken() || liff.getAccessToken();
  if (!token) {
    say("LINEの情報を確認できませんでした。LINEアプリから開き直してください。", "error");
    return;
  }
  await load();
}

async function call(method, body) {
  const response = await fetch(API, {
    method,
    headers: { Authorization: "Bearer " + token, Accept: "application/json",
               ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "omit",
    cache: "no-store",
  });
  let payload = {};
  try { payload = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
  return { status: response.status, payload };
}

function problem(status) {
  if (status === 401) return "LINEの確認の有効期限が切れました。画面を閉じて、もう一度開いてください。";
  if (status === 404) return "友だち追加されていないため設定できません。先に友だち追加をお願いします。";
  if (status === 400) return "入力内容を確認してください。";
  return "ただいま保存できません。時間をおいて、もう一度お試しください。";
}

async function load() {
  const { status, payload } = await call("GET");
  if (status !== 200) {
    say(problem(status), "error");
    return;
  }
  taxonomy = payload.taxonomy;
  render(payload.answers || { categories: [], district: null, ageBand: null, language: null, children: [] });
  form.hidden = false;
  say("選んで「この内容で保存する」を押してください。");
}

function option(select, value, text, selected) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  element.selected = selected;
  select.append(element);
}

function fillSelect(select, choices, current, empty) {
  select.replaceChildren();
  option(select, "", empty, current == null);
  for (const choice of choices) option(select, choice.key, choice.label, choice.key === current);
}

function render(answers) {
  const chosen = new Set(answers.categories);
  const box = $("category-choices");
  box.replaceChildren();
  for (const category of taxonomy.categories) {
    const label = document.createElement("label");
    label.className = "choice" + (category.alwaysDelivered ? " always" : "");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "categories";
    input.value = category.key;
    input.checked = category.alwaysDelivered || chosen.has(category.key);
    input.disabled = category.alwaysDelivered;
    const text = document.createElement("span");
    text.textContent = category.label;
    if (category.alwaysDelivered) {
      const note = document.createElement("span");
      note.className = "always-note";
      note.textContent = "大切なお知らせのため、すべての方にお届けします";
      text.append(note);
    }
    label.append(input, text);
    box.append(label);
  }
  fillSelect($("district"), taxonomy.districts, answers.district, "選ばない");
  fillSelect($("age-band"), taxonomy.ageBands, answers.ageBand, "答えない");
  fillSelect($("language"), taxonomy.languages, answers.language, "選ばない");
  $("language-set").hidden = taxonomy.languages.length === 0;
  $("children").hidden = taxonomy.maxChildren === 0;
  $("child-list").replaceChildren();
  for (const child of answers.children) addChild(child);
  refreshChildren();
}

let childSerial = 0;

function addChild(yearMonth) {
  const [year, month] = (yearMonth || "").split("-").map(Number);
  const item = $("child-template").content.firstElementChild.cloneNode(true);
  const serial = ++childSerial;
  const yearSelect = item.querySelector(".child-year");
  const monthSelect = item.querySelector(".child-month");
  yearSelect.id = `child-${serial}-year`;
  monthSelect.id = `child-${serial}-month`;
  item.querySelector(".child-year-label").htmlFor = yearSelect.id;
  item.querySelector(".child-month-label").htmlFor = monthSelect.id;
  const now = new Date();
  option(yearSelect, "", "選んでください", !year);
  for (let y = now.getFullYear() + 1; y >= now.getFullYear() - 30; y--) option(yearSelect, String(y), `${y}年`, y === year);
  option(monthSelect, "", "選んでください", !month);
  for (let m = 1; m <= 12; m++) option(monthSelect, String(m), `${m}月`, m === month);
  item.querySelector(".remove").addEventListener("click", () => {
    item.remove();
    refreshChildren();
    $("add-child").focus();
  });
  $("child-list").append(item);
  refreshChildren();
  return item;
}

function refreshChildren() {
  const items = [...$("child-list").children];
  items.forEach((item, index) => {
    item.querySelector(".child-name").textContent = `${index + 1}人目のお子さま`;
    item.querySelector(".remove").textContent = `${index + 1}人目のお子さまを削除`;
  });
  $("child-none").hidden = items.length > 0;
  $("add-child").hidden = items.length >= taxonomy.maxChildren;
}

function collect() {
  const categories = [...form.querySelectorAll("input[name=categories]:checked:not(:disabled)")].map((i) => i.value);
  const children = [];
  for (const item of $("child-list").children) {
    const year = item.querySelector(".child-year").value;
    const month = item.querySelector(".child-month").value;
    if (!year || !month) return { missing: item.querySelector(year ? ".child-month" : ".child-year") };
    children.push(`${year}-${month.padStart(2, "0")}`);
  }
  const value = (id) => $(id).value || null;
  return { answers: { categories, district: value("district"), ageBand: value("age-band"),
                      language: value("language"), children } };
}

async function save(event) {
  event.preventDefault();
  showError("");
  const { answers, missing } = collect();
  if (missing) {
    showError("お子さまの生まれた年と月を選んでください。");
    missing.focus();
    return;
  }
  const button = $("save");
  button.disabled = true;
  say("保存しています…");
  try {
    const { status, payload } = await call("PUT", answers);
    if (status === 200) {
      render(payload.answers);
      say("保存しました。ありがとうございます。", "saved");
    } else {
      say("保存できませんでした。", "error");
      showError(problem(status));
    }
  } catch (_) {
    say("保存できませんでした。", "error");
    showError(problem(0));
  } finally {
    button.disabled = false;
  }
}

$("add-child").addEventListener("click", () => addChild("").querySelector(".child-year").focus());
form.addEventListener("submit", save);
start().catch(() => say("読み込めませんでした。LINEアプリから開き直してください。", "error"));
