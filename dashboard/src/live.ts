// The live event stream (GET /api/v1/events, Server-Sent Events) read with fetch, so that the API
// token can go in the Authorization header (EventSource cannot send one). When the stream ends -
// the gateway restarted, the network dropped - it is opened again with a growing pause, and the
// page re-reads the whole home once it is back, since events may have been missed meanwhile. It re-reads it
// too when the gateway starts or stops serving a device ("added", "removed"), so the list follows.

import { DeviceEvent, headers, unauthorized } from "./api";

export type Connection = "connecting" | "live" | "retrying";

export interface LiveHandlers {
  event(event: DeviceEvent): void;
  connection(state: Connection, detail: string): void;
  resync(): Promise<void>; // re-read the state after a gap (reconnect, or a "lost" event)
}

export class Live {
  private stopped = false;
  private controller: AbortController | null = null;

  constructor(private readonly handlers: LiveHandlers) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  private async run(): Promise<void> {
    let pause = 500;
    let first = true;
    while (!this.stopped) {
      this.handlers.connection("connecting", "connecting to the gateway");
      try {
        if (await this.read(async () => {
          this.handlers.connection("live", "live");
          pause = 500;
          if (!first) await this.handlers.resync();
          first = false;
        }) === "unauthorized") continue; // a token was given: at once again
        if (this.stopped) return;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof Error && error.name === "AbortError") return;
      }
      this.handlers.connection("retrying", `gateway unreachable; retrying in ${(pause / 1000).toFixed(1)} s`);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 5000);
    }
  }

  private async read(opened: () => Promise<void>): Promise<"ended" | "unauthorized"> {
    this.controller = new AbortController();
    const response = await fetch("/api/v1/events", {
      headers: headers({ Accept: "text/event-stream" }),
      signal: this.controller.signal,
      cache: "no-store",
    });
    if (response.status === 401) {
      await unauthorized(response);
      return "unauthorized";
    }
    if (!response.ok || !response.body) throw new Error(`event stream refused: ${response.status}`);
    await opened();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "ended";
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.message(block);
      }
    }
  }

  private message(block: string): void {
    let kind = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) kind = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (!data) return; // a comment (": ping") or the retry hint
    if (kind === "lost" || kind === "added" || kind === "removed") {
      // Events were missed, or the gateway serves other devices now (a cloud sync, a reload): re-read the home.
      void this.handlers.resync();
      return;
    }
    this.handlers.event(JSON.parse(data) as DeviceEvent);
  }
}
