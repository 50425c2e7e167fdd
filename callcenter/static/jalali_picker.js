/* A Jalali (Persian) date picker for pages shown in Persian; no library.

   Every <input type="date"> and <input type="datetime-local"> gets a text
   field beside it that shows and takes the date in Jalali ("۱۴۰۵/۰۹/۱۲",
   "۱۴۰۵/۰۹/۱۲ ۱۴:۳۰", typed in Persian, Arabic or ASCII digits; a year
   after 1700 is read as Gregorian), and a calendar of Jalali months. The
   original input is hidden but stays in the form: it holds the Gregorian
   ISO value the server reads, and hears "input" and "change" as before.
   A text input marked data-jalali-date (a report filter the server parses
   itself) gets the calendar only, which writes the Jalali date into it.

   Calendar conversion is the browser's own (Intl, calendar "persian"), as
   the agent screen's Jalali labels use; Jalali to Gregorian is found by
   stepping from an estimate until Intl agrees. */
(function () {
  "use strict";
  if (document.documentElement.lang !== "fa") return;

  var DAY_MS = 86400000;
  var PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹";
  var MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
                "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"];
  var WEEKDAYS = ["ش", "ی", "د", "س", "چ", "پ", "ج"];  // the Persian week starts on Saturday
  var PARTS = new Intl.DateTimeFormat("en-US-u-ca-persian-nu-latn", {
    timeZone: "UTC", year: "numeric", month: "numeric", day: "numeric"
  });
  var TYPED = /^(\d{4})\s*[\/\-.]\s*(\d{1,2})\s*[\/\-.]\s*(\d{1,2})(?:[\sT,،]+(\d{1,2})\s*:\s*(\d{2}))?$/;

  function ascii(text) {
    return text.replace(/[\u06f0-\u06f9]/g, function (d) { return String(d.charCodeAt(0) - 0x06f0); })
               .replace(/[\u0660-\u0669]/g, function (d) { return String(d.charCodeAt(0) - 0x0660); });
  }
  function persian(text) {
    return String(text).replace(/[0-9]/g, function (d) { return PERSIAN_DIGITS[d]; });
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // --- calendar arithmetic on UTC midnights ---------------------------------------------

  function toJalali(utcMs) {
    var found = {};
    PARTS.formatToParts(new Date(utcMs)).forEach(function (p) { found[p.type] = p.value; });
    return { y: parseInt(found.year, 10), m: parseInt(found.month, 10), d: parseInt(found.day, 10) };
  }

  function compare(a, b) { return (a.y - b.y) || (a.m - b.m) || (a.d - b.d); }

  // The UTC midnight of Jalali y/m/d, or null if there is no such day (e.g. 30 Esfand of a common year).
  function fromJalali(y, m, d) {
    if (m < 1 || m > 12 || d < 1 || d > 31) return null;
    var wanted = { y: y, m: m, d: d };
    var dayOfYear = (m <= 7 ? (m - 1) * 31 : 186 + (m - 7) * 30) + d - 1;
    var ms = Date.UTC(y + 621, 2, 21) + dayOfYear * DAY_MS;
    for (var step = 0; step < 4; step++) {
      var diff = compare(toJalali(ms), wanted);
      if (diff === 0) return ms;
      ms += diff > 0 ? -DAY_MS : DAY_MS;
    }
    return compare(toJalali(ms), wanted) === 0 ? ms : null;
  }

  function monthLength(y, m) {
    if (m <= 6) return 31;
    if (m <= 11) return 30;
    return fromJalali(y, 12, 30) === null ? 29 : 30;
  }

  function isoDate(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function jalaliText(j, time) {
    return persian(j.y + "/" + pad(j.m) + "/" + pad(j.d) + (time ? " " + time : ""));
  }

  // "۱۴۰۵/۰۹/۱۲ ۱۴:۳۰" (or Gregorian "2026-12-03") -> {ms, time}, or null.
  function parseTyped(text) {
    var match = TYPED.exec(ascii(text.trim()));
    if (!match) return null;
    var y = +match[1], m = +match[2], d = +match[3];
    var ms = y < 1700 ? fromJalali(y, m, d) : Date.UTC(y, m - 1, d);
    if (ms === null || (y >= 1700 && new Date(ms).getUTCDate() !== d)) return null;
    var time = null;
    if (match[4] !== undefined) {
      if (+match[4] > 23 || +match[5] > 59) return null;
      time = pad(+match[4]) + ":" + match[5];
    }
    return { ms: ms, time: time };
  }

  // --- the calendar -----------------------------------------------------------------------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function Calendar(anchor, onPick) {
    this.onPick = onPick;
    this.box = el("div", "jalali-calendar");
    this.box.hidden = true;
    this.box.setAttribute("role", "dialog");
    anchor.after(this.box);
  }

  Calendar.prototype.open = function (selected) {
    var today = toJalali(Date.UTC(new Date().getFullYear(), new Date().getMonth(), new Date().getDate()));
    this.selected = selected;
    this.shown = selected ? { y: selected.y, m: selected.m } : { y: today.y, m: today.m };
    this.today = today;
    this.render();
    this.box.hidden = false;
  };

  Calendar.prototype.close = function () { this.box.hidden = true; };

  Calendar.prototype.move = function (months) {
    var index = this.shown.y * 12 + (this.shown.m - 1) + months;
    this.shown = { y: Math.floor(index / 12), m: (index % 12) + 1 };
    this.render();
  };

  Calendar.prototype.render = function () {
    var self = this, y = this.shown.y, m = this.shown.m;
    this.box.replaceChildren();
    var head = el("div", "jalali-head");
    var previous = el("button", "jalali-prev", "›");
    var next = el("button", "jalali-next", "‹");
    previous.type = next.type = "button";
    previous.setAttribute("aria-label", "ماه قبل");
    next.setAttribute("aria-label", "ماه بعد");
    previous.addEventListener("click", function () { self.move(-1); });
    next.addEventListener("click", function () { self.move(1); });
    head.append(previous, el("span", "jalali-title", MONTHS[m - 1] + " " + persian(y)), next);
    var grid = el("div", "jalali-grid");
    WEEKDAYS.forEach(function (name) { grid.append(el("span", "jalali-weekday", name)); });
    var first = fromJalali(y, m, 1);
    var blanks = (new Date(first).getUTCDay() + 1) % 7;  // Saturday is column 0
    for (var i = 0; i < blanks; i++) grid.append(el("span", "jalali-blank"));
    for (var d = 1; d <= monthLength(y, m); d++) {
      var day = el("button", "jalali-day", persian(d));
      day.type = "button";
      day.dataset.day = String(d);
      var here = { y: y, m: m, d: d };
      if (this.selected && compare(here, this.selected) === 0) day.classList.add("selected");
      if (compare(here, this.today) === 0) day.classList.add("today");
      day.addEventListener("click", function (event) {
        self.onPick({ y: y, m: m, d: +event.currentTarget.dataset.day });
        self.close();
      });
      grid.append(day);
    }
    this.box.append(head, grid);
  };

  // --- wiring -----------------------------------------------------------------------------

  function button(calendarOpen) {
    var open = el("button", "jalali-open", "تقویم");
    open.type = "button";
    open.addEventListener("click", calendarOpen);
    return open;
  }

  // A date or datetime-local input: hidden, shown through a Jalali text field.
  function attachToIsoInput(input) {
    var withTime = input.type === "datetime-local";
    var text = el("input", "jalali-text");
    text.type = "text";
    text.id = input.id ? input.id + "-jalali" : "";
    text.placeholder = persian(withTime ? "1405/09/12 14:30" : "1405/09/12");
    text.required = input.required;
    input.required = false;
    if (input.labels && input.labels.length) text.setAttribute("aria-label", input.labels[0].textContent.trim());
    var wrap = el("span", "jalali-field");
    input.after(wrap);
    wrap.append(text);
    var calendar = new Calendar(text, pick);
    wrap.append(button(function () {
      var current = parseTyped(text.value);
      if (calendar.box.hidden) calendar.open(current ? toJalali(current.ms) : null); else calendar.close();
    }));
    wrap.append(calendar.box);
    input.hidden = true;

    var native = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value");
    function setIso(value) {
      native.set.call(input, value);
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function showIso() {
      var value = native.get.call(input);
      if (!value) { text.value = ""; return; }
      var ms = Date.UTC(+value.slice(0, 4), +value.slice(5, 7) - 1, +value.slice(8, 10));
      text.value = jalaliText(toJalali(ms), withTime ? value.slice(11, 16) : null);
    }
    // A script that sets the value (e.g. clears it after a call) updates the Jalali text too.
    Object.defineProperty(input, "value", {
      configurable: true,
      get: function () { return native.get.call(input); },
      set: function (value) { native.set.call(input, value); showIso(); }
    });
    function pick(day) {
      var current = parseTyped(text.value);
      var time = withTime ? (current && current.time) || "09:00" : null;
      text.value = jalaliText(day, time);
      setIso(isoDate(fromJalali(day.y, day.m, day.d)) + (time ? "T" + time : ""));
    }
    text.addEventListener("input", function () {
      var typed = parseTyped(text.value);
      var ok = typed && (!withTime || typed.time);
      text.setAttribute("aria-invalid", text.value && !ok ? "true" : "false");
      setIso(ok ? isoDate(typed.ms) + (withTime ? "T" + typed.time : "") : "");
    });
    showIso();
  }

  // A text input the server parses (Jalali or Gregorian): the calendar writes Jalali into it.
  function attachToTextInput(input) {
    var calendar = new Calendar(input, function (day) {
      input.value = jalaliText(day, null);
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    var open = button(function () {
      var current = parseTyped(input.value);
      if (calendar.box.hidden) calendar.open(current ? toJalali(current.ms) : null); else calendar.close();
    });
    var wrap = el("span", "jalali-field");
    input.after(wrap);
    wrap.append(input, open, calendar.box);
  }

  function attach(root) {
    root.querySelectorAll("input[type=date], input[type=datetime-local], input[data-jalali-date]")
      .forEach(function (input) {
        if (input.dataset.jalaliAttached) return;
        input.dataset.jalaliAttached = "1";
        if (input.type === "text") attachToTextInput(input); else attachToIsoInput(input);
      });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".jalali-calendar").forEach(function (box) { box.hidden = true; });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll(".jalali-field").forEach(function (field) {
      // The path as dispatched: a month button the calendar has just redrawn is no longer in it.
      if (event.composedPath().indexOf(field) < 0) field.querySelector(".jalali-calendar").hidden = true;
    });
  });

  window.jalaliPicker = { toJalali: toJalali, fromJalali: fromJalali, parseTyped: parseTyped };
  attach(document);
  new MutationObserver(function () { attach(document); })
    .observe(document.body, { childList: true, subtree: true });
})();
