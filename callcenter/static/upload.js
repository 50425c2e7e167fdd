// Lead import: once a file is chosen, the server's preview of how it will be
// read (sheet, delimiter, header line, a field per column, the first rows);
// a change there asks again. The upload has a progress bar; the server's
// answer replaces the page.
(function () {
  const form = document.getElementById("upload-form");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const slot = document.getElementById("preview-slot");
  const fileInput = form.querySelector("input[type=file]");
  let asked = 0;

  // What to send: the file, and of the preview's choices those `keep` names
  // ("sheet", "reading": delimiter and header line, "mapping").
  function choices(keep) {
    const data = new FormData(form);
    Array.from(data.keys()).forEach(function (key) {
      let kind = null;
      if (key.indexOf("field-") === 0 || key.indexOf("column-") === 0) { kind = "mapping"; }
      if (key === "delimiter" || key === "header_line") { kind = "reading"; }
      if (key === "sheet") { kind = "sheet"; }
      if (kind && keep.indexOf(kind) < 0) { data.delete(key); }
    });
    return data;
  }

  function preview(data) {
    if (!window.fetch || !fileInput.files.length) { return; }
    const mine = ++asked;
    slot.setAttribute("aria-busy", "true");
    fetch(form.dataset.previewUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine !== asked) { return; }
        slot.innerHTML = html;
        slot.removeAttribute("aria-busy");
      })
      .catch(function () { slot.removeAttribute("aria-busy"); });
  }

  fileInput.addEventListener("change", function () { preview(choices([])); });
  slot.addEventListener("change", function (event) {
    const target = event.target;
    if (target.name === "sheet") { preview(choices(["sheet"])); return; }
    if (target.hasAttribute("data-reads")) { preview(choices(["sheet", "reading"])); }
    if (target.hasAttribute("data-maps")) { preview(choices(["sheet", "reading", "mapping"])); }
  });

  form.addEventListener("submit", function (event) {
    if (!window.XMLHttpRequest || !window.FormData) { return; }
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.upload.addEventListener("load", function () { bar.removeAttribute("value"); });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL !== window.location.href) {
        window.location.href = xhr.responseURL;
      } else {
        document.open(); document.write(xhr.responseText); document.close();
      }
    });
    bar.hidden = false; status.hidden = false;
    xhr.send(new FormData(form));
  });
})();
