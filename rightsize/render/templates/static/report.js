/* rightsize report: table sort (aria-sort, numeric data-sort keys), filters, copy buttons. */
(function () {
  "use strict";
  var table = document.getElementById("wl");
  var data = JSON.parse(document.getElementById("report-data").textContent || "{}");

  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null) raw = cell ? cell.textContent : "";
    if (!numeric) return raw.toLowerCase();
    return raw === "" ? null : parseFloat(raw);
  }

  function sortBy(th) {
    var headers = table.tHead.rows[0].cells;
    var index = Array.prototype.indexOf.call(headers, th);
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current === "descending" ? "ascending" :
      current === "ascending" ? "descending" : (numeric ? "descending" : "ascending");
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, i) {
      return { row: row, key: cellKey(row, index, numeric), i: i };
    });
    keyed.sort(function (a, b) {
      if (a.key === b.key) return a.i - b.i;
      if (a.key === null || (typeof a.key === "number" && isNaN(a.key))) return 1;
      if (b.key === null || (typeof b.key === "number" && isNaN(b.key))) return -1;
      return (a.key < b.key ? -1 : 1) * sign;
    });
    for (var h = 0; h < headers.length; h++) headers[h].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.row); });
    body.appendChild(frag);
  }

  if (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var button = th.querySelector("button");
      if (button) button.addEventListener("click", function () { sortBy(th); });
    });
  }

  var filter = document.getElementById("filter");
  var severity = document.getElementById("severity");
  var shown = document.getElementById("shown");

  function applyFilter() {
    if (!table) return;
    var text = (filter.value || "").trim().toLowerCase();
    var sev = severity.value;
    var rows = table.tBodies[0].rows;
    var visible = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (!sev || row.getAttribute("data-severity") === sev) &&
        (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
      row.hidden = !ok;
      if (ok) visible++;
    }
    shown.textContent = visible + " of " + (data.workloads || rows.length) + " shown";
  }
  if (filter) filter.addEventListener("input", applyFilter);
  if (severity) severity.addEventListener("change", applyFilter);

  function copyText(button) {
    var code = button.closest(".fix").querySelector("code");
    var text = code.textContent;
    function done(label) {
      button.textContent = label;
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(code);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      done("Selected: press Ctrl+C");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("Copied"); }, fallback);
    } else {
      fallback();
    }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.classList && t.classList.contains("copy")) copyText(t);
  });

  // print everything: open collapsed sections first
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
