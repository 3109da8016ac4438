// The device page: every control, every raw DP, route health, recent events, history charts, and
// the same request in each of the gateway's API dialects.

import { Device, DeviceEvent, Dp, getJson } from "./api";
import { Card } from "./card";
import { formatValue } from "./controls";
import { h, uid, when } from "./dom";
import { Store } from "./store";

interface HistoryAnswer {
  points: [number, number][];
}
interface RecentAnswer {
  events: DeviceEvent[];
}
interface ChartHandle {
  push(at: number, value: number): void;
  destroy(): void;
}

const MAX_EVENTS = 50;

function section(title: string, ...children: (Node | string)[]): HTMLElement {
  const id = uid("s");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function example(schema: Dp[], values: Record<string, unknown>): { code: string; value: unknown } {
  const writable = schema.filter((dp) => !dp.read_only);
  const pick = writable.find((dp) => dp.type === "Boolean") ?? writable[0];
  if (!pick) return { code: "switch_1", value: true };
  const now = values[pick.code];
  if (pick.type === "Boolean") return { code: pick.code, value: !now };
  if (pick.type === "Integer") return { code: pick.code, value: typeof now === "number" ? now : pick.min ?? 0 };
  if (pick.type === "Enum") return { code: pick.code, value: pick.options[0] };
  return { code: pick.code, value: now ?? "" };
}

// The same command in each dialect: native REST, Tasmota's cm?cmnd=, the Tuya-cloud-compatible path.
export function dialects(device: Device, schema: Dp[], origin: string): { name: string; text: string }[] {
  const { code, value } = example(schema, device.state?.values ?? {});
  const id = device.id;
  const body = JSON.stringify({ commands: [{ code, value }] });
  const auth = sessionStorage.getItem("tuyagate.token") ? " -H 'Authorization: Bearer $TOKEN'" : "";
  const dp = schema.find((d) => d.code === code);
  const raw = dp && dp.type === "Integer" && typeof value === "number" ? Math.round(value * 10 ** dp.scale) : value;
  const tasmota = schema.some((d) => /^switch(_\d+|_led)?$/.test(d.code) && d.type === "Boolean")
    ? "Power%20Toggle"
    : schema.some((d) => /^bright_value(_v2)?$/.test(d.code))
      ? "Dimmer%2050"
      : "Status%200";
  return [
    { name: "Native REST (curl)", text: `curl -s -X POST ${origin}/api/v1/devices/${id}/commands${auth} -H 'Content-Type: application/json' \\\n     -d '${body}'` },
    { name: "Native: read the status", text: `curl -s${auth} ${origin}/api/v1/devices/${id}/status` },
    { name: "Tasmota-compatible", text: `curl -s${auth} '${origin}/tasmota/${id}/cm?cmnd=${tasmota}'` },
    {
      name: "Tuya-cloud-compatible (signed like the Tuya OpenAPI; raw values)",
      text: `POST ${origin}/v1.0/iot-03/devices/${id}/commands\n${JSON.stringify({ commands: [{ code, value: raw }] })}\n\n` +
        `tuyagate cloud call POST /v1.0/iot-03/devices/${id}/commands --base-url ${origin} \\\n     --client-id CLIENT_ID --secret SECRET --body '${JSON.stringify({ commands: [{ code, value: raw }] })}'`,
    },
  ];
}

export class DevicePage {
  readonly element: HTMLElement;
  private card: Card;
  private stop: () => void;
  private charts = new Map<string, ChartHandle>();
  private raw = new Map<string, HTMLElement>();
  private events: HTMLElement;
  private routes: HTMLElement;

  constructor(
    private readonly store: Store,
    private readonly device: Device,
  ) {
    const schema = store.schema(device);
    this.card = new Card(store, device, { link: false, limit: Infinity });
    const rawBody = h("tbody");
    for (const dp of schema) {
      const cell = h("td", { class: "mono" }, "–");
      this.raw.set(String(dp.dp_id), cell);
      rawBody.append(h("tr", {}, h("td", {}, String(dp.dp_id)), h("td", { class: "mono" }, dp.code), h("td", {}, dp.type + (dp.read_only ? " (read-only)" : dp.write_only ? " (write-only)" : "")), cell));
    }
    const rawTable = h("table", {}, h("caption", { class: "sr-only" }, "Raw data points"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "DP"), h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Raw value"))),
      rawBody);
    this.routes = h("tbody");
    const routeTable = h("table", {}, h("caption", { class: "sr-only" }, "Routes"),
      h("thead", {}, h("tr", {}, ...["Route", "Health", "Last success", "Failures", "Last error"].map((t) => h("th", { scope: "col" }, t)))),
      this.routes);
    this.events = h("ol", { class: "events", "aria-live": "off" });
    const dialectList = h("div", { class: "dialects" },
      ...dialects(device, schema, location.origin).map((d) => h("figure", {}, h("figcaption", {}, d.name), h("pre", { tabindex: "0" }, h("code", {}, d.text)))));
    const charts = h("div", { class: "charts" });
    const numeric = schema.filter((dp) => dp.type === "Integer" && (device.history.includes(dp.code) || dp.read_only));
    this.element = h("main", { id: "main", class: "device-page" },
      h("p", {}, h("a", { href: "#/", class: "back" }, "← All devices")),
      h("h1", {}, device.name),
      h("p", { class: "sub" }, `${device.product_name || device.category} · ${device.id}`),
      this.card.element,
      store.gateway.history && numeric.length ? section("History", charts) : "",
      section("Data points", rawTable),
      section("Routes", routeTable),
      section("Recent events", this.events),
      section("The same request in each API", dialectList));
    this.render(null);
    this.stop = store.watch(device.id, (_d, event) => this.render(event));
    if (store.gateway.history) void this.loadCharts(charts, numeric);
    void this.loadEvents();
  }

  dispose(): void {
    this.stop();
    this.card.dispose();
    for (const chart of this.charts.values()) chart.destroy();
  }

  private render(event: DeviceEvent | null): void {
    const d = this.device;
    for (const [id, cell] of this.raw) {
      const value = d.state?.dps?.[id];
      cell.textContent = value === undefined ? "–" : JSON.stringify(value);
    }
    this.routes.replaceChildren(...d.routes.map((r) => h("tr", {},
      h("td", {}, r.name), h("td", {}, r.healthy ? "healthy" : "failing"), h("td", {}, when(r.last_ok)),
      h("td", {}, String(r.failures)), h("td", {}, r.last_error ?? "–"))));
    if (event) {
      this.addEvent(event);
      if (event.kind === "state") {
        for (const [code, value] of Object.entries(event.values)) {
          if (typeof value === "number") this.charts.get(code)?.push(event.at || Date.now() / 1000, value);
        }
      }
    }
  }

  private addEvent(event: DeviceEvent): void {
    const schema = this.store.schema(this.device);
    const describe = (code: string, value: unknown) => {
      const dp = schema.find((s) => s.code === code);
      return `${dp?.label ?? code} ${dp ? formatValue(dp, value) : JSON.stringify(value)}`;
    };
    const text = event.kind === "state" ? Object.entries(event.values).map(([c, v]) => describe(c, v)).join(", ") : "";
    this.events.prepend(h("li", {}, h("time", {}, when(event.at)), " ", h("span", { class: "kind" }, event.kind), " ", text, event.route ? ` (via ${event.route})` : ""));
    while (this.events.children.length > MAX_EVENTS) this.events.lastElementChild!.remove();
  }

  private async loadEvents(): Promise<void> {
    try {
      const answer = await getJson<RecentAnswer>(`/api/v1/devices/${encodeURIComponent(this.device.id)}/recent-events`);
      for (const event of answer.events) this.addEvent({ ...event, device_id: this.device.id });
      if (!answer.events.length) this.events.append(h("li", { class: "empty" }, "No events since the gateway started."));
    } catch (error) {
      this.events.append(h("li", { class: "alert" }, String(error)));
    }
  }

  private async loadCharts(box: HTMLElement, numeric: Dp[]): Promise<void> {
    if (!numeric.length) return;
    const { lineChart } = await import("./chart");
    for (const dp of numeric) {
      const holder = h("figure", { class: "chart", "data-code": dp.code }, h("figcaption", {}, `${dp.label}${dp.unit ? ` (${dp.unit})` : ""}`));
      box.append(holder);
      let points: [number, number][] = [];
      try {
        const answer = await getJson<HistoryAnswer>(`/api/v1/devices/${encodeURIComponent(this.device.id)}/history?code=${encodeURIComponent(dp.code)}&since=-86400`);
        points = answer.points;
      } catch (error) {
        holder.append(h("p", { class: "alert" }, String(error)));
        continue;
      }
      holder.setAttribute("data-points", String(points.length));
      if (points.length) {
        this.charts.set(dp.code, lineChart(holder, dp, points));
        continue;
      }
      // No history yet: the chart appears with the first live change.
      const note = h("p", { class: "empty" }, "No changes recorded yet.");
      holder.append(note);
      let chart: ChartHandle | null = null;
      this.charts.set(dp.code, {
        push(at: number, value: number) {
          if (!chart) {
            note.remove();
            chart = lineChart(holder, dp, [[at, value]]);
          } else chart.push(at, value);
        },
        destroy() {
          chart?.destroy();
        },
      });
    }
  }
}
