// The status page of nestjs-prom-metrics: reads `{path}.json` every few seconds and draws it.
// No build step and no inline code (the page's Content-Security-Policy forbids it); uPlot is
// loaded before this file from the same origin.
(function () {
  'use strict';

  var body = document.body;
  var jsonUrl = body.dataset.json;
  var refreshMs = Math.max(1, Number(body.dataset.refreshSeconds) || 5) * 1000;
  var state = { sort: 'requests', asc: false, filter: '', data: null };
  var charts = {};
  var refreshes = 0;

  var SECTION_TITLES = {
    outbound: 'Outbound HTTP',
    rpc: 'Microservice messages',
    ws: 'WebSocket messages',
    graphql: 'GraphQL root fields',
  };
  var CLASS_COLORS = { '1xx': '#7f8c8d', '2xx': '#27ae60', '3xx': '#2980b9', '4xx': '#e67e22', '5xx': '#c0392b' };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ms(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    var value = seconds * 1000;
    return (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) + ' ms';
  }
  function percent(ratio) {
    return ratio === null || ratio === undefined ? '–' : (ratio * 100).toFixed(ratio > 0 && ratio < 0.1 ? 1 : 0) + ' %';
  }
  function rate(value) {
    return value >= 10 ? value.toFixed(0) : value.toFixed(2);
  }
  function count(value) {
    return value === null || value === undefined ? '–' : String(Math.round(value));
  }

  function cell(row, className, text, col) {
    var td = el('td', className, text);
    if (col) td.dataset.col = col;
    row.appendChild(td);
    return td;
  }

  function card(label, value, className) {
    var box = el('div', 'card');
    var v = el('div', 'value' + (className ? ' ' + className : ''), value);
    box.appendChild(v);
    box.appendChild(el('div', 'label', label));
    return box;
  }

  function renderSummary(http) {
    var summary = document.getElementById('summary');
    summary.replaceChildren();
    if (!http) {
      summary.appendChild(card('HTTP metrics', 'off'));
      return;
    }
    var t = http.total;
    summary.appendChild(card('requests since start', count(t.requests)));
    summary.appendChild(card('requests / s', rate(t.rate)));
    summary.appendChild(card('4xx', percent(t.ratio4xx), t.ratio4xx > 0.05 ? 'warn' : ''));
    summary.appendChild(card('5xx', percent(t.ratio5xx), t.ratio5xx > 0.01 ? 'bad' : ''));
    summary.appendChild(card('p95', ms(t.p95)));
    summary.appendChild(card('in flight', count(t.inFlight)));
  }

  function sortValue(row, key) {
    if (key === 'method' || key === 'route') return row.labels[key] || '';
    if (key === 'exceptions')
      return row.exceptions.reduce(function (sum, e) {
        return sum + e.count;
      }, 0);
    var value = row[key];
    return value === null || value === undefined ? -1 : value;
  }

  function renderRoutes(http) {
    var tbody = document.querySelector('#routes tbody');
    tbody.replaceChildren();
    document.querySelectorAll('#routes th[data-sort]').forEach(function (th) {
      th.classList.toggle('sorted', th.dataset.sort === state.sort);
      th.classList.toggle('asc', th.dataset.sort === state.sort && state.asc);
    });
    if (!http) return;
    var filter = state.filter.toLowerCase();
    var rows = http.rows.filter(function (row) {
      return !filter || (row.labels.method + ' ' + row.labels.route).toLowerCase().indexOf(filter) !== -1;
    });
    rows.sort(function (a, b) {
      var x = sortValue(a, state.sort);
      var y = sortValue(b, state.sort);
      var order = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return state.asc ? order : -order;
    });
    rows.forEach(function (row) {
      var tr = el('tr');
      tr.dataset.method = row.labels.method;
      tr.dataset.route = row.labels.route;
      cell(tr, '', row.labels.method, 'method');
      cell(tr, 'route', row.labels.route, 'route');
      cell(tr, 'num', count(row.requests), 'requests');
      cell(tr, 'num', rate(row.rate), 'rate');
      cell(tr, 'num' + (row.ratio4xx > 0.05 ? ' warn' : ''), percent(row.ratio4xx), 'ratio4xx');
      cell(tr, 'num' + (row.ratio5xx > 0 ? ' bad' : ''), percent(row.ratio5xx), 'ratio5xx');
      ['p50', 'p95', 'p99'].forEach(function (q) {
        var td = cell(tr, 'num', ms(row[q]), q);
        // The exact value, for readers (and tests) who want more than the rounded text.
        if (row[q] !== null) td.dataset.seconds = String(row[q]);
      });
      cell(tr, 'num', count(row.inFlight), 'inFlight');
      cell(
        tr,
        row.exceptions.length ? 'bad' : '',
        row.exceptions
          .map(function (e) {
            return e.name + ' ×' + e.count;
          })
          .join(', '),
        'exceptions',
      );
      tbody.appendChild(tr);
    });
  }

  function renderSections(sections) {
    var root = document.getElementById('sections');
    root.replaceChildren();
    sections.forEach(function (section) {
      if (section.name === 'http') return;
      root.appendChild(el('h2', '', SECTION_TITLES[section.name] || section.name));
      var table = el('table');
      table.id = 'section-' + section.name;
      var head = el('tr');
      section.keyLabels.forEach(function (name) {
        head.appendChild(el('th', '', name));
      });
      ['Requests', 'Per s', 'Errors', 'p50', 'p95', 'p99', 'Exceptions'].forEach(function (name, i) {
        head.appendChild(el('th', i < 6 ? 'num' : '', name));
      });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      if (section.rows.length === 0) {
        var empty = el('tr');
        var td = cell(empty, 'muted', 'Nothing yet.');
        td.colSpan = section.keyLabels.length + 7;
        tbody.appendChild(empty);
      }
      section.rows.forEach(function (row) {
        var tr = el('tr');
        section.keyLabels.forEach(function (name) {
          cell(tr, 'route', row.labels[name]);
        });
        cell(tr, 'num', count(row.requests), 'requests');
        cell(tr, 'num', rate(row.rate), 'rate');
        // 4xx stays apart for outbound HTTP; for the other sections only failures count.
        var errors = section.name === 'outbound' && row.ratio4xx ? (row.ratio5xx || 0) + row.ratio4xx : row.ratio5xx;
        cell(tr, 'num' + (errors > 0 ? ' bad' : ''), percent(errors), 'errors');
        cell(tr, 'num', ms(row.p50), 'p50');
        cell(tr, 'num', ms(row.p95), 'p95');
        cell(tr, 'num', ms(row.p99), 'p99');
        cell(
          tr,
          '',
          row.exceptions
            .map(function (e) {
              return e.name + ' ×' + e.count;
            })
            .join(', '),
          'exceptions',
        );
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      root.appendChild(table);
    });
  }

  function renderCardinality(cardinality) {
    var limit = cardinality.maxSeriesPerMetric;
    document.getElementById('cardinality-limit').textContent =
      limit === null ? 'maxSeriesPerMetric is off.' : 'maxSeriesPerMetric: ' + limit + ' series per metric.';
    var tbody = document.querySelector('#cardinality tbody');
    tbody.replaceChildren();
    cardinality.metrics.forEach(function (metric) {
      var tr = el('tr');
      tr.dataset.metric = metric.name;
      cell(tr, 'route', metric.name, 'name');
      cell(tr, '', metric.type, 'type');
      cell(tr, 'num', String(metric.series), 'series');
      var share = limit === null ? null : metric.series / limit;
      cell(tr, 'num' + (share !== null && share > 0.8 ? ' warn' : ''), percent(share), 'share');
      cell(tr, metric.overflowed ? 'bad' : '', metric.overflowed ? 'yes' : 'no', 'overflowed');
      cell(tr, 'num' + (metric.diverted > 0 ? ' bad' : ''), String(metric.diverted), 'diverted');
      tbody.appendChild(tr);
    });
  }

  function scaled(values, factor) {
    return values.map(function (v) {
      return v === null ? null : v * factor;
    });
  }

  function chart(id, series, data) {
    var target = document.getElementById(id);
    var width = Math.max(300, target.clientWidth || 400);
    var existing = charts[id];
    if (existing && existing.series.length === series.length + 1) {
      existing.setData(data);
      if (Math.abs(existing.width - width) > 2) existing.setSize({ width: width, height: 200 });
      return;
    }
    if (existing) existing.destroy();
    charts[id] = new uPlot(
      {
        width: width,
        height: 200,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          // From zero, and at least up to 1: a flat line of zeros keeps readable ticks.
          y: {
            range: function (u, min, max) {
              return [0, Math.max(max || 0, 1) * 1.1];
            },
          },
        },
        series: [{}].concat(
          series.map(function (s) {
            return { label: s.label, stroke: s.color, width: 1.5, spanGaps: false, points: { show: false } };
          }),
        ),
      },
      data,
      target,
    );
  }

  function renderCharts(history) {
    var x = history.time.map(function (t) {
      return t / 1000;
    });
    var classes = ['1xx', '2xx', '3xx', '4xx', '5xx'].filter(function (c) {
      // 2xx always; others once they happened.
      return (
        c === '2xx' ||
        history.rate[c].some(function (v) {
          return v;
        })
      );
    });
    chart(
      'chart-rate',
      classes.map(function (c) {
        return { label: c, color: CLASS_COLORS[c] };
      }),
      [x].concat(
        classes.map(function (c) {
          return history.rate[c];
        }),
      ),
    );
    chart(
      'chart-latency',
      [
        { label: 'p50', color: '#2980b9' },
        { label: 'p95', color: '#8e44ad' },
        { label: 'p99', color: '#c0392b' },
      ],
      [x, scaled(history.p50, 1000), scaled(history.p95, 1000), scaled(history.p99, 1000)],
    );
    chart('chart-inflight', [{ label: 'in flight', color: '#16a085' }], [x, history.inFlight]);
    chart('chart-cpu', [{ label: 'CPU %', color: '#d35400' }], [x, scaled(history.cpuRatio, 100)]);
    chart('chart-heap', [{ label: 'heap MB', color: '#2c3e50' }], [x, scaled(history.heapUsedBytes, 1 / 1048576)]);
    chart('chart-lag', [{ label: 'lag ms', color: '#7f8c8d' }], [x, scaled(history.eventLoopLagSeconds, 1000)]);
  }

  function render() {
    var data = state.data;
    if (!data) return;
    var http = null;
    data.sections.forEach(function (section) {
      if (section.name === 'http') http = section;
    });
    document.getElementById('history-minutes').textContent = String(data.historyMinutes);
    renderSummary(http);
    renderRoutes(http);
    renderSections(data.sections);
    renderCardinality(data.cardinality);
    renderCharts(data.history);
  }

  function showError(message) {
    var box = document.getElementById('error');
    box.hidden = !message;
    box.textContent = message || '';
  }

  // In a cluster: how many workers' numbers the view holds (a late worker is left out of it).
  function workersText(workers) {
    if (!workers || (workers.expected === 1 && workers.answered === 1)) return '';
    if (workers.expected === null) return ' · this worker only (the cluster primary did not answer)';
    return ' · ' + workers.answered + ' of ' + workers.expected + ' workers';
  }

  function refresh() {
    fetch(jsonUrl, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) throw new Error('the data answered ' + response.status);
        return response.json();
      })
      .then(function (data) {
        state.data = data;
        render();
        refreshes++;
        body.dataset.refreshes = String(refreshes);
        document.getElementById('updated').textContent =
          'Updated ' +
          new Date(data.time).toLocaleTimeString() +
          ' · every ' +
          data.refreshSeconds +
          ' s · window ' +
          Math.round(data.windowSeconds) +
          ' s' +
          workersText(data.workers);
        showError('');
      })
      .catch(function (error) {
        showError('Could not refresh: ' + error.message);
      })
      .finally(function () {
        setTimeout(refresh, refreshMs);
      });
  }

  document.getElementById('filter').addEventListener('input', function (event) {
    state.filter = event.target.value;
    render();
  });
  document.querySelectorAll('#routes th[data-sort]').forEach(function (th) {
    th.addEventListener('click', function () {
      if (state.sort === th.dataset.sort) state.asc = !state.asc;
      else {
        state.sort = th.dataset.sort;
        state.asc = th.dataset.sort === 'method' || th.dataset.sort === 'route';
      }
      render();
    });
  });
  refresh();
})();
