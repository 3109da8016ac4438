// Talking to the gateway: JSON requests with the API token (kept in the browser session only),
// readable refusals, and the types of the answers the dashboard reads.

export interface Dp {
  dp_id: number;
  code: string;
  type: string; // Boolean, Integer, Enum, String, Json, Bitmap, Raw
  mode: string;
  label: string;
  read_only: boolean;
  write_only: boolean;
  unit: string;
  min: number | null;
  max: number | null;
  step: number | null;
  scale: number;
  options: string[];
  flags: string[];
  maxlen: number | null;
  colour: Record<string, { min: number; max: number }> | null;
}

export interface Route {
  name: string;
  healthy: boolean;
  last_ok: number | null;
  last_error: string | null;
  failures: number;
  next_retry: number | null;
}

export interface State {
  device_id: string;
  values: Record<string, unknown>;
  dps: Record<string, unknown>;
  route: string;
  updated_at: number;
}

export interface Device {
  id: string;
  name: string;
  backend: string;
  category: string;
  product_name: string;
  version: string | null;
  online: boolean;
  parent_id: string | null;
  ip: string | null;
  port: number | null;
  cid: string | null;
  routes: Route[];
  schema: number;
  state: State | null;
  history: string[];
}

export interface HomeAnswer {
  gateway: { version: string; history: boolean; cloud_compat: boolean; cloud_sync: boolean };
  devices: Device[];
  schemas: Dp[][];
}

export interface DeviceEvent {
  device_id: string;
  kind: string;
  dps: Record<string, unknown>;
  values: Record<string, unknown>;
  route: string | null;
  at: number;
}

const TOKEN_KEY = "tuyagate.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json", ...extra };
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

// Called when the gateway wants a token (401): the page shows the prompt and retries.
let onUnauthorized: (message: string) => Promise<void> = async () => {};
export function whenUnauthorized(handler: (message: string) => Promise<void>): void {
  onUnauthorized = handler;
}

// A 401: resolves once the user gave a token (one prompt however many requests were refused).
export function unauthorized(response: Response): Promise<void> {
  return refusal(response).then((error) => onUnauthorized(error.message));
}

export async function refusal(response: Response): Promise<ApiError> {
  let code = "http_" + response.status;
  let message = `the gateway answered ${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      if (Array.isArray(body.error.details) && body.error.details.length) {
        message += ": " + body.error.details.map((d: { msg?: string }) => d.msg).join("; ");
      }
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  for (;;) {
    const init: RequestInit = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    if (response.status === 401) {
      await unauthorized(response);
      continue;
    }
    if (!response.ok) throw await refusal(response);
    return response;
  }
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request("GET", path)).json()) as T;
}

export async function sendCommand(deviceId: string, code: string, value: unknown): Promise<void> {
  await request("POST", `/api/v1/devices/${encodeURIComponent(deviceId)}/commands`, { commands: [{ code, value }] });
}

// A long action's answer: JSON lines, each handed to ``line`` as it arrives.
export async function streamLines(path: string, body: unknown, line: (item: Record<string, unknown>) => void): Promise<void> {
  const response = await request("POST", path, body);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (text) line(JSON.parse(text));
    }
  }
}
