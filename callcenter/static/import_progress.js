// Lead import in the background: poll its counters until it ends, then show the report.
(function () {
  const panel = document.getElementById("import-progress");
  if (!panel) { return; }
  const url = panel.dataset.progressUrl;
  const bar = document.getElementById("import-bar");
  const cells = {
    rows_read: document.getElementById("rows-read"),
    rows_imported: document.getElementById("rows-imported"),
    rows_rejected: document.getElementById("rows-rejected"),
  };
  function show(progress) {
    Object.keys(cells).forEach(function (key) { cells[key].textContent = progress[key]; });
    if (progress.rows_expected) {
      bar.max = progress.rows_expected;
      bar.value = Math.min(progress.rows_read, progress.rows_expected);
    }
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (progress && progress.finished) { window.location.reload(); return; }
        if (progress) { show(progress); }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
