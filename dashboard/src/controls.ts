// Controls generated from the one DP schema: each DP's description says which control it gets.
//   Boolean     -> a toggle (role "switch"), or a button when the DP is write-only
//   Integer     -> a slider (role "slider") with range, step and unit, and a number field beside it
//   Enum        -> a select (role "combobox"), or a button per option when write-only
//   Json colour -> a colour picker (h/s/v in the DP's ranges)
//   String      -> a text field
//   read-only   -> the value with its unit
// Every control's accessible name is the DP's label with its code: "Switch 1 (switch_1)".

import { Dp } from "./api";
import { h, uid } from "./dom";

export type Send = (code: string, value: unknown) => Promise<void>;

export interface Control {
  element: HTMLElement;
  update(value: unknown): void;
}

export function accessibleName(dp: Dp): string {
  return dp.label && dp.label !== dp.code ? `${dp.label} (${dp.code})` : dp.code;
}

export function formatValue(dp: Dp, value: unknown): string {
  if (value === undefined || value === null) return "–";
  if (dp.type === "Boolean") return value ? "on" : "off";
  if (typeof value === "number") {
    const text = dp.scale > 0 ? value.toFixed(dp.scale) : String(value);
    return dp.unit ? `${text} ${dp.unit}` : text;
  }
  if (dp.type === "Bitmap" && typeof value === "number") return String(value);
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function row(dp: Dp, labelId: string, ...controls: HTMLElement[]): HTMLElement {
  return h("div", { class: `ctl ctl-${dp.type.toLowerCase()}`, "data-code": dp.code },
    h("span", { class: "lbl", id: labelId, title: dp.code }, dp.label || dp.code),
    h("span", { class: "inputs" }, ...controls));
}

// A slider gets the row's full width below its label and number field.
function wideRow(dp: Dp, labelId: string, wide: HTMLElement, ...controls: HTMLElement[]): HTMLElement {
  const element = row(dp, labelId, ...controls);
  element.append(wide);
  return element;
}

// Sends a value; while it is on its way the control is busy, and a refusal is reported by ``fail``.
async function commit(send: Send, dp: Dp, value: unknown, busy: HTMLElement, fail: (m: string) => void): Promise<boolean> {
  busy.setAttribute("aria-busy", "true");
  try {
    await send(dp.code, value);
    return true;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
    return false;
  } finally {
    busy.removeAttribute("aria-busy");
  }
}

function toggle(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  let current = false;
  const button = h("button", { type: "button", role: "switch", class: "switch", "aria-checked": "false", "aria-label": accessibleName(dp) },
    h("span", { class: "knob", "aria-hidden": "true" }));
  const update = (value: unknown) => {
    current = Boolean(value);
    button.setAttribute("aria-checked", String(current));
  };
  button.addEventListener("click", async () => {
    const wanted = !current;
    update(wanted);
    if (!(await commit(send, dp, wanted, button, fail))) update(!wanted);
  });
  return { element: row(dp, labelId, button), update };
}

function slider(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  const name = accessibleName(dp);
  const limits = { min: String(dp.min ?? 0), max: String(dp.max ?? 100), step: String(dp.step ?? 1) };
  const range = h("input", { type: "range", ...limits, "aria-label": name });
  const number = h("input", { type: "number", ...limits, "aria-label": name, class: "num", inputmode: "decimal" });
  const unit = dp.unit ? h("span", { class: "unit" }, dp.unit) : null;
  let current: number | null = null;
  const update = (value: unknown) => {
    if (typeof value !== "number") return;
    current = value;
    if (document.activeElement !== range) range.value = String(value);
    if (document.activeElement !== number) number.value = String(value);
    range.setAttribute("aria-valuetext", formatValue(dp, value));
  };
  const restore = () => {
    if (current !== null) {
      range.value = String(current);
      number.value = String(current);
    }
  };
  const submit = async (text: string) => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) {
      fail(`${dp.code}: "${text}" is not a number`);
      restore();
      return;
    }
    if (!(await commit(send, dp, value, range, fail))) restore();
  };
  range.addEventListener("input", () => (number.value = range.value));
  range.addEventListener("change", () => void submit(range.value));
  number.addEventListener("change", () => void submit(number.value));
  number.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      void submit(number.value);
    }
  });
  return { element: wideRow(dp, labelId, range, number, ...(unit ? [unit] : [])), update };
}

function select(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  const box = h("select", { "aria-label": accessibleName(dp) }, ...dp.options.map((o) => h("option", { value: o }, o)));
  let current = "";
  const update = (value: unknown) => {
    current = String(value ?? "");
    box.value = current;
  };
  box.addEventListener("change", async () => {
    if (!(await commit(send, dp, box.value, box, fail))) box.value = current;
  });
  return { element: row(dp, labelId, box), update };
}

function buttons(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  const options = dp.type === "Boolean" ? [true] : dp.options;
  const group = h("span", { role: "group", "aria-label": accessibleName(dp), class: "buttons" });
  for (const option of options) {
    const text = option === true ? dp.label || dp.code : String(option);
    const button = h("button", { type: "button", class: "btn" }, text);
    button.addEventListener("click", () => void commit(send, dp, option, button, fail));
    group.append(button);
  }
  return { element: row(dp, labelId, group), update: () => {} };
}

// Tuya's h/s/v (in the DP's ranges, e.g. 0..360 / 0..1000 / 0..1000) <-> #rrggbb.
function colourRange(dp: Dp, key: string, fallback: number): number {
  return dp.colour?.[key]?.max ?? fallback;
}

export function hsvToHex(dp: Dp, value: { h: number; s: number; v: number }): string {
  const hue = (value.h / colourRange(dp, "h", 360)) * 360;
  const s = value.s / colourRange(dp, "s", 1000);
  const v = Math.max(value.v / colourRange(dp, "v", 1000), 0.05);
  const f = (n: number) => {
    const k = (n + hue / 60) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return "#" + [f(5), f(3), f(1)].map((x) => Math.round(x * 255).toString(16).padStart(2, "0")).join("");
}

export function hexToHsv(dp: Dp, hex: string): { h: number; s: number; v: number } {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b);
  const delta = max - Math.min(r, g, b);
  let hue = 0;
  if (delta) {
    if (max === r) hue = 60 * (((g - b) / delta) % 6);
    else if (max === g) hue = 60 * ((b - r) / delta + 2);
    else hue = 60 * ((r - g) / delta + 4);
  }
  if (hue < 0) hue += 360;
  return {
    h: Math.round((hue / 360) * colourRange(dp, "h", 360)),
    s: Math.round((max ? delta / max : 0) * colourRange(dp, "s", 1000)),
    v: Math.round(max * colourRange(dp, "v", 1000)),
  };
}

function colour(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  const picker = h("input", { type: "color", "aria-label": accessibleName(dp) });
  let current = "#ffffff";
  const update = (value: unknown) => {
    if (value && typeof value === "object" && "h" in value) {
      current = hsvToHex(dp, value as { h: number; s: number; v: number });
      picker.value = current;
    }
  };
  picker.addEventListener("change", async () => {
    if (!(await commit(send, dp, hexToHsv(dp, picker.value), picker, fail))) picker.value = current;
  });
  return { element: row(dp, labelId, picker), update };
}

function text(dp: Dp, send: Send, fail: (m: string) => void): Control {
  const labelId = uid("l");
  const field = h("input", { type: "text", "aria-label": accessibleName(dp), maxlength: dp.maxlen ?? undefined });
  const update = (value: unknown) => {
    if (document.activeElement !== field) field.value = value === undefined || value === null ? "" : String(value);
  };
  field.addEventListener("change", () => void commit(send, dp, field.value, field, fail));
  return { element: row(dp, labelId, field), update };
}

function readout(dp: Dp): Control {
  const labelId = uid("l");
  const value = h("output", { class: "val", "aria-labelledby": labelId }, "–");
  return { element: row(dp, labelId, value), update: (v) => (value.textContent = formatValue(dp, v)) };
}

export function controlFor(dp: Dp, send: Send, fail: (m: string) => void): Control {
  if (dp.read_only) return readout(dp);
  if (dp.write_only && (dp.type === "Boolean" || dp.type === "Enum")) return buttons(dp, send, fail);
  switch (dp.type) {
    case "Boolean":
      return toggle(dp, send, fail);
    case "Integer":
      return slider(dp, send, fail);
    case "Enum":
      return select(dp, send, fail);
    case "Json":
      return dp.colour ? colour(dp, send, fail) : text(dp, send, fail);
    case "String":
      return text(dp, send, fail);
    default:
      return readout(dp);
  }
}
