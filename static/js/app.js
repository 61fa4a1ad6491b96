// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  const header = document.querySelector("[data-site-header]");
  const toggle = document.querySelector("[data-nav-toggle]");
  if (header && toggle) {
    toggle.addEventListener("click", () => {
      const open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // The browser's time zone: given with a sign-up, and offered on the account page.
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    zone = "";
  }
  if (zone) {
    document.querySelectorAll("[data-browser-time-zone]").forEach((input) => {
      input.value = zone;
    });
    const select = document.querySelector("[data-suggest-time-zone]");
    const button = document.querySelector("[data-use-browser-time-zone]");
    const offered = select && [...select.options].some((option) => option.value === zone);
    if (button && offered && select.value !== zone) {
      button.textContent += ` (${zone})`;
      button.hidden = false;
      button.addEventListener("click", () => {
        select.value = zone;
        button.hidden = true;
      });
    }
  }
});
