/* A tiny canvas scatter plot: zoom with the wheel, pan by dragging, hover and click callbacks.
   Points: [{x, y, color, ...}]. No dependencies. */
"use strict";

class Scatter {
  constructor(canvas, { onHover, onClick, radius = 3 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.points = [];
    this.radius = radius;
    this.onHover = onHover || (() => {});
    this.onClick = onClick || (() => {});
    this.view = { scale: 1, dx: 0, dy: 0 };
    this.drag = null;
    this.bind();
  }

  setPoints(points) {
    this.points = points;
    const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
    this.bounds = points.length
      ? { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) }
      : { x0: 0, x1: 1, y0: 0, y1: 1 };
    this.reset();
  }

  reset() {
    this.view = { scale: 1, dx: 0, dy: 0 };
    this.draw();
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(rect.width * ratio));
    this.canvas.height = Math.max(1, Math.round(rect.height * ratio));
    this.ratio = ratio;
  }

  // data coordinates → canvas pixels (before and after the zoom/pan view)
  toScreen(p) {
    const { x0, x1, y0, y1 } = this.bounds;
    const pad = 16 * this.ratio, w = this.canvas.width - 2 * pad, h = this.canvas.height - 2 * pad;
    const sx = pad + ((p.x - x0) / (x1 - x0 || 1)) * w;
    const sy = pad + (1 - (p.y - y0) / (y1 - y0 || 1)) * h;
    return [sx * this.view.scale + this.view.dx, sy * this.view.scale + this.view.dy];
  }

  draw() {
    this.resize();
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const r = this.radius * this.ratio;
    for (const p of this.points) {
      const [sx, sy] = this.toScreen(p);
      ctx.beginPath();
      ctx.arc(sx, sy, p === this.hovered ? r * 2 : r, 0, 2 * Math.PI);
      ctx.fillStyle = p.color || "#2563eb";
      ctx.globalAlpha = 0.8;
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    this.canvas.dataset.drawn = String(this.points.length);
  }

  nearest(event) {
    const rect = this.canvas.getBoundingClientRect();
    const mx = (event.clientX - rect.left) * this.ratio, my = (event.clientY - rect.top) * this.ratio;
    let best = null, bestDist = (this.radius * 3 * this.ratio) ** 2;
    for (const p of this.points) {
      const [sx, sy] = this.toScreen(p);
      const d = (sx - mx) ** 2 + (sy - my) ** 2;
      if (d < bestDist) { best = p; bestDist = d; }
    }
    return best;
  }

  bind() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = c.getBoundingClientRect();
      const mx = (e.clientX - rect.left) * this.ratio, my = (e.clientY - rect.top) * this.ratio;
      const factor = e.deltaY < 0 ? 1.2 : 1 / 1.2;
      this.view.dx = mx - (mx - this.view.dx) * factor;  // keep the point under the cursor still
      this.view.dy = my - (my - this.view.dy) * factor;
      this.view.scale *= factor;
      this.draw();
    }, { passive: false });
    c.addEventListener("mousedown", (e) => { this.drag = { x: e.clientX, y: e.clientY, moved: false }; });
    window.addEventListener("mouseup", (e) => {
      if (this.drag && !this.drag.moved) {
        const p = this.nearest(e);
        if (p) this.onClick(p);
      }
      this.drag = null;
    });
    c.addEventListener("mousemove", (e) => {
      if (this.drag) {
        const ddx = e.clientX - this.drag.x, ddy = e.clientY - this.drag.y;
        if (Math.abs(ddx) + Math.abs(ddy) > 2) this.drag.moved = true;
        this.view.dx += ddx * this.ratio;
        this.view.dy += ddy * this.ratio;
        this.drag.x = e.clientX;
        this.drag.y = e.clientY;
        this.draw();
        return;
      }
      const p = this.nearest(e);
      if (p !== this.hovered) { this.hovered = p; this.draw(); }
      this.onHover(p, e);
    });
    c.addEventListener("mouseleave", () => { this.hovered = null; this.onHover(null); this.draw(); });
    window.addEventListener("resize", () => this.draw());
  }
}

window.Scatter = Scatter;
