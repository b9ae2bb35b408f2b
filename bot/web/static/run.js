// The run page's live updates (Server-Sent Events). The page works without this file: it then shows
// the transcript as it was when loaded. Everything inserted here was rendered and escaped by the
// server; this script adds no text of its own to the page but the live state.
"use strict";
(function () {
  const root = document.getElementById("run");
  if (!root || !root.dataset.live || !window.EventSource) {
    return;
  }
  const transcript = document.getElementById("transcript");
  const timeline = document.getElementById("timeline");
  const state = document.getElementById("live-state");
  const source = new EventSource(root.dataset.live);

  function fragment(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html;
    return holder.content;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  source.addEventListener("update", function (message) {
    const update = JSON.parse(message.data);
    const follow = nearBottom();
    if (update.header) {
      const header = document.getElementById("run-header");
      if (header) {
        header.replaceWith(fragment(update.header));
      }
    }
    const nothing = document.getElementById("no-lines");
    if (nothing && update.rows.length) {
      nothing.remove();
    }
    for (const row of update.rows) {
      const call = row.tool ? document.getElementById(row.tool) : null;
      if (call) {
        call.querySelector(".output").replaceChildren(fragment(row.html));
        if (row.error) {
          call.classList.add("error");
        }
      } else {
        transcript.append(fragment(row.html));
      }
    }
    if (update.moments) {
      timeline.append(fragment(update.moments));
    }
    if (follow && update.rows.length) {
      window.scrollTo(0, document.body.scrollHeight);
    }
  });

  source.addEventListener("done", function () {
    source.close();
    state.textContent = "finished";
    state.className = "done";
    // A finished run has nothing to cancel (a failed one offers Retry once the page is reloaded).
    const cancel = document.querySelector('#run-action[action$="/cancel"]');
    if (cancel) {
      cancel.remove();
    }
  });
  source.addEventListener("open", function () {
    state.textContent = "live";
    state.className = "live";
  });
  source.addEventListener("error", function () {
    if (source.readyState !== EventSource.CLOSED) {
      state.textContent = "reconnecting…";
      state.className = "waiting";
    }
  });
})();
