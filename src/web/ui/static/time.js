// Updraft times (src/web/ui/layout.tsx): the server writes every time in UTC, as
// <time datetime="ISO">; this script shows them in the timezone chosen in the header's
// #tz-select (UTC, this browser's, or the DAG's: the nearest data-dag-tz), with the offset.
// Titles of elements marked data-times (tooltips, SVG <title>) are rewritten the same way.
// The choice is kept in localStorage per user name. live.js calls format() on what it swaps in.
// Plain script, no build step; served by src/web/ui/live.ts.
(function () {
  'use strict';

  var select = document.getElementById('tz-select');
  var key = 'updraft.timezone.' + (select ? select.getAttribute('data-user') : '');
  var local = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

  function stored() {
    try {
      const value = window.localStorage.getItem(key);
      return value === 'local' || value === 'dag' ? value : 'utc';
    } catch {
      return 'utc';
    }
  }

  var choice = stored();

  function zoneOf(el) {
    if (choice === 'local') return local;
    if (choice === 'dag') {
      const holder = el.closest ? el.closest('[data-dag-tz]') : null;
      return (holder && holder.getAttribute('data-dag-tz')) || 'UTC';
    }
    return 'UTC';
  }

  var formats = {};
  function formatter(zone) {
    if (!formats[zone]) {
      formats[zone] = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
        timeZoneName: 'longOffset',
      });
    }
    return formats[zone];
  }

  // '2030-01-01 06:00:00+01:00' ('…Z' in UTC), as the server's '2030-01-01 05:00:00Z'.
  function show(date, zone, precise) {
    var p = {};
    formatter(zone)
      .formatToParts(date)
      .forEach(function (part) {
        p[part.type] = part.value;
      });
    var offset = zone === 'UTC' ? 'Z' : (p.timeZoneName || 'GMT').replace('GMT', '') || '+00:00';
    var ms = precise ? '.' + String(date.getUTCMilliseconds()).padStart(3, '0') : '';
    return p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ':' + p.second + ms + offset;
  }

  var UTC_TEXT = /(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)?Z/g;

  function format(root) {
    Array.prototype.forEach.call(root.querySelectorAll('time[datetime]'), function (el) {
      var date = new Date(el.getAttribute('datetime'));
      if (Number.isNaN(date.getTime())) return;
      var zone = zoneOf(el);
      el.textContent = show(date, zone, el.hasAttribute('data-precise'));
      el.title = zone;
    });
    Array.prototype.forEach.call(root.querySelectorAll('[data-times]'), function (el) {
      var svgTitle = el.tagName.toLowerCase() === 'title';
      if (el.__utc === undefined) el.__utc = svgTitle ? el.textContent : el.getAttribute('title') || '';
      var zone = zoneOf(el);
      var text = el.__utc.replace(UTC_TEXT, function (_all, seconds, fraction) {
        return show(new Date(seconds.replace(' ', 'T') + (fraction || '') + 'Z'), zone, !!fraction);
      });
      if (svgTitle) el.textContent = text;
      else el.setAttribute('title', text);
    });
  }

  window.updraftTime = { format: format };

  if (select) {
    const localOption = select.querySelector('option[value=local]');
    if (localOption) localOption.textContent = "this browser's timezone, " + local;
    select.value = choice;
    select.addEventListener('change', function () {
      choice = select.value;
      try {
        window.localStorage.setItem(key, choice);
      } catch {
        // Private mode: the choice lasts as long as the page.
      }
      format(document);
    });
  }
  format(document);
})();
