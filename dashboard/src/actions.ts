// The actions: scan the LAN, sync from the Tuya cloud (each with progress and its result), the
// Postman export, and the API token prompt. Dialogs are native <dialog> elements (focus trapped,
// Escape closes them).

import { getJson, setToken, streamLines } from "./api";
import { h } from "./dom";

function dialog(title: string, ...body: Node[]): { element: HTMLDialogElement; close: HTMLButtonElement } {
  const close = h("button", { type: "button", class: "btn" }, "Close");
  const element = h("dialog", { "aria-label": title }, h("h2", {}, title), ...body, h("p", { class: "actions" }, close));
  close.addEventListener("click", () => element.close());
  element.addEventListener("close", () => element.remove());
  document.body.append(element);
  return { element, close };
}

interface ProgressLine {
  type: string;
  done?: number;
  total?: number | null;
  message?: string;
  error?: { code: string; message: string };
  [key: string]: unknown;
}

async function run(path: string, body: unknown, bar: HTMLProgressElement, status: HTMLElement, result: (r: Record<string, unknown>) => Node): Promise<Node | null> {
  let outcome: Node | null = null;
  try {
    await streamLines(path, body, (item) => {
      const line = item as ProgressLine;
      if (line.type === "progress") {
        if (line.total) {
          bar.max = line.total;
          bar.value = line.done ?? 0;
        } else bar.removeAttribute("value");
        status.textContent = line.message ?? "";
      } else if (line.type === "error") {
        outcome = h("p", { class: "alert", role: "alert" }, line.error?.message ?? "failed");
      } else if (line.type === "result") {
        bar.value = bar.max;
        const key = Object.keys(line).find((k) => k !== "type")!;
        outcome = result(line[key] as Record<string, unknown>);
      }
    });
  } catch (error) {
    outcome = h("p", { class: "alert", role: "alert" }, error instanceof Error ? error.message : String(error));
  }
  return outcome;
}

interface Found {
  id: string;
  ip: string;
  version: string | null;
  known: boolean;
  name: string | null;
}

interface Heard {
  id: string;
  ip: string;
  version: string | null;
  name: string | null;
  last_seen: number;
}

// What the gateway's discovery follower heard already: devices announcing themselves without a key here.
async function heardSoFar(box: HTMLElement): Promise<void> {
  try {
    const heard = await getJson<{ listening: boolean; devices: Heard[]; note: string }>("/api/v1/discovered");
    if (!heard.listening) {
      box.replaceChildren(h("p", { class: "hint" }, heard.note));
      return;
    }
    box.replaceChildren(
      h("p", {}, heard.devices.length
        ? `Heard on the LAN already, without a local key here (${heard.devices.length}):`
        : "The gateway hears no device without a key on the LAN."),
      ...(heard.devices.length
        ? [h("ul", {}, ...heard.devices.map((d) => h("li", {}, `${d.name ?? d.id} at ${d.ip} (v${d.version ?? "?"})`))),
          h("p", { class: "hint" }, "A cloud sync fetches their keys.")]
        : []));
  } catch {
    box.replaceChildren(); // an older gateway, or no read scope: the scan still works
  }
}

export function openScan(): void {
  const seconds = h("input", { type: "number", min: "1", max: "60", value: "8", id: "scan-seconds" });
  const start = h("button", { type: "button", class: "btn primary" }, "Start scan");
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Scan progress" });
  const status = h("p", { role: "status" });
  const results = h("div", { class: "results" });
  const heard = h("div", { class: "heard" });
  const { element } = dialog("Scan for devices",
    h("p", {}, "Listens for the UDP broadcasts of Tuya devices on this network (and asks 3.5 devices to answer)."),
    heard,
    h("p", {}, h("label", { for: "scan-seconds" }, "Seconds to listen "), seconds, " ", start),
    bar, status, results);
  void heardSoFar(heard);
  start.addEventListener("click", async () => {
    start.disabled = true;
    results.replaceChildren();
    const outcome = await run("/api/v1/scan", { seconds: Number(seconds.value) || 8 }, bar, status, (scan) => {
      const devices = (scan.devices as Found[]) ?? [];
      if (!devices.length) return h("p", {}, "No device answered.");
      return h("div", {},
        h("p", {}, `${devices.length} found, ${scan.new} new.`),
        h("table", {}, h("thead", {}, h("tr", {}, ...["Device", "Address", "Version", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, ...devices.map((d) => h("tr", {}, h("td", {}, d.name ?? d.id), h("td", {}, d.ip), h("td", {}, d.version ?? "?"),
            h("td", {}, d.known ? "in the registry" : "new: add it with tuyagate devices add, or a cloud sync for its key"))))));
    });
    status.textContent = "done";
    if (outcome) results.append(outcome);
    start.disabled = false;
  });
  element.showModal();
  seconds.focus();
}

export function openSync(): void {
  const start = h("button", { type: "button", class: "btn primary" }, "Sync now");
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Sync progress" });
  const status = h("p", { role: "status" });
  const results = h("div", { class: "results" });
  const { element } = dialog("Sync from the Tuya cloud",
    h("p", {}, "Reads the devices of your cloud project: names, local keys, sub-devices and DP schemas."),
    h("p", {}, start), bar, status, results);
  start.addEventListener("click", async () => {
    start.disabled = true;
    results.replaceChildren();
    const outcome = await run("/api/v1/cloud/sync", undefined, bar, status, (report) => {
      const devices = (report.devices as { name: string; action: string; changes: string[] }[]) ?? [];
      return h("div", {}, h("p", { class: "summary" }, String(report.summary ?? "")),
        h("ul", {}, ...devices.filter((d) => d.action !== "unchanged").map((d) => h("li", {}, `${d.action}: ${d.name}${d.changes.length ? ` (${d.changes.join(", ")})` : ""}`))));
    });
    status.textContent = "done";
    if (outcome) results.append(outcome);
    start.disabled = false;
  });
  element.showModal();
  start.focus();
}

function download(name: string, data: unknown): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  return h("a", { href: url, download: name, class: "btn" }, `Download ${name}`);
}

export async function openPostman(): Promise<void> {
  const box = h("div", {}, h("p", {}, "Loading…"));
  const { element } = dialog("Postman collection", box);
  element.showModal();
  try {
    const answer = await getJson<{ collection: unknown; environment: unknown }>("/api/v1/postman");
    box.replaceChildren(
      h("p", {}, "Import both files into Postman (or run them with newman). The cloud-compatible folder signs its requests like the Tuya OpenAPI; fill in client_secret in the environment."),
      h("p", { class: "actions" }, download("tuyagate.postman_collection.json", answer.collection), " ", download("tuyagate.postman_environment.json", answer.environment)));
  } catch (error) {
    box.replaceChildren(h("p", { class: "alert", role: "alert" }, String(error)));
  }
}

// Resolves once the user gave a token (stored in the browser session only).
export function askToken(message: string): Promise<void> {
  return new Promise((resolve) => {
    const field = h("input", { type: "password", id: "token", autocomplete: "off", required: true });
    const save = h("button", { type: "submit", class: "btn primary" }, "Use token");
    const form = h("form", { method: "dialog" },
      h("p", { role: "alert" }, message),
      h("p", {}, h("label", { for: "token" }, "API token "), field),
      h("p", { class: "hint" }, "Create one with: tuyagate tokens create --name browser --scope control. It is kept in this browser tab's session only."),
      h("p", { class: "actions" }, save));
    const element = h("dialog", { "aria-label": "API token needed" }, h("h2", {}, "API token needed"), form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!field.value.trim()) return;
      setToken(field.value.trim());
      element.close();
      element.remove();
      resolve();
    });
    element.addEventListener("cancel", (event) => event.preventDefault()); // nothing works without it
    document.body.append(element);
    element.showModal();
    field.focus();
  });
}
