/* siyu console charts (Apache ECharts, served by siyu) and the audience builder. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = (id) => { const el = $(id); return el ? JSON.parse(el.textContent) : null; };
  const en = () => document.body.dataset.lang === "en";
  const tr = (zh, e) => (en() ? e : zh);
  const pct = (v) => (v == null ? "—" : (v * 100).toFixed(1) + "%");
  const yuan = (v) => (v == null ? "—" : "¥" + Number(v).toLocaleString(undefined, {minimumFractionDigits: 2, maximumFractionDigits: 2}));
  const charts = [];
  function chart(id, option) {
    const el = $(id);
    if (!el || !window.echarts) return null;
    const c = echarts.init(el);
    c.setOption(Object.assign({animation: false, tooltip: {trigger: "item"}}, option));
    charts.push(c);
    return c;
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  const tierName = (L, t) => t + " " + (en() ? L.tier_names[t][1] : L.tier_names[t][0]);
  const fieldName = (L, f) => (en() || !L.field_labels[f] ? f : L.field_labels[f]);

  function dashboard() {
    const f = data("data-fast"), L = data("data-labels");
    const tiers = [1, 2, 3, 4, 5];
    chart("chart-tiers", {
      tooltip: {trigger: "axis"}, grid: {left: 60, right: 20, top: 10, bottom: 60},
      xAxis: {type: "category", data: tiers.map((t) => tierName(L, t)), axisLabel: {interval: 0, rotate: 20}},
      yAxis: {type: "value"},
      series: [{type: "bar", data: tiers.map((t) => f.tiers[L.tier_keys[t]]), itemStyle: {color: "#c2410c"}}],
    });
    const nodes = [], links = [];
    for (let t = 0; t <= 5; t++) { nodes.push({name: "P−1 · " + tierName(L, t)}); nodes.push({name: "P · " + tierName(L, t)}); }
    f.transitions.forEach((row, a) => row.forEach((n, b) => {
      if (n > 0) links.push({source: "P−1 · " + tierName(L, a), target: "P · " + tierName(L, b), value: n});
    }));
    const used = new Set(links.flatMap((l) => [l.source, l.target]));
    chart("chart-sankey", {series: [{type: "sankey", data: nodes.filter((n) => used.has(n.name)), links: links,
      emphasis: {focus: "adjacency"}, nodeAlign: "justify", lineStyle: {color: "gradient", curveness: 0.5},
      label: {fontSize: 11}}]});
    const fields = Object.keys(f.connection).sort((a, b) => (f.connection[b] || 0) - (f.connection[a] || 0));
    chart("chart-connection", {
      tooltip: {trigger: "axis", valueFormatter: pct}, grid: {left: 110, right: 30, top: 10, bottom: 30},
      xAxis: {type: "value", max: 1, axisLabel: {formatter: (v) => v * 100 + "%"}},
      yAxis: {type: "category", data: fields.map((x) => fieldName(L, x)), inverse: true},
      series: [{type: "bar", data: fields.map((x) => f.connection[x]), itemStyle: {color: "#0f766e"}}],
    });
    chart("chart-clv", {
      tooltip: {trigger: "axis", valueFormatter: yuan}, grid: {left: 70, right: 20, top: 10, bottom: 60},
      xAxis: {type: "category", data: tiers.map((t) => tierName(L, t)), axisLabel: {interval: 0, rotate: 20}},
      yAxis: {type: "value"},
      series: [{type: "bar", data: tiers.map((t) => f.clv.by_tier[t]), itemStyle: {color: "#7c3aed"}}],
    });
    const box = $("chart-layers");
    if (box && box.dataset.url) fetch(box.dataset.url).then((r) => r.json()).then((lay) => {
      if (!lay.all) { box.textContent = en() ? lay.message.en : lay.message.zh; return; }
      box.innerHTML = "";
      const bands = ["none", "low", "mid", "high"];
      const ys = [];
      tiers.forEach((t) => [false, true].forEach((p) => ys.push(tierName(L, t) + (p ? tr(" · 传播者", " · propagator") : ""))));
      const cells = lay.all.cells.map((c) => [bands.indexOf(c.band), (c.tier - 1) * 2 + (c.propagator ? 1 : 0), c.consumers, c.mean]);
      const max = Math.max(1, ...cells.map((c) => c[2]));
      chart("chart-layers", {
        tooltip: {formatter: (p) => ys[p.value[1]] + " · " + bands[p.value[0]] + "<br>" + tr("人数 ", "consumers ") + p.value[2].toLocaleString() + "<br>" + tr("人均 CLV ", "mean CLV ") + yuan(p.value[3])},
        grid: {left: 190, right: 20, top: 10, bottom: 60},
        xAxis: {type: "category", data: bands.map((b) => (en() ? L.bands[b][1] : L.bands[b][0])), name: tr("自有价值", "own value")},
        yAxis: {type: "category", data: ys},
        visualMap: {min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: {color: ["#fff7ed", "#c2410c"]}},
        series: [{type: "heatmap", data: cells, label: {show: true, formatter: (p) => p.value[2].toLocaleString()}}],
      });
    });
  }

  function gmv() {
    const g = data("data-gmv"), L = data("data-labels");
    const keys = ["users", "conversion", "frequency", "aov"];
    const names = [g.previous, tr("用户数 U", "users U"), tr("转化率 c", "conversion c"), tr("频次 f", "frequency f"), tr("客单价 a", "AOV a"), g.period];
    const att = g.attribution || {users: 0, conversion: 0, frequency: 0, aov: 0};
    const base = [], up = [], down = [];
    let level = g.previous_gmv || 0;
    base.push(0); up.push(level); down.push("-");
    keys.forEach((k) => {
      const d = att[k] || 0;
      if (d >= 0) { base.push(level); up.push(d); down.push("-"); level += d; }
      else { level += d; base.push(level); up.push("-"); down.push(-d); }
    });
    base.push(0); up.push(g.gmv || 0); down.push("-");
    chart("chart-waterfall", {
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, valueFormatter: yuan},
      grid: {left: 90, right: 20, top: 20, bottom: 40},
      xAxis: {type: "category", data: names}, yAxis: {type: "value"},
      series: [
        {type: "bar", stack: "w", data: base, itemStyle: {color: "transparent"}, tooltip: {show: false}},
        {type: "bar", stack: "w", name: tr("增加", "increase"), data: up, itemStyle: {color: "#15803d"}},
        {type: "bar", stack: "w", name: tr("减少", "decrease"), data: down, itemStyle: {color: "#b91c1c"}},
      ],
    });
    const fields = Object.keys(g.by_field).filter((k) => g.by_field[k]).sort((a, b) => g.by_field[b] - g.by_field[a]);
    chart("chart-by-field", {
      tooltip: {trigger: "axis", valueFormatter: yuan}, grid: {left: 110, right: 30, top: 10, bottom: 30},
      xAxis: {type: "value"}, yAxis: {type: "category", data: fields.map((x) => fieldName(L, x)), inverse: true},
      series: [{type: "bar", data: fields.map((x) => g.by_field[x]), itemStyle: {color: "#0f766e"}}],
    });
  }

  function trends() {
    const d = data("data-daily").days, x = d.map((r) => r.date);
    chart("chart-capital", {
      tooltip: {trigger: "axis"}, legend: {}, grid: {left: 70, right: 60, top: 40, bottom: 30},
      xAxis: {type: "category", data: x}, yAxis: [{type: "value"}, {type: "value"}],
      series: [{type: "line", name: tr("私域关系数", "capital"), data: d.map((r) => r.capital)},
               {type: "bar", name: tr("新增", "new users"), yAxisIndex: 1, data: d.map((r) => r.new_users)}],
    });
    const rates = [["activity_rate", "活跃率", "activity"], ["interaction_rate", "互动率", "interaction"],
                   ["conversion_rate", "转化率", "conversion"], ["churn_rate", "流失率", "churn"]];
    chart("chart-rates", {
      tooltip: {trigger: "axis", valueFormatter: pct}, legend: {}, grid: {left: 60, right: 20, top: 40, bottom: 30},
      xAxis: {type: "category", data: x}, yAxis: {type: "value", axisLabel: {formatter: (v) => (v * 100).toFixed(1) + "%"}},
      series: rates.map(([k, zh, e]) => ({type: "line", name: tr(zh, e), data: d.map((r) => r[k])})),
    });
  }

  function rfm() {
    const r = data("data-rfm"), N = data("data-names");
    chart("chart-rfm", {series: [{type: "pie", radius: ["35%", "70%"],
      data: Object.entries(r.segments).map(([k, v]) => ({name: en() ? N[k][1] : N[k][0], value: v.count}))}]});
  }

  function cohorts() {
    const c = data("data-cohorts"), rows = c.cohorts;
    if (!rows.length) return;
    const ns = Object.keys(rows[0].retention);
    const cells = [];
    rows.forEach((r, i) => ns.forEach((n, j) => { if (r.retention[n] != null) cells.push([j, i, r.retention[n]]); }));
    chart("chart-cohorts", {
      tooltip: {formatter: (p) => rows[p.value[1]].cohort + " · " + ns[p.value[0]] + tr(" 日留存 ", "-day retention ") + pct(p.value[2]) + " (" + rows[p.value[1]].size.toLocaleString() + ")"},
      grid: {left: 110, right: 20, top: 10, bottom: 60},
      xAxis: {type: "category", data: ns.map((n) => n + tr(" 日留存", "-day"))},
      yAxis: {type: "category", data: rows.map((r) => r.cohort + " (" + r.size.toLocaleString() + ")"), inverse: true},
      visualMap: {min: 0, max: 1, orient: "horizontal", left: "center", bottom: 0, inRange: {color: ["#f0fdfa", "#0f766e"]}},
      series: [{type: "heatmap", data: cells, label: {show: true, formatter: (p) => pct(p.value[2])}}],
    });
  }

  function builder() {
    const expr = $("expr"), asOf = $("as-of"), out = $("count"), ms = $("count-ms");
    const canon = $("canonical"), err = $("expr-error");
    let timer = null, seq = 0;
    const body = () => JSON.stringify({expression: expr.value, as_of: asOf.value || null});
    async function update() {
      const mine = ++seq;
      if (!expr.value.trim()) { out.textContent = "—"; out.dataset.value = ""; return; }
      out.classList.add("busy");
      const r = await fetch("/api/v1/audiences/count", {method: "POST", headers: {"Content-Type": "application/json"}, body: body()});
      const j = await r.json();
      if (mine !== seq) return;
      out.classList.remove("busy");
      if (r.ok) {
        err.hidden = true; out.textContent = j.count.toLocaleString(); out.dataset.value = j.count;
        ms.textContent = "(" + Math.round(j.ms) + " ms)"; canon.textContent = j.expression;
      } else {
        out.textContent = "—"; out.dataset.value = ""; err.hidden = false; canon.textContent = "";
        err.textContent = en() ? j.message.en : j.message.zh;
      }
    }
    const later = () => { clearTimeout(timer); timer = setTimeout(update, 300); };
    expr.addEventListener("input", later); asOf.addEventListener("change", later);
    document.querySelectorAll("a.example").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault(); expr.value = a.textContent; update();
    }));
    const ex = $("export");
    if (ex) ex.addEventListener("click", async () => {
      const r = await fetch("/api/v1/audiences/export", {method: "POST", headers: {"Content-Type": "application/json"}, body: body()});
      if (!r.ok) { const j = await r.json(); err.hidden = false; err.textContent = en() ? j.message.en : j.message.zh; return; }
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement("a"); a.href = url; a.download = "audience.csv"; a.click();
      URL.revokeObjectURL(url);
    });
    const save = $("save");
    if (save) save.addEventListener("click", async () => {
      const name = $("save-name").value.trim(), res = $("save-result");
      const post = (url, b) => fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(b)});
      let r = await post("/api/v1/audiences/saved", {name: name, expression: expr.value, replace: true});
      if (r.ok) r = await post("/api/v1/audiences/saved/" + encodeURIComponent(name) + "/refresh", {as_of: asOf.value || null});
      const j = await r.json();
      if (!r.ok) { err.hidden = false; err.textContent = en() ? j.message.en : j.message.zh; return; }
      const a = j.audiences.find((x) => x.audience === name) || {};
      res.textContent = tr("已保存，", "saved, ") + (a.members ?? 0).toLocaleString() + tr(" 人", " members");
      res.dataset.members = a.members;
    });
    if (expr.value.trim()) update();
  }

  function journey() {
    const s = data("data-journey"), steps = Object.keys(s.steps);
    chart("chart-steps", {
      tooltip: {trigger: "axis"}, grid: {left: 120, right: 30, top: 10, bottom: 30},
      xAxis: {type: "value"}, yAxis: {type: "category", data: steps, inverse: true},
      series: [{type: "bar", data: steps.map((k) => s.steps[k]), itemStyle: {color: "#c2410c"}}],
    });
  }

  window.siyu = {dashboard, gmv, trends, rfm, cohorts, builder, journey};
})();
