// The leaderboard tables (class "gdl-leaderboard", written by docs/_ext/gdl_leaderboard.py) made
// sortable and filterable with simple-datatables, served from this site (make install unpacks it).
// Numeric columns sort as numbers, blank cells last; a box filters the rows by any text, and a
// menu by the kind of number (the badges of the legend).
document.addEventListener("DOMContentLoaded", function () {
  if (!window.simpleDatatables) return;
  const NUMBER = /^-?[\d,]*\.?\d+(\/\d+)?$/;
  const KINDS = ["exact", "bound", "estimate", "sample quality", "baseline"];
  document.querySelectorAll("table.gdl-leaderboard").forEach(function (table) {
    const heads = Array.from(table.tHead.rows[0].cells).map((th) => th.textContent.trim());
    const rows = Array.from(table.tBodies[0].rows);
    const kindColumn = heads.indexOf("Kind");
    const columns = [];
    heads.forEach(function (_, i) {
      const cells = rows.map((r) => r.cells[i]);
      const texts = cells.map((c) => c.textContent.trim());
      if (texts.every((t) => t === "" || NUMBER.test(t)) && texts.some((t) => t !== "")) {
        // the number itself is the sort key ("9/10" sorts as 9); a blank sorts after every number
        cells.forEach(function (c, j) {
          c.dataset.order = texts[j] === "" ? "Infinity" : String(parseFloat(texts[j].replace(/,/g, "")));
        });
        columns.push({ select: i, type: "html" });
      }
    });
    const options = KINDS.map((k) => `<option value="${k}">${k}</option>`).join("");
    const dt = new window.simpleDatatables.DataTable(table, {
      paging: false,
      searchable: true,
      searchAnd: true, // "independent pixels" finds the rows with both words, not either
      columns: columns,
      labels: { placeholder: "Filter rows…", searchTitle: "Filter the rows by any text" },
      template: (o) => `<div class="${o.classes.top}">
          <div class="gdl-kind-select"><label>Kind <select aria-label="Filter by kind">
            <option value="">all</option>${options}</select></label></div>
          <div class="${o.classes.search}"><input class="${o.classes.input}" placeholder="${o.labels.placeholder}"
            type="search" title="${o.labels.searchTitle}"></div>
        </div>
        <div class="${o.classes.container}"></div>
        <div class="${o.classes.bottom}"></div>`,
    });
    const select = dt.wrapperDOM.querySelector(".gdl-kind-select select");
    select.addEventListener("change", function () {
      const kind = select.value;
      const column = kind === "baseline" ? 0 : kindColumn;
      dt.multiSearch(kind ? [{ terms: [kind], columns: [column] }] : [], "kind");
    });
  });
});
