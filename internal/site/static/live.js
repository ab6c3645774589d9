// Live totals of a project page: the project service's Server-Sent Events
// (GET /api/v1/projects/{id}/live) move the pledged amount, the backer
// count, the percent, the bar and the stretch goals without a reload.
// EventSource reconnects by itself when a stream ends (a gateway restart,
// the stream's own end).
(function () {
  var live = document.getElementById('live');
  if (!live || !window.EventSource) return;
  var yuan = function (fen) {
    return '¥' + (fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  };
  var set = function (id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  };
  var es = new EventSource(live.getAttribute('data-src'));
  es.addEventListener('totals', function (e) {
    var t = JSON.parse(e.data);
    set('pledged', yuan(t.pledged));
    set('backers', String(t.backers));
    set('percent', t.percent + '%');
    var bar = document.querySelector('aside .bar span');
    if (bar) bar.style.width = Math.min(t.percent, 100) + '%';
    (t.reached_stretch_goals || []).forEach(function (id) {
      var g = document.querySelector('.stretch[data-id="' + id + '"]');
      if (g && !g.classList.contains('reached')) {
        g.classList.add('reached');
        var mark = g.querySelector('.mark');
        if (mark) mark.textContent = '✓';
      }
    });
    live.setAttribute('data-updated', String(Date.now()));
  });
})();
