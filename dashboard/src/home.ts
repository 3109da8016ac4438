// The home page: every device, grouped by category (or backend, or route), with a search box.

import { Card, categoryName, routeName } from "./card";
import { Device } from "./api";
import { h, uid } from "./dom";
import { Store } from "./store";

type Grouping = "category" | "backend" | "route";
const GROUPERS: Record<Grouping, (d: Device) => string> = {
  category: categoryName,
  backend: (d) => d.backend,
  route: routeName,
};
const CARD_CONTROLS = 6;
const SLICE_MS = 8; // build controls at most this long at a time, so the page answers input meanwhile

export class HomeView {
  readonly element: HTMLElement;
  private cards: Card[] = [];
  private generation = 0;
  private observer: IntersectionObserver | null = null;
  private list: HTMLElement;
  private search: HTMLInputElement;
  private grouping: HTMLSelectElement;
  private count: HTMLElement;
  private sections: { element: HTMLElement; heading: HTMLElement; label: string; items: { card: Card; text: string }[] }[] = [];

  constructor(private readonly store: Store) {
    this.search = h("input", { type: "search", placeholder: "Search devices", "aria-label": "Search devices", id: "search" });
    this.grouping = h("select", { "aria-label": "Group devices by", id: "group-by" },
      h("option", { value: "category" }, "by category"),
      h("option", { value: "backend" }, "by backend"),
      h("option", { value: "route" }, "by route"));
    this.grouping.value = (localStorage.getItem("tuyagate.group") as Grouping) || "category";
    this.count = h("span", { class: "count", role: "status" });
    this.list = h("div", { id: "devices", tabindex: "-1" });
    this.element = h("main", { id: "main" },
      h("div", { class: "toolbar" }, this.search, this.grouping, this.count),
      this.list);
    this.search.addEventListener("input", () => this.filter());
    this.grouping.addEventListener("change", () => {
      localStorage.setItem("tuyagate.group", this.grouping.value);
      this.build();
    });
    this.build();
  }

  dispose(): void {
    this.observer?.disconnect();
    this.generation += 1;
    for (const card of this.cards) card.dispose();
    this.cards = [];
  }

  build(): void {
    this.dispose();
    const group = GROUPERS[this.grouping.value as Grouping] ?? categoryName;
    const groups = new Map<string, Device[]>();
    for (const device of [...this.store.devices.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const key = group(device);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(device);
    }
    const fragment = document.createDocumentFragment();
    this.sections = [];
    for (const [label, devices] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const headingId = uid("g");
      const heading = h("h2", { id: headingId }, label);
      const grid = h("div", { class: "grid" });
      const items = devices.map((device) => {
        const card = new Card(this.store, device, { link: true, limit: CARD_CONTROLS, deferred: true });
        this.cards.push(card);
        grid.append(card.element);
        const text = [device.name, device.id, device.category, categoryName(device), device.product_name, device.backend, device.ip ?? ""]
          .join(" ")
          .toLowerCase();
        return { card, text };
      });
      const element = h("section", { class: "group", "aria-labelledby": headingId }, heading, grid);
      fragment.append(element);
      this.sections.push({ element, heading, label, items });
    }
    this.list.replaceChildren(fragment);
    if (this.element.isConnected) this.fillCards();
    if (!this.store.devices.size) {
      this.list.append(h("p", { class: "empty" }, "No devices yet. Add some with `tuyagate devices add`, an import, a scan or a cloud sync."));
    }
    this.filter();
  }

  // Called once the view is in the page (and again after each build).
  attached(): void {
    this.fillCards();
  }

  // The controls of the cards on screen first, then the others in short slices between frames
  // (and any card scrolled to before its turn at once): 200 devices are usable as fast as 20.
  private fillCards(): void {
    const generation = ++this.generation;
    const reach = window.innerHeight + 200;
    for (const card of this.cards) {
      if (card.element.hidden) continue;
      const box = card.element.getBoundingClientRect(); // one layout of the short, empty cards
      if (box.top < reach && box.bottom > -200) card.fill();
    }
    const byElement = new Map(this.cards.map((c) => [c.element as Element, c]));
    this.observer?.disconnect();
    const observer = (this.observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          byElement.get(entry.target)?.fill();
          observer.unobserve(entry.target);
        }
      },
      { rootMargin: "400px" },
    ));
    for (const card of this.cards) observer.observe(card.element);
    const queue = [...this.cards];
    const step = () => {
      if (generation !== this.generation) return; // built again meanwhile
      const start = performance.now();
      while (queue.length && performance.now() - start < SLICE_MS) queue.shift()!.fill();
      if (queue.length) setTimeout(step, 0);
      else {
        observer.disconnect();
        document.documentElement.dataset.complete = "true";
        performance.mark("tuyagate-complete");
      }
    };
    setTimeout(step, 0);
  }

  private filter(): void {
    const words = this.search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const section of this.sections) {
      let inSection = 0;
      for (const { card, text } of section.items) {
        const match = words.every((w) => text.includes(w));
        card.element.hidden = !match;
        if (match) inSection += 1;
      }
      section.element.hidden = inSection === 0;
      section.heading.textContent = `${section.label} (${inSection})`;
      shown += inSection;
    }
    const total = this.store.devices.size;
    this.count.textContent = shown === total ? `${total} devices` : `${shown} of ${total} devices`;
  }
}
