// Behaviour every page shares, with no inline script (the Content-Security-Policy
// allows scripts from this origin only): a select that submits its form when
// changed (the language switch), and print buttons.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) target.form.submit();
});
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target.closest && target.closest("[data-print]")) window.print();
});
