// The home as the page knows it: every device with its schema and last state, kept current by the
// live events. Views watch a device and are told each change; nothing polls.

import { Device, DeviceEvent, Dp, HomeAnswer, getJson } from "./api";

export type Watcher = (device: Device, event: DeviceEvent | null) => void;

export class Store {
  devices = new Map<string, Device>();
  schemas: Dp[][] = [];
  gateway: HomeAnswer["gateway"] = { version: "", history: false, cloud_compat: false, cloud_sync: false };
  private watchers = new Map<string, Set<Watcher>>();
  private anyWatchers = new Set<Watcher>();

  async load(): Promise<boolean> {
    const home = await getJson<HomeAnswer>("/api/v1/home");
    const changed = [...this.devices.keys()].join(",") !== home.devices.map((d) => d.id).join(",");
    this.gateway = home.gateway;
    this.schemas = home.schemas;
    if (changed) {
      this.devices = new Map(home.devices.map((d) => [d.id, d]));
      return true; // the set of devices changed: views are built again
    }
    // The same devices: views keep their device objects, which take the fresh state.
    for (const fresh of home.devices) {
      const device = this.devices.get(fresh.id)!;
      Object.assign(device, fresh);
      this.notify(device, null);
    }
    return false;
  }

  schema(device: Device): Dp[] {
    return this.schemas[device.schema] ?? [];
  }

  watch(id: string, watcher: Watcher): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(watcher);
    return () => set!.delete(watcher);
  }

  watchAll(watcher: Watcher): () => void {
    this.anyWatchers.add(watcher);
    return () => this.anyWatchers.delete(watcher);
  }

  apply(event: DeviceEvent): void {
    const device = this.devices.get(event.device_id);
    if (!device) return;
    if (event.kind === "online") device.online = true;
    else if (event.kind === "offline") device.online = false;
    else if (event.kind === "state") {
      const state = device.state ?? { device_id: device.id, values: {}, dps: {}, route: "", updated_at: 0 };
      Object.assign(state.values, event.values);
      Object.assign(state.dps, event.dps);
      state.route = event.route ?? state.route;
      state.updated_at = event.at || Date.now() / 1000;
      device.state = state;
      device.online = true;
    }
    this.notify(device, event);
  }

  private notify(device: Device, event: DeviceEvent | null): void {
    for (const watcher of this.watchers.get(device.id) ?? []) watcher(device, event);
    for (const watcher of this.anyWatchers) watcher(device, event);
  }
}
