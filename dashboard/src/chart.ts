// History charts with uPlot (loaded only when a device page shows one, so the first load stays small).

import uPlot from "uplot";
import { Dp } from "./api";

const MAX_POINTS = 5000;
const MIN_SPAN = 600; // seconds: a chart shows at least the last ten minutes
const stepped = uPlot.paths.stepped!({ align: 1 }); // a DP keeps its value until the next change

export function lineChart(holder: HTMLElement, dp: Dp, initial: [number, number][]) {
  const xs = initial.map((p) => p[0]);
  const ys = initial.map((p) => p[1]);
  const width = () => Math.max(240, Math.min(holder.clientWidth || 600, 900) - 8);
  const plot = new uPlot(
    {
      width: width(),
      height: 180,
      scales: {
        x: { time: true, auto: false },
      },
      legend: { show: false },
      cursor: { show: true },
      series: [
        {},
        { label: dp.label, stroke: "#2f7ed8", width: 2, fill: "rgba(47,126,216,0.12)", paths: stepped, points: { show: true, size: 5 } },
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => (dp.unit ? `${t} ${dp.unit}` : String(t))), size: 70 }],
    },
    [xs, ys],
    holder,
  );
  // The time axis: from the first point (or ten minutes ago) to now; uPlot's own range for a single
  // point spans years.
  const span = () => {
    const now = Date.now() / 1000;
    const end = Math.max(now, xs[xs.length - 1] ?? now);
    plot.setScale("x", { min: Math.min(xs[0] ?? end, end - MIN_SPAN), max: end });
  };
  span();
  plot.root.setAttribute("role", "img");
  plot.root.setAttribute("aria-label", `${dp.label} over time: ${ys.length} points`);
  const resize = () => plot.setSize({ width: width(), height: 180 });
  window.addEventListener("resize", resize);
  return {
    push(at: number, value: number) {
      xs.push(at);
      ys.push(value);
      if (xs.length > MAX_POINTS) {
        xs.shift();
        ys.shift();
      }
      plot.setData([xs, ys]);
      span();
      holder.setAttribute("data-points", String(xs.length));
      plot.root.setAttribute("aria-label", `${dp.label} over time: ${ys.length} points`);
    },
    destroy() {
      window.removeEventListener("resize", resize);
      plot.destroy();
    },
  };
}
