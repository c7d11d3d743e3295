/* pcap-analyzer HTML report: charts, connections table and drill-down, drawn from the JSON data island.
   Capture strings only ever reach the page through textContent (never innerHTML). */
(function () {
  "use strict";

  var FORMAT = "pcap-analyzer-html/1";
  // TcpAnalysis bits (pcap_analyzer/tcp/model.py) shown in the sequence graph.
  var RETRANSMISSION = 1, FAST_RETRANSMISSION = 2, SPURIOUS = 4, OUT_OF_ORDER = 8, LOST = 16;
  var PAGE_SIZE = 100;
  var PRINT_ROWS = 1000;  // a printout holds the sorted/filtered table from the top, not only the page on screen

  /* Plotly.js creates <style> elements when it loads and when it plots. Under a nonce-based CSP they
     need our script's nonce, so style elements created by script get it before they are inserted
     (this file is loaded before plotly.min.js for that reason). */
  var NONCE = document.currentScript ? document.currentScript.nonce : "";
  if (NONCE) {
    var createElement = document.createElement;
    document.createElement = function (tag) {
      var node = createElement.apply(document, arguments);
      if (String(tag).toLowerCase() === "style") node.nonce = NONCE;
      return node;
    };
  }

  function gunzipJson(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }

  /* Rows of the connections table: row-major, or column-major in a compressed payload. */
  function tableRows(t) {
    if (t.rows) return t.rows;
    var cols = t.column_values, rows = new Array(t.count);
    for (var r = 0; r < t.count; r++) {
      var row = new Array(cols.length);
      for (var c = 0; c < cols.length; c++) row[c] = cols[c][r];
      rows[r] = row;
    }
    return rows;
  }

  /* Inverse of html_data.island_payload: resolves to the JSON report exactly as report.base.to_data(result). */
  function expand(payload) {
    if (!payload || payload.format !== FORMAT) return Promise.reject(new Error("unknown report data format"));
    var result = payload.result_gzip ? gunzipJson(payload.result_gzip) : Promise.resolve(payload.result);
    return result.then(function (res) {
      var data = Object.assign({}, res), t = data.connections;
      data.connections = tableRows(t).map(function (row) {
        var c = {};
        t.columns.forEach(function (k, i) { c[k] = row[i]; });
        var s = {};
        t.stats_keys.forEach(function (k, i) { s[k] = c.rtt_ms[i]; });
        c.rtt_ms = s;
        c.flagged = c.flagged.map(function (p) {
          var o = {};
          t.flagged_keys.forEach(function (k, i) { o[k] = p[i]; });
          return o;
        });
        return c;
      });
      return data;
    });
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fixed(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d); }
  function count(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"); }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + u[i];
  }
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function baseLayout(extra) {
    var layout = {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: css("--fg"), size: 12 },
      margin: { l: 60, r: 20, t: 30, b: 40 },
      legend: { orientation: "h", y: 1.06 },
      hovermode: "closest",
    };
    Object.assign(layout, extra || {});
    layout.xaxis = Object.assign({ zeroline: false }, layout.xaxis || {});
    var grid = css("--line");
    Object.keys(layout).forEach(function (k) {
      if (/^[xy]axis\d*$/.test(k)) layout[k] = Object.assign({ gridcolor: grid, zerolinecolor: grid }, layout[k]);
    });
    return layout;
  }
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"] };
  var charts = [];
  function plot(id, traces, layout) {
    var node = document.getElementById(id);
    if (!node || typeof Plotly === "undefined") return;
    Plotly.newPlot(node, traces, baseLayout(layout), CONFIG);
    if (charts.indexOf(node) < 0) charts.push(node);
  }

  /* "stream 7" (a key of timeline.top_connections) as "10.0.0.1:5000 → 10.0.0.2:80", the addresses a reader
     knows; the stream id stays for connections the table does not list. */
  function connectionLabel(name, byStream) {
    var m = /^stream (\d+)$/.exec(name), c = m ? byStream[Number(m[1])] : null;
    if (!c) return name.replace(/^stream /, "tcp.stream ");
    return c.client + ":" + c.client_port + " → " + c.server + ":" + c.server_port;
  }

  /* ---- timeline: four panels sharing one time axis ---- */
  function timeline(data) {
    var tl = data.timeline, b = tl.bucket_s || 1, traces = [];
    var xs = tl.bytes_total.map(function (_, i) { return i * b; });
    function mbps(arr) { return arr.map(function (v) { return v * 8 / b / 1e6; }); }
    traces.push({ name: "client → server", x: xs, y: mbps(tl.bytes_ab), mode: "lines", line: { width: 1.5 } });
    traces.push({ name: "server → client", x: xs, y: mbps(tl.bytes_ba), mode: "lines", line: { width: 1.5, dash: "dot" } });
    traces.push({ name: "all packets", x: xs, y: mbps(tl.bytes_total), mode: "lines", line: { width: 1, dash: "dash" }, visible: "legendonly" });
    var byStream = {};
    data.connections.forEach(function (c) { byStream[c.stream] = c; });
    Object.keys(tl.top_connections).forEach(function (name) {
      traces.push({ name: connectionLabel(name, byStream), x: xs, y: mbps(tl.top_connections[name]), mode: "lines",
        line: { width: 1 }, visible: "legendonly" });
    });
    var symbols = ["x", "diamond", "square", "triangle-up", "circle-open", "star", "cross", "triangle-down"];
    Object.keys(tl.events).forEach(function (name, k) {
      var ex = [], ey = [];
      tl.events[name].forEach(function (v, i) { if (v > 0) { ex.push(i * b); ey.push(v); } });
      traces.push({ name: name.replace(/_/g, " "), x: ex, y: ey, yaxis: "y2", mode: "markers",
        marker: { symbol: symbols[k % symbols.length], size: 8 } });
    });
    traces.push({ name: "ACK RTT (ms)", x: tl.rtt_ms.map(function (p) { return p.t; }), y: tl.rtt_ms.map(function (p) { return p.v; }),
      yaxis: "y3", mode: "markers", marker: { size: 4, symbol: "circle" } });
    traces.push({ name: "DNS response (ms)", x: tl.dns_ms.map(function (p) { return p.t; }), y: tl.dns_ms.map(function (p) { return p.v; }),
      yaxis: "y4", mode: "markers", marker: { size: 6, symbol: "diamond" } });
    plot("timeline-chart", traces, {
      grid: { rows: 4, columns: 1, pattern: "coupled", roworder: "top to bottom" },
      xaxis: { title: { text: "seconds since first packet" } },
      yaxis: { title: { text: "Mbit/s" }, rangemode: "tozero" },
      yaxis2: { title: { text: "events / bucket" }, rangemode: "tozero" },
      yaxis3: { title: { text: "RTT ms" }, rangemode: "tozero" },
      yaxis4: { title: { text: "DNS ms" }, rangemode: "tozero" },
      legend: { orientation: "v", x: 1.01, y: 1, font: { size: 11 } },
      margin: { l: 60, r: 10, t: 20, b: 40 },
    });
  }

  /* DNS response times: the bins are log-spaced (1, 2, 5, 10 ms...), so they are drawn as rectangles on a
     log axis where every bin has its true width; the first bin (from 0) starts at a tenth of its end. */
  function dnsHistogram(data) {
    var h = data.dns.histogram_ms.filter(function (r) { return r[1] > 0; });
    if (!h.length) return;
    var xs = [], ys = [], mids = [], texts = [];
    h.forEach(function (r) {
      var lo = r[0] > 0 ? r[0] : r[1] / 10, hi = r[1];
      xs.push(lo, lo, hi, hi, lo, null); ys.push(0, r[2], r[2], 0, 0, null);
      mids.push(Math.sqrt(lo * hi));
      texts.push(r[0] + "–" + Number(r[1].toPrecision(4)) + " ms: " + r[2].toLocaleString() + " responses");
    });
    // at least two decades wide, so one busy bin is a bar among the others rather than a wall
    var a = Math.log10(Math.min.apply(null, xs.filter(function (x) { return x !== null; })));
    var z = Math.log10(Math.max.apply(null, xs.filter(function (x) { return x !== null; })));
    var pad = Math.max(0, (2 - (z - a)) / 2);
    plot("dns-hist", [
      { type: "scatter", mode: "lines", x: xs, y: ys, fill: "toself", hoverinfo: "skip", line: { width: 1 } },
      { type: "scatter", mode: "markers", x: mids, y: h.map(function (r) { return r[2]; }), text: texts,
        marker: { size: 1, opacity: 0 }, hovertemplate: "%{text}<extra></extra>" },
    ], { xaxis: { type: "log", range: [a - pad - 0.05, z + pad + 0.05], title: { text: "response time (ms, log scale)" } },
         yaxis: { title: { text: "responses" }, rangemode: "tozero" }, showlegend: false });
  }

  /* TLS (tls.html.j2): median ClientHello -> ServerHello and -> handshake done per server, busiest first. */
  function tlsServers(data) {
    var s = ((data.tls && data.tls.servers) || []).filter(function (v) { return v.hello_ms.count > 0; }).slice(0, 15);
    if (!s.length) return;
    var names = s.map(function (v) { return v.server; }).reverse();
    function medians(key) { return s.map(function (v) { return v[key].median; }).reverse(); }
    plot("tls-chart", [
      { type: "bar", orientation: "h", name: "to ServerHello", y: names, x: medians("hello_ms"),
        hovertemplate: "%{y}: %{x:.2f} ms<extra>ClientHello to ServerHello (median)</extra>" },
      { type: "bar", orientation: "h", name: "to handshake done", y: names, x: medians("done_ms"),
        hovertemplate: "%{y}: %{x:.2f} ms<extra>ClientHello to handshake done (median)</extra>" },
    ], { barmode: "group", xaxis: { title: { text: "median ms from the ClientHello" }, rangemode: "tozero" },
         yaxis: { automargin: true }, height: Math.max(220, 80 + 36 * s.length),
         margin: { l: 60, r: 20, t: 50, b: 40 }, legend: { orientation: "h", y: 1.02, yanchor: "bottom" } });
  }

  /* ---- ICMP and TCP waits (templates/icmp.html.j2): messages by type/code, where stalled connections wait ---- */
  function icmpCharts(data) {
    var ic = data.icmp, w = data.tcp_waits;
    var names = Object.keys(ic.messages || {}).slice(0, 20).reverse();
    if (names.length) {
      plot("icmp-chart", [{ type: "bar", orientation: "h", y: names, x: names.map(function (k) { return ic.messages[k]; }),
        hovertemplate: "%{y}: %{x:,}<extra></extra>" }],
        { xaxis: { title: { text: "messages" }, rangemode: "tozero" }, yaxis: { automargin: true }, showlegend: false,
          margin: { l: 10, r: 10, t: 10, b: 40 } });
    }
    var rows = (w.stalls || []).slice(0, 20).reverse();
    if (rows.length) {
      var ys = rows.map(function (c) { return "tcp.stream " + c.stream + ": " + c.client + " → " + c.server; });
      var stalled = rows.map(function (c) { return c.stalled_ms / 1000; });
      var low = rows.map(function (c) { return Math.max(0, c.low_window_ms - c.stalled_ms) / 1000; });
      var rest = rows.map(function (c, i) { return Math.max(0, c.duration_s - stalled[i] - low[i]); });
      plot("waits-chart", [
        { type: "bar", orientation: "h", name: "zero window", y: ys, x: stalled, hovertemplate: "%{x:.3f} s<extra>zero window</extra>" },
        { type: "bar", orientation: "h", name: "low window", y: ys, x: low, hovertemplate: "%{x:.3f} s<extra>low window</extra>" },
        { type: "bar", orientation: "h", name: "other", y: ys, x: rest, hovertemplate: "%{x:.3f} s<extra>other</extra>" },
      ], { barmode: "stack", xaxis: { title: { text: "seconds of the connection" }, rangemode: "tozero" },
           yaxis: { automargin: true }, margin: { l: 10, r: 10, t: 10, b: 40 } });
    }
  }

  /* HTTP and TLS latency breakdown: one stacked horizontal bar per server (median network, server, transfer ms). */
  function latencyBars(data) {
    var lb = (data.latency_breakdown || []).slice().reverse();
    if (!lb.length) return;
    var names = lb.map(function (s) { return s.server + " (" + s.requests.toLocaleString("en-US") + ")"; });
    var parts = [["network_ms", "network (RTT)"], ["server_ms", "server"], ["transfer_ms", "transfer"]];
    plot("latency-bars", parts.map(function (p) {
      return { type: "bar", orientation: "h", name: p[1], y: names, x: lb.map(function (s) { return s[p[0]]; }),
               hovertemplate: "%{y}: " + p[1] + " %{x:.2f} ms<extra></extra>" };
    }), { barmode: "stack", xaxis: { title: { text: "median ms" } }, yaxis: { automargin: true },
          legend: { orientation: "h", traceorder: "normal", x: 0, y: 1, yanchor: "bottom" },
          margin: { l: 60, r: 20, t: 40, b: 40 } });
  }

  /* ---- connections table ---- */
  function total(a, b) { return a + b; }
  var COLUMNS = [
    { label: "Stream", get: function (c) { return c.stream; }, num: true },
    { label: "Client", get: function (c) { return c.client + ":" + c.client_port; }, mono: true },
    { label: "Server", get: function (c) { return c.server + ":" + c.server_port; }, mono: true },
    { label: "State", get: function (c) { return c.state; } },
    { label: "Packets", get: function (c) { return total(c.packets_ab, c.packets_ba); }, num: true, fmt: count },
    { label: "Bytes", get: function (c) { return total(c.bytes_ab, c.bytes_ba); }, num: true, fmt: bytes },
    { label: "Duration s", get: function (c) { return c.duration_s; }, num: true, fmt: function (v) { return fixed(v, 3); } },
    { label: "Mbit/s", get: function (c) { return c.throughput_bps / 1e6; }, num: true, fmt: function (v) { return fixed(v, 3); } },
    { label: "Handshake ms", get: function (c) { return c.handshake_ms; }, num: true, fmt: function (v) { return fixed(v, 1); } },
    { label: "RTT median ms", get: function (c) { return c.rtt_ms.median; }, num: true, fmt: function (v) { return fixed(v, 1); } },
    { label: "RTT p95 ms", get: function (c) { return c.rtt_ms.p95; }, num: true, fmt: function (v) { return fixed(v, 1); } },
    { label: "Retr. %", get: function (c) { return c.retransmission_pct; }, num: true, fmt: function (v) { return fixed(v, 2); }, bad: function (v) { return v > 0; } },
    { label: "Retr.", get: function (c) { return c.retransmissions; }, num: true, fmt: count, bad: function (v) { return v > 0; } },
    { label: "Dup ACK", get: function (c) { return c.duplicate_acks; }, num: true, fmt: count },
    { label: "Zero win", get: function (c) { return c.zero_windows; }, num: true, fmt: count, bad: function (v) { return v > 0; } },
    { label: "RST", get: function (c) { return c.resets; }, num: true, fmt: count },
    { label: "Score", get: function (c) { return c.score; }, num: true, fmt: function (v) { return fixed(v, 1); } },
    // the stacks between the link and the innermost network layer ("IPv4/GRE"), only when a connection has one
    { label: "Encapsulation", get: encapsulation, optional: true, title: function (c) { return (c.encapsulation || []).join(", "); } },
    // only a button (its title shows the filter, `tcp.stream == N`): the table must fit 1366 pixels
    { label: "Filter", get: function (c) { return c.filter; }, fmt: function () { return ""; }, copy: true },
  ];

  function encapsulation(c) {
    return (c.encapsulation || []).map(function (path) { return path.split("/").slice(1, -1).join("/"); }).join(", ");
  }

  function ConnTable(data) {
    this.all = data.connections;
    var tunnelled = this.all.some(function (c) { return c.encapsulation && c.encapsulation.length; });
    this.columns = COLUMNS.filter(function (col) { return !col.optional || tunnelled; });
    this.details = {};
    var self = this;
    data.connection_details.forEach(function (d) { self.details[d.stream] = d; });
    this.byStream = {};
    this.all.forEach(function (c) { self.byStream[c.stream] = c; });
    this.rows = this.all.slice();
    this.sortCol = -1; this.sortDir = 1; this.page = 0; this.selected = null; this.printing = false;
    this.body = document.getElementById("conn-body");
    this.buildHead();
    var filter = document.getElementById("conn-filter");
    filter.addEventListener("input", function () { self.filter(filter.value); });
    document.getElementById("conn-prev").addEventListener("click", function () { self.go(self.page - 1); });
    document.getElementById("conn-next").addEventListener("click", function () { self.go(self.page + 1); });
    this.body.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr");
      if (tr) self.open(Number(tr.dataset.stream));
    });
    this.body.addEventListener("keydown", function (ev) {
      var tr = ev.target.closest("tr");
      if (!tr) return;
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); self.open(Number(tr.dataset.stream)); }
      else if (ev.key === "ArrowDown" && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
      else if (ev.key === "ArrowUp" && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
    });
    var printMedia = window.matchMedia("print");
    var setPrinting = function (on) { if (self.printing !== on) { self.printing = on; self.render(); } };
    printMedia.addEventListener("change", function (ev) { setPrinting(ev.matches); });
    window.addEventListener("beforeprint", function () { setPrinting(true); });
    window.addEventListener("afterprint", function () { setPrinting(printMedia.matches); });
    this.render();
  }
  ConnTable.prototype.buildHead = function () {
    var self = this, head = document.getElementById("conn-head");
    this.ths = this.columns.map(function (col, i) {
      var th = el("th"); th.scope = "col"; th.setAttribute("aria-sort", "none");
      var btn = el("button", col.label); btn.type = "button";
      btn.addEventListener("click", function () { self.sort(i); });
      th.appendChild(btn); head.appendChild(th);
      return th;
    });
  };
  ConnTable.prototype.sort = function (i) {
    // First click on a numeric column sorts descending (worst/biggest first), text ascending.
    if (this.sortCol === i) this.sortDir = -this.sortDir;
    else { this.sortCol = i; this.sortDir = this.columns[i].num ? -1 : 1; }
    var get = this.columns[i].get, dir = this.sortDir;
    this.rows.sort(function (a, b) {
      var x = get(a), y = get(b);
      if (x === y) return a.stream - b.stream;
      if (x === null || x === undefined) return 1;  // missing values last in either direction
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    this.ths.forEach(function (th, k) {
      th.setAttribute("aria-sort", k === i ? (dir > 0 ? "ascending" : "descending") : "none");
    });
    this.go(0);
  };
  ConnTable.prototype.filter = function (text) {
    var q = text.trim().toLowerCase();
    this.rows = !q ? this.all.slice() : this.all.filter(function (c) {
      return (c.client + ":" + c.client_port + " " + c.server + ":" + c.server_port + " " + c.state + " " + c.stream +
              " " + (c.encapsulation || []).join(" "))
        .toLowerCase().indexOf(q) >= 0;
    });
    if (this.sortCol >= 0) { this.sortDir = -this.sortDir; this.sort(this.sortCol); } else this.go(0);
  };
  ConnTable.prototype.go = function (page) {
    var pages = Math.max(1, Math.ceil(this.rows.length / PAGE_SIZE));
    this.page = Math.min(Math.max(0, page), pages - 1);
    this.render();
  };
  ConnTable.prototype.render = function () {
    var start = this.printing ? 0 : this.page * PAGE_SIZE;
    var slice = this.rows.slice(start, start + (this.printing ? PRINT_ROWS : PAGE_SIZE));
    var frag = document.createDocumentFragment(), self = this;
    slice.forEach(function (c) {
      var tr = el("tr"); tr.tabIndex = 0; tr.dataset.stream = c.stream; tr.id = "conn-" + c.stream;
      if (self.selected === c.stream) tr.className = "selected";
      self.columns.forEach(function (col) {
        var v = col.get(c), td = el("td", col.fmt ? col.fmt(v) : v);
        if (col.title) td.title = col.title(c);
        if (col.mono) td.className = "mono";
        if (col.bad && col.bad(v)) td.className = "bad";
        if (col.copy && v) td.appendChild(copyButton(v));
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    this.body.replaceChildren(frag);
    var pages = Math.max(1, Math.ceil(this.rows.length / PAGE_SIZE));
    document.getElementById("conn-page").textContent = this.printing
      ? "First " + slice.length + " of " + this.rows.length + " rows"
      : "Page " + (this.page + 1) + " of " + pages;
    document.getElementById("conn-count").textContent = this.rows.length + " of " + this.all.length + " connections";
    document.getElementById("conn-prev").disabled = this.page === 0;
    document.getElementById("conn-next").disabled = this.page >= pages - 1;
  };
  ConnTable.prototype.open = function (stream) {
    var c = this.byStream[stream];
    if (!c) return false;
    this.selected = stream;
    this.render();
    showDetail(c, this.details[stream]);
    return true;
  };

  /* ---- drill-down ---- */
  function showDetail(c, detail) {
    var box = document.getElementById("conn-detail");
    box.hidden = false;
    document.getElementById("h-conn-detail").textContent =
      "tcp.stream " + c.stream + ": " + c.client + ":" + c.client_port + " → " + c.server + ":" + c.server_port;
    document.getElementById("conn-detail-summary").textContent =
      "State " + c.state + ", first frame " + c.first_frame + ", " + fixed(c.duration_s, 3) + " s, " +
      c.retransmissions + " retransmissions (" + fixed(c.retransmission_pct, 2) + " %), " +
      c.duplicate_acks + " duplicate ACKs, " + c.zero_windows + " zero windows, " + fixed(c.rto_time_ms, 1) + " ms waiting for RTOs.";
    var has = !!(detail && (detail.seq.length || detail.window.length));
    document.getElementById("seq-chart").hidden = !has;
    document.getElementById("win-chart").hidden = !has;
    document.getElementById("conn-detail-nochart").hidden = has;
    if (has) seqCharts(detail);
    var body = document.getElementById("flagged-body"), frag = document.createDocumentFragment();
    c.flagged.forEach(function (p) {
      var tr = el("tr");
      tr.appendChild(el("td", p.frame));
      tr.appendChild(el("td", fixed(p.ts - (window.PcapReport.data.capture.first_ts || 0), 6)));
      tr.appendChild(el("td", p.direction === 0 ? "client → server" : "server → client"));
      tr.appendChild(el("td", p.flags.join(", ")));
      frag.appendChild(tr);
    });
    if (!c.flagged.length) { var tr = el("tr"), td = el("td", "No flagged packet."); td.colSpan = 4; tr.appendChild(td); frag.appendChild(tr); }
    body.replaceChildren(frag);
    box.focus({ preventScroll: true });
    box.scrollIntoView({ block: "start" });
  }

  function seqCharts(d) {
    var normal = { x: [], y: [] }, retr = { x: [], y: [] }, ooo = { x: [], y: [] };
    d.seq.forEach(function (s) {
      var bits = s[3], target = normal;
      if (bits & (RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS)) target = retr;
      else if (bits & (OUT_OF_ORDER | LOST)) target = ooo;
      target.x.push(s[0]); target.y.push(s[1]);
    });
    plot("seq-chart", [
      { name: "segments", x: normal.x, y: normal.y, mode: "markers", marker: { size: 4, symbol: "line-ns-open" } },
      { name: "retransmissions", x: retr.x, y: retr.y, mode: "markers", marker: { size: 9, symbol: "x", color: css("--poor") } },
      { name: "out of order / after a gap", x: ooo.x, y: ooo.y, mode: "markers", marker: { size: 8, symbol: "diamond-open", color: css("--fair") } },
      { name: "ACK", x: d.ack.map(function (a) { return a[0]; }), y: d.ack.map(function (a) { return a[1]; }), mode: "lines", line: { shape: "hv", width: 1 } },
    ], { xaxis: { title: { text: "seconds since first packet" } }, yaxis: { title: { text: "relative sequence number" } } });
    plot("win-chart", [
      { name: "receive window", x: d.window.map(function (w) { return w[0]; }), y: d.window.map(function (w) { return w[1]; }), mode: "lines+markers", line: { shape: "hv" }, marker: { size: 3 } },
    ], { xaxis: { title: { text: "seconds since first packet" } }, yaxis: { title: { text: "bytes" }, rangemode: "tozero" }, showlegend: false });
  }

  function localTimes() {
    document.querySelectorAll("time.local-time").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.textContent = d.toLocaleString() + " local";
    });
  }

  function openFromHash(table) {
    var m = /^#conn-(\d+)$/.exec(location.hash);
    if (m && !table.open(Number(m[1]))) {
      document.getElementById("connections").scrollIntoView();
    }
  }

  function main() {
    var payload = JSON.parse(document.getElementById("report-data").textContent);
    expand(payload).then(start, function (err) {
      document.getElementById("conn-count").textContent = "The report data could not be read: " + err.message;
      throw err;
    });
  }

  function start(data) {
    window.PcapReport = { data: data, expand: expand, ready: true };
    localTimes();
    var table = new ConnTable(data);
    window.PcapReport.table = table;
    exportsSetup(data);
    timeline(data);
    dnsHistogram(data);
    tlsServers(data);
    icmpCharts(data);
    latencyBars(data);
    document.querySelectorAll("a.conn-link").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        if (table.open(Number(a.dataset.stream))) ev.preventDefault();
      });
    });
    window.addEventListener("hashchange", function () { openFromHash(table); });
    openFromHash(table);
    if (window.matchMedia) {
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
        charts.forEach(function (node) {
          if (node.hidden) return;
          var update = { "font.color": css("--fg") };
          Object.keys(node.layout).forEach(function (k) {
            if (/^[xy]axis\d*$/.test(k)) { update[k + ".gridcolor"] = css("--line"); update[k + ".zerolinecolor"] = css("--line"); }
          });
          Plotly.relayout(node, update);
        });
      });
    }
  }

  // ---- Exports (issue 14): CSV downloads built from the data island, copy buttons for Wireshark filters.
  // The CSV declaration (#csv-downloads data-tables) is pcap_analyzer/report/csv_export.TABLES; cells and quoting follow
  // csv_export.cell and Python's csv module, so a download equals the file `analyze --csv` writes.
  function copyButton(text) {
    var b = el("button", "Copy"); b.type = "button"; b.className = "copy-filter no-print"; b.dataset.filter = text;
    b.title = "Copy the Wireshark filter: " + text;
    return b;
  }
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea"); area.value = text; document.body.appendChild(area); area.select();
    var ok = document.execCommand("copy"); area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function csvGet(obj, path) {
    var alts = path.split("|");
    for (var i = 0; i < alts.length; i++) {
      var v = obj, keys = alts[i].split(".");
      for (var k = 0; k < keys.length && v !== undefined && v !== null; k++) {
        v = (typeof v === "object" && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, keys[k])) ? v[keys[k]] : undefined;
      }
      if (v !== undefined && v !== null) return v;
    }
    return null;
  }
  function csvCell(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return isFinite(v) ? String(v) : "";
    if (Array.isArray(v)) return v.map(csvCell).join("; ");
    if (typeof v === "object") return Object.keys(v).map(function (k) { return k + ":" + csvCell(v[k]); }).join("; ");
    var s = String(v);
    return /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
  }
  function csvQuote(s) { return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
  function csvTable(data, table) {
    var lines = [table.columns.map(function (c) { return csvQuote(c[0]); }).join(",")], found = false;
    table.sources.forEach(function (src) {
      var rows = csvGet(data, src[1]);
      if (!Array.isArray(rows)) return;
      found = true;
      rows.forEach(function (row, i) {
        lines.push(table.columns.map(function (c) {
          var v = c[1] === "@list" ? src[0] : c[1] === "@rank" ? i + 1 : csvGet(row, c[1]);
          return csvQuote(csvCell(v));
        }).join(","));
      });
    });
    return found ? lines.join("\r\n") + "\r\n" : null;
  }
  function exportsSetup(data) {
    var box = document.getElementById("csv-downloads");
    var tables = box ? JSON.parse(box.dataset.tables) : [];
    if (box) {
      tables.forEach(function (table) {
        if (csvTable(data, table) === null) return;
        var b = el("button", table.file); b.type = "button"; b.className = "csv-download"; b.dataset.file = table.file;
        b.addEventListener("click", function () {
          var url = URL.createObjectURL(new Blob([csvTable(data, table)], { type: "text/csv;charset=utf-8" }));
          var a = el("a"); a.href = url; a.download = table.file; document.body.appendChild(a); a.click(); a.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        });
        box.appendChild(b); box.appendChild(document.createTextNode(" "));
      });
    }
    // Capture phase: a copy button inside a connection row must not also open the row.
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest && ev.target.closest("button.copy-filter");
      if (!b) return;
      ev.stopPropagation(); ev.preventDefault();
      copyText(b.dataset.filter).then(function () { b.textContent = "Copied"; }, function () { b.textContent = "Select and copy"; });
      setTimeout(function () { b.textContent = "Copy"; }, 2000);
    }, true);
    window.PcapReport.csv = function (file) {
      var t = tables.filter(function (x) { return x.file === file; })[0];
      return t ? csvTable(data, t) : null;
    };
  }

  // Plotly.js is loaded after this file: start once the whole document has been parsed.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
