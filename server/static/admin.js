// Draftguard admin console: the little that is better with JavaScript. Every page works without it.
"use strict";

// Forms marked data-confirm ask before they change something hard to undo.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// A training job's page follows the job until it ends, then reloads to show the result.
function followJob(panel) {
  const show = (job) => {
    document.getElementById("job-progress").value = job.progress;
    document.getElementById("job-percent").textContent = `${Math.round(job.progress * 100)}%`;
    document.getElementById("job-stage").textContent = job.stage;
    const state = document.getElementById("job-state");
    state.textContent = job.state;
    state.className = `state-${job.state}`;
    document.getElementById("job-log").textContent = job.log;
  };
  const poll = async () => {
    try {
      const response = await fetch(panel.dataset.poll, { headers: { Accept: "application/json" } });
      if (!response.ok) return;  // logged out or gone: stop, the page still shows the last state
      const job = await response.json();
      show(job);
      if (job.state === "queued" || job.state === "running") setTimeout(poll, 1000);
      else window.location.reload();
    } catch (error) {
      setTimeout(poll, 3000);  // the server is restarting; keep trying, more slowly
    }
  };
  setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("[data-poll]");
  if (panel && panel.dataset.live === "yes") followJob(panel);
});
