"""Admin pages for the trust settings: sharing shown per site."""
from __future__ import annotations

from spamguard.storage.models import Site


def test_sites_page_shows_who_shares_reputation(ui, admin):
    shared = ui.site("https://shared.example")
    private = ui.site("https://private.example")
    with ui.db() as db:
        db.get(Site, private).share_reputation = False
        db.commit()
    html = admin.get("/admin/sites").get_data(as_text=True)
    rows = {site_id: html[html.index(f"<td>{site_id}</td>"):].split("</tr>", 1)[0] for site_id in (shared, private)}
    assert ">shared<" in rows[shared]
    assert "private (opted out)" in rows[private]
