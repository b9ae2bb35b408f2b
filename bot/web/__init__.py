"""The run page, served by `serve`: routes, sign-in with GitHub and the session.

- `settings.py`  ORCHESTRATOR_PUBLIC_URL, ORCHESTRATOR_SESSION_SECRET, GITHUB_CLIENT_ID/SECRET/WEB_URL
- `session.py`   the signed and encrypted cookies, and the stored sessions (user tokens stay here)
- `auth.py`      /auth/login, /auth/callback, /auth/logout: GitHub's OAuth web flow
- `access.py`    who may read which repository: asked with the person's own token, cached briefly
- `pages.py`     /runs and /runs/{namespace}/{name}, and the page's live updates (Server-Sent Events)
- `live.py`      one reader of the store per watched run, however many people watch it
- `security.py`  the headers every page carries (a Content-Security-Policy without inline script)
- `templates/`, `static/`  Jinja2 templates (autoescaped) and the page's CSS and script (package data)

What a page shows is computed by the pure bot/core/runpage.py from the store's rows.
"""
