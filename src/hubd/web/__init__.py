"""Server-rendered pages at the Hub's URLs, sign-in (password and OpenID Connect), self-service tokens."""
