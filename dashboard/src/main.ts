// The dashboard: reads the whole home once, then follows the live event stream. Routes are in the
// URL's fragment (#/ and #/device/ID), so every page works from the one static file.

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { DeviceEvent, whenUnauthorized } from "./api";
import { askToken, openPostman, openScan, openSync } from "./actions";
import { h } from "./dom";
import { HomeView } from "./home";
import { Connection, Live } from "./live";
import { DevicePage } from "./page";
import { Store } from "./store";

const store = new Store();
const root = document.getElementById("app")!;
const connection = h("span", { class: "conn connecting", role: "status", "aria-live": "polite", id: "connection" }, "connecting");
let view: { element: HTMLElement; dispose(): void; attached?(): void } | null = null;
let pending: Promise<void> | null = null;

whenUnauthorized((message) => {
  pending ??= askToken(message).finally(() => (pending = null));
  return pending;
});

function header(): HTMLElement {
  const button = (label: string, action: () => void) => h("button", { type: "button", class: "btn", onclick: action }, label);
  const sync = button("Cloud sync", openSync);
  sync.hidden = !store.gateway.cloud_sync;
  return h("header", { class: "top" },
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h("a", { href: "#/", class: "brand" }, "tuyagate"),
    connection,
    h("nav", { "aria-label": "Actions" }, button("Scan", openScan), sync, button("Postman", () => void openPostman()), h("a", { href: "/docs", class: "btn" }, "API docs")));
}

function show(): void {
  view?.dispose();
  const match = /^#\/device\/(.+)$/.exec(location.hash);
  const device = match ? store.devices.get(decodeURIComponent(match[1])) : undefined;
  if (match && !device) {
    view = { element: h("main", { id: "main" }, h("p", { class: "alert", role: "alert" }, "No such device."), h("a", { href: "#/" }, "All devices")), dispose() {} };
  } else {
    view = device ? new DevicePage(store, device) : new HomeView(store);
  }
  root.replaceChildren(header(), view.element);
  view.attached?.();
  document.title = device ? `${device.name} · tuyagate` : "tuyagate";
  if (match) window.scrollTo(0, 0);
}

function setConnection(state: Connection, detail: string): void {
  connection.className = `conn ${state}`;
  connection.textContent = detail;
  document.documentElement.dataset.connection = state;
}

async function boot(): Promise<void> {
  performance.mark("tuyagate-start");
  // The event stream opens while the home is read, so no change falls between the two: events that
  // come before the home's answer are applied on top of it (in order, so the newest wins).
  let early: DeviceEvent[] | null = [];
  const live = new Live({
    event: (event) => (early ? early.push(event) : store.apply(event)),
    connection: setConnection,
    resync: async () => {
      if (await store.load()) show();
    },
  });
  live.start();
  for (;;) {
    try {
      await store.load();
      break;
    } catch (error) {
      root.replaceChildren(h("main", { id: "main" }, h("p", { class: "alert", role: "alert" }, `Cannot read the home: ${error instanceof Error ? error.message : error}`)));
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
  for (const event of early) store.apply(event);
  early = null;
  show();
  performance.mark("tuyagate-drawn");
  window.addEventListener("hashchange", show);
  document.documentElement.dataset.ready = "true";
  performance.mark("tuyagate-ready"); // "interactive": every device is listed, those on screen have working controls
}

void boot();
