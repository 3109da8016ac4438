// One device as an article named after it: name, backend, route, online state, protocol version,
// address, last update, and its schema's controls. Used on the home page and on the device page.

import { Device, Dp, sendCommand } from "./api";
import { Control, controlFor } from "./controls";
import { h, uid, when } from "./dom";
import { Store } from "./store";

export const CATEGORIES: Record<string, string> = {
  cz: "Plugs",
  pc: "Power strips",
  kg: "Switches",
  tdq: "Switches",
  dj: "Lights",
  dd: "Light strips",
  dc: "Light strings",
  fwd: "Lights",
  xdd: "Ceiling lights",
  cl: "Covers",
  clkg: "Covers",
  wk: "Thermostats",
  wkf: "Radiator valves",
  wsdcg: "Sensors",
  pir: "Sensors",
  mcs: "Sensors",
  wg: "Gateways",
  wg2: "Gateways",
  fs: "Fans",
  kt: "Air conditioners",
  cs: "Dehumidifiers",
  sd: "Robot vacuums",
};

export function categoryName(device: Device): string {
  return CATEGORIES[device.category] ?? (device.category ? `Other (${device.category})` : "Other");
}

// LAN, cloud or flashed firmware: what carries the device's requests now.
export function routeName(device: Device): string {
  if (["tasmota", "openbeken", "esphome"].includes(device.backend)) return `flashed (${device.backend})`;
  const first = device.routes.find((r) => r.healthy) ?? device.routes[0];
  if (!first) return "none";
  return first.name === "lan" ? "LAN" : first.name;
}

export interface CardOptions {
  link: boolean; // the name links to the device page
  limit: number; // at most this many controls (the device page shows them all)
  deferred?: boolean; // the controls are built by fill(), later (a long list draws its first screen first)
}

export class Card {
  readonly element: HTMLElement;
  private controls = new Map<string, Control>();
  private badge: HTMLElement;
  private meta: HTMLElement;
  private updated: HTMLElement;
  private alert: HTMLElement;
  private body: HTMLElement;
  private schema: Dp[];
  private limit: number;
  private filled = false;
  private stop: () => void;

  constructor(
    store: Store,
    private readonly device: Device,
    options: CardOptions,
  ) {
    const nameId = uid("n");
    const title = options.link ? h("a", { href: `#/device/${encodeURIComponent(device.id)}` }, device.name) : device.name;
    this.badge = h("span", { class: "badge" });
    this.meta = h("span", { class: "meta-text" });
    this.updated = h("span", { class: "updated" });
    this.alert = h("p", { class: "alert", role: "alert", hidden: true });
    this.body = h("div", { class: "controls" });
    this.schema = Number.isFinite(options.limit) ? primaryFirst(store.schema(device)) : store.schema(device);
    this.limit = options.limit;
    this.element = h("article", { class: "device", "aria-labelledby": nameId, "data-device": device.id },
      h("header", {}, h("h3", { id: nameId }, title), this.badge),
      h("p", { class: "meta" }, this.meta, this.updated),
      this.body, this.alert);
    if (!options.deferred) this.fill();
    this.render();
    this.stop = store.watch(device.id, () => this.render());
  }

  // Builds the controls (once).
  fill(): void {
    if (this.filled) return;
    this.filled = true;
    const send = (code: string, value: unknown) => this.send(code, value);
    const fail = (message: string) => this.fail(message);
    const shown = this.schema.slice(0, this.limit);
    for (const dp of shown) {
      const control = controlFor(dp, send, fail);
      this.controls.set(dp.code, control);
      this.body.append(control.element);
    }
    if (this.schema.length > shown.length) {
      const href = `#/device/${encodeURIComponent(this.device.id)}`;
      this.body.after(h("a", { class: "more", href }, `all ${this.schema.length} data points`));
    }
    this.render();
  }

  dispose(): void {
    this.stop();
  }

  private async send(code: string, value: unknown): Promise<void> {
    this.alert.hidden = true;
    await sendCommand(this.device.id, code, value);
  }

  private fail(message: string): void {
    this.alert.textContent = message;
    this.alert.hidden = false;
  }

  private render(): void {
    const d = this.device;
    this.badge.textContent = d.online ? "online" : "offline";
    this.badge.className = d.online ? "badge on" : "badge off";
    this.element.classList.toggle("offline", !d.online);
    const where = d.ip ? (d.port && d.port !== 6668 ? `${d.ip}:${d.port}` : d.ip) : d.parent_id ? "via gateway" : "no address";
    this.meta.textContent = [d.backend, routeName(d), d.version ? `v${d.version}` : null, where].filter(Boolean).join(" · ");
    this.updated.textContent = d.state?.updated_at ? ` · updated ${when(d.state.updated_at)}` : " · no update yet";
    const values = d.state?.values ?? {};
    for (const [code, control] of this.controls) if (code in values) control.update(values[code]);
  }
}

export function primaryFirst(schema: Dp[]): Dp[] {
  // Writable switches first, then other controls, then readings: the card shows the useful ones.
  const rank = (dp: Dp) => (dp.read_only ? 2 : dp.type === "Boolean" ? 0 : 1);
  return [...schema].sort((a, b) => rank(a) - rank(b) || a.dp_id - b.dp_id);
}
