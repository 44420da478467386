// Updraft live pages (src/web/ui/index.ts): when /ui/events says `change`, re-fetch the URL
// of every element marked data-live="<url of an HTML fragment>" and put the answer in it.
// Plain script, no build step; served by src/web/ui/live.ts.
(function () {
  'use strict';

  var DEBOUNCE_MS = 200;
  var RETRY_MAX_MS = 30000;

  var regions = function () {
    // The outermost regions only: an inner one comes back inside its outer one's fragment.
    return Array.prototype.filter.call(document.querySelectorAll('[data-live]'), function (el) {
      return !(el.parentElement && el.parentElement.closest('[data-live]'));
    });
  };
  if (regions().length === 0 && !document.getElementById('live-status')) return;

  function setStatus(state, title) {
    var el = document.getElementById('live-status');
    if (!el) return;
    el.textContent = state;
    el.setAttribute('data-state', state);
    el.title = title;
  }

  var timer = null;
  var busy = false;
  var again = false;
  var stale = false;

  function schedule() {
    if (timer === null) timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  // A form being filled in is left alone until it loses focus.
  function editing(el) {
    var active = document.activeElement;
    return !!active && active !== document.body && el.contains(active) && !!active.closest('form');
  }

  function refresh() {
    timer = null;
    if (document.hidden) {
      stale = true;
      return;
    }
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    stale = false;
    void Promise.all(regions().map(update)).then(function () {
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    });
  }

  function update(el) {
    if (editing(el)) {
      stale = true;
      return Promise.resolve();
    }
    var url = el.getAttribute('data-live');
    return fetch(url, {
      credentials: 'same-origin',
      headers: { Accept: 'text/html', 'X-Requested-With': 'updraft-live' },
    })
      .then(function (response) {
        // A redirect (to the login page) or an error: keep what is shown.
        if (!response.ok || response.redirected) return;
        return response.text().then(function (html) {
          if (html === el.__updraftLive || editing(el)) return;
          el.__updraftLive = html;
          var x = window.scrollX;
          var y = window.scrollY;
          var top = el.scrollTop;
          var left = el.scrollLeft;
          el.innerHTML = html;
          // Times come in UTC: show them in the chosen timezone (static/time.js).
          if (window.updraftTime) window.updraftTime.format(el);
          el.scrollTop = top;
          el.scrollLeft = left;
          window.scrollTo(x, y);
        });
      })
      .catch(function () {
        // Offline or the server restarts: the next event tries again.
      });
  }

  document.addEventListener('focusout', function () {
    if (stale) schedule();
  });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && stale) schedule();
  });

  var source = null;
  var delay = 1000;
  var dropped = false;

  function connect() {
    source = new EventSource('/ui/events');
    source.addEventListener('open', function () {
      setStatus('live', 'the page follows changes as they happen');
      delay = 1000;
      // Changes made while the stream was down were not announced.
      if (dropped) schedule();
      dropped = false;
    });
    source.addEventListener('change', schedule);
    source.addEventListener('error', function () {
      dropped = true;
      setStatus('reconnecting', 'the connection to the server was lost; trying again');
      // CONNECTING: the browser retries by itself. CLOSED (an error status, e.g. the
      // server restarted into a 503): it gave up, so try again later, backing off.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    });
  }

  setStatus('connecting', 'connecting to the server');
  connect();
  // Leave no stream open behind a page in the back/forward cache; reopen it on return.
  window.addEventListener('pagehide', function () {
    if (source) source.close();
  });
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    dropped = true;
    connect();
  });
})();
