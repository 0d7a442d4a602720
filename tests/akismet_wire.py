"""Shared by the API tests: the spec's §8 key K, blog B, the body of case 8, and a way to add a site."""

K = "0123456789ab"
B = "https://blog.example"
CASE8 = {
    "api_key": K,
    "blog": B,
    "user_ip": "203.0.113.5",
    "user_agent": "Mozilla/5.0",
    "comment_type": "comment",
    "comment_author": "Jane",
    "comment_content": "Nice post",
}


def add_site(app, key: str, url: str = B):
    """A site with a chosen plaintext key (the CLI only makes random ones)."""
    from spamguard import storage
    from spamguard.sites import hash_key
    from spamguard.storage.models import Site

    with app.app_context():
        session = storage.get_session()
        site = Site(url=url, key_hash=hash_key(key, app.config["SPAMGUARD_KEY_SECRET"]), key_hint="test")
        session.add(site)
        session.commit()
        return site.id
