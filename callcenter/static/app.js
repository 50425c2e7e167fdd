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

// Digits typed on a Persian or Arabic keyboard (۰-۹, ٠-٩) become ASCII in number
// fields: a type=number input drops them, and the form then says "required".
// The server reads them too (callcenter/typed_digits.py); this keeps what the
// user sees in the field.
(function () {
  var NUMERIC = "input[type=number], input[inputmode=numeric], input[inputmode=decimal], input[data-digits]";
  var FOREIGN_DIGIT = /[\u06f0-\u06f9\u0660-\u0669\u066b]/g;

  function ascii(text) {
    return text.replace(FOREIGN_DIGIT, function (d) {
      if (d === "\u066b") return ".";  // ٫ Arabic decimal point
      var code = d.charCodeAt(0);
      return String(code >= 0x06f0 ? code - 0x06f0 : code - 0x0660);
    });
  }
  window.asciiDigits = ascii;

  function insert(input, text) {
    if (document.execCommand("insertText", false, text)) return;
    input.value += text;  // a number input with no caret to insert at
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("beforeinput", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(NUMERIC) || !event.data) return;
    var converted = ascii(event.data);
    if (converted === event.data) return;
    event.preventDefault();
    insert(input, converted);
  });
  document.addEventListener("paste", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(NUMERIC) || !event.clipboardData) return;
    var text = event.clipboardData.getData("text");
    if (ascii(text) === text) return;
    event.preventDefault();
    insert(input, ascii(text).trim());
  });
})();

// A moment in a time zone, as both screens say when calls start again: the
// page's own calendar first (Jalali in Persian), the other beside it, and the
// zone's name. {when, other, zone}.
window.ccMoment = function (iso, timeZone, locale) {
  var at = new Date(iso), fa = locale === "fa";
  var calendars = fa ? ["fa-IR-u-ca-persian", "fa-IR-u-ca-gregory"] : ["en-GB", "en-GB-u-ca-persian"];
  var parts = new Intl.DateTimeFormat(calendars[0], {
    weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: timeZone, timeZoneName: "long"
  }).formatToParts(at);
  var minute = parts.findIndex(function (p) { return p.type === "minute"; });
  return {
    when: parts.slice(0, minute + 1).map(function (p) { return p.value; }).join(""),
    other: new Intl.DateTimeFormat(calendars[1], { day: "numeric", month: "long", timeZone: timeZone }).format(at),
    zone: parts.filter(function (p) { return p.type === "timeZoneName"; }).map(function (p) { return p.value; }).join("")
  };
};
