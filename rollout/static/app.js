// Rollout Desk: no inline scripts (the CSP forbids them); behaviour hangs off data- attributes.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute && form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
// htmx requests carry the CSRF token from the page's meta tag.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});
// Selects with data-autosubmit submit their form when changed (filters).
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("[data-autosubmit]")) {
    event.target.form.submit();
  }
});
