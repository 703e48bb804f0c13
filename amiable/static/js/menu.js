/* The header's menu (base.html): a <details> that starts open so that it works without JavaScript; at phone
   widths this closes it, so that the page starts with its content, and opens it again on wider screens. */
(function () {
  "use strict";
  var menu = document.querySelector("details.site-menu");
  if (!menu || !window.matchMedia) {
    return;
  }
  var narrow = window.matchMedia("(max-width: 48rem)");
  function sync() {
    menu.open = !narrow.matches;
  }
  sync();
  if (narrow.addEventListener) {
    narrow.addEventListener("change", sync);
  }
})();
