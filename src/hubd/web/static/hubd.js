// hubd pages work without JavaScript; this only adds conveniences.
document.addEventListener("DOMContentLoaded", function () {
  // a select marked data-autosubmit submits its form when changed (the form also has a button)
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  // copy buttons for token secrets
  document.querySelectorAll("button[data-copy]").forEach(function (el) {
    el.hidden = false;
    el.addEventListener("click", function () {
      var target = document.getElementById(el.getAttribute("data-copy"));
      if (target && navigator.clipboard) { navigator.clipboard.writeText(target.textContent.trim()); el.textContent = "Copied"; }
    });
  });
});
