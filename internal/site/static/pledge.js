// The pledge page's quote: the shipping fee to the chosen address and the
// least amount, again as add-ons' quantities or the address change. The
// order service checks the same when the pledge is sent; this only shows it.
(function () {
  var form = document.getElementById("pledge-form");
  if (!form) return;
  var fen = function (n) {
    var s = String(Math.floor(n / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return "¥" + s + "." + String(n % 100).padStart(2, "0");
  };
  function feeTo(el, region) {
    if (el.dataset.ships !== "true") return 0;
    var rows = JSON.parse(el.dataset.shipping || "null") || [];
    if (rows.length === 0) return 0;
    var any = null;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].region === region) return rows[i].fee;
      if (rows[i].region === "*") any = rows[i].fee;
    }
    return any; // null: does not ship there
  }
  function update() {
    var sel = document.getElementById("address_id");
    var region = sel && sel.selectedOptions.length ? sel.selectedOptions[0].dataset.region : "CN";
    var goods = 0, fee = 0, noShip = false;
    var parts = [form].concat(Array.prototype.slice.call(form.querySelectorAll(".addon")));
    parts.forEach(function (el) {
      var qty = 1;
      if (el !== form) {
        qty = parseInt(el.querySelector("input").value, 10) || 0;
      } else if (!el.dataset.price) {
        return; // no tier
      }
      if (qty <= 0) return;
      goods += parseInt(el.dataset.price, 10) * qty;
      var f = feeTo(el, region);
      if (f === null) noShip = true; else fee += f * qty;
    });
    document.getElementById("shipping-fee").textContent = fen(fee);
    document.getElementById("least").textContent = fen(goods + fee);
    document.getElementById("no-ship").hidden = !noShip;
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
