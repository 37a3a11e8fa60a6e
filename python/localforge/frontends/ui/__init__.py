"""The web dashboard (`localforge ui`): an ASGI app on `localforge.api` only.

app       routes: the page, the JSON API, server-sent events, the runs' files
runs      runs started here (events fanned out to pages), what a page shows of any run
security  token (URL once, then a cookie), Host check, CSRF and Origin checks on POSTs
static/   the page: HTML, CSS and JS, no build step and nothing from the network
"""
