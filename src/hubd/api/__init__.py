"""HTTP only: parse the request, call the domain, shape JSON and headers."""
