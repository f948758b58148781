// Recur finance pages. Everything works without this script; it only saves a click: a filter
// form marked data-autosubmit is sent as soon as one of its choices changes.
document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
  select.addEventListener("change", () => select.form.requestSubmit());
});
