// Interactive flame graphs. Every <figure class="flame" data-flame="ID"> whose JSON block ID
// holds boxes (fmd_profiler/report/flame_data.py) is drawn as SVG in place of its PNG: click a
// box to zoom into it, hover for its time and share, type in the search field to highlight
// matching functions, Reset (or Esc) zooms out. No inline script or style anywhere: the
// dashboard's Content-Security-Policy allows neither, and the report works from file://.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var ROW = 18;        // px per call depth
  var CHAR = 6.6;      // px per character of an 11 px monospace label
  var MIN_PX = 0.3;    // boxes narrower than this are not drawn

  function svgElement(name, attributes) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes || {}).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    return element;
  }

  function formatMs(ms) {
    if (ms >= 100) return ms.toFixed(0) + " ms";
    if (ms >= 1) return ms.toFixed(2) + " ms";
    return ms.toFixed(3) + " ms";
  }

  function formatShare(share) {
    return (share * 100).toFixed(share >= 0.1 ? 1 : 2) + " %";
  }

  function shortName(fn) {  // module:Class.method -> Class.method
    var at = fn.indexOf(":");
    return at >= 0 ? fn.slice(at + 1) || fn : fn;
  }

  function FlameGraph(figure, data) {
    this.figure = figure;
    this.data = data;
    this.view = figure.querySelector(".flame-view");
    this.tools = figure.querySelector(".flame-tools");
    this.search = this.tools.querySelector("input");
    this.status = this.tools.querySelector(".flame-status");
    this.boxes = data.boxes.map(function (b, index) {
      var frame = data.frames[b[0]];
      return { index: index, fn: frame[0], file: frame[1], line: frame[2], color: frame[3],
               depth: b[1], start: b[2], width: b[3], self: b[4], parent: b[5] };
    });
    this.depth = this.boxes.reduce(function (most, b) { return Math.max(most, b.depth); }, 0) + 1;
    this.zoomed = null;
    this.term = "";
    this.svg = svgElement("svg", { "class": "flame-svg", role: "img",
                                   "aria-label": "Interactive flame graph" });
    this.view.appendChild(this.svg);
    this.bind();
    this.draw();
    this.tools.hidden = false;
    var help = figure.querySelector(".flame-help");
    if (help) help.hidden = false;
    figure.classList.add("live");  // CSS hides the PNG now that the SVG stands in for it
  }

  FlameGraph.prototype.describe = function (box) {
    var text = box.fn + " \u2014 " + formatShare(box.width) + " of the request";
    if (this.data.mean_ms) {
      text += ", " + formatMs(box.width * this.data.mean_ms) + " per request (self " +
              formatMs(box.self * this.data.mean_ms) + ")";
    } else {
      text += " (self " + formatShare(box.self) + ")";
    }
    if (box.file) text += " \u2014 " + box.file + (box.line ? ":" + box.line : "");
    return text;
  };

  FlameGraph.prototype.isAncestorOfZoom = function (box) {
    for (var at = this.zoomed; at; at = at.parent >= 0 ? this.boxes[at.parent] : null) {
      if (at.parent === box.index) return true;
    }
    return false;
  };

  FlameGraph.prototype.draw = function () {
    var width = this.width = Math.max(200, Math.floor(this.view.clientWidth || 1200));
    var low = this.zoomed ? this.zoomed.start : 0;
    var span = this.zoomed ? this.zoomed.width : 1;
    var svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var height = this.depth * ROW;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var self = this;
    this.boxes.forEach(function (box) {
      var x = (box.start - low) / span * width;
      var w = box.width / span * width;
      if (x + w <= 0.01 || x >= width - 0.01 || w < MIN_PX) return;  // outside the zoom
      var left = Math.max(0, x), right = Math.min(width, x + w);
      var group = svgElement("g", { "class": "frame", "data-index": box.index });
      if (self.zoomed && self.isAncestorOfZoom(box)) group.classList.add("ancestor");
      if (box === self.zoomed) group.classList.add("zoomed");
      var title = svgElement("title");
      title.textContent = self.describe(box);
      group.appendChild(title);
      group.appendChild(svgElement("rect", { x: left.toFixed(2), y: box.depth * ROW,
                                             width: Math.max(0.5, right - left - 0.5).toFixed(2),
                                             height: ROW - 1, fill: box.color }));
      var chars = Math.floor((right - left - 6) / CHAR);
      if (chars >= 3) {
        var name = shortName(box.fn);
        var label = svgElement("text", { x: (left + 3).toFixed(2), y: box.depth * ROW + 12.5 });
        label.textContent = name.length <= chars ? name : name.slice(0, chars - 1) + "\u2026";
        group.appendChild(label);
      }
      svg.appendChild(group);
    });
    this.figure.setAttribute("data-zoom", this.zoomed ? this.zoomed.index : "");
    this.highlight();
  };

  FlameGraph.prototype.highlight = function () {
    var term = this.term, boxes = this.boxes;
    var matched = {}, count = 0, share = 0;
    if (term) {
      boxes.forEach(function (box) {
        if (box.fn.toLowerCase().indexOf(term) >= 0) { matched[box.index] = true; count++; }
      });
      // Time of the matches: a match inside another match is already counted by its caller.
      boxes.forEach(function (box) {
        if (!matched[box.index]) return;
        for (var p = box.parent; p >= 0; p = boxes[p].parent) if (matched[p]) return;
        share += box.width;
      });
    }
    this.svg.classList.toggle("searching", !!term);
    Array.prototype.forEach.call(this.svg.querySelectorAll("g.frame"), function (group) {
      group.classList.toggle("match", !!matched[group.getAttribute("data-index")]);
    });
    this.figure.setAttribute("data-matches", count);
    this.summary = term
      ? count + " frame" + (count === 1 ? "" : "s") + " match \u201c" + term + "\u201d: " +
        formatShare(share) + " of the request" +
        (this.data.mean_ms ? " (" + formatMs(share * this.data.mean_ms) + " per request)" : "")
      : (this.zoomed ? "Zoomed into " + this.zoomed.fn : "");
    this.status.textContent = this.summary;
  };

  FlameGraph.prototype.zoom = function (box) {
    // A box as wide as the whole graph (the dispatch root) is the full view.
    this.zoomed = box && box.width < 0.999999 ? box : null;
    this.draw();
  };

  FlameGraph.prototype.bind = function () {
    var self = this;
    function boxOf(event) {
      var group = event.target.closest ? event.target.closest("g.frame") : null;
      return group ? self.boxes[Number(group.getAttribute("data-index"))] : null;
    }
    // On the figure, not the SVG: when the graph is redrawn between a press and its release
    // (the page grew a scrollbar while images loaded), the click goes to an ancestor of the
    // replaced box; the box now under the pointer is the one meant.
    this.figure.addEventListener("click", function (event) {
      var box = boxOf(event);
      if (!box && !self.svg.contains(event.target)) {
        var under = document.elementFromPoint(event.clientX, event.clientY);
        var group = under && under.closest ? under.closest("g.frame") : null;
        if (group && self.svg.contains(group)) box = self.boxes[Number(group.getAttribute("data-index"))];
      }
      if (box) self.zoom(box);
    });
    this.svg.addEventListener("mouseover", function (event) {
      var box = boxOf(event);
      if (box) self.status.textContent = self.describe(box);
    });
    this.svg.addEventListener("mouseleave", function () { self.status.textContent = self.summary; });
    this.tools.querySelector(".flame-reset").addEventListener("click", function () {
      self.zoom(null);
    });
    this.search.addEventListener("input", function () {
      self.term = self.search.value.trim().toLowerCase();
      self.highlight();
    });
    this.figure.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        self.search.value = "";
        self.term = "";
        self.zoom(null);
      }
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) clearTimeout(pending);
      pending = setTimeout(function () {
        pending = null;
        if (Math.max(200, Math.floor(self.view.clientWidth || 1200)) !== self.width) self.draw();
      }, 100);
    });
  };

  function showPng(figure) {  // the picture <noscript> holds for browsers without JavaScript
    var src = figure.getAttribute("data-png");
    if (!src || figure.querySelector("img.flame-png")) return;
    var img = document.createElement("img");
    img.className = "flame-png";
    img.src = src;
    img.alt = figure.getAttribute("data-alt") || "Flame graph";
    figure.querySelector(".flame-view").appendChild(img);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("figure.flame[data-flame]"), function (figure) {
      var source = document.getElementById(figure.getAttribute("data-flame"));
      var data = null;
      try { data = source ? JSON.parse(source.textContent) : null; } catch (error) { data = null; }
      if (!data || !data.boxes || !data.boxes.length) { showPng(figure); return; }
      try {
        figure.flameGraph = new FlameGraph(figure, data);
      } catch (error) {
        showPng(figure);
        throw error;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
