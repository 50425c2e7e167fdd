// The recording player: a script step's mark seeks the audio to where the agent entered it.
(function () {
  "use strict";
  const audio = document.getElementById("recording-audio");
  const marks = document.getElementById("step-marks");
  if (!audio || !marks) return;
  // Placed from here: the page's CSP allows no inline style attributes.
  marks.querySelectorAll(".step-mark").forEach(function (mark) {
    mark.style.left = mark.dataset.percent + "%";
  });
  marks.addEventListener("click", function (event) {
    const mark = event.target.closest(".step-mark");
    if (!mark) return;
    audio.currentTime = Number(mark.dataset.offsetMs) / 1000;
    audio.play();
  });
})();
