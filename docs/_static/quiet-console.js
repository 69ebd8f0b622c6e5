// The theme reports what it does with console.log ("[PST]: Changed to light mode ...",
// "[PST]: Scrolled sidebar ..."), on every page load. The site keeps the console empty, so that
// a message there always means something: this drops the theme's informational lines (logs
// only; its warnings and errors, and every other message, still get through).
(function () {
  const log = console.log.bind(console);
  console.log = function (...args) {
    if (typeof args[0] === "string" && args[0].startsWith("[PST]: ")) return;
    log(...args);
  };
})();
