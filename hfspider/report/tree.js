// A family drawn as an indented tree in SVG: pan (drag), zoom (wheel), collapse (click a node),
// colour by relation or license, hover for metadata, search by id. No library, no network.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("family-data").textContent);
  const nodes = data.nodes;
  const kids = nodes.map(() => []);
  nodes.forEach((n, i) => { if (n.p >= 0) kids[n.p].push(i); });
  kids.forEach((list) => list.sort((a, b) => (nodes[a].id < nodes[b].id ? -1 : 1)));
  const tops = [];
  nodes.forEach((n, i) => { if (n.p < 0) tops.push(i); });
  let minDepth = 0;
  nodes.forEach((n) => { if (n.d < minDepth) minDepth = n.d; });
  const NS = "http://www.w3.org/2000/svg";
  const DX = 28, DY = 20;
  const svg = document.getElementById("tree");
  const view = document.getElementById("view");
  const tip = document.getElementById("tip");
  const colourBy = document.getElementById("colour");
  const legend = document.getElementById("legend");
  const status = document.getElementById("search-status");
  const collapsed = new Set();
  const matches = new Set();
  let scale = 1, tx = 20, ty = 20;

  const RELATIONS = { finetune: "#1f77b4", quantized: "#2ca02c", adapter: "#ff7f0e", merge: "#d62728", unknown: "#7f7f7f", root: "#000000" };
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79"];
  const licenseCount = new Map();
  nodes.forEach((n) => { const k = n.lic || "none"; licenseCount.set(k, (licenseCount.get(k) || 0) + 1); });
  const licenses = [...licenseCount.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map((e) => e[0]);
  const licenseColour = new Map(licenses.slice(0, PALETTE.length).map((l, i) => [l, PALETTE[i]]));

  function colour(n) {
    if (colourBy.value === "license") return licenseColour.get(n.lic || "none") || "#cccccc";
    return RELATIONS[n.r || "root"] || "#7f7f7f";
  }

  function drawLegend() {
    legend.textContent = "";
    const entries = colourBy.value === "license"
      ? [...licenseColour.entries(), ["other licenses", "#cccccc"]]
      : Object.entries(RELATIONS);
    for (const [name, c] of entries) {
      const item = document.createElement("span");
      item.className = "key";
      const dot = document.createElement("i");
      dot.style.background = c;
      item.append(dot, document.createTextNode(name));
      legend.append(item);
    }
  }

  function hiddenBelow(i) {
    let count = 0;
    const stack = [...kids[i]];
    while (stack.length) { const j = stack.pop(); count += 1; stack.push(...kids[j]); }
    return count;
  }

  function visibleOrder() {
    const order = [];
    const stack = tops.slice().reverse();
    while (stack.length) {
      const i = stack.pop();
      order.push(i);
      if (!collapsed.has(i)) for (let k = kids[i].length - 1; k >= 0; k--) stack.push(kids[i][k]);
    }
    return order;
  }

  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const key in attrs) e.setAttribute(key, attrs[key]);
    return e;
  }

  const place = new Map();
  function render() {
    const order = visibleOrder();
    place.clear();
    order.forEach((i, row) => place.set(i, [(nodes[i].d - minDepth) * DX, row * DY]));
    view.textContent = "";
    const links = el("g", { class: "links" });
    const group = el("g", { class: "nodes" });
    for (const i of order) {
      const n = nodes[i];
      const [x, y] = place.get(i);
      if (n.p >= 0 && place.has(n.p)) {
        const [px, py] = place.get(n.p);
        links.append(el("path", { d: `M${px},${py}V${y}H${x}`, stroke: RELATIONS[n.r] || "#999" }));
      }
      const g = el("g", { class: "node" + (matches.has(i) ? " match" : "") + (collapsed.has(i) ? " collapsed" : ""), transform: `translate(${x},${y})` });
      g.dataset.i = i;
      g.dataset.id = n.id;
      const circle = el("circle", { r: kids[i].length ? 6 : 4, fill: colour(n) });
      const label = el("text", { x: 10, dy: "0.32em" });
      label.textContent = n.id + (collapsed.has(i) ? `  (+${hiddenBelow(i)})` : "");
      g.append(circle, label);
      group.append(g);
    }
    view.append(links, group);
    apply();
  }

  function apply() { view.setAttribute("transform", `translate(${tx},${ty}) scale(${scale})`); }

  function centre(i) {
    const [x, y] = place.get(i);
    const box = svg.getBoundingClientRect();
    tx = box.width / 3 - x * scale;
    ty = box.height / 2 - y * scale;
    apply();
  }

  svg.addEventListener("click", (event) => {
    const g = event.target.closest("g.node");
    if (!g) return;
    const i = Number(g.dataset.i);
    if (!kids[i].length) return;
    if (collapsed.has(i)) collapsed.delete(i); else collapsed.add(i);
    render();
  });

  svg.addEventListener("mousemove", (event) => {
    const g = event.target.closest("g.node");
    if (!g) { tip.hidden = true; return; }
    const n = nodes[Number(g.dataset.i)];
    const parent = n.p >= 0 ? nodes[n.p].id : "";
    const lines = [
      n.id,
      `relation: ${n.r || "root"}${parent ? " of " + parent : ""}`,
      `depth: ${n.d}`,
      `license: ${n.lic || "none"}`,
      `task: ${n.task || "none"}`,
      `library: ${n.lib || "none"}`,
      `downloads: ${n.dl ?? "?"}, likes: ${n.lk ?? "?"}`,
      `created: ${n.cr || "?"}`,
    ];
    if (n.also && n.also.length) lines.push(`also derived from: ${n.also.join(", ")}`);
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    tip.style.left = `${event.clientX + 14}px`;
    tip.style.top = `${event.clientY + 14}px`;
  });
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });

  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest("g.node")) return;
    drag = [event.clientX - tx, event.clientY - ty];
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    tx = event.clientX - drag[0];
    ty = event.clientY - drag[1];
    apply();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = svg.getBoundingClientRect();
    const mx = event.clientX - box.left, my = event.clientY - box.top;
    const factor = Math.exp(-event.deltaY * 0.0015);
    const next = Math.min(8, Math.max(0.05, scale * factor));
    tx = mx - ((mx - tx) * next) / scale;
    ty = my - ((my - ty) * next) / scale;
    scale = next;
    apply();
  }, { passive: false });

  document.getElementById("search").addEventListener("input", (event) => {
    const query = event.target.value.trim().toLowerCase();
    matches.clear();
    if (query) nodes.forEach((n, i) => { if (n.id.toLowerCase().includes(query)) matches.add(i); });
    for (const i of matches) { let up = nodes[i].p; while (up >= 0) { collapsed.delete(up); up = nodes[up].p; } }
    render();
    status.textContent = query ? (matches.size ? `${matches.size} found` : "not found") : "";
    if (matches.size) centre(Math.min(...matches));
  });
  document.getElementById("expand").addEventListener("click", () => { collapsed.clear(); render(); });
  colourBy.addEventListener("change", () => { drawLegend(); render(); });

  drawLegend();
  render();
})();
